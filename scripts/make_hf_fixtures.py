#!/usr/bin/env python3
"""Hugging Face reference fixtures for GPT-2, GPT-NeoX, Llama, Mistral and Qwen2 (issue 25).

Builds tiny random models with transformers, saves each as a Hugging Face folder with a
reference.safetensors of what transformers computes on fixed inputs, adds the tokenizer.json files
it can make offline, and packs everything into one .tar.gz per family plus MANIFEST.json in --out.
docs/models.md says how it is run on the GPU machine and where the files go."""
import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def parse_args(argv):
    from hf_fixtures import families
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", metavar="DIR", help="write the packed fixtures (<= 8 files of <= 16 MiB) here")
    mode.add_argument("--unpack", metavar="DIR", help="check and unpack the packed fixtures in DIR into --into")
    mode.add_argument("--self-test", action="store_true", help="check the parts that need no transformers, then exit")
    p.add_argument("--families", nargs="+", default=families.FAMILIES, choices=families.FAMILIES,
                   help="families to make (default: all)")
    p.add_argument("--keep-tree", metavar="DIR", help="build the unpacked folders here and keep them (default: a temporary folder)")
    p.add_argument("--gpt2-vocab", metavar="DIR", default=os.path.join(REPO, ".data", "tokenizer", "gpt2"),
                   help="GPT-2's encoder.json and vocab.bpe, for its tokenizer.json (default: %(default)s)")
    p.add_argument("--golden", metavar="DIR", default=os.path.join(REPO, "tests", "data", "tokenizer"),
                   help="llama.cpp's ggml-vocab-gpt-2.gguf.inp/.out to check it against (default: %(default)s)")
    p.add_argument("--into", metavar="DIR", default=os.path.join(REPO, "tests", "data"),
                   help="where --unpack writes the hf-<family> folders (default: %(default)s)")
    return p.parse_args(argv)


def require_transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")        # there is no network: never wait for one
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"make_hf_fixtures.py: {e.name} is not installed; the fixtures must be computed by Hugging Face "
              f"transformers itself (run this on the GPU machine, see docs/models.md; --self-test runs here)",
              file=sys.stderr)
        sys.exit(2)


def make(args):
    require_transformers()
    import shutil
    import traceback
    from hf_fixtures import build, families, packing, readme, tokenizer_files
    versions = build.versions()
    print("transformers", versions["transformers"], "torch", versions["torch"], flush=True)
    failed, skipped = [], []
    with tempfile.TemporaryDirectory() as scratch:
        tree = args.keep_tree or scratch
        for family in args.families:
            family_dir = os.path.join(tree, f"hf-{family}")
            made = []
            for fixture in families.fixtures_of([family]):
                try:   # one fixture's failure must not cost the others a second run on the GPU machine
                    print(build.build(fixture, family_dir), flush=True)
                    made.append(fixture)
                except Exception:
                    traceback.print_exc()
                    failed.append(fixture.name)
                    shutil.rmtree(os.path.join(family_dir, fixture.name), ignore_errors=True)
            if not made:
                continue
            status = tokenizer_files.make(family, family_dir, args.gpt2_vocab, args.golden)
            print(f"{family}: tokenizer.json {'made' if status[0] else 'SKIPPED'}: {status[1]}", flush=True)
            if not status[0]:
                skipped.append(f"{family} ({status[1]})")
            with open(os.path.join(family_dir, "README.md"), "w", encoding="utf-8") as f:
                f.write(readme.text(family, made, versions, status))
        tops = [f"hf-{f}" for f in args.families if os.path.isdir(os.path.join(tree, f"hf-{f}"))]
        manifest = packing.pack(tree, tops, args.out) if tops else {"archives": {}}
    for name, entry in sorted(manifest["archives"].items()):
        print(f"{os.path.join(args.out, name)}: {entry['bytes']} bytes, {len(entry['files'])} files")
    print("tokenizer.json skipped for:", "; ".join(skipped) if skipped else "none")
    if failed:
        print("FAILED fixtures (tracebacks above):", " ".join(failed), file=sys.stderr)
        sys.exit(1)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from hf_fixtures import self_test
        self_test.run()
    elif args.unpack:
        from hf_fixtures import packing
        for path in packing.unpack(args.unpack, args.into):
            print(path)
    else:
        make(args)


if __name__ == "__main__":
    main()
