#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time over a fresh seed corpus.
#   run_fuzz.sh FUZZER WORK_FOLDER SECONDS DICTIONARY SEED...
# Each SEED is a program (run with the seed folder as its argument, to write seeds there) or a
# file (copied there).
# Exits non-zero when the fuzzer finds a crash; the input that crashed is kept in
# WORK_FOLDER/artifacts/ (replay it with: FUZZER <that file>).
set -euo pipefail
fuzzer="$1"; work="$2"; seconds="$3"; dict="$4"; shift 4
rm -rf "$work"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
for seed in "$@"; do
  if [ -x "$seed" ] && [ ! -d "$seed" ]; then "$seed" "$work/seeds"; else cp "$seed" "$work/seeds/"; fi
done
args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=16384
      -artifact_prefix="$work/artifacts/")
[ -n "$dict" ] && args+=(-dict="$dict")
echo "run_fuzz: $fuzzer ${args[*]} (seeds: $(ls "$work/seeds" | wc -l) files)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if ! "$fuzzer" "${args[@]}" "$work/corpus" "$work/seeds" 2>"$work/fuzz.log"; then
  tail -n 60 "$work/fuzz.log"
  echo "run_fuzz: FAILED; crashing input(s): $(ls "$work/artifacts")"
  exit 1
fi
grep -E "^(stat::|#[0-9]+ +DONE|Done)" "$work/fuzz.log" | sort -u || true
