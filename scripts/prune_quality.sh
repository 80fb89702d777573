#!/usr/bin/env bash
# The one-shot pruning quality table of docs/pruning.md: validation perplexity of a model dense
# and after one-shot pruning of every "proj"/"fc_" weight by each method (no training).
#   scripts/prune_quality.sh MODEL DATA OUT [BUILD]
# MODEL: a checkpoint (e.g. /work/models/small-sotu/model.safetensors); DATA: token data from
# `cook data prepare`; OUT: folder for masks, pruned models and results.jsonl.
# Environment: EVAL_BATCHES (validation batches of 8×256 tokens, default 40), CALIB_BATCHES
# (calibration batches of 4×256 training tokens, default 16).
set -euo pipefail
model="$1"; data="$2"; out="$3"; build="${4:-build}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cook="$repo/$build/cook"
eval_batches="${EVAL_BATCHES:-40}"
calib_batches="${CALIB_BATCHES:-16}"
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"

evaluate() {  # name checkpoint seconds
  local line
  line=$("$cook" eval --load "$2" --data "$data" --batch-size 8 --seq-len 256 --max-batches "$eval_batches" --json)
  echo "{\"row\": \"$1\", \"prune_seconds\": $3, \"eval\": $line}" | tee -a "$results"
}

evaluate dense "$model" 0
calibration=(--data "$data" --calib-batches "$calib_batches" --batch-size 4 --seq-len 256)
while read -r name calibrated args; do
  start=$(date +%s.%N)
  extra=()
  if [ "$calibrated" = yes ]; then extra=("${calibration[@]}"); fi
  # shellcheck disable=SC2086
  "$cook" prune masks --load "$model" $args "${extra[@]}" --no-progress \
    --output "$out/$name.masks.safetensors" --save-model "$out/$name.model.safetensors"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  evaluate "$name" "$out/$name.model.safetensors" "$seconds"
done <<'ROWS'
m4n2_1d no --method m4n2_1d
m4n2_2d_greedy no --method m4n2_2d_greedy
m4n2_2d_best no --method m4n2_2d_best
wanda_2to4 yes --method wanda --pattern 2:4
sparsegpt_2to4 yes --method sparsegpt --pattern 2:4
magnitude_50pct no --method magnitude --sparsity 0.5
wanda_50pct yes --method wanda --pattern unstructured --sparsity 0.5
sparsegpt_50pct yes --method sparsegpt --pattern unstructured --sparsity 0.5
ROWS
