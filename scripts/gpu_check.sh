#!/usr/bin/env bash
# The GPU checks in one prepared call of the device tool (which has no Debian packages and no
# network): build against the machine's LibTorch, then run the CUDA tests and benchmarks.
#   here:   bash scripts/gpu_deps.sh          (packs .gpu-deps: headers, GoogleTest, tokenizer)
#   device: run(command="bash scripts/gpu_check.sh", carry=[".gpu-deps"], timeout_s=600)
# Logs go to $OUT (the device tool's folder that comes back), else runs/gpu/. Each step's log is
# kept even when a later one fails; the script stops at the first failure.
#   - build: cook, test_quant, test_dist and bench_int8_cuda, Release, against
#     torch.utils.cmake_prefix_path (PyTorch 2.x: at::_int_mm).
#   - test_quant Int8Device.*: the int8 kernel on CUDA gives the CPU kernel's bits (issue 5).
#   - bench_int8_cuda: int8 (Cook's kernel, at::_int_mm alone) against bf16 at GPT-J shapes.
#   - test_dist with --dist-backend nccl at world size 1 (issue 4: the NCCL code path).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$repo/runs/gpu}"
mkdir -p "$out"
cd "$repo"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
torch_prefix="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$out/gpu.txt"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
build=build-gpu
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCOOK_BUILD_BENCH=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$repo/.gpu-deps" >"$out/configure.log" 2>&1 ||
  { tail -40 "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target cook_cli test_quant test_dist bench_int8_cuda >"$out/build.log" 2>&1 ||
  { grep -m20 -B2 -A6 "error" "$out/build.log"; exit 1; }
echo "built: $(date)"
export COOK_DATA="$repo/.gpu-deps/data" COOK_CLI="$repo/$build/cook"
"$build/tests/test_quant" --gtest_filter='Int8Device.*:Int8Kernel.*' 2>&1 | tee "$out/test_int8_device.txt"
"$build/bench/bench_int8_cuda" --min-ms 100 2>&1 | tee "$out/bench_int8_cuda.txt"
"$build/tests/test_dist" --gtest_filter='Distributed.Nccl*' 2>&1 | tee "$out/test_dist_nccl.txt"
