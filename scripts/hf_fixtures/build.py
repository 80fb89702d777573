"""Builds one fixture with transformers: a tiny random model saved as a Hugging Face folder, then
read back from that folder (so the reference is what the saved files compute) and run on the
fixed inputs on the CPU in float32 with eager attention."""
import os

import torch

from . import families, reference, safetensors_file


def versions():
    import transformers
    return {"transformers": transformers.__version__, "torch": torch.__version__}


def _config(fixture):
    import transformers
    cls = getattr(transformers, fixture.config_class)
    cfg = cls(**fixture.config)
    if cfg.model_type != fixture.model_type:
        raise RuntimeError(f"{fixture.name}: {fixture.config_class} made model_type {cfg.model_type!r}")
    return cfg


def _eager(model, where):
    # Only eager attention returns probabilities; reference.run checks that they came back.
    impl = getattr(model.config, "_attn_implementation", "eager")
    if impl != "eager":
        raise RuntimeError(f"{where}: attention implementation is {impl!r}, not 'eager'")
    return model.eval().float()


def build(fixture, out_dir):
    """Writes out_dir/<fixture.name>/{config.json, model.safetensors, reference.safetensors}; returns
    a one-line summary."""
    from transformers import AutoModelForCausalLM
    torch.manual_seed(families.SEED)
    model = _eager(AutoModelForCausalLM.from_config(_config(fixture), attn_implementation="eager"), fixture.name)
    reference.perturb_norms_and_biases(model)
    folder = os.path.join(out_dir, fixture.name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    ids, mask = reference.fixed_inputs()
    in_memory = reference.run(model, ids, mask)

    reloaded = _eager(AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager"), folder)
    out = reference.run(reloaded, ids, mask)
    reload_diff = (out.logits - in_memory.logits).abs().max().item()
    if reload_diff > 1e-6:
        raise RuntimeError(f"{folder}: the saved folder computes other logits than the model that wrote it "
                           f"(max difference {reload_diff:.3g})")
    n_layer = reloaded.config.num_hidden_layers
    final_norm = reference.last_hidden_is_final_norm(reloaded, out)
    if not final_norm:
        print(f"WARNING {fixture.name}: logits != lm_head(hidden_states[-1]); the last hidden state is not after the final norm")
    safetensors_file.write(os.path.join(folder, "reference.safetensors"), reference.tensors(out, ids, mask, n_layer),
                           reference.metadata(versions(), fixture, final_norm))
    files = {f: os.path.getsize(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}
    return (f"{fixture.family}/{fixture.name}: max |logit| {out.logits.abs().max().item():.3g}, "
            f"{n_layer} layers, files {files}")
