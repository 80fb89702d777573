# Sourced by the GPU scripts: phases with a time budget, so that a device call always ends with a
# summary, however far it got.
#   phases_start SECONDS; phase NAME LIMIT COMMAND...; ...; phases_end
# `phase` runs COMMAND under min(LIMIT, time left), records its exit status and duration, and
# returns that status; once less than 10 s are left, it skips the phase and returns 1.
phases_start() {
  phases_budget=$1
  phases_t0=$SECONDS
  phases_summary=()
  trap phases_end EXIT
}
phases_left() { echo $((phases_budget - (SECONDS - phases_t0))); }
phase() {
  local name="$1" limit="$2"; shift 2
  local left; left="$(phases_left)"
  if ((left < 10)); then
    phases_summary+=("$name: SKIPPED (out of time)")
    echo "=== $name: SKIPPED (out of time)"
    return 1
  fi
  ((limit > left)) && limit=$left
  echo; echo "=== $name (at $((SECONDS - phases_t0)) s, limit $limit s)"
  local t0=$SECONDS rc=0
  timeout --kill-after=5 "$limit" "$@" || rc=$?
  phases_summary+=("$name: rc $rc, $((SECONDS - t0)) s")
  echo "--- $name: rc $rc in $((SECONDS - t0)) s"
  return $rc
}
phases_end() {
  trap - EXIT
  echo; echo "=== summary ($((SECONDS - phases_t0)) s)"
  printf '  %s\n' "${phases_summary[@]}"
}
