#!/usr/bin/env bash
# The GPU measurements of issues 23 and 24, after scripts/gpu_check.sh has built build-gpu/ in the
# same device call (it builds test_prune and bench_sparse24_cuda too):
#   - 2:4 through cuSPARSELt: the CUDA tests of sparse24_device.h, then bench_sparse24_cuda;
#   - training speed: `cook train` on gpt-j-1.3b (bf16, fp32 master weights, batch 8 × 1024) against
#     Hugging Face's GPTJForCausalLM eager (bench/train_hf_gptj.py): tokens/s, MFU and the peak GPU
#     memory nvidia-smi saw (the whole process: context and allocator cache included).
#   device: run(command="bash scripts/gpu_check.sh; bash scripts/gpu_bench.sh", carry=[".gpu-deps"])
# One log, $OUT/gpu_bench.log; each phase under a limit from GPU_BENCH_BUDGET seconds (default 240).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$repo/runs/gpu}"
mkdir -p "$out"
exec > >(tee -a "$out/gpu_bench.log") 2>&1
cd "$repo"
source "$repo/scripts/gpu_phases.sh"
phases_start "${GPU_BENCH_BUDGET:-240}"
build="$repo/build-gpu"
[[ -x $build/cook ]] || { echo "no $build/cook: run scripts/gpu_check.sh first"; exit 1; }
export COOK_DATA="$repo/.gpu-deps/data"

phase "2:4 on CUDA (test_prune)" 60 "$build/tests/test_prune" --gtest_filter='Sparse24*'
phase "2:4 benchmark (bench_sparse24_cuda)" 150 "$build/bench/bench_sparse24_cuda" --min-ms 20

# Peak of nvidia-smi's memory.used while COMMAND runs, printed after it.
with_peak_memory() {
  local log; log="$(mktemp)"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$log" 2>/dev/null &
  local smi=$! rc=0
  "$@" || rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  echo "peak GPU memory (nvidia-smi): $(sort -n "$log" | tail -1) MiB"
  rm -f "$log"
  return $rc
}
export -f with_peak_memory
# cook train, stopped hard after 12 logged steps (no final evaluation or checkpoint of 17 GB).
cook_train_speed() {
  local dir=/tmp/cook-speed; rm -rf "$dir"
  "$COOK_CLI" train --model gpt-j-1.3b --device cuda --dtype bf16 --batch-size 8 --seq-len 1024 --steps 1000 \
    --schedule constant --start-lr 1e-4 --warmup 0 --log-interval 1 --save-interval 0 --no-progress \
    --data "$COOK_DATA/sotu" --save-dir "$dir" &
  local pid=$!
  while kill -0 $pid 2>/dev/null && [[ $(cat "$dir/metrics.jsonl" 2>/dev/null | wc -l) -lt 12 ]]; do sleep 1; done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  python3 - "$dir/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
speeds = [r["tokens_per_s"] for r in rows if r.get("step", 0) > 3 and "tokens_per_s" in r]
d, L, f, v, T = 2048, 24, 8192, 50400, 1024
n = L * (4 * d * d + 2 * d * f)
mfu = statistics.median(speeds) * (6 * n + 12 * L * d * T) / 989e12 if speeds else 0
print(json.dumps({"who": "cook-train", "steps_logged": len(rows), "tokens_per_s": round(statistics.median(speeds), 1) if speeds else None,
                  "mfu": round(mfu, 4), "losses": [round(r["loss"], 3) for r in rows[:12] if "loss" in r]}))
PY
}
export -f cook_train_speed
export COOK_CLI="$build/cook"
phase "cook train gpt-j-1.3b bf16 8x1024" 120 bash -c "with_peak_memory cook_train_speed"
phase "HF GPT-J 1.3b eager bf16 8x1024" 120 bash -c "with_peak_memory python3 $repo/bench/train_hf_gptj.py --steps 8 --warmup 3"
phases_end
