# Makes the tiny BMCook GPT-J checkpoints in this folder, laid out as BMCook's GPT-J model holds its
# weights (example/models.py GPTJ, layers/{transformer_block,attention,feedforward,lm_head}.py) and
# as its example/gpt-j-transform.py writes them: torch.save (zip format) of a state dict in fp16.
#   gptj-tiny-gelu.bin  GELU, fc_in bias used; an OrderedDict with _metadata, as Module.state_dict() gives
#   gptj-tiny-relu.bin  ReLU; BMCook keeps ff.fc_in_bias but never adds it; a plain dict
# Config of both (give it to Cook as a ModelConfig): vocab_size 32, d_model 8, n_head 2, head_dim 4,
# rotary_dim 2, d_ff 16, n_layer 2, n_positions 16.
# Values: every tensor is a deterministic function of its name's position in NAMES (see fill()), so
# tests can check exact values. Run: /usr/bin/python3 make_bmcook_fixture.py [out folder]  (Debian python3-torch)
import collections, os, sys, torch

V, D, F, L = 32, 8, 16, 2

def names_and_shapes():
    out = [("input_embedding.weight", (V, D))]
    for i in range(L):
        p = f"dec_layers.{i}."
        out += [(p + "ln_1.weight", (D,)), (p + "ln_1.bias", (D,))]
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out.append((p + "self_attention." + n, (D, D)))
        out += [(p + "ff.fc_in_weight", (F, D)), (p + "ff.fc_in_bias", (1, F, 1)),
                (p + "ff.fc_out_weight", (D, F)), (p + "ff.fc_out_bias", (1, D, 1))]
    out += [("layernorm_after_dec.weight", (D,)), ("layernorm_after_dec.bias", (D,)),
            ("lm_head.weight", (V, D)), ("lm_head.bias", (1, V, 1))]
    return out

def fill(k, shape):
    # element j of tensor k (flattened) = k + (j % 16) / 16: exact in fp16 for k < 64
    n = 1
    for s in shape: n *= s
    return (k + (torch.arange(n) % 16).float() / 16).reshape(shape).half()

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
ns = names_and_shapes()
gelu = collections.OrderedDict((n, fill(k, s)) for k, (n, s) in enumerate(ns))
gelu._metadata = collections.OrderedDict([("", {"version": 1})])
torch.save(gelu, os.path.join(out, "gptj-tiny-gelu.bin"))
relu = {n: fill(k, s) for k, (n, s) in enumerate(ns)}
torch.save(relu, os.path.join(out, "gptj-tiny-relu.bin"))
for f in ("gptj-tiny-gelu.bin", "gptj-tiny-relu.bin"):
    print(f, os.path.getsize(os.path.join(out, f)), "bytes,", len(ns), "tensors; torch", torch.__version__)
