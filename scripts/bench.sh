#!/usr/bin/env bash
# make bench: runs every benchmark program of a build, one after the other (never two at once:
# they measure the whole machine), and keeps each one's JSON beside its console table under
# runs/bench/. Extra arguments go to every Google Benchmark program, e.g.
#   bash scripts/bench.sh build --benchmark_filter=small
set -euo pipefail
build="${1:-build}"
shift || true
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/runs/bench"
mkdir -p "$out"
shopt -s nullglob
programs=("$repo/$build"/bench/bench_*)
if [ ${#programs[@]} -eq 0 ]; then
  echo "bench.sh: no benchmark programs under $repo/$build/bench (configure with -DCOOK_BUILD_BENCH=ON)" >&2
  exit 1
fi
for program in "${programs[@]}"; do
  [ -x "$program" ] || continue
  name="$(basename "$program")"
  echo "== $name"
  if [ "$name" = bench_checkpoint_load ]; then
    "$program" --dir "${TMPDIR:-/tmp}" | tee "$out/$name.txt"
  elif [ "$name" = bench_int8_cuda ]; then
    "$program" | tee "$out/$name.txt"
  else
    "$program" --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@" | tee "$out/$name.txt"
  fi
done
echo "results: $out"
