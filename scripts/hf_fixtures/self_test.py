"""Checks everything that does not need transformers: the safetensors writer (byte-identical to
safetensors' own on the GPT-J fixture), the reference tensors of a stand-in causal LM, packing
within the device machine's limits, reproducibility, unpacking, the command line, and the whole
--out run with stand_in_transformers in place of transformers."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from . import families, packing, readme, reference, safetensors_file, stand_in_transformers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("  ok:", what)


def check_safetensors(tmp):
    rng = np.random.default_rng(0)
    tensors = {"f32": rng.standard_normal((3, 5)).astype(np.float32), "f64": rng.standard_normal(7),
               "i64": rng.integers(-9, 9, (2, 2, 2)), "scalar": np.array(2.5, dtype=np.float32),
               "empty": np.zeros((0, 4), dtype=np.float32)}
    path = os.path.join(tmp, "t.safetensors")
    safetensors_file.write(path, tensors, {"b": "2", "a": "1"})
    back, meta = safetensors_file.read(path)
    _check(meta == {"b": "2", "a": "1"}, "safetensors metadata round-trips")
    _check(all(back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v)
               for k, v in tensors.items()) and set(back) == set(tensors), "safetensors tensors round-trip (F32, F64, I64, 0-d, empty)")
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
    _check(header_len % 8 == 0, "safetensors header is padded to a multiple of 8")
    gptj = os.path.join(REPO, "tests", "data", "hf-gptj", "gptj-tiny-gelu", "reference.safetensors")
    if os.path.isfile(gptj):
        with open(gptj, "rb") as f:
            original = f.read()
        tensors, meta = safetensors_file.decode(original)
        _check(safetensors_file.encode(tensors, meta) == original,
               "rewriting the GPT-J reference (written by safetensors.torch.save_file) gives the same bytes")
    try:
        safetensors_file.decode(b"\xff" * 8 + b"{}")
        _check(False, "a header length past the end is refused")
    except ValueError:
        _check(True, "a header length past the end is refused")


def make_stand_in_tree(tree, fixture):
    torch.manual_seed(families.SEED)
    config = stand_in_transformers.LlamaConfig(vocab_size=families.VOCAB_SIZE, num_hidden_layers=3)
    model = stand_in_transformers.StandInLM(config).eval()
    reference.perturb_norms_and_biases(model)
    ids, mask = reference.fixed_inputs()
    out = reference.run(model, ids, mask)
    final_norm = reference.last_hidden_is_final_norm(model, out)
    folder = os.path.join(tree, f"hf-{fixture.family}", fixture.name)
    os.makedirs(folder, exist_ok=True)
    versions = {"transformers": "stand-in", "torch": torch.__version__}
    safetensors_file.write(os.path.join(folder, "reference.safetensors"), reference.tensors(out, ids, mask, 3),
                           reference.metadata(versions, fixture, final_norm))
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write('{"model_type": "%s"}\n' % fixture.model_type)
    return folder, versions


def check_reference(tree):
    fixture = families.FIXTURES[0]
    folder, versions = make_stand_in_tree(tree, fixture)
    ref, meta = safetensors_file.read(os.path.join(folder, "reference.safetensors"))
    T = families.SEQ_LEN
    expected = {"input_ids", "attention_mask", "logits"} | {f"hidden_states.{i}" for i in range(4)} | {f"attentions.{i}" for i in range(3)}
    _check(set(ref) == expected, "reference holds input_ids, attention_mask, logits, hidden_states.0..3, attentions.0..2")
    _check(ref["input_ids"].dtype == np.int64 and ref["input_ids"].shape == (2, T) and ref["input_ids"].max() < families.VOCAB_SIZE,
           "input_ids are int64 (2, 17) below the vocabulary size")
    _check(ref["attention_mask"].tolist()[1] == [1] * 12 + [0] * 5 and ref["attention_mask"][0].all(),
           "row 1 is right-padded after 12 tokens, row 0 is whole")
    _check(ref["logits"].dtype == np.float32 and ref["logits"].shape == (2, T, families.VOCAB_SIZE), "logits are float32 (2, 17, vocab)")
    probs = ref["attentions.0"]
    _check(np.allclose(probs.sum(-1), 1, atol=1e-5) and np.all(np.triu(probs[0, 0], 1) == 0),
           "attentions are causal probabilities")
    _check(np.all(probs[1, 0, :, 12:] == 0), "padded keys get no attention")
    _check(meta["last_hidden_is_final_norm"] == "true" and meta["model_type"] == fixture.model_type and meta["note"] == reference.NOTE,
           "metadata names the fixture and confirms the last hidden state is after the final norm")
    again, _ = reference.fixed_inputs()
    _check(np.array_equal(again.numpy(), ref["input_ids"]), "the inputs are the same on every run")
    with open(os.path.join(tree, f"hf-{fixture.family}", "README.md"), "w") as f:
        f.write(readme.text(fixture.family, [fixture], versions, (False, "skipped in the self-test")))


def check_packing(tree, tmp):
    for fixture in families.FIXTURES[1:]:
        make_stand_in_tree(tree, fixture)
    tops = sorted(os.listdir(tree))
    _check(tops == [f"hf-{f}" for f in families.FAMILIES], "one folder per family: " + " ".join(tops))
    out_a, out_b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    manifest = packing.pack(tree, tops, out_a)
    packing.pack(tree, tops, out_b)
    returned = sorted(os.listdir(out_a))
    _check(len(returned) <= packing.MAX_FILES and all(os.path.getsize(os.path.join(out_a, n)) <= packing.MAX_FILE_BYTES for n in returned),
           f"{len(returned)} files of at most 16 MiB: " + ", ".join(f"{n} {os.path.getsize(os.path.join(out_a, n))} B" for n in returned))
    _check(all(open(os.path.join(out_a, n), "rb").read() == open(os.path.join(out_b, n), "rb").read() for n in returned),
           "packing twice gives the same bytes")
    into = os.path.join(tmp, "unpacked")
    written = packing.unpack(out_a, into)
    originals = [os.path.join(tree, p) for p in sorted(f for e in manifest["archives"].values() for f in e["files"])]
    _check(len(written) == len(originals) and all(open(w, "rb").read() == open(o, "rb").read()
                                                   for w, o in zip(sorted(written), originals)),
           f"unpacking restores all {len(written)} files")
    archive = next(n for n in returned if n.endswith(".tar.gz"))
    with open(os.path.join(out_a, archive), "r+b") as f:
        f.seek(40)
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 1]))
    try:
        packing.unpack(out_a, into)
        _check(False, "a damaged archive is refused")
    except ValueError as e:
        _check("SHA-256" in str(e), "a damaged archive is refused: " + str(e))
    try:
        packing.pack(tree, tops, os.path.join(tmp, "c"), max_file_bytes=1000)
        _check(False, "an archive over the size limit is refused")
    except ValueError as e:
        _check("over the" in str(e), "an archive over the size limit is refused: " + str(e))


def check_command_line():
    script = os.path.join(REPO, "scripts", "make_hf_fixtures.py")
    helped = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    _check(helped.returncode == 0 and "--out" in helped.stdout and "--self-test" in helped.stdout, "--help describes the options")
    try:
        import transformers  # noqa: F401
        print("  (transformers is installed: the missing-transformers message is not checked)")
    except ImportError:
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run([sys.executable, script, "--out", out], capture_output=True, text=True)
            _check(run.returncode == 2 and "transformers is not installed" in run.stderr and not os.listdir(out),
                   "without transformers it stops at once with: " + run.stderr.strip().splitlines()[-1])


def check_full_run_with_stand_in(tmp):
    """make_hf_fixtures.py --out, then --unpack, with stand_in_transformers importable as transformers."""
    shim = os.path.join(tmp, "shim")
    os.makedirs(shim)
    with open(os.path.join(shim, "transformers.py"), "w") as f:
        f.write("from hf_fixtures.stand_in_transformers import *  # noqa\n"
                "from hf_fixtures.stand_in_transformers import __version__  # noqa\n")
    env = dict(os.environ, PYTHONPATH=shim + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = os.path.join(REPO, "scripts", "make_hf_fixtures.py")
    out = os.path.join(tmp, "returned")
    made = subprocess.run([sys.executable, script, "--out", out, "--gpt2-vocab", os.path.join(tmp, "no-vocab")],
                          capture_output=True, text=True, env=env)
    print("    | " + "\n    | ".join(made.stdout.strip().splitlines()))
    _check(made.returncode == 0, "the whole --out run succeeds with the stand-in" + (": " + made.stderr if made.returncode else ""))
    _check(sorted(os.listdir(out)) == sorted(["MANIFEST.json"] + [f"hf-{f}.tar.gz" for f in families.FAMILIES]),
           "it returns MANIFEST.json and one archive per family")
    _check("tokenizer.json skipped for: gpt-neox" in made.stdout and "no-vocab" in made.stdout,
           "skipped tokenizers are printed with the reason")
    into = os.path.join(tmp, "tests-data")
    unpacked = subprocess.run([sys.executable, script, "--unpack", out, "--into", into], capture_output=True, text=True)
    _check(unpacked.returncode == 0, "--unpack succeeds" + (": " + unpacked.stderr if unpacked.returncode else ""))
    for fixture in families.FIXTURES:
        folder = os.path.join(into, f"hf-{fixture.family}", fixture.name)
        ref, meta = safetensors_file.read(os.path.join(folder, "reference.safetensors"))
        model, _ = safetensors_file.read(os.path.join(folder, "model.safetensors"))
        with open(os.path.join(folder, "config.json")) as f:
            model_type = json.load(f)["model_type"]
        if not (model_type == fixture.model_type and meta["fixture"] == fixture.name and "logits" in ref and model):
            _check(False, f"{folder} holds its config, model and reference")
    _check(True, f"all {len(families.FIXTURES)} fixture folders hold config.json, model.safetensors and reference.safetensors")
    _check(all(os.path.isfile(os.path.join(into, f"hf-{f}", "README.md")) for f in families.FAMILIES), "each family has a README.md")


def run():
    print("self-test (torch", torch.__version__, ", numpy", np.__version__ + ")")
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        check_safetensors(tmp)
        check_reference(tree)
        check_packing(tree, tmp)
        check_full_run_with_stand_in(tmp)
    check_command_line()
    print("self-test passed")
