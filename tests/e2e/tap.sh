# tests/e2e/tap.sh - sourced by the end-to-end scripts: TAP output.
#   skip_all REASON       the whole script is skipped ("1..0 # SKIP REASON")
#   ok DESC, not_ok DESC  one test point; not_ok shows the tail of $tmp/out
#   skip REASON           one test point skipped
#   check DESC CMD...     ok when CMD succeeds (its output goes to $tmp/check.log)
#   tap_end               the plan line; the script's exit status says whether all passed
#   tmp_with_cleanup      $tmp a new directory; at exit the pids in $pids are killed, $tmp removed
# $tmp must be set before the first test point.
n=0
failed=0
skip_all() {
  echo "1..0 # SKIP $*"
  exit 0
}
ok() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
not_ok() {
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
  [[ -f $tmp/out ]] && sed 's/^/# /' "$tmp/out" | tail -25
}
check() {
  local desc=$1; shift
  if "$@" >>"$tmp/check.log" 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}
tap_end() {
  echo "1..$n"
  exit $((failed > 0))
}

tmp_with_cleanup() {
  tmp=$(mktemp -d)
  pids=()
  trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
}
