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
source "$repo/scripts/gpu_phases.sh"
phases_start "${GPU_CHECK_BUDGET:-540}"

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)'
torch_prefix="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
abi="$(python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
export TORCH_CUDA_ARCH_LIST=9.0
build=build-gpu
# configure [EXTRA CMAKE ARGS]: once per build folder (a second call with arguments reconfigures).
configure() {
  [[ -f $build/build.ninja && $# -eq 0 ]] && return 0
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi $cxx_extra" -DCOOK_BUILD_BENCH=ON \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$repo/.gpu-deps" "$@" >/tmp/configure.log 2>&1 ||
    { tail -60 /tmp/configure.log; rm -f "$build/build.ninja"; return 1; }
  grep -E "LibTorch|CUDA|Torch|Cook" /tmp/configure.log | head -20
}
# What every check needs first; then the 2:4 targets, whose failure costs only their own checks.
build_core() {
  cmake --build "$build" -j "$(nproc)" --target cook_cli test_quant test_dist test_model test_compress bench_int8_cuda \
    >/tmp/build.log 2>&1 && { tail -2 /tmp/build.log; return 0; }
  grep -m30 -B3 -A12 -E "error|Error" /tmp/build.log || tail -40 /tmp/build.log
  return 1
}
build_rest() {
  cmake --build "$build" -j "$(nproc)" -- -k 0 test_prune bench_sparse24_cuda >/tmp/build-rest.log 2>&1 &&
    { tail -2 /tmp/build-rest.log; return 0; }
  grep -m30 -B3 -A12 -E "error|Error" /tmp/build-rest.log || tail -40 /tmp/build-rest.log
  return 1
}
vars="build=$build abi=$abi torch_prefix='$torch_prefix' repo='$repo'"
phase configure 120 bash -c "$(declare -f configure); $vars cxx_extra=''; configure" || exit 1
if ! phase build 420 bash -c "$(declare -f build_core); $vars; build_core"; then
  # Without Cook's CUDA kernels and cuSPARSELt, so that the other checks still run.
  phase "configure without Cook's CUDA kernels and cuSPARSELt" 60 bash -c \
    "$(declare -f configure); $vars cxx_extra='-DCOOK_NO_CSLT'; configure -DCOOK_CUDA_KERNELS=OFF" || exit 1
  phase "build again" 300 bash -c "$(declare -f build_core); $vars; build_core" || exit 1
fi
phase "build the 2:4 targets" 240 bash -c "$(declare -f build_rest); $vars; build_rest"

export COOK_DATA="$repo/.gpu-deps/data" COOK_CLI="$repo/$build/cook"
tests="$repo/$build/tests"
phase "int8 kernel on CUDA (test_quant)" 60 "$tests/test_quant" --gtest_filter='Int8Device.*:Int8Kernel.*:*Cuda*:*CUDA*'
phase "HF GPT-J fixtures on CUDA (test_model)" 60 "$tests/test_model" --gtest_filter='*HfExact*:*Cuda*'
phase "NCCL at world size 1 (test_dist)" 60 "$tests/test_dist" --gtest_filter='*Nccl*:*NCCL*'
if [[ ${phases_summary[-1]} =~ "rc 1"[3-9][0-9] ]]; then  # a crash: where (cuda-gdb also debugs host code)
  phase "NCCL test under cuda-gdb" 90 cuda-gdb -q -batch -ex run -ex bt -ex "info threads" \
    --args "$tests/test_dist" --gtest_filter='*Nccl*:*NCCL*'
fi
phase "config of device and dtype (test_compress)" 30 "$tests/test_compress" --gtest_filter='CompressConfig.*'

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
# cook compress P+D+Q on tiny (a dense phase, then prune + distil + quantize): CPU fp32 against CUDA
# bf16, and P+D+Q+M on CUDA (the MoE split and routers run on the CPU after the training).
cat >/tmp/pdq.json <<'JSON'
{"model": {"preset": "tiny", "dense_steps": 30, "dense_start_lr": 1e-3, "dense_warmup": 0, "seed": 3},
 "training": {"steps": 30, "batch_size": 8, "seq_len": 128, "eval_batches": 8, "log_interval": 10, "warmup": 0,
              "start_lr": 1e-3, "schedule": "constant"},
 "distillation": {"ce_scale": 1.0}, "pruning": {"is_pruning": true, "mask_method": "m4n2_1d"},
 "quantization": {"is_quant": true}}
JSON
compress() {  # compress NAME DEVICE DTYPE [--set ...]
  local name="$1" device="$2" dtype="$3"; shift 3
  "$COOK_CLI" compress --config /tmp/pdq.json --data "$COOK_DATA/sotu" --save-dir "$runs/compress-$name" \
    --device "$device" --dtype "$dtype" --no-report --no-progress "$@" 2>&1 | tail -4
}
for args in "cpu cpu fp32" "cuda-bf16 cuda bf16"; do
  phase "cook compress P+D+Q tiny, ${args#* }" 120 bash -c "$(declare -f compress); COOK_CLI=$COOK_CLI COOK_DATA=$COOK_DATA runs=$runs; compress $args"
done
phase "cook compress P+D+Q+M tiny, cuda bf16" 120 bash -c "$(declare -f compress); COOK_CLI=$COOK_CLI COOK_DATA=$COOK_DATA runs=$runs;
  compress pdqm cuda bf16 --set MoEfication.is_moefy=true --set MoEfication.num_expert=8 --set MoEfication.topk=2 --set model.relu=true"
phase "compress: validation loss, CPU fp32 against CUDA bf16" 10 python3 - "$runs" <<'PY'
import json, os, sys
def final_eval(name):
    path = os.path.join(sys.argv[1], f"compress-{name}", "compressed-pdq", "metrics.jsonl")
    rows = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    evals = [r["eval_loss"] for r in rows if "eval_loss" in r]
    return evals[-1] if evals else None
cpu, gpu = final_eval("cpu"), final_eval("cuda-bf16")
print(f"P+D+Q validation loss: cpu fp32 {cpu}, cuda bf16 {gpu}")
sys.exit(0 if cpu is not None and gpu is not None and abs(cpu - gpu) <= 0.1 else 1)
PY
phase "int8 benchmark (bench_int8_cuda)" 150 "$repo/$build/bench/bench_int8_cuda" --min-ms 30
