#!/usr/bin/env bash
# The kill loop of docs/reliability.md: `kill -9` a training run and a compression run at random
# moments (a checkpoint is written every step, so many kills land inside a write), resume each time,
# and check that the result is bit-identical to an uninterrupted run and that nothing is left over.
#   scripts/kill_loop.sh [--kills N] [--build DIR] [--work DIR] [--seed S]
# N kills for training and N for compression (default 25 each, 50 in all).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kills=25; build="$repo/build"; work=""; seed=1
while (($#)); do
  case "$1" in
    --kills) kills="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kill_loop: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
cook="$build/cook"
[ -x "$cook" ] || { echo "kill_loop: $cook is not built (make build)" >&2; exit 2; }
[ -n "$work" ] || work="$(mktemp -d /tmp/cook-kill-loop-XXXXXX)"
mkdir -p "$work"
RANDOM=$seed

# A small corpus, tokenized.
mkdir -p "$work/text"
for name in 1900_a_x.txt 1950_b_y.txt 1995_c_z.txt; do
  for i in $(seq 300); do printf 'The state of the union is strong, and the people are free. '; done > "$work/text/$name"
done
[ -f "$work/tokens/manifest.json" ] ||
  "$cook" data prepare --input "$work/text" --output "$work/tokens" --split-rule sotu --quiet

leftovers() {  # what a crash may leave under a run's checkpoint folders
  find "$1" -path '*/checkpoints/.*' -prune -print 2>/dev/null
  find "$1" -name '.*.tmp-*' -print 2>/dev/null
}

# Runs "$@" to completion, killing it with SIGKILL after a random 0.3-3 s each time until it
# finishes on its own; counts the kills that landed.
landed=0
run_killing() {
  local want="$1"; shift
  local n=0
  while :; do
    "$@" >>"$work/kill.log" 2>&1 &
    local pid=$!
    if ((n < want)); then
      sleep "$(printf '%d.%02d' $((RANDOM % 3)) $((30 + RANDOM % 70)))"
      if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        n=$((n + 1)); landed=$((landed + 1))
        continue
      fi
    fi
    wait "$pid" || { echo "kill_loop: a resumed run failed (see $work/kill.log)" >&2; tail -5 "$work/kill.log" >&2; exit 1; }
    break
  done
  echo "  $n kills"
}

same() {  # byte-identical files
  if cmp -s "$1" "$2"; then echo "  identical: $2"; else echo "kill_loop: $2 differs from $1" >&2; exit 1; fi
}

train=(train --model tiny --data "$work/tokens" --batch-size 2 --seq-len 32 --steps 60 --save-interval 1
       --keep-last 2 --log-interval 1 --eval-batches 2 --no-progress --seed 3)
echo "training: uninterrupted"
rm -rf "$work/train-ref" "$work/train-killed"
"$cook" "${train[@]}" --save-dir "$work/train-ref" >"$work/train-ref.log" 2>&1
echo "training: killed up to $kills times"
resume_train() {  # runs in the background: exec, so that $! is cook's own pid and kill -9 reaches it
  if [ -d "$work/train-killed/checkpoints" ] && ls "$work/train-killed/checkpoints" | grep -q '^step-'; then
    exec "$cook" "${train[@]}" --save-dir "$work/train-killed" --resume latest
  else
    exec "$cook" "${train[@]}" --save-dir "$work/train-killed"
  fi
}
run_killing "$kills" resume_train
same "$work/train-ref/checkpoints/step-00000060/model.safetensors" "$work/train-killed/checkpoints/step-00000060/model.safetensors"
same "$work/train-ref/checkpoints/step-00000060/optimizer.safetensors" "$work/train-killed/checkpoints/step-00000060/optimizer.safetensors"

cat >"$work/compress.json" <<EOF
{"model": {"preset": "tiny", "dense_steps": 30, "seed": 1},
 "data": {"tokens": "$work/tokens"},
 "training": {"steps": 30, "batch_size": 2, "seq_len": 32, "save_interval": 1, "log_interval": 1, "eval_batches": 2},
 "pruning": {"is_pruning": true, "mask_method": "m4n2_1d"},
 "quantization": {"is_quant": true},
 "distillation": {"ce_scale": 1.0},
 "report": {"eval_batches": 2}}
EOF
echo "compression: uninterrupted"
rm -rf "$work/compress-ref" "$work/compress-killed"
"$cook" compress --config "$work/compress.json" --save-dir "$work/compress-ref" --no-progress --no-report \
  >"$work/compress-ref.log" 2>&1
echo "compression: killed up to $kills times"
run_killing "$kills" "$cook" compress --config "$work/compress.json" --save-dir "$work/compress-killed" --no-progress --no-report
same "$work/compress-ref/dense/model.safetensors" "$work/compress-killed/dense/model.safetensors"
for f in "$work"/compress-ref/compressed-*/model*.safetensors; do
  same "$f" "$work/compress-killed/${f#"$work/compress-ref/"}"
done

left="$(leftovers "$work/train-killed"; leftovers "$work/compress-killed")"
if [ -n "$left" ]; then echo "kill_loop: left over after the last successful save:" >&2; echo "$left" >&2; exit 1; fi
echo "kill_loop: $landed kills, every resume bit-identical, nothing left over ($work)"
