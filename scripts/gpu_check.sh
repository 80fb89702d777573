#!/usr/bin/env bash
# The GPU checks of issue 22 in one prepared call of the device tool (no Debian packages, no network
# there): build against the machine's LibTorch, run every test with a CUDA path, train on the GPU
# against the CPU, and the int8 benchmark. Resumable: a second call on a warm machine reuses
# build-gpu/ and redoes only what is missing.
#   here:   bash scripts/gpu_deps.sh       (packs .gpu-deps: headers, GoogleTest, tokenizer, token data)
#   device: run(command="bash scripts/gpu_check.sh", carry=[".gpu-deps"], timeout_s=600)
# Everything goes into ONE log, $OUT/gpu_check.log (else runs/gpu/), so that the files that come back
# stay within the device tool's eight. Each phase runs under a time limit taken from what is left of
# GPU_CHECK_BUDGET seconds (default 540), so the log ends with the summary even when time runs short.
# The build is -O1 (compile time is device time); the benchmark times GPU kernels, not host code.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$repo/runs/gpu}"
mkdir -p "$out"
exec > >(tee -a "$out/gpu_check.log") 2>&1
cd "$repo"
budget="${GPU_CHECK_BUDGET:-540}"
start=$SECONDS
summary=()
left() { echo $((budget - (SECONDS - start))); }
# phase NAME LIMIT COMMAND...: runs COMMAND under min(LIMIT, time left), logs its rc and duration.
phase() {
  local name="$1" limit="$2"; shift 2
  local l; l="$(left)"
  if ((l < 10)); then summary+=("$name: SKIPPED (out of time)"); echo "=== $name: SKIPPED (out of time)"; return 1; fi
  ((limit > l)) && limit=$l
  echo; echo "=== $name (at $((SECONDS - start)) s, limit $limit s)"
  local t0=$SECONDS rc=0
  timeout --kill-after=5 "$limit" "$@" || rc=$?
  summary+=("$name: rc $rc, $((SECONDS - t0)) s")
  echo "--- $name: rc $rc in $((SECONDS - t0)) s"
  return $rc
}
finish() { echo; echo "=== summary ($((SECONDS - start)) s)"; printf '  %s\n' "${summary[@]}"; }
trap finish EXIT

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)'
torch_prefix="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
abi="$(python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
export TORCH_CUDA_ARCH_LIST=9.0
build=build-gpu
configure() {
  [[ -f $build/build.ninja ]] && return 0
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" -DCOOK_BUILD_BENCH=ON \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$repo/.gpu-deps" >/tmp/configure.log 2>&1 ||
    { tail -60 /tmp/configure.log; rm -f "$build/build.ninja"; return 1; }
  grep -E "LibTorch|CUDA|Torch" /tmp/configure.log | head -20
}
build_all() {
  cmake --build "$build" -j "$(nproc)" --target cook_cli test_quant test_dist test_model bench_int8_cuda \
    >/tmp/build.log 2>&1 && { tail -2 /tmp/build.log; return 0; }
  grep -m30 -B3 -A12 -E "error|Error" /tmp/build.log || tail -40 /tmp/build.log
  return 1
}
phase configure 120 bash -c "$(declare -f configure); build=$build abi=$abi torch_prefix='$torch_prefix' repo='$repo'; configure" || exit 1
phase build 480 bash -c "$(declare -f build_all); build=$build; build_all" || exit 1

export COOK_DATA="$repo/.gpu-deps/data" COOK_CLI="$repo/$build/cook"
tests="$repo/$build/tests"
phase "int8 kernel on CUDA (test_quant)" 60 "$tests/test_quant" --gtest_filter='Int8Device.*:Int8Kernel.*:*Cuda*:*CUDA*'
phase "HF GPT-J fixtures on CUDA (test_model)" 60 "$tests/test_model" --gtest_filter='*HfExact*:*Cuda*'
phase "NCCL at world size 1 (test_dist)" 60 "$tests/test_dist" --gtest_filter='*Nccl*:*NCCL*'

# cook train on tiny: CPU fp32 against CUDA fp32 and bf16 (same seed, same batches), then a resumed
# CUDA run against the straight one.
runs=/tmp/cook-gpu-runs
rm -rf "$runs"
train() {  # train NAME DEVICE DTYPE STEPS [extra...]
  local name="$1" device="$2" dtype="$3" steps="$4"; shift 4
  "$COOK_CLI" train --model tiny --data "$COOK_DATA/sotu" --seed 7 --steps "$steps" --seq-len 128 --batch-size 8 \
    --schedule constant --start-lr 1e-3 --warmup 0 --log-interval 10 --save-interval 30 --eval-batches 8 \
    --no-progress --device "$device" --dtype "$dtype" --save-dir "$runs/$name" "$@" 2>&1 | tail -3
}
phase "cook train tiny, cpu fp32" 90 bash -c "$(declare -f train); COOK_CLI=$COOK_CLI COOK_DATA=$COOK_DATA runs=$runs; train cpu-fp32 cpu fp32 60"
phase "cook train tiny, cuda fp32" 60 bash -c "$(declare -f train); COOK_CLI=$COOK_CLI COOK_DATA=$COOK_DATA runs=$runs; train cuda-fp32 cuda fp32 60"
phase "cook train tiny, cuda bf16" 60 bash -c "$(declare -f train); COOK_CLI=$COOK_CLI COOK_DATA=$COOK_DATA runs=$runs; train cuda-bf16 cuda bf16 60"
phase "cook train tiny, cuda bf16 to 30 then resumed to 60" 90 bash -c "$(declare -f train); COOK_CLI=$COOK_CLI COOK_DATA=$COOK_DATA runs=$runs;
  train resumed cuda bf16 30 && train resumed cuda bf16 60 --resume latest"
phase "loss curves" 20 python3 - "$runs" <<'PY'
import json, os, sys
runs = sys.argv[1]
curves = {}
for name in ("cpu-fp32", "cuda-fp32", "cuda-bf16", "resumed"):
    path = os.path.join(runs, name, "metrics.jsonl")
    if os.path.exists(path):
        rows = [json.loads(l) for l in open(path) if l.strip()]
        curves[name] = {r["step"]: r["loss"] for r in rows if "loss" in r and "step" in r}
steps = sorted(set().union(*[c.keys() for c in curves.values()])) if curves else []
print("step " + " ".join(f"{n:>10}" for n in curves))
for s in steps:
    print(f"{s:4d} " + " ".join(f"{curves[n].get(s, float('nan')):10.4f}" for n in curves))
ok = True
for name, tol in (("cuda-fp32", 5e-3), ("cuda-bf16", 0.1), ("resumed", 1e-2)):
    ref = curves.get("cpu-fp32" if name != "resumed" else "cuda-bf16", {})
    common = [s for s in curves.get(name, {}) if s in ref]
    if not common:
        print(f"{name}: no curve to compare"); ok = False; continue
    worst = max(abs(curves[name][s] - ref[s]) for s in common)
    print(f"{name}: max |loss - reference| over {len(common)} logged steps = {worst:.4g} (tolerance {tol})")
    ok = ok and worst <= tol
sys.exit(0 if ok else 1)
PY
phase "int8 benchmark (bench_int8_cuda)" 150 "$repo/$build/bench/bench_int8_cuda" --min-ms 50
