#!/usr/bin/env bash
# usage: tests/e2e/run-userns-e2e.sh KILN KILND   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# RUN in a user namespace (KILN_RUN_USERNS=HOSTID:SIZE), end to end on a
# busybox base image: the step's root is 0 inside and the host's HOSTID
# outside; its files, a chown to 1000, a cache mount, binds from a stage
# (read-only and rw), a secret and WORKDIR come out exactly as without the
# namespace; under both runtimes; a kilnd build does the same; a malformed
# value fails the build (kiln) or the start (kilnd), naming the variable;
# nothing is left mounted. TAP output.
set -uo pipefail
kiln=${1:?usage: run-userns-e2e.sh KILN KILND}
kilnd=${2:?usage: run-userns-e2e.sh KILN KILND}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in runc curl pgrep; do command -v $t >/dev/null || skip_all "$t is not installed"; done

tmp_with_cleanup
export KILN_DATA_DIR=$tmp/data XDG_CONFIG_HOME=$tmp/config DOCKER_HOST=unix://$tmp/no-docker.sock
unset KILN_BUILDER BUILDX_BUILDER KILN_OCI_RUNTIME KILN_RUN_USERNS
host_id=$((300000 + RANDOM))
map=$host_id:65536
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

ctx=$tmp/ctx
mkdir -p "$ctx"
echo s3cr3t >"$tmp/secret"
cat >"$ctx/Dockerfile" <<EOF
FROM $base AS stage
RUN mkdir -p /data && echo from-stage >/data/file && chown 1000:1000 /data/file

FROM $base
WORKDIR /work/dir
RUN echo "MAP \$(cat /proc/self/uid_map | tr -s ' ')" && echo "ID \$(id -u):\$(id -g)" && echo hi >/f && mkdir -p /home/u && chown 1000:1000 /home/u && touch /home/u/x
RUN --mount=type=cache,target=/cache echo c >>/cache/log && cp /cache/log /cache-copy
RUN --mount=type=bind,from=stage,source=/data,target=/s cp /s/file /from-stage && echo "BIND \$(stat -c %u:%g /s/file)"
RUN --mount=type=bind,from=stage,source=/data,target=/s,rw echo scratch >/s/new && cat /s/new >/rw-copy
RUN --mount=type=secret,id=tok cat /run/secrets/tok >/dev/null && echo SECRET-READ
RUN --mount=type=tmpfs,target=/t touch /t/a && ln -s /f /link && rm -f /etc/group
EOF
# build OUT [ARGS...]: the image as files in OUT; output in $tmp/out
build() {
  local out=$1
  shift
  "$kiln" build --progress=plain --no-cache --secret "id=tok,src=$tmp/secret" -o "type=local,dest=$out" "$@" "$ctx" >"$tmp/out" 2>&1
}
listing() { (cd "$1" && find . -printf '%p %U:%G %m %y %l\n' | sort); }
has() { grep -q -- "$1" "$tmp/out"; }

if build "$tmp/plain"; then ok "a build without a user namespace"; else not_ok "a build without a user namespace"; fi
listing "$tmp/plain" >"$tmp/plain.list"
for rt in crun runc; do
  if [[ $rt == crun ]] && ! command -v crun >/dev/null; then skip "crun is not installed"; continue; fi
  if KILN_RUN_USERNS=$map build "$tmp/userns-$rt" --oci-runtime "$rt"; then
    ok "$rt: a build with KILN_RUN_USERNS=$map"
  else
    not_ok "$rt: a build with KILN_RUN_USERNS=$map"
    continue
  fi
  check "$rt: the step's root is 0 inside, the host's $host_id outside (uid_map '0 $host_id 65536')" \
    bash -c "grep -Eq 'MAP +0 $host_id 65536' '$tmp/out' && grep -q 'ID 0:0' '$tmp/out'"
  check "$rt: a bind from a stage shows its files' own owners (1000:1000)" has "BIND 1000:1000"
  check "$rt: a secret mount is readable by the step's root" has "SECRET-READ"
  listing "$tmp/userns-$rt" >"$tmp/userns-$rt.list"
  if diff "$tmp/plain.list" "$tmp/userns-$rt.list" >"$tmp/diff" 2>&1; then
    ok "$rt: every file, owner and mode as without the namespace ($(wc -l <"$tmp/plain.list") entries)"
  else
    cp "$tmp/diff" "$tmp/out"
    not_ok "$rt: every file, owner and mode as without the namespace"
  fi
