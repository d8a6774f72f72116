#!/usr/bin/env bash
# usage: tests/e2e/run-hostile-e2e.sh KILN   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# Hostile RUN steps end to end, on a busybox base image: WORKDIR and cd under
# /proc/self/fd (the shape of CVE-2024-21626) never reach a host file and the
# step sees no descriptor of the host; a fork bomb is stopped at the pids
# limit, a disk fill at the disk reserve and an inode fill at the inode
# reserve, each failing with a message that
# names the limit, leaving no process and a data directory that builds again.
# TAP output.
set -uo pipefail
kiln=${1:?usage: run-hostile-e2e.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in skopeo umoci runc sha256sum; do command -v $t >/dev/null || skip_all "$t is not installed"; done

tmp=$(mktemp -d)
small=$tmp/small
marker=/tmp/kiln-hostile-marker-$$-$RANDOM
cleanup() {
  mountpoint -q "$small" && umount -l "$small"
  rm -rf "$tmp" "$marker"
}
trap cleanup EXIT
export KILN_DATA_DIR=$tmp/data
unset KILN_RUN_PIDS_MAX KILN_RUN_DISK_RESERVE KILN_RUN_INODE_RESERVE
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

build() { # build ARGS...: kiln build with plain progress, at most 2 minutes; output in $tmp/out
  timeout 120 "$kiln" build --progress=plain "$@" >"$tmp/out" 2>&1
  local rc=$?
  cat "$tmp/out" >>"$tmp/all"
  return $rc
}
# dockerfile LINES...: $ctx/Dockerfile FROM the base image, then LINES
ctx=$tmp/ctx
mkdir -p "$ctx"
dockerfile() {
  printf '%s\n' "FROM $base" "$@" >"$ctx/Dockerfile"
}
# gone PATTERN: no process on the host has PATTERN in its command line (write one character
# as a class, [1], so that the pattern does not match itself)
gone() { ! pgrep -f "$1" >/dev/null; }
# containers of kiln that runc still lists
containers() { runc list -q 2>/dev/null | grep -c '^kiln-'; }

# --- descriptors and /proc/self/fd (CVE-2024-21626) ------------------------------
secret=host-only-$RANDOM$RANDOM
printf '%s\n' "$secret" >"$marker"
marker_sum=$(sha256sum <"$marker")
name=${marker##*/}

dockerfile 'RUN ls /proc/self/fd > /fds && ls -l /proc/self/fd/ > /links; for f in /proc/1/fd/*; do readlink $f; done > /links1; true'
if build --no-cache -o type=local,dest="$tmp/fds" "$ctx"; then ok "a step lists its descriptors"; else not_ok "a step lists its descriptors"; fi
check "the step's process has only 0, 1, 2 and the listing's descriptor" \
  test "$(tr '\n' ' ' <"$tmp/fds/fds")" = "0 1 2 3 "
echo "# descriptors of the step: $(tr '\n' ' ' <"$tmp/fds/fds"); of its pid 1: $(tr '\n' ' ' <"$tmp/fds/links1")"
check "the container's pid 1 holds only /dev/null, its output pipes and its redirection" \
  bash -c "grep -q pipe: '$tmp/fds/links1' && ! grep -vE '^(/dev/null|pipe:\[[0-9]+\]|/links1)\$' '$tmp/fds/links1'"
check "no descriptor points at a host path" \
  bash -c "grep -q 'pipe:' '$tmp/fds/links' && ! grep -qE '$tmp|/work|/var/lib|-> /(home|root|usr|etc|tmp)' '$tmp/fds/links' '$tmp/fds/links1'"

# WORKDIR /proc/self/fd/N: runc's init would start in whatever fd N is
saw=0 refused=0 total=0
for fd in $(seq 3 12); do
  dockerfile "WORKDIR /proc/self/fd/$fd" \
    "RUN ls -a ../../.. ../../../tmp ../../../../tmp; cat ../../../../tmp/$name ../../../tmp/$name; echo pwned > ../../../../tmp/$name; echo pwned > ../../../tmp/$name; true"
  total=$((total + 1))
  build --no-cache -o type=cacheonly "$ctx" || refused=$((refused + 1))
  grep -qE "(^| )$name( |\$)|$secret" "$tmp/out" && saw=$((saw + 1))
done
echo "# WORKDIR /proc/self/fd/3..12: $refused of $total builds refused by the runtime"
check "WORKDIR /proc/self/fd/3..12: no step saw the host's marker file" test "$saw" -eq 0
check "WORKDIR /proc/self/fd/3..12: the host's marker file is unchanged" \
  test "$(sha256sum <"$marker")" = "$marker_sum"

dockerfile "RUN for n in 3 4 5 6 7 8 9 10 11 12; do (cd /proc/self/fd/\$n 2>/dev/null && ls -a ../../.. ../../../tmp ../../../../tmp; cat ../../../../tmp/$name; echo pwned > ../../../../tmp/$name); done; for f in /proc/self/fd/* /proc/1/cwd /proc/1/root; do readlink \$f; done; true"
if build --no-cache -o type=cacheonly "$ctx"; then ok "cd /proc/self/fd/N in a step runs"; else not_ok "cd /proc/self/fd/N in a step runs"; fi
check "cd /proc/self/fd/N: the step saw no host file" bash -c "! grep -qE '(^| )$name( |\$)|$secret' '$tmp/out'"
check "cd /proc/self/fd/N: the host's marker file is unchanged" \
  test "$(sha256sum <"$marker")" = "$marker_sum"

# --- fork bomb: the pids limit -------------------------------------------------
# pid 1 stays (sleep), so nothing but the limit ends the bomb; a small limit keeps the
# shared test machine light (the default, 4096, behaves the same)
dockerfile 'RUN b() { b | b & }; b; sleep 4321'
start=$(date +%s)
KILN_RUN_PIDS_MAX=256 build --no-cache -o type=cacheonly "$ctx"
rc=$? took=$(($(date +%s) - start))
echo "# fork bomb: stopped after ${took}s"
check "a fork bomb fails the build" test "$rc" -ne 0
check "the error names the process limit" grep -q "hit the process limit of 256 processes" "$tmp/out"
check "the fork bomb was stopped within 30s" test "$took" -lt 30
check "no process of the bomb is left on the host" gone 'sleep 432[1]'
check "runc lists no container of kiln" test "$(containers)" -eq 0

# the classic shape, whose pid 1 returns at once: the namespace's end kills the rest
dockerfile 'RUN b() { b | b & }; b; echo started-4322'
KILN_RUN_PIDS_MAX=256 build --no-cache -o type=cacheonly "$ctx"
check "a bomb whose pid 1 returns leaves no process on the host" gone 'started-432[2]'

dockerfile 'RUN echo fine > /fine'
if build --no-cache -o type=cacheonly "$ctx"; then ok "the next build succeeds under the default limit"; else not_ok "the next build succeeds under the default limit"; fi

# --- disk fill: the disk reserve -----------------------------------------------
# the data directory on a 96 MiB tmpfs, 32 MiB kept free
mkdir -p "$small"
if ! mount -t tmpfs -o size=96m tmpfs "$small"; then
  not_ok "mount a 96 MiB tmpfs for the disk tests"
  tap_end
fi
export KILN_DATA_DIR=$small/data KILN_RUN_DISK_RESERVE=32MiB
avail() { df -B1M --output=avail "$small" | tail -1 | tr -d ' '; }
dockerfile 'RUN echo before > /before'
if build -o type=cacheonly "$ctx"; then ok "a build on the small filesystem"; else not_ok "a build on the small filesystem"; fi
free_before=$(avail)

dockerfile 'RUN dd if=/dev/zero of=/big bs=1M'
build --no-cache -o type=cacheonly "$ctx"
rc=$?
check "dd until the disk is full fails the build" test "$rc" -ne 0
check "the error names the disk reserve" grep -q "under the reserve of 33.55MB" "$tmp/out"
echo "# free space: ${free_before} MiB before, $(avail) MiB after the failed build"
dockerfile 'RUN echo after > /after'
if build --no-cache -o type=cacheonly "$ctx"; then ok "the data directory builds again after the fill"; else not_ok "the data directory builds again after the fill"; fi
echo "# free space after the next build: $(avail) MiB"
check "the space the step wrote is given back" test "$(avail)" -ge $((free_before - 2))

dockerfile 'RUN while :; do dd if=/dev/zero bs=1M count=1 2>/dev/null; sleep 0.02; done > /big'
build --no-cache -o type=cacheonly "$ctx"
rc=$?
check "a slower writer is killed before the disk is full" \
  bash -c "test $rc -ne 0 && grep -q 'was killed: the builder.s disk has' '$tmp/out' && ! grep -q 'No space left' '$tmp/out'"

dockerfile 'RUN echo again > /again && dd if=/dev/zero of=/some bs=1M count=8'
if build --no-cache -o type=cacheonly "$ctx"; then ok "the data directory builds again after the slow fill"; else not_ok "the data directory builds again after the slow fill"; fi

# --- inode fill: the inode reserve ---------------------------------------------
# the same tmpfs with 20,000 inodes, 5,000 kept free
if mount -o remount,nr_inodes=20000 "$small"; then
  export KILN_RUN_INODE_RESERVE=5000
  dockerfile 'RUN i=0; while :; do : >/f$i || exit 3; i=$((i + 1)); done'
  build --no-cache -o type=cacheonly "$ctx"
  rc=$?
  check "empty files until the inodes run low fail the build, naming the inode reserve" \
    bash -c "test $rc -ne 0 && grep -q 'inodes (files) free, under the reserve of 5000' '$tmp/out'"
  dockerfile 'RUN echo after-inodes > /after-inodes'
  if build --no-cache -o type=cacheonly "$ctx"; then ok "the data directory builds again after the inode fill"; else not_ok "the data directory builds again after the inode fill"; fi
  unset KILN_RUN_INODE_RESERVE
else
  skip "this tmpfs cannot be remounted with an inode count"
fi
check "no container of kiln is left after the fills" test "$(containers)" -eq 0
tap_end
