# Makes small files in the formats BMCook and MoEfication write, for Cook's readers of them. Each is
# written the way its source writes it (files read: OpenBMB/BMCook example/pruning/__init__.py,
# bmcook/store.py, example/moe/__init__.py, example/moefication/{utils,trans_gp}.py,
# examples/gpt/data/indexed_dataset.py), for the tiny GPT-J of make_bmcook_fixture.py
# (d_model 8, d_ff 16, 2 layers, vocabulary 32).
#   gpt-j-mask.bin      BMPrune.compute_mask's checkpoint: torch.save of {str(layer): [(name, mask)]}
#                       with a mask for every parameter of the block (fp16, ones where not pruned),
#                       2:4 along each row of the attention and FFN weights
#   gpt-j-int8.bin      bmcook.store's int8 export of gptj-tiny-gelu.bin: each block linear's weight
#                       W replaced by W_quant (int8) and W_scale (fp16, one per output row)
#   moe/gp_split/dec_layers.{i}.ff.fc_in_weight          expert labels, one per fc_in neuron:
#                       layer 0 a list of numpy int64 (ParamSplit), layer 1 of ints (trans_gp.py)
#   moe/gp_split/dec_layers.0.ff.fc_in_weight.model      MLPCenter's router, a whole pickled
#   moe/gp_split/dec_layers.1.ff.fc_in_weight.model_input_compl   torch.nn.Sequential
#   megatron/tokens.bin, tokens.idx   an MMapIndexedDataset (uint16): 4 documents, the second of
#                       two items (sentences)
# Tests check values against what the files hold (read back here with torch where it matters).
# Run: /usr/bin/python3 make_bmcook_files.py [out folder]   (Debian python3-torch, numpy)
import collections, os, struct, sys
import numpy as np
import torch

D, F, L, E = 8, 16, 2, 4
out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)

# --- pruning masks ---------------------------------------------------------------------------
def block_params(i):
    # the names a BMCook GPT-J block's state_dict() gives, in its order, with their shapes
    out = [("ln_1.weight", (D,)), ("ln_1.bias", (D,))]
    out += [("self_attention." + n, (D, D)) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]
    out += [("ff.fc_in_weight", (F, D)), ("ff.fc_in_bias", (1, F, 1)), ("ff.fc_out_weight", (D, F)),
            ("ff.fc_out_bias", (1, D, 1))]
    return out

def two_of_four(shape):
    # keeps the 2 largest of each 4 consecutive magnitudes of a random matrix
    w = torch.randn(shape).abs().reshape(-1, 4)
    keep = torch.zeros_like(w)
    keep.scatter_(1, w.topk(2, dim=1).indices, 1.0)
    return keep.reshape(shape).half()

masks = {}
for i in range(L):
    masks[str(i)] = [(n, two_of_four(s) if len(s) == 2 else torch.ones(s, dtype=torch.half))
                     for n, s in block_params(i)]
torch.save(masks, os.path.join(out, "gpt-j-mask.bin"))

# --- int8 export -----------------------------------------------------------------------------
dense = torch.load(os.path.join(out, "gptj-tiny-gelu.bin"))
int8 = collections.OrderedDict()
for name, w in dense.items():
    if w.dim() == 2 and name.startswith("dec_layers."):
        scale = (w.float().abs().amax(dim=1) / 127).half()  # cpm_kernels gemm_calc_scale: max|row| / 127
        int8[name + "_quant"] = torch.round(w.float() / scale.float()[:, None]).clamp(-127, 127).to(torch.int8)
        int8[name + "_scale"] = scale
    else:
        int8[name] = w
torch.save(int8, os.path.join(out, "gpt-j-int8.bin"))

# --- MoEfication -----------------------------------------------------------------------------
split = os.path.join(out, "moe", "gp_split")
os.makedirs(split, exist_ok=True)
for i in range(L):
    labels = np.random.RandomState(i).permutation(np.arange(F) % E)
    name = os.path.join(split, "dec_layers.{}.ff.fc_in_weight".format(i))
    torch.save([x for x in labels] if i == 0 else [int(x) for x in labels], name)
    router = torch.nn.Sequential(torch.nn.Linear(D, E, bias=False), torch.nn.Tanh(),
                                 torch.nn.Linear(E, E, bias=False))
    torch.save(router, name + (".model" if i == 0 else ".model_input_compl"))

# --- Megatron token data ---------------------------------------------------------------------
mega = os.path.join(out, "megatron")
os.makedirs(mega, exist_ok=True)
items = [[1, 2, 3, 4, 5], [6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16, 17, 18], [19, 20, 31]]
doc_idx = [0, 1, 3, 4, 5]  # documents: item 0, items 1-2, item 3, item 4
with open(os.path.join(mega, "tokens.bin"), "wb") as f:
    for it in items:
        f.write(np.array(it, dtype=np.uint16).tobytes())
sizes = np.array([len(it) for it in items], dtype=np.int32)
pointers = np.concatenate([[0], np.cumsum(sizes[:-1]) * 2]).astype(np.int64)
with open(os.path.join(mega, "tokens.idx"), "wb") as f:
    f.write(b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", 8))  # version 1, dtype code 8 = uint16
    f.write(struct.pack("<Q", len(sizes)) + struct.pack("<Q", len(doc_idx)))
    f.write(sizes.tobytes() + pointers.tobytes() + np.array(doc_idx, dtype=np.int64).tobytes())
print("written under", out, "with torch", torch.__version__, "numpy", np.__version__)
