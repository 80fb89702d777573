"""The README.md written into each family's folder."""
from . import families


def text(family, fixtures, versions, tokenizer_status):
    ok, message = tokenizer_status
    rows = "\n".join(f"| `{f.name}` | `{f.model_type}` | {f.what} |" for f in fixtures)
    return f"""# {family} reference fixtures from Hugging Face transformers

Made by `scripts/make_hf_fixtures.py` with transformers {versions['transformers']} and PyTorch
{versions['torch']}: random weights (seed {families.SEED}, every bias and norm parameter perturbed so
that a wrong mapping shows), float32, eager attention, on the CPU.

| fixture | model_type | what it pins down |
|---|---|---|
{rows}

Each folder holds `config.json` and `model.safetensors` as `save_pretrained` wrote them (a tied LM
head is not stored; transformers 5 writes rope settings under `rope_parameters`) and
`reference.safetensors`, computed from the folder as read back by `from_pretrained`: `input_ids`
(2×{families.SEQ_LEN}), `attention_mask` (the second row is padded after {families.PADDED_ROW_LENGTH}
tokens), `logits`, `hidden_states.{{0..n_layer}}` (0 is the embedding output, the last is after the
final norm: its metadata `last_hidden_is_final_norm` says whether that was checked true) and
`attentions.{{0..n_layer-1}}` (post-softmax probabilities, one per query head).

`tokenizer.json`: {"present, " if ok else "not made: "}{message}.
"""
