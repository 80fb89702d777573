#!/usr/bin/env bash
# The report of the six BMCook recipes on small (docs/results.md), after
#   for r in int8 int8-kd prune-kd relu moe int8-prune-kd; do build/cook compress --config configs/small/$r.json --save-dir runs/recipes --no-report; done
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
r=runs/recipes
build/cook report --reference runs/demo/dense/model.safetensors \
  --model int8=$r/compressed-q/model-int8.safetensors --passes int8=Q \
  --model int8-kd=$r/compressed-dq/model-int8.safetensors --passes int8-kd=D+Q \
  --model prune-kd=$r/compressed-pd/model.safetensors --passes prune-kd=P+D \
  --model relu=$r/compressed-d/model.safetensors --passes relu=D \
  --model moe=$r/compressed-dm/model.safetensors --passes moe=D+M \
  --model int8-prune-kd=$r/compressed-pdq/model-int8.safetensors --passes int8-prune-kd=P+D+Q \
  --moe --moe-ckpt $r/compressed-dm/moe.safetensors --topk 4 --moe-models moe \
  --data runs/demo/sotu-tokens --batch-size 8 --seq-len 128 --eval-batches 20 --out $r/report
