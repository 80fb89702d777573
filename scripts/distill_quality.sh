#!/usr/bin/env bash
# Distillation quality benchmark. A student with half the layers of a `small` teacher, started from
# the teacher's mapped blocks (--init-with-teacher --init-teacher-blocks last: student block j = teacher block 2j+1, the same
# embedding and LM head), is trained for the same steps on the same batches three ways: without KD,
# with logits KD, with logits + hidden-state KD. Prints the validation perplexity of each and of the
# teacher on the same validation windows, as a Markdown table (also written to OUT/results.md).
#   scripts/distill_quality.sh TEACHER [STEPS] [OUT]
# Environment: COOK_BUILD (build folder, default build), COOK_TOKENS (token data, default
# runs/demo/sotu-tokens), COOK_KD_BATCH (4), COOK_KD_SEQ (128), COOK_KD_EVAL_BATCHES (25),
# COOK_KD_LR (5e-4), COOK_KD_TEMP (2).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 TEACHER_CHECKPOINT [STEPS] [OUT_DIR]" >&2
  exit 2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
teacher="$1"
steps="${2:-100}"
out="${3:-$repo/runs/distill-quality}"
cook="$repo/${COOK_BUILD:-build}/cook"
data="${COOK_TOKENS:-$repo/runs/demo/sotu-tokens}"
batch="${COOK_KD_BATCH:-4}"
seq="${COOK_KD_SEQ:-128}"
eval_batches="${COOK_KD_EVAL_BATCHES:-25}"
lr="${COOK_KD_LR:-5e-4}"
temp="${COOK_KD_TEMP:-2}"
[ -e "$teacher" ] || { echo "$teacher: no such teacher checkpoint" >&2; exit 2; }
mkdir -p "$out"

teacher_json=$("$cook" eval --load "$teacher" --data "$data" --seq-len "$seq" --batch-size "$batch" \
  --max-batches "$eval_batches" --json | tee "$out/teacher-eval.json")
teacher_ppl=$(sed -n 's/.*"perplexity":\([0-9.e+-]*\).*/\1/p' <<<"$teacher_json")

common=(--model small --n-layer 3 --data "$data" --batch-size "$batch" --seq-len "$seq" --steps "$steps"
        --schedule cosine --start-lr "$lr" --warmup 10 --log-interval 10 --save-interval 0
        --eval-batches "$eval_batches" --seed 1 --no-progress --load-teacher "$teacher" --init-with-teacher --init-teacher-blocks last)
declare -A kd_flags=(
  [no-kd]=""
  [kd-logits]="--use-kd --kd-ce-logits --kd-temp $temp"
  [kd-logits-hidden]="--use-kd --kd-ce-logits --kd-temp $temp --kd-mse-hidn"
)
declare -A ppl secs
for run in no-kd kd-logits kd-logits-hidden; do
  rm -rf "${out:?}/$run"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$cook" train "${common[@]}" ${kd_flags[$run]} --save-dir "$out/$run" | tee "$out/$run.log"
  secs[$run]=$(( $(date +%s) - start ))
  ppl[$run]=$(sed -n 's/^validation: loss .*, perplexity \([0-9.e+-]*\) over.*/\1/p' "$out/$run.log" | tail -1)
done

{
  echo "| model | KD | validation perplexity | wall time (s) |"
  echo "|---|---|---|---|"
  echo "| teacher (small, 6 layers) | — | $(printf %.3f "$teacher_ppl") | — |"
  echo "| student (3 layers) | none | ${ppl[no-kd]} | ${secs[no-kd]} |"
  echo "| student (3 layers) | logits (T=$temp) | ${ppl[kd-logits]} | ${secs[kd-logits]} |"
  echo "| student (3 layers) | logits (T=$temp) + hidden states | ${ppl[kd-logits-hidden]} | ${secs[kd-logits-hidden]} |"
  echo
  echo "steps $steps, batch $batch × $seq tokens, cosine lr $lr (warm-up 10), validation: the first $eval_batches batches"
} | tee "$out/results.md"
