"""A stand-in for the few parts of transformers that the fixture builder uses, so that the
self-test can run the whole build, save, reload, reference and packing path where transformers is
not installed. The model is a tiny causal LM that answers as a Hugging Face one does."""
import json
import os
from types import SimpleNamespace

import torch

from . import safetensors_file

__version__ = "stand-in"


class StandInLM(torch.nn.Module):
    """Embedding, causal attention blocks with a padding mask, final LayerNorm, LM head."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        vocab, width, n_layer = config.vocab_size, 16, config.num_hidden_layers
        self.embed = torch.nn.Embedding(vocab, width)
        self.qkv = torch.nn.ModuleList(torch.nn.Linear(width, 3 * width) for _ in range(n_layer))
        self.norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, vocab, bias=False)
        # One attention pattern, reported once per head as the config's head count says.
        self.n_head = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None) or 1

    def get_output_embeddings(self):
        return self.head

    def forward(self, input_ids, attention_mask, output_hidden_states, output_attentions):
        h = self.embed(input_ids)
        T = input_ids.shape[1]
        allowed = torch.ones(T, T).tril().bool()[None] & attention_mask.bool()[:, None, :]
        hidden, attentions = [h], []
        for qkv in self.qkv:
            q, k, v = qkv(h).chunk(3, dim=-1)
            probs = ((q @ k.transpose(1, 2)) / q.shape[-1] ** 0.5).masked_fill(~allowed, float("-inf")).softmax(-1)
            h = h + probs @ v
            hidden.append(h)
            attentions.append(probs[:, None].expand(-1, self.n_head, -1, -1))
        hidden[-1] = self.norm(h)
        return SimpleNamespace(logits=self.head(hidden[-1]), hidden_states=tuple(hidden), attentions=tuple(attentions))

    def save_pretrained(self, folder):
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(vars(self.config), f, indent=2, sort_keys=True)
        state = {k: v.detach().numpy() for k, v in self.state_dict().items()}
        safetensors_file.write(os.path.join(folder, "model.safetensors"), state, {"format": "pt"})


class _Config(SimpleNamespace):
    model_type = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.model_type = type(self).model_type
        self.num_hidden_layers = kwargs.get("num_hidden_layers", kwargs.get("n_layer"))
        self._attn_implementation = "eager"


def _config_class(name, model_type):
    return type(name, (_Config,), {"model_type": model_type})


GPT2Config = _config_class("GPT2Config", "gpt2")
GPTNeoXConfig = _config_class("GPTNeoXConfig", "gpt_neox")
LlamaConfig = _config_class("LlamaConfig", "llama")
MistralConfig = _config_class("MistralConfig", "mistral")
Qwen2Config = _config_class("Qwen2Config", "qwen2")


class AutoModelForCausalLM:
    @staticmethod
    def from_config(config, attn_implementation):
        config._attn_implementation = attn_implementation
        return StandInLM(config)

    @staticmethod
    def from_pretrained(folder, attn_implementation):
        with open(os.path.join(folder, "config.json")) as f:
            config = _Config(**json.load(f))
        config._attn_implementation = attn_implementation
        model = StandInLM(config)
        tensors, _ = safetensors_file.read(os.path.join(folder, "model.safetensors"))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        return model
