"""tokenizer.json for each family, made offline or not at all.

GPT-2's is built by the `tokenizers` library from GPT-2's own vocabulary files (encoder.json and
vocab.bpe, which Cook's setup fetches into .data/tokenizer/gpt2) and checked against llama.cpp's
golden GPT-2 cases. The others' vocabularies exist only on the Hub: they are copied from the local
Hugging Face cache when some earlier download left them there, and skipped, with the reason, when not."""
import json
import os
import shutil

# Hub repositories whose tokenizer.json is the family's; the first one in the local cache is used.
HUB_TOKENIZERS = {
    "gpt-neox": ["EleutherAI/pythia-70m", "EleutherAI/gpt-neox-20b"],
    "llama": ["meta-llama/Llama-3.2-1B", "meta-llama/Meta-Llama-3-8B", "meta-llama/Llama-2-7b-hf"],
    "mistral": ["mistralai/Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.3"],
    "qwen2": ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2-0.5B"],
}


def _read_golden(inp_path, out_path):
    """llama.cpp's vocab test cases: texts separated by a marker line, one line of ids per text."""
    marker = "\n__ggml_vocab_test__\n"
    with open(inp_path, encoding="utf-8") as f:
        texts = f.read().split(marker)
    with open(out_path, encoding="utf-8") as f:
        ids = [[int(t) for t in line.split()] for line in f.read().split("\n")]
    if texts and texts[-1] == "":
        texts.pop()
    return list(zip(texts, ids))


def gpt2_from_vocab_files(vocab_dir, golden_dir, out_path):
    """Builds GPT-2's tokenizer.json; returns (ok, message)."""
    encoder, merges = os.path.join(vocab_dir, "encoder.json"), os.path.join(vocab_dir, "vocab.bpe")
    if not (os.path.isfile(encoder) and os.path.isfile(merges)):
        return False, f"no {encoder} and {merges} (run scripts/setup.sh, and carry .data/tokenizer to the GPU machine)"
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    except ImportError:
        return False, "the tokenizers library is not installed"
    tok = Tokenizer(models.BPE.from_file(encoder, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    if tok.token_to_id("<|endoftext|>") != 50256:
        return False, "<|endoftext|> is not id 50256 in the built tokenizer"
    cases = _read_golden(os.path.join(golden_dir, "ggml-vocab-gpt-2.gguf.inp"),
                         os.path.join(golden_dir, "ggml-vocab-gpt-2.gguf.out"))
    wrong = [text for text, ids in cases if tok.encode(text).ids != ids]
    tok.save(out_path)
    if wrong:   # kept all the same: which cases differ is worth knowing, and the file is HF's own answer
        return True, (f"built from GPT-2's encoder.json and vocab.bpe; {len(wrong)} of llama.cpp's {len(cases)} "
                      f"GPT-2 cases DIFFER, e.g. {wrong[0]!r}")
    return True, f"built from GPT-2's encoder.json and vocab.bpe; all {len(cases)} of llama.cpp's GPT-2 cases agree"


def from_hub_cache(family, out_path):
    """Copies a cached tokenizer.json; returns (ok, message). Never downloads."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False, "huggingface_hub is not installed"
    for repo in HUB_TOKENIZERS[family]:
        path = try_to_load_from_cache(repo, "tokenizer.json")
        if isinstance(path, str) and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                json.load(f)   # a truncated cache entry fails here, not in Cook's tests
            shutil.copyfile(path, out_path)
            return True, f"copied from the local Hugging Face cache of {repo}"
    return False, f"none of {HUB_TOKENIZERS[family]} is in the local Hugging Face cache, and there is no network"


def make(family, family_dir, gpt2_vocab_dir, golden_dir):
    out_path = os.path.join(family_dir, "tokenizer.json")
    if family == "gpt2":
        return gpt2_from_vocab_files(gpt2_vocab_dir, golden_dir, out_path)
    return from_hub_cache(family, out_path)
