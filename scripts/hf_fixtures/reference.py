"""What a fixture's reference.safetensors holds, computed from any model that answers as a Hugging
Face causal LM does (input_ids, attention_mask, output_hidden_states, output_attentions → logits,
hidden_states, attentions). Names follow ../shared/fixtures/hf-gptj/make_gptj_fixtures.py."""
import torch

from . import families

NOTE = ("hidden_states.0 is the embedding output; hidden_states.1..n-1 are block outputs; the last is "
        "after the final norm; attentions are post-softmax probabilities (B, heads, T, T) per query head")


def fixed_inputs(seed=families.SEED):
    """Two rows of random ids; row 1 is right-padded after PADDED_ROW_LENGTH tokens."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, families.VOCAB_SIZE, (2, families.SEQ_LEN), generator=generator, dtype=torch.int64)
    mask = torch.ones(2, families.SEQ_LEN, dtype=torch.int64)
    mask[1, families.PADDED_ROW_LENGTH:] = 0
    return ids, mask


def perturb_norms_and_biases(model, seed=families.SEED):
    """Adds noise to every bias and every norm's parameters, which initialise to 0 and 1, so that a
    wrong mapping of them changes the outputs."""
    generator = torch.Generator().manual_seed(seed + 1)
    norm_params = {id(p) for m in model.modules() if "Norm" in type(m).__name__ for p in m.parameters(recurse=False)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or id(p) in norm_params:
                p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.1)


def run(model, ids, mask):
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    if out.attentions is None or any(a is None for a in out.attentions):
        raise RuntimeError("the model returned no attention probabilities: it must run eager attention")
    return out


def tensors(out, ids, mask, n_layer):
    """name → numpy array, float32 outputs and int64 inputs."""
    if len(out.hidden_states) != n_layer + 1 or len(out.attentions) != n_layer:
        raise RuntimeError(f"expected {n_layer + 1} hidden states and {n_layer} attentions, got "
                           f"{len(out.hidden_states)} and {len(out.attentions)}")
    ref = {"input_ids": ids.to(torch.int64), "attention_mask": mask.to(torch.int64), "logits": out.logits.float()}
    for i, h in enumerate(out.hidden_states):
        ref[f"hidden_states.{i}"] = h.float()
    for i, a in enumerate(out.attentions):
        ref[f"attentions.{i}"] = a.float()
    return {k: v.detach().cpu().contiguous().numpy() for k, v in ref.items()}


def last_hidden_is_final_norm(model, out):
    """Whether logits = LM head(hidden_states[-1]), i.e. the last hidden state is after the final norm."""
    with torch.no_grad():
        relogits = model.get_output_embeddings()(out.hidden_states[-1])
    return bool(torch.allclose(relogits, out.logits, rtol=0, atol=1e-5))


def metadata(versions, fixture, final_norm_checked):
    meta = dict(versions)
    meta.update({"note": NOTE, "fixture": fixture.name, "model_type": fixture.model_type, "seed": str(families.SEED),
                 "last_hidden_is_final_norm": "true" if final_norm_checked else "false"})
    return meta