done

# the step's processes run as the host's $host_id
printf 'FROM %s\nRUN sleep 3 && echo userns-probe-%s\n' "$base" "$host_id" >"$ctx/Dockerfile.sleep"
KILN_RUN_USERNS=$map "$kiln" build --progress=plain --no-cache -o type=cacheonly -f "$ctx/Dockerfile.sleep" "$ctx" >"$tmp/out" 2>&1 &
pids+=($!)
seen=
for _ in $(seq 50); do
  pid=$(pgrep -f "userns-probe-$host_id" | head -1)
  if [[ -n $pid ]] && [[ $(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) != 0 ]]; then
    seen=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    break
  fi
  sleep 0.1
done
wait "${pids[-1]}"
check "the step's shell runs as the host's user $host_id (seen: ${seen:-none})" test "$seen" = "$host_id"
check "no idmapped mount point is left in /run/kiln-userns-$host_id" \
  bash -c "[[ -z \$(ls -A /run/kiln-userns-$host_id 2>/dev/null) ]]"
rmdir "/run/kiln-userns-$host_id" 2>/dev/null

# malformed values
if KILN_RUN_USERNS=0:10 build "$tmp/bad"; then not_ok "KILN_RUN_USERNS=0:10 fails the build"; elif has "KILN_RUN_USERNS='0:10'" && has "above 0"; then ok "KILN_RUN_USERNS=0:10 fails the build, naming the variable"; else not_ok "KILN_RUN_USERNS=0:10 fails the build, naming the variable"; fi
KILN_RUN_USERNS=lots "$kilnd" serve --data "$tmp/kilnd-bad" --listen 127.0.0.1:0 >"$tmp/out" 2>&1
rc=$?
if [[ $rc -eq 1 ]] && has "KILN_RUN_USERNS='lots' is not a user namespace mapping"; then ok "kilnd serve refuses KILN_RUN_USERNS=lots at start"; else not_ok "kilnd serve refuses KILN_RUN_USERNS=lots at start (exit $rc)"; fi

# a kilnd build: the workers inherit the mapping
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
data=$tmp/kilnd
admin() { "$kilnd" admin --data "$data" "$@"; }
server=127.0.0.1:$(free_port)
admin org create acme >/dev/null && admin builder create acme/b >/dev/null
ktoken=$(admin token create acme --scope "cloud-connect" --description userns 2>/dev/null | tail -n1)
KILN_RUN_USERNS=$map "$kilnd" serve --data "$data" --listen "$server" >"$tmp/kilnd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://$server/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "$ktoken" | "$kiln" login -u acme --password-stdin "$server" >/dev/null 2>&1
"$kiln" create --driver cloud acme/b --name cloud >/dev/null 2>&1
printf 'FROM %s\nRUN echo "MAP $(cat /proc/self/uid_map | tr -s " ")" && echo hi >/f\n' "$base" >"$ctx/Dockerfile.cloud"
if "$kiln" build --builder cloud --progress=plain -o type=cacheonly -f "$ctx/Dockerfile.cloud" "$ctx" >"$tmp/out" 2>&1 && grep -Eq "MAP +0 $host_id 65536" "$tmp/out"; then
  ok "a kilnd build runs its step in kilnd's user namespace"
else
  not_ok "a kilnd build runs its step in kilnd's user namespace"
fi
check "kilnd logs the mapping at start" grep -q "user namespace\" root=$host_id ids=65536" "$tmp/kilnd.log"
tap_end
