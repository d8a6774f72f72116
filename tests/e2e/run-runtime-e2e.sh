#!/usr/bin/env bash
# usage: tests/e2e/run-runtime-e2e.sh KILN   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# The OCI runtime of RUN steps, end to end on a busybox base image: the
# default choice builds; --oci-runtime runc and KILN_OCI_RUNTIME=runc build;
# a missing runtime fails the build naming it; --oci-runtime wins over the
# environment; crun, when installed, builds (crun 1.8 on hybrid cgroups with
# cgroup2 hidden from it), with the step's pids limit and hostname as under
# runc; run by kiln in a cgroup of its own, crun's step and runc's lie
# under it. TAP output.
set -uo pipefail
kiln=${1:?usage: run-runtime-e2e.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
command -v runc >/dev/null || skip_all "runc is not installed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KILN_DATA_DIR=$tmp/data XDG_CONFIG_HOME=$tmp/config DOCKER_HOST=unix://$tmp/no-docker.sock
unset KILN_BUILDER BUILDX_BUILDER KILN_OCI_RUNTIME
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

ctx=$tmp/ctx
mkdir -p "$ctx"
# build ARGS...: a build whose RUN step always runs (--no-cache); its output in $tmp/out
step="echo ran"
build() {
  printf 'FROM %s\nRUN %s\n' "$base" "$step" >"$ctx/Dockerfile"
  "$kiln" build --progress=plain --no-cache -o type=cacheonly "$@" "$ctx" >"$tmp/out" 2>&1
}
has() { grep -q -- "$1" "$tmp/out"; }

if build; then ok "without a choice, a RUN step runs"; else not_ok "without a choice, a RUN step runs"; fi
if build --oci-runtime runc; then ok "--oci-runtime runc"; else not_ok "--oci-runtime runc"; fi
if build --oci-runtime "$(command -v runc)"; then ok "--oci-runtime PATH"; else not_ok "--oci-runtime PATH"; fi
if KILN_OCI_RUNTIME=runc build; then ok "KILN_OCI_RUNTIME=runc"; else not_ok "KILN_OCI_RUNTIME=runc"; fi
build --oci-runtime kiln-no-such-runtime
rc=$?
if [[ $rc -eq 1 ]] && has "OCI runtime 'kiln-no-such-runtime' not found in PATH"; then
  ok "a missing runtime fails the build, naming it"
else
  not_ok "a missing runtime fails the build, naming it (exit $rc)"
fi
if KILN_OCI_RUNTIME=kiln-no-such-runtime build --oci-runtime runc; then
  ok "--oci-runtime wins over KILN_OCI_RUNTIME"
else
  not_ok "--oci-runtime wins over KILN_OCI_RUNTIME"
fi

if ! command -v crun >/dev/null; then
  n=$((n + 1))
  echo "ok $n # SKIP crun is not installed (apt-get install crun to test it)"
else
  step='echo "pids.max=$(cat /sys/fs/cgroup/pids/pids.max) host=$(hostname)"'
  if build --oci-runtime crun; then
    ok "--oci-runtime crun builds on this host"
  else
    not_ok "--oci-runtime crun builds on this host: $(grep -m1 -i error "$tmp/out")"
  fi
  check "...with the step's pids limit and BuildKit's hostname" has "pids.max=4096 host=buildkitsandbox"
  if build; then ok "...and the default choice builds too"; else not_ok "...and the default choice builds too"; fi
  # kiln in a cgroup of its own: crun's step is placed under it, as runc's is
  parent=/sys/fs/cgroup/pids/kiln-rt-e2e-$$
  if [[ -d /sys/fs/cgroup/pids ]] && mkdir "$parent" 2>/dev/null; then
    printf 'FROM %s\nRUN grep :pids: /proc/self/cgroup | sed "s/^/CG /"\n' "$base" >"$ctx/Dockerfile"
    for rt in crun runc; do
      bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$parent" \
        "$kiln" build --progress=plain --no-cache -o type=cacheonly --oci-runtime "$rt" "$ctx" >"$tmp/out" 2>&1
      check "$rt: the step's cgroup lies under kiln's own (${parent#/sys/fs/cgroup/pids})" \
        grep -q "CG .*:pids:${parent#/sys/fs/cgroup/pids}/kiln-" "$tmp/out"
    done
    for _ in $(seq 50); do rmdir "$parent" 2>/dev/null && break; sleep 0.1; done
  else
    skip "no cgroup v1 pids hierarchy to make a cgroup in"
  fi
fi
tap_end
