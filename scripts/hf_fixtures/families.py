"""The fixtures to make: one tiny random model per architecture feature Cook must reproduce.

Config keywords use the long-standing spellings (rope_theta, rope_scaling, rotary_pct,
rotary_emb_base), which transformers 4.x takes as they are and 5.x converts into
`rope_parameters`; config.json is written in whichever layout the installed version uses."""
from dataclasses import dataclass, field

VOCAB_SIZE = 1000
SEQ_LEN = 17
PADDED_ROW_LENGTH = 12   # row 1 of the inputs is right-padded after this many tokens
SEED = 1234

# A Llama-3.1-style frequency scaling; with head_dim 16 and rope_theta 5e5 the eight rotary
# frequencies fall in all three of its bands (kept, smoothed, divided by factor).
LLAMA3_ROPE_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192}

_SMALL = dict(vocab_size=VOCAB_SIZE, initializer_range=0.2)
_DECODER = dict(_SMALL, hidden_size=64, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
                attention_dropout=0.0)


@dataclass(frozen=True)
class Fixture:
    family: str          # the folder tests/data/hf-<family>
    name: str            # the fixture's folder inside it
    model_type: str      # config.json's model_type
    config_class: str    # the transformers class that builds the config
    config: dict = field(default_factory=dict)
    what: str = ""       # the features it pins down, for the README


FIXTURES = [
    Fixture("gpt2", "gpt2-tiny", "gpt2", "GPT2Config",
            dict(_SMALL, n_positions=128, n_embd=64, n_layer=3, n_head=4, n_inner=256,
                 activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                 layer_norm_epsilon=1e-5),
            "learned positions, Conv1D weights (stored transposed), tanh GeLU, LM head tied to wte"),
    Fixture("gpt-neox", "gpt-neox-tiny-parallel", "gpt_neox", "GPTNeoXConfig",
            dict(_DECODER, max_position_embeddings=128, hidden_act="gelu", rotary_pct=0.25,
                 rotary_emb_base=10000.0, layer_norm_eps=1e-5, hidden_dropout=0.0, use_parallel_residual=True,
                 tie_word_embeddings=False),
            "fused query_key_value interleaved per head, rotate-half rotary on 1/4 of each head, exact GeLU, "
            "parallel residual (Pythia)"),
    Fixture("gpt-neox", "gpt-neox-tiny-sequential", "gpt_neox", "GPTNeoXConfig",
            dict(_DECODER, max_position_embeddings=128, hidden_act="gelu", rotary_pct=0.25,
                 rotary_emb_base=10000.0, layer_norm_eps=1e-5, hidden_dropout=0.0, use_parallel_residual=False,
                 tie_word_embeddings=False),
            "as gpt-neox-tiny-parallel with use_parallel_residual=false (sequential residual)"),
    Fixture("llama", "llama-tiny-gqa-llama3-untied", "llama", "LlamaConfig",
            dict(_DECODER, num_key_value_heads=2, max_position_embeddings=131072, rms_norm_eps=1e-5,
                 rope_theta=500000.0, rope_scaling=dict(LLAMA3_ROPE_SCALING), tie_word_embeddings=False),
            "grouped-query attention (4 query heads, 2 key/value heads), Llama-3 rope scaling, untied LM head"),
    Fixture("llama", "llama-tiny-mqa-tied", "llama", "LlamaConfig",
            dict(_DECODER, num_key_value_heads=1, max_position_embeddings=128, rms_norm_eps=1e-5,
                 rope_theta=10000.0, tie_word_embeddings=True),
            "multi-query attention (1 key/value head), plain rope, LM head tied to the embedding"),
    Fixture("mistral", "mistral-tiny-gqa", "mistral", "MistralConfig",
            dict(_DECODER, num_key_value_heads=2, max_position_embeddings=4096, rms_norm_eps=1e-5,
                 rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=False),
            "grouped-query attention; sliding_window 4096 is longer than the inputs, so it changes nothing"),
    Fixture("mistral", "mistral-tiny-window8", "mistral", "MistralConfig",
            dict(_DECODER, num_key_value_heads=2, max_position_embeddings=4096, rms_norm_eps=1e-5,
                 rope_theta=10000.0, sliding_window=8, tie_word_embeddings=False),
            "sliding_window 8, shorter than the 17 input tokens: the window is in effect"),
    Fixture("qwen2", "qwen2-tiny-tied", "qwen2", "Qwen2Config",
            dict(_DECODER, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6,
                 rope_theta=1000000.0, tie_word_embeddings=True),
            "biases on q/k/v only, grouped-query attention, LM head tied (as Qwen2.5-0.5B)"),
]

FAMILIES = sorted({f.family for f in FIXTURES})


def fixtures_of(families):
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown families {unknown}; known: {FAMILIES}")
    return [f for f in FIXTURES if f.family in families]
