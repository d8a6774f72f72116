#!/usr/bin/env bash
# usage: tests/e2e/run-seccomp-e2e.sh KILN   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# RUN's seccomp filter end to end, on the busybox base image: a step that
# makes a user namespace (busybox `unshare -U true`) fails the build, while
# ordinary steps build; KILN_RUN_SECCOMP=unconfined (the builder operator's
# way out) lets it through and a misspelt value is refused. Prints the cost
# of the filter: 30 `RUN true` steps with and without it (medians of five). TAP output.
set -uo pipefail
kiln=${1:?usage: run-seccomp-e2e.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in skopeo umoci runc; do command -v $t >/dev/null || skip_all "$t is not installed"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KILN_DATA_DIR=$tmp/data
unset KILN_RUN_SECCOMP
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

build() { # build ARGS...: kiln build with plain progress, at most 2 minutes; output in $tmp/out
  timeout 120 "$kiln" build --progress=plain "$@" >"$tmp/out" 2>&1
}
ctx=$tmp/ctx
mkdir -p "$ctx"
dockerfile() { # dockerfile LINES...: $ctx/Dockerfile FROM the base image, then LINES
  printf '%s\n' "FROM $base" "$@" >"$ctx/Dockerfile"
}

dockerfile 'RUN unshare -U true'
if build --no-cache -o type=cacheonly "$ctx"; then not_ok "RUN unshare -U true fails the build"; else ok "RUN unshare -U true fails the build"; fi
check "the step's error is the refused unshare" grep -q 'unshare(0x10000000): Operation not permitted' "$tmp/out"

dockerfile 'RUN unshare -U true 2>/refused; unshare -m true 2>>/refused; unshare -n true 2>>/refused; true' \
  'RUN echo c b a | tr " " "\n" | sort | tr -d "\n" > /sorted && (sleep 0 & wait) && mkdir -p /d && ln -s /d /l && ls -l / > /listing'
if build --no-cache -o type=local,dest="$tmp/out1" "$ctx"; then ok "ordinary steps build under the filter"; else not_ok "ordinary steps build under the filter"; fi
check "a pipeline, a background job and files work" test "$(cat "$tmp/out1/sorted" 2>/dev/null)" = abc
check "user, mount and network namespaces are all refused" test "$(grep -c 'Operation not permitted' "$tmp/out1/refused" 2>/dev/null)" -eq 3

dockerfile 'RUN unshare -U true && echo made > /userns'
if KILN_RUN_SECCOMP=unconfined build --no-cache -o type=local,dest="$tmp/out2" "$ctx"; then ok "KILN_RUN_SECCOMP=unconfined builds the same step"; else not_ok "KILN_RUN_SECCOMP=unconfined builds the same step"; fi
check "without the filter the step made its user namespace" test "$(cat "$tmp/out2/userns" 2>/dev/null)" = made

if KILN_RUN_SECCOMP=off build --no-cache -o type=cacheonly "$ctx"; then not_ok "KILN_RUN_SECCOMP=off is refused"; else ok "KILN_RUN_SECCOMP=off is refused"; fi
check "the error names the variable and the way out" grep -q "KILN_RUN_SECCOMP='off' is not a seccomp mode.*'unconfined'" "$tmp/out"

# The filter's cost: 30 RUN true, --no-cache, five builds each way taken in turns; the medians.
lines=()
for i in $(seq 1 30); do lines+=("RUN true # $i"); done
dockerfile "${lines[@]}"
timed() { # timed MODE: ms of one build with KILN_RUN_SECCOMP=MODE
  local t0=$(date +%s%N)
  KILN_RUN_SECCOMP=$1 build --no-cache -o type=cacheonly "$ctx" || return 1
  echo $((($(date +%s%N) - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
on=() off=() failed_build=
for _ in 1 2 3 4 5; do
  t=$(timed default) && on+=("$t") || failed_build=1
  t=$(timed unconfined) && off+=("$t") || failed_build=1
done
if [[ -z $failed_build ]]; then
  ok "30 RUN true build with and without the filter"
  m_on=$(median "${on[@]}") m_off=$(median "${off[@]}")
  echo "# 30 RUN true, median of 5: ${m_on} ms with the filter, ${m_off} ms without" \
    "($(((m_on - m_off) * 10 / 30)) tenths of a ms a step); with: ${on[*]}; without: ${off[*]}"
else
  not_ok "30 RUN true build with and without the filter"
fi
tap_end
