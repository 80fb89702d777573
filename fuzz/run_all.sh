#!/usr/bin/env bash
# Runs every fuzz target (or those named) for longer than `make test` does, one after the other,
# each from a fresh seed corpus written by Cook's own writers. The targets, their dictionaries and
# seeds are those of the ctests, listed by the build in BUILD/fuzz/fuzz_targets.txt.
#   fuzz/run_all.sh [SECONDS [TARGET...]]     default: 600 s each; BUILD=build unless set
# Exits non-zero when a target found a crash; the input is kept in
# BUILD/fuzz/<target>.run/artifacts/ (replay it: BUILD/fuzz/bin/<target> <that file>).
set -uo pipefail
seconds="${1:-600}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${BUILD:-$here/../build}" && pwd)" || exit 2
list="$build/fuzz/fuzz_targets.txt"
[ -f "$list" ] || { echo "run_all: $list is missing (build the fuzz targets first)"; exit 2; }
failed=0
while IFS='|' read -r name fuzzer dict seeds; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  echo "=== $name: $seconds s"
  # shellcheck disable=SC2086  # the seeds are a space-separated list
  bash "$here/run_fuzz.sh" "$fuzzer" "$build/fuzz/$name.run" "$seconds" "$dict" $seeds || {
    echo "=== $name: FAILED"
    failed=1
  }
done <"$list"
exit $failed
