#!/usr/bin/env bash
# MoEfication quality run: validation loss/perplexity of a ReLU model and of its MoEfied versions
# at k/E ≈ 10/20/30% with each router (MLP, centroid, oracle). Prints a Markdown table.
#   scripts/moe_quality.sh RELU_CHECKPOINT DATA_DIR OUT_DIR [NUM_EXPERT] [EVAL_BATCHES]
# RELU_CHECKPOINT: a ReLU model (e.g. `--model small-relu` trained, or ReLU-fied by distillation).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cook="${COOK:-$repo/build/cook}"
model="$1"; data="$2"; out="$3"; experts="${4:-32}"; eval_batches="${5:-20}"
mkdir -p "$out"
common=(--load "$model" --data "$data" --batch-size 8 --seq-len 128 --max-batches "$eval_batches" --json)

"$cook" moe dump --load "$model" --data "$data" --split train --tokens 32768 --seq-len 128 --output "$out/hidden" --no-progress
/usr/bin/time -f "split: %e s" "$cook" moe split --load "$model" --num-expert "$experts" --output "$out/split.safetensors" --no-progress
# The router is trained for the middle ratio (20%); its coverage at the others is what the evals show.
k20=$(( (experts * 20 + 50) / 100 ))
"$cook" moe router --load "$model" --split-file "$out/split.safetensors" --hidden "$out/hidden" --topk "$k20" \
  --output "$out/moe.safetensors" --no-progress | tee "$out/router.txt"

dense=$("$cook" eval "${common[@]}")
dense_loss=$(echo "$dense" | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["loss"])')
echo "| model | k/E | router | loss | perplexity | dense loss / loss |"
echo "|---|---|---|---|---|---|"
echo "$dense" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("| dense ReLU | 100%% | - | %.4f | %.2f | 1.000 |" % (r["loss"], r["perplexity"]))'
for pct in 10 20 30; do
  k=$(( (experts * pct + 50) / 100 ))
  for router in mlp centroid oracle; do
    r=$("$cook" eval "${common[@]}" --moe --moe-ckpt "$out/moe.safetensors" --topk "$k" --moe-router "$router" 2>/dev/null)
    echo "$r" | DENSE="$dense_loss" K="$k" E="$experts" ROUTER="$router" /usr/bin/python3 -c '
import json, os, sys
r = json.loads(sys.stdin.read()); k = int(os.environ["K"]); e = int(os.environ["E"])
print("| MoEfied | %d/%d = %.1f%% | %s | %.4f | %.2f | %.3f |" % (k, e, 100 * k / e, os.environ["ROUTER"], r["loss"],
      r["perplexity"], float(os.environ["DENSE"]) / r["loss"]))'
  done
done
