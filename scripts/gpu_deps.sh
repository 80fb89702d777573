#!/usr/bin/env bash
# Packs what the GPU machine (no Debian packages, no network) needs to build Cook's tests into
# .gpu-deps/: the header-only libraries and GoogleTest's sources, plus the tokenizer data.
# Carry .gpu-deps with the device tool and configure with -DCMAKE_PREFIX_PATH="<torch>;$PWD/.gpu-deps".
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/.gpu-deps"
rm -rf "$out"
mkdir -p "$out/include" "$out/src" "$out/data/tokenizer"
cp -r /usr/include/nlohmann /usr/include/CLI "$out/include/"
cp -r /usr/src/googletest "$out/src/googletest"
cp -r "${COOK_DATA:-$repo/.data}/tokenizer/gpt2" "$out/data/tokenizer/"
du -sh "$out"
