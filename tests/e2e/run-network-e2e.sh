#!/usr/bin/env bash
# usage: tests/e2e/run-network-e2e.sh KILN KILND   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# RUN --network end to end on a busybox base image. The default network
# reaches a server on the host's own non-loopback address but not the same
# server on the host's 127.0.0.1; --network=none has only lo; --network=host
# is refused without --allow network.host and reaches 127.0.0.1 with it.
# After every build, and after a step stopped by a builder's time limit in
# kilnd, no slirp4netns of ours and no namespace mount is left. TAP output.
set -uo pipefail
kiln=${1:?usage: run-network-e2e.sh KILN KILND}
kilnd=${2:?usage: run-network-e2e.sh KILN KILND}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in slirp4netns runc python3 curl pgrep; do command -v $t >/dev/null || skip_all "$t is not installed"; done
addr=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+(\.[0-9]+){3}$')
[[ -n $addr ]] || skip_all "the host has no non-loopback IPv4 address"

tmp_with_cleanup
export KILN_DATA_DIR=$tmp/data XDG_CONFIG_HOME=$tmp/config DOCKER_HOST=unix://$tmp/no-docker.sock
unset KILN_BUILDER BUILDX_BUILDER
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# serve ADDR PORT: a web server on the host holding $tmp/www (its log in $tmp/www-ADDR.log)
token=kiln-net-$RANDOM$RANDOM
mkdir -p "$tmp/www" && echo "$token" >"$tmp/www/marker"
serve() {
  python3 -m http.server --bind "$1" --directory "$tmp/www" "$2" >"$tmp/www-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -fs "http://$1:$2/marker" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
lport=$(free_port)
eport=$(free_port)
serve 127.0.0.1 "$lport" && serve "$addr" "$eport" || skip_all "cannot start the test web servers"
: >"$tmp/www-127.0.0.1.log"

# build ARGS...: kiln build with plain progress, its pid in $kiln_pid; output in $tmp/out
kiln_pids=()
build() {
  "$kiln" build --progress=plain -o type=cacheonly --no-cache "$@" >"$tmp/out" 2>&1 &
  local pid=$!
  kiln_pids+=("$pid")
  wait "$pid"
}
# leftovers: a slirp4netns whose namespace (/proc/PID/fd/N) belongs to one of our kiln
# builds, to kilnd or one of its workers, or to a process that is gone (then it is an orphan)
kilnd_pid=
leftovers() {
  local s owner ours=" ${kiln_pids[*]} $kilnd_pid $(pgrep -P "${kilnd_pid:-0}" | tr '\n' ' ') "
  for s in $(pgrep -x slirp4netns); do
    owner=$(tr '\0' ' ' <"/proc/$s/cmdline" 2>/dev/null | sed -n 's|.*/proc/\([0-9]*\)/fd/.*|\1|p')
    [[ -n $owner ]] || continue
    if [[ $ours == *" $owner "* ]] || ! kill -0 "$owner" 2>/dev/null; then echo "slirp4netns $s for $owner"; return 0; fi
  done
  return 1
}
# none_left: no leftovers within 2 s (a killed slirp4netns takes a moment to go)
none_left() {
  for _ in $(seq 20); do leftovers >"$tmp/out" || return 0; sleep 0.1; done
  return 1
}
nsfs_mounts() { grep -c ' nsfs ' /proc/self/mountinfo; }
mounts_before=$(nsfs_mounts)

ctx=$tmp/ctx
mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<EOF
FROM $base
RUN timeout 10 wget -q -O - http://$addr:$eport/marker | grep -qx $token && printf '%s-%s\n' REACHED HOST-ADDRESS
RUN if timeout 10 wget -q -O - http://10.0.2.2:$lport/marker; then printf '%s-%s\n' REACHED HOST-LOOPBACK; exit 1; fi
RUN if timeout 10 wget -q -O - http://127.0.0.1:$lport/marker; then printf '%s-%s\n' REACHED HOST-LOOPBACK; exit 1; fi
RUN ip -4 -o addr | grep -q 'tap0 .*inet 10.0.2.100/24' && ls /sys/class/net | tr '\n' ' ' | sed 's/^/LINK''S: /'
RUN grep -q '^nameserver ' /etc/resolv.conf && ! grep -q '^nameserver 127\.' /etc/resolv.conf && printf '%s-%s\n' RESOLVER OK
EOF
if build "$ctx"; then ok "a build whose RUN steps use the default network"; else not_ok "a build whose RUN steps use the default network"; fi
check "the default network reaches a server on the host's address $addr" grep -q REACHED-HOST-ADDRESS "$tmp/out"
check "the default network does not reach the host's 127.0.0.1" bash -c "! grep -q REACHED-HOST-LOOPBACK '$tmp/out' && ! grep -q 'GET /marker' '$tmp/www-127.0.0.1.log'"
check "the default network has lo and tap0 (10.0.2.100/24)" grep -q "LINKS: lo tap0" "$tmp/out"
check "its resolv.conf names a resolver and no loopback one" grep -q RESOLVER-OK "$tmp/out"

# instance metadata (169.254.169.254) is denied by default; KILN_RUN_EGRESS_DENY names other ranges
printf 'FROM %s\nRUN (timeout 5 wget -q -O - http://169.254.169.254/latest/meta-data/ 2>&1; echo "exit $?") | sed "s/^/META: /"\n' "$base" >"$ctx/Dockerfile.meta"
build -f "$ctx/Dockerfile.meta" "$ctx"
check "the default network refuses the instance metadata address at once (No route to host)" \
  grep -q "META: .*169.254.169.254.*No route to host" "$tmp/out"
cp "$tmp/www-$addr.log" "$tmp/www-$addr.log.before"
printf 'FROM %s\nRUN timeout 5 wget -q -O - http://%s:%s/marker 2>&1 | sed "s/^/DENIED: /"\n' "$base" "$addr" "$eport" >"$ctx/Dockerfile.deny"
KILN_RUN_EGRESS_DENY=$addr/32 build -f "$ctx/Dockerfile.deny" "$ctx"
check "KILN_RUN_EGRESS_DENY=$addr/32 keeps the step from the host's address, and the server sees nothing" \
  bash -c "grep -q 'DENIED: .*No route to host' '$tmp/out' && cmp -s '$tmp/www-$addr.log' '$tmp/www-$addr.log.before'"
KILN_RUN_EGRESS_DENY=10.0.0.0/33 build -f "$ctx/Dockerfile.deny" "$ctx"
check "a malformed KILN_RUN_EGRESS_DENY fails the build, naming it" grep -q "KILN_RUN_EGRESS_DENY='10.0.0.0/33' is not a list of up to 64 IPv4 ranges" "$tmp/out"

cat >"$ctx/Dockerfile.none" <<EOF
FROM $base
RUN --network=none test "\$(ls /sys/class/net)" = lo && printf '%s-%s\n' ONLY LO
EOF
if build -f "$ctx/Dockerfile.none" "$ctx" && grep -q ONLY-LO "$tmp/out"; then ok "--network=none has only lo"; else not_ok "--network=none has only lo"; fi

cat >"$ctx/Dockerfile.host" <<EOF
FROM $base
RUN --network=host timeout 10 wget -q -O - http://127.0.0.1:$lport/marker | grep -qx $token && printf '%s-%s\n' REACHED HOST-LOOPBACK
EOF
build -f "$ctx/Dockerfile.host" "$ctx"
rc=$?
if [[ $rc -ne 0 ]] && grep -q "allow network.host" "$tmp/out" && ! grep -q REACHED-HOST "$tmp/out"; then
  ok "--network=host without --allow network.host is refused"
else
  not_ok "--network=host without --allow network.host is refused (exit $rc)"
fi
if build --allow network.host -f "$ctx/Dockerfile.host" "$ctx" && grep -q REACHED-HOST-LOOPBACK "$tmp/out"; then
  ok "--network=host with --allow network.host reaches the host's 127.0.0.1"
else
  not_ok "--network=host with --allow network.host reaches the host's 127.0.0.1"
fi

cat >"$ctx/Dockerfile.fail" <<EOF
FROM $base
RUN timeout 10 wget -q -O /dev/null http://$addr:$eport/marker && exit 3
EOF
build -f "$ctx/Dockerfile.fail" "$ctx"
check "a failing step with the default network fails the build" grep -q "exit code: 3" "$tmp/out"

if none_left; then ok "no slirp4netns is left after the builds"; else not_ok "no slirp4netns is left after the builds"; fi
check "no namespace mount is left after the builds" test "$(nsfs_mounts)" = "$mounts_before"

# --- a step stopped by a builder's time limit in kilnd --------------------------
data=$tmp/kilnd
admin() { "$kilnd" admin --data "$data" "$@"; }
server=127.0.0.1:$(free_port)
admin org create acme >/dev/null && admin user create alice >/dev/null &&
  admin org add-member acme alice >/dev/null && admin builder create acme/short --timeout 3s >/dev/null
ktoken=$(admin token create acme --scope "cloud-connect" --description net 2>/dev/null | tail -n1)
"$kilnd" serve --data "$data" --listen "$server" >"$tmp/kilnd.log" 2>&1 &
kilnd_pid=$!
pids+=("$kilnd_pid")
for _ in $(seq 100); do curl -fs "http://$server/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "$ktoken" | "$kiln" login -u acme --password-stdin "$server" >/dev/null 2>&1
"$kiln" create --driver cloud acme/short --name short >/dev/null 2>&1
printf 'FROM %s\nRUN timeout 10 wget -q -O /dev/null http://%s:%s/marker && sleep 37\n' "$base" "$addr" "$eport" >"$ctx/Dockerfile.slow"
"$kiln" build --builder short --progress=plain -f "$ctx/Dockerfile.slow" --output type=cacheonly "$ctx" >"$tmp/out" 2>&1
rc=$?
if [[ $rc -ne 0 ]] && grep -q "time limit" "$tmp/out"; then ok "a step past the builder's time limit is stopped"; else not_ok "a step past the builder's time limit is stopped (exit $rc)"; fi
if none_left; then ok "...and leaves no slirp4netns behind"; else not_ok "...and leaves no slirp4netns behind"; fi
check "...and no namespace mount" test "$(nsfs_mounts)" = "$mounts_before"
check "...and no process of the step" bash -c "! pgrep -f 'sleep 3[7]'"
tap_end
