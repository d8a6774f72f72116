#!/usr/bin/env bash
# usage: tests/e2e/run-mounts-e2e.sh KILN   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# RUN --mount end to end: secret, bind, cache, tmpfs and ssh mounts in real
# builds on a busybox base image, and hostile steps: a secret must show up
# nowhere (image, progress, history, the data directory), a cache id or a
# bind source with `..` or a link stays inside, a build never sees another
# build's secret. TAP output.
set -uo pipefail
kiln=${1:?usage: run-mounts-e2e.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in skopeo umoci tar sha256sum ssh-agent; do command -v $t >/dev/null || skip_all "$t is not installed"; done

tmp=$(mktemp -d)
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export KILN_DATA_DIR=$tmp/data
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

build() { # build ARGS...: kiln build with plain progress; output in $tmp/out (appended to $tmp/all)
  "$kiln" build --progress=plain "$@" >"$tmp/out" 2>&1
  local rc=$?
  cat "$tmp/out" >>"$tmp/all"
  return $rc
}
# oci_build DIR ARGS...: build to an OCI tar and unpack it into DIR/rootfs (config in DIR.config)
oci_build() {
  local dir=$1; shift
  build -t e2e/mounts:latest -o type=oci,dest="$dir.tar" "$@" || return 1
  rm -rf "$dir" "$dir.layout" && mkdir -p "$dir.layout" && tar -xf "$dir.tar" -C "$dir.layout" &&
    umoci unpack --image "$dir.layout:latest" "$dir" >/dev/null &&
    skopeo inspect --config "oci-archive:$dir.tar" >"$dir.config"
}
sum() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

canary=kiln-canary-$RANDOM$RANDOM-secret-value
canary2=kiln-canary-$RANDOM$RANDOM-other-build
printf %s "$canary" >"$tmp/secret.txt"
printf %s "$canary2" >"$tmp/secret2.txt"

# --- secrets ---------------------------------------------------------------------
ctx=$tmp/ctx
mkdir -p "$ctx"
echo data >"$ctx/data.txt"
cat >"$ctx/Dockerfile" <<EOF
FROM $base
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /file.sum && stat -c '%a %u' /run/secrets/tok > /file.mode
RUN --mount=type=secret,id=tok,env=TOK printf %s "\$TOK" | sha256sum | cut -d' ' -f1 > /env.sum
RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0440,uid=1000 stat -c '%a %u' /etc/tok > /custom.mode
RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo skipped > /absent
EOF
if oci_build "$tmp/s1" --secret id=tok,src="$tmp/secret.txt" "$ctx"; then ok "a build with --secret id=tok,src=FILE"; else not_ok "a build with --secret id=tok,src=FILE"; fi
r=$tmp/s1/rootfs
check "the step read the secret file" test "$(cat "$r/file.sum")" = "$(sum "$canary")"
check "the secret file is 0400 root" test "$(cat "$r/file.mode")" = "400 0"
check "env= gives the secret as a variable" test "$(cat "$r/env.sum")" = "$(sum "$canary")"
check "target=, mode= and uid= apply" test "$(cat "$r/custom.mode")" = "440 1000"
check "an optional secret not given is skipped" grep -qx skipped "$r/absent"
check "no /run/secrets stub in the image" test ! -e "$r/run/secrets" -a ! -e "$r/etc/tok"
check "the secret is nowhere in the image" bash -c "! grep -rqa -- '$canary' '$r'"
check "the secret is not in the image config or history" bash -c "! grep -qa -- '$canary' '$tmp/s1.config'"
check "the secret is not in the OCI tar" bash -c "! grep -qa -- '$canary' '$tmp/s1.tar'"
check "the secret is not in the progress output" bash -c "! grep -qa -- '$canary' '$tmp/out'"

export KILN_E2E_TOK=$canary
if build -o type=cacheonly --no-cache --secret id=tok,env=KILN_E2E_TOK "$ctx"; then ok "--secret id=tok,env=VARIABLE"; else not_ok "--secret id=tok,env=VARIABLE"; fi
unset KILN_E2E_TOK

# another build: a different secret, or none, is what its steps see
cat >"$ctx/Dockerfile.other" <<EOF
FROM $base
ARG BUILD=1
RUN --mount=type=secret,id=tok (sha256sum /run/secrets/tok 2>/dev/null || echo none) | cut -d' ' -f1 > /seen
EOF
if oci_build "$tmp/o1" -f "$ctx/Dockerfile.other" --build-arg BUILD=2 --secret id=tok,src="$tmp/secret2.txt" "$ctx" &&
  [[ $(cat "$tmp/o1/rootfs/seen") == "$(sum "$canary2")" ]]; then
  ok "a second build sees its own secret, not the first one's"
else
  not_ok "a second build sees its own secret, not the first one's"
fi
if oci_build "$tmp/o2" -f "$ctx/Dockerfile.other" --build-arg BUILD=3 "$ctx" && [[ $(cat "$tmp/o2/rootfs/seen") == none ]]; then
  ok "a build without --secret sees no secret of earlier builds"
else
  not_ok "a build without --secret sees no secret of earlier builds"
fi

cat >"$ctx/Dockerfile.required" <<EOF
FROM $base
RUN --mount=type=secret,id=needed,required true
EOF
build -o type=cacheonly -f "$ctx/Dockerfile.required" "$ctx"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "secret needed: not found" "$tmp/out"; then ok "a required secret not given fails naming it"; else not_ok "a required secret not given fails naming it (exit $rc)"; fi

"$kiln" build --secret id=tok,src="$tmp/no-such-file" -o type=cacheonly "$ctx" >"$tmp/out" 2>&1
rc=$?
if [[ $rc -eq 2 ]] && grep -q "no-such-file" "$tmp/out"; then ok "--secret with a missing file: exit 2 naming it"; else not_ok "--secret with a missing file: exit 2 naming it (exit $rc)"; fi
"$kiln" build --dry-run-request --secret id=tok,src="$tmp/secret.txt" "$ctx" >"$tmp/out" 2>&1
if grep -q '"tok"' "$tmp/out" && grep -q "\"bytes\": *${#canary}" "$tmp/out" && ! grep -q -- "$canary" "$tmp/out"; then
  ok "--dry-run-request shows the secret's id and size, never its value"
else
  not_ok "--dry-run-request shows the secret's id and size, never its value"
fi

# --- bind mounts -----------------------------------------------------------------
bctx=$tmp/bctx
mkdir -p "$bctx/sub"
echo one >"$bctx/data.txt"
echo nested >"$bctx/sub/n.txt"
echo hidden >"$bctx/ignored.txt"
echo ignored.txt >"$bctx/.dockerignore"
ln -s /etc "$bctx/esc"
cat >"$bctx/Dockerfile" <<EOF
FROM $base AS gen
RUN echo generated > /g

FROM $base
WORKDIR /w
RUN --mount=type=bind,source=data.txt,target=/d cp /d /copied
RUN --mount=type=bind,target=ctx (test -e ctx/ignored.txt && echo visible || echo hidden) > /ignored && cat ctx/sub/n.txt > /nested
RUN --mount=type=bind,target=/src,rw touch /src/written && echo ok > /rw
RUN --mount=type=bind,from=gen,source=/g,target=/m cp /m /fromstage
RUN --mount=type=bind,from=gen,target=/s,rw echo x > /s/tmpfile && test ! -e /rw-leak
EOF
if oci_build "$tmp/b1" "$bctx"; then ok "a build with bind mounts"; else not_ok "a build with bind mounts"; fi
r=$tmp/b1/rootfs
check "bind of a context file" grep -qx one "$r/copied"
check "bind of the context: .dockerignore applies" grep -qx hidden "$r/ignored"
check "bind of the context: a relative target joins WORKDIR" grep -qx nested "$r/nested"
check "rw writes to the context go nowhere" test ! -e "$bctx/written" -a -f "$r/rw"
check "bind from a stage" grep -qx generated "$r/fromstage"
check "no mount point left in the image" test ! -e "$r/d" -a ! -e "$r/w/ctx" -a ! -e "$r/m" -a ! -e "$r/src"
if build -o type=cacheonly "$bctx" && [[ $(grep -c " CACHED" "$tmp/out") -ge 6 ]]; then ok "an unchanged context: the bind steps are cached"; else not_ok "an unchanged context: the bind steps are cached"; fi
echo two >"$bctx/data.txt"
if oci_build "$tmp/b2" "$bctx" && grep -qx two "$tmp/b2/rootfs/copied"; then ok "a changed bind source reruns the step"; else not_ok "a changed bind source reruns the step"; fi

hostile() { # hostile DESC SOURCE: a bind whose source tries to leave the context
  printf 'FROM %s\nRUN --mount=type=bind,source=%s,target=/x cat /x > /leak\n' "$base" "$2" >"$bctx/Dockerfile.hostile"
  build -o type=local,dest="$tmp/hostile" -f "$bctx/Dockerfile.hostile" "$bctx"
  local rc=$?
  if [[ $rc -ne 0 ]] && grep -q "not found" "$tmp/out" && [[ ! -e $tmp/hostile/leak ]]; then ok "$1"; else not_ok "$1 (exit $rc)"; fi
}
hostile "a bind source with .. stays inside the context" ../../../../../etc/hostname
hostile "a bind source through a symlink stays inside the context" esc/hostname
printf 'FROM %s AS evil\nRUN ln -s ../../../../../../etc /lnk\nFROM %s\nRUN --mount=type=bind,from=evil,source=lnk/hostname,target=/x,rw cat /x > /leak\n' "$base" "$base" >"$bctx/Dockerfile.hostile"
build -o type=local,dest="$tmp/hostile2" -f "$bctx/Dockerfile.hostile" "$bctx"
rc=$?
if [[ $rc -ne 0 ]] && grep -q "does not exist" "$tmp/out" && [[ ! -e $tmp/hostile2/leak ]]; then
  ok "a stage's symlink cannot lead a bind source to the host"
else
  not_ok "a stage's symlink cannot lead a bind source to the host (exit $rc)"
fi

# --- cache and tmpfs mounts ------------------------------------------------------
cctx=$tmp/cctx
mkdir -p "$cctx"
cat >"$cctx/Dockerfile" <<EOF
FROM $base AS seed
RUN mkdir /seed && echo seeded > /seed/s

FROM $base
ARG T=/cache-var
RUN --mount=type=cache,id=../../../../kiln-e2e-escape,target=/c echo run >> /c/count && wc -l < /c/count > /n
RUN --mount=type=cache,target=\$T touch \$T/ok && ls \$T > /varlist
RUN --mount=type=cache,target=/p,sharing=private,uid=1000,mode=0700 stat -c '%a %u' /p > /private
RUN --mount=type=cache,target=/seeded,from=seed,source=/seed cat /seeded/s > /fromseed
RUN --mount=type=tmpfs,target=/t,size=1m echo x > /t/x && test ! -e /tmpfs-leak
RUN --mount=type=cache,id=sub,target=/c mkdir -p /c/real && echo f > /c/real/f && ln -sfn / /c/sub
RUN --mount=type=cache,id=sub,target=/x,source=sub (test -e /x/etc/hostname && echo host; test -e /x/real/f && echo cache-root) > /subview
EOF
if oci_build "$tmp/c1" --no-cache "$cctx" && oci_build "$tmp/c2" --no-cache "$cctx"; then ok "two builds with cache mounts"; else not_ok "two builds with cache mounts"; fi
check "a cache mount persists across builds" test "$(tr -d ' ' <"$tmp/c2/rootfs/n")" = 2
check "a cache id with .. stays in DATA/cache-mounts" bash -c "[[ ! -e /kiln-e2e-escape && ! -e '$tmp/kiln-e2e-escape' && ! -e '$KILN_DATA_DIR/kiln-e2e-escape' ]] && ls '$KILN_DATA_DIR/cache-mounts' | grep -qE '^[0-9a-f]{64}$'"
check "a cache target from a variable (\$T)" grep -qx ok "$tmp/c1/rootfs/varlist"
check "a cache mount's mode and uid" test "$(cat "$tmp/c1/rootfs/private")" = "700 1000"
check "a cache mount seeded from a stage" grep -qx seeded "$tmp/c1/rootfs/fromseed"
check "a cache source= that is a link to / stays in the cache" test "$(cat "$tmp/c1/rootfs/subview")" = cache-root
check "cache and tmpfs content is not in the image" test ! -e "$tmp/c1/rootfs/c" -a ! -e "$tmp/c1/rootfs/t" -a ! -e "$tmp/c1/rootfs/cache-var"

# --- ssh -------------------------------------------------------------------------
sctx=$tmp/sctx
mkdir -p "$sctx"
# busybox has no ssh-add: a static client asks the agent for its keys from inside the steps
${CC:-cc} -static -O2 -o "$sctx/ssh-agent-list" "$here/ssh-agent-list.c" 2>"$tmp/cc.log" ||
  echo "# cannot build a static ssh-agent-list: $(tail -1 "$tmp/cc.log")"
list="--mount=type=bind,source=ssh-agent-list,target=/usr/bin/ssh-agent-list"
cat >"$sctx/Dockerfile" <<EOF
FROM $base
RUN --mount=type=ssh test -S "\$SSH_AUTH_SOCK" && echo "\$SSH_AUTH_SOCK" > /sock
RUN --mount=type=ssh $list stat -c %u:%g:%a "\$SSH_AUTH_SOCK" > /sock.stat && ssh-agent-list > /keys
RUN --mount=type=ssh,target=/tmp/agent,uid=1000,gid=50,mode=0660 stat -c %u:%g:%a /tmp/agent > /custom.stat
USER app
RUN --mount=type=ssh,uid=1000 $list ssh-agent-list > /home/app/keys
RUN --mount=type=ssh $list (ssh-agent-list || echo refused) > /home/app/refused 2>&1
EOF
eval "$(ssh-agent -a "$tmp/agent.sock" -s)" >/dev/null
agent_pid=${SSH_AGENT_PID:-}
ssh-keygen -q -t ed25519 -N '' -C kiln-e2e-key -f "$tmp/id_e2e" && SSH_AUTH_SOCK=$tmp/agent.sock ssh-add -q "$tmp/id_e2e" 2>/dev/null
if oci_build "$tmp/h1" --ssh default "$sctx"; then ok "--ssh default"; else not_ok "--ssh default"; fi
r=$tmp/h1/rootfs
check "the agent socket is at /run/buildkit/ssh_agent.0 with SSH_AUTH_SOCK set" grep -qx /run/buildkit/ssh_agent.0 "$r/sock"
check "the step's socket is its own: 0:0, mode 600" test "$(cat "$r/sock.stat")" = 0:0:600
check "the step reaches the agent through it: one key, its comment" test "$(tr '\n' ' ' <"$r/keys")" = "1 kiln-e2e-key "
check "target=, uid=, gid= and mode= apply to the socket" test "$(cat "$r/custom.stat")" = 1000:50:660
check "a USER app step reaches the agent through a socket with uid=1000" test "$(tr '\n' ' ' <"$r/home/app/keys")" = "1 kiln-e2e-key "
check "a USER app step cannot use a root 0600 socket (BuildKit's default)" grep -q "Permission denied" "$r/home/app/refused"
check "no socket left in the image" test ! -e "$r/run/buildkit/ssh_agent.0" -a ! -e "$r/tmp/agent"
check "the host's socket path is not in the image config" bash -c "! grep -qa -- '$tmp/agent.sock' '$tmp/h1.config'"
# --ssh ID=KEYFILE: an agent of kiln's holds the key for the build, and is gone after it
if SSH_AUTH_SOCK= oci_build "$tmp/h2" --ssh "default=$tmp/id_e2e" "$sctx"; then ok "--ssh default=KEYFILE"; else not_ok "--ssh default=KEYFILE"; fi
check "the step reaches the key file's agent: one key, its comment" test "$(tr '\n' ' ' <"$tmp/h2/rootfs/keys")" = "1 kiln-e2e-key "
check "no agent of kiln's is left after the build" bash -c "! pgrep -f 'ssh-agen[t] -D -a .*/kiln-ssh-'"
ssh-keygen -q -t ed25519 -N 'a passphrase' -C locked -f "$tmp/id_locked"
setsid -w "$kiln" build --progress=plain -o type=cacheonly --ssh "default=$tmp/id_locked" "$sctx" </dev/null >"$tmp/out" 2>&1
rc=$?
if [[ $rc -eq 1 ]] && grep -q "ssh-add could not load the key" "$tmp/out"; then ok "a key with a passphrase, without a terminal, fails the build saying so"; else not_ok "a key with a passphrase, without a terminal, fails the build saying so (exit $rc)"; fi
printf 'FROM %s\nRUN --mount=type=ssh,required true\n' "$base" >"$sctx/Dockerfile.required"
build -o type=cacheonly -f "$sctx/Dockerfile.required" "$sctx"
rc=$?
if [[ $rc -eq 1 ]] && grep -q 'no SSH key "default" forwarded' "$tmp/out"; then ok "a required ssh mount without --ssh fails"; else not_ok "a required ssh mount without --ssh fails (exit $rc)"; fi

# --- the secret, once more, everywhere -------------------------------------------
"$kiln" du >"$tmp/du.out" 2>&1
check "kiln du does not show the secret" bash -c "! grep -qa -- '$canary' '$tmp/du.out'"
check "no progress output of any build shows a secret" bash -c "! grep -qaE -- '$canary|$canary2' '$tmp/all'"
check "the data directory holds no secret (store, cache records, snapshots)" bash -c "! grep -rqaE -- '$canary|$canary2' '$KILN_DATA_DIR'"
check "no mount point left behind" bash -c "[[ -z \$(ls -A '$KILN_DATA_DIR/mnt' 2>/dev/null) ]]"
check "no scratch left behind" bash -c "[[ -z \$(ls -A '$KILN_DATA_DIR/tmp' 2>/dev/null) ]]"

tap_end
