#!/usr/bin/env bash
# usage: tests/e2e/build-e2e.sh KILN   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# End-to-end builds: `kiln build` on real contexts with a real registry; the
# images it writes are checked with skopeo, umoci and tar. TAP output.
set -uo pipefail
kiln=${1:?usage: build-e2e.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in skopeo umoci tar; do command -v $t >/dev/null || skip_all "$t is not installed"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KILN_DATA_DIR=$tmp/data
base=$reg/fixture/base:1
"$here/make-base-image.sh" "$tmp/base" "$base" >"$tmp/base.log" 2>&1 || skip_all "cannot build the base image: $(tail -1 "$tmp/base.log")"

build() { # build ARGS...: kiln build with plain progress; output in $tmp/out
  "$kiln" build --progress=plain "$@" >"$tmp/out" 2>&1
}
# unpack_oci TAR DIR: the image's root filesystem into DIR/rootfs
unpack_oci() {
  rm -rf "$2" "$2.layout" && mkdir -p "$2.layout" && tar -xf "$1" -C "$2.layout" &&
    umoci unpack --image "$2.layout:${3:-latest}" "$2" >/dev/null
}

# --- a context with the COPY rules and metadata ---------------------------------
ctx=$tmp/ctx
mkdir -p "$ctx/src/sub" "$ctx/ignored"
echo hello >"$ctx/hello.txt"
printf 'int main(void) { return 0; }\n' >"$ctx/src/main.c"
echo nested >"$ctx/src/sub/deep.txt"
echo secret >"$ctx/ignored/secret.txt"
ln -s hello.txt "$ctx/link"
chmod 0755 "$ctx/src/main.c"
printf 'ignored\n*.log\n' >"$ctx/.dockerignore"
echo noise >"$ctx/build.log"
cat >"$ctx/Dockerfile" <<EOF
FROM $base
ARG GREETING=hi
ENV APP_HOME=/app GREETING=\$GREETING
WORKDIR \$APP_HOME
COPY hello.txt .
COPY src/ ./code/
COPY --chown=app:app link nomatch* /app/owned/
COPY --chmod=0600 hello.txt /etc/private
LABEL org.example.k=v
EXPOSE 8080/tcp 53/udp
USER app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo \$GREETING"]
EOF

if build -t e2e/app:latest -o type=oci,dest="$tmp/img.tar" "$ctx"; then ok "build to an OCI tar"; else not_ok "build to an OCI tar"; fi
check "skopeo reads the OCI tar" skopeo inspect "oci-archive:$tmp/img.tar"
if unpack_oci "$tmp/img.tar" "$tmp/u1"; then ok "umoci unpacks it"; else not_ok "umoci unpacks it"; fi
r=$tmp/u1/rootfs
check "COPY file into WORKDIR" grep -qx hello "$r/app/hello.txt"
check "COPY dir/ copies its contents" test -f "$r/app/code/main.c" -a -f "$r/app/code/sub/deep.txt"
check "mode kept (0755)" test "$(stat -c %a "$r/app/code/main.c")" = 755
check "context files are 0:0" test "$(stat -c %u:%g "$r/app/code/main.c")" = 0:0
check "--chown=app:app looked up in the image" test "$(stat -c %u:%g "$r/app/owned/link")" = 1000:1000
check "a source symlink is followed (BuildKit FollowSymlinks)" grep -qx hello "$r/app/owned/link"
check "--chmod=0600" test "$(stat -c %a "$r/etc/private")" = 600
check ".dockerignore keeps ignored/ out" test ! -e "$r/app/ignored"
check "base image files are there" test -x "$r/bin/busybox"
cfg=$tmp/u1/config.json
check "Env from ENV with ARG default" grep -q '"GREETING=hi"' "$cfg"
check "WorkingDir" grep -q '"cwd": "/app"' "$cfg"
check "User" grep -q '"uid": 1000' "$cfg"
if skopeo inspect --config "oci-archive:$tmp/img.tar" >"$tmp/config.json" 2>>"$tmp/check.log"; then
  ok "skopeo reads the config"
else
  not_ok "skopeo reads the config"
fi
check "ExposedPorts" grep -q '"8080/tcp"' "$tmp/config.json"
check "Labels" grep -q '"org.example.k": "v"' "$tmp/config.json"
check "history says buildkit.dockerfile.v0" grep -q 'buildkit.dockerfile.v0' "$tmp/config.json"

# --- warm rebuild: all cache hits ----------------------------------------------
if build -t e2e/app:latest -o type=oci,dest="$tmp/img2.tar" "$ctx" &&
  ! grep -A1 -E '^#[0-9]+ \[[ 0-9]+/[0-9]+\]' "$tmp/out" | grep DONE >/dev/null; then
  ok "a warm rebuild runs no step"
else
  not_ok "a warm rebuild runs no step"
fi
check "warm rebuild prints CACHED" grep -q "CACHED" "$tmp/out"

# --- a fresh copy of the context (new mtimes, new inodes) is a full cache hit ---
cp -r "$ctx" "$tmp/clone"
touch -d '2001-01-01' "$tmp/clone/hello.txt"
if build -o type=cacheonly "$tmp/clone" && [[ $(grep -c " CACHED" "$tmp/out") -ge 5 ]]; then
  ok "a fresh clone of an unchanged context hits the cache"
else
  not_ok "a fresh clone of an unchanged context hits the cache"
fi

# --- push, and pull back ---------------------------------------------------------
if build -t "$reg/e2e/app:1" --push "$ctx"; then ok "--push"; else not_ok "--push"; fi
check "the pushed image is in the registry" skopeo inspect --tls-verify=false "docker://$reg/e2e/app:1"
check "and copies back out whole" skopeo copy --quiet --src-tls-verify=false "docker://$reg/e2e/app:1" "oci:$tmp/pulled:1"
tag_link=${KILN_TEST_REGISTRY_DATA:-/nonexistent}/docker/registry/v2/repositories/e2e/app/_manifests/tags/1/current/link
before=$(stat -c %Y.%y "$tag_link" 2>/dev/null)
sleep 1.1 # a rewritten tag would show a later mtime
if build -t "$reg/e2e/app:1" --push "$ctx" && grep -q CACHED "$tmp/out"; then ok "a warm push"; else not_ok "a warm push"; fi
if [[ -n $before && $(stat -c %Y.%y "$tag_link") == "$before" ]]; then
  ok "...finds the tag on the same image and writes nothing"
else
  not_ok "...finds the tag on the same image and writes nothing ($tag_link: $before)"
fi
printf 'FROM %s\nLABEL moved=1\n' "$base" >"$tmp/Dockerfile.moved"
if build -t "$reg/e2e/app:1" --push -f "$tmp/Dockerfile.moved" "$ctx" &&
  skopeo inspect --tls-verify=false "docker://$reg/e2e/app:1" | grep -q '"moved": "1"'; then
  ok "a push of another image moves the tag"
else
  not_ok "a push of another image moves the tag"
fi

# --- other outputs ---------------------------------------------------------------
if build -o type=local,dest="$tmp/local" "$ctx" && grep -qx hello "$tmp/local/app/hello.txt"; then
  ok "type=local writes the filesystem"
else
  not_ok "type=local writes the filesystem"
fi
if build -o type=tar,dest="$tmp/fs.tar" "$ctx" && tar -tf "$tmp/fs.tar" | grep "app/hello.txt" >/dev/null; then
  ok "type=tar writes the filesystem as a tar"
else
  not_ok "type=tar writes the filesystem as a tar"
fi
if build -o type=docker,dest="$tmp/docker.tar" "$ctx" && tar -xOf "$tmp/docker.tar" manifest.json | grep -q '"Config"'; then
  ok "type=docker writes a docker-load tar"
else
  not_ok "type=docker writes a docker-load tar"
fi

# --- reproducible with SOURCE_DATE_EPOCH ----------------------------------------
d1=$(SOURCE_DATE_EPOCH=1700000000 "$kiln" build -q --no-cache -o type=oci,dest="$tmp/r1.tar" "$ctx" 2>"$tmp/out")
d2=$(SOURCE_DATE_EPOCH=1700000000 "$kiln" build -q --no-cache -o type=oci,dest="$tmp/r2.tar" "$ctx" 2>>"$tmp/out")
if [[ -n $d1 && $d1 == "$d2" ]]; then ok "SOURCE_DATE_EPOCH: same image digest twice ($d1)"; else not_ok "SOURCE_DATE_EPOCH: same image digest twice ('$d1' '$d2')"; fi

# --- multi-stage, target, COPY --from -------------------------------------------
ms=$tmp/ms
mkdir -p "$ms"
echo a >"$ms/a.txt"
cat >"$ms/Dockerfile" <<EOF
FROM $base AS one
COPY a.txt /one/a.txt
FROM scratch AS two
COPY --from=one /one /copied
FROM two AS unused
COPY --from=one /nonexistent /x
FROM two
COPY --from=0 /bin/busybox /bin/busybox
EOF
if build -o type=local,dest="$tmp/ms-out" "$ms" && test -f "$tmp/ms-out/copied/a.txt" -a -x "$tmp/ms-out/bin/busybox"; then
  ok "COPY --from a stage by name and by index; unused stages are skipped"
else
  not_ok "COPY --from a stage by name and by index; unused stages are skipped"
fi
if build --target one -o type=local,dest="$tmp/ms-one" "$ms" && test -f "$tmp/ms-one/one/a.txt" -a ! -e "$tmp/ms-one/copied"; then
  ok "--target builds the named stage"
else
  not_ok "--target builds the named stage"
fi

# --- more COPY/ADD rules, and RUN -------------------------------------------------
rules=$tmp/rules
mkdir -p "$rules/sub/dir1" "$rules/keep"
echo one >"$rules/sub/dir1/f1"
echo two >"$rules/sub/top.txt"
echo a >"$rules/keep/a.txt"
echo b >"$rules/keep/b.log"
echo payload >"$rules/payload.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$rules" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
http_pid=$!
trap 'kill $http_pid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5
payload_sum=sha256:$(sha256sum "$rules/payload.txt" | cut -d' ' -f1)
cat >"$rules/Dockerfile" <<EOF
FROM $base
COPY sub/* /wild/
RUN mkdir -p /existing
COPY sub/top.txt /existing
COPY sub/top.txt /renamed.txt
COPY ../../sub/top.txt /cleaned/
COPY --exclude=*.log keep /kept/
COPY --chown=1001 sub/top.txt /numeric/
COPY --chmod=u=rwX,go=rX sub /symbolic/
COPY --from=$base /home /fromhome/
ADD http://127.0.0.1:$port/payload.txt /downloads/
ADD --checksum=$payload_sum http://127.0.0.1:$port/payload.txt /checked.txt
COPY <<EOT /heredoc.txt
hello \$HOSTNAME
EOT
USER app
RUN id -u > /tmp/uid && echo ran-as-app
USER root
RUN echo built > /run.txt && rm /bin/vi
EOF
if build -o type=local,dest="$tmp/rules-out" "$rules"; then ok "a Dockerfile with every COPY rule builds"; else not_ok "a Dockerfile with every COPY rule builds"; fi
o=$tmp/rules-out
check "a wildcard matching a directory copies its contents" test -f "$o/wild/f1" -a -f "$o/wild/top.txt"
check "an existing directory receives the file inside" test -f "$o/existing/top.txt"
check "a destination without / is the file's new name" test -f "$o/renamed.txt"
check "'..' in a source is cleaned into the context" test -f "$o/cleaned/top.txt"
check "--exclude keeps matching files out" test -f "$o/kept/a.txt" -a ! -e "$o/kept/b.log"
check "--chown=UID alone sets the GID to the same number" test "$(stat -c %u:%g "$o/numeric/top.txt" 2>&1)" = 1001:1001
check "symbolic --chmod (u=rwX,go=rX)" test "$(stat -c %a "$o/symbolic/top.txt" 2>&1)" = 644 -a "$(stat -c %a "$o/symbolic/dir1" 2>&1)" = 755
check "COPY --from keeps the owner" test "$(stat -c %u "$o/fromhome/app" 2>&1)" = 1000
check "ADD downloads a URL (mode 0600)" test "$(cat "$o/downloads/payload.txt" 2>&1)" = payload -a "$(stat -c %a "$o/downloads/payload.txt" 2>&1)" = 600
check "ADD --checksum accepts the right digest" test -f "$o/checked.txt"
check "COPY <<EOT writes a heredoc file" grep -q "^hello" "$o/heredoc.txt"
check "RUN runs as USER" test "$(cat "$o/tmp/uid" 2>&1)" = 1000
check "RUN's output is in the progress" grep -q "ran-as-app" "$tmp/out"
check "RUN writes land in the image" grep -qx built "$o/run.txt"
check "RUN deletes land in the image" test ! -e "$o/bin/vi"
check "no mount-point stubs leak into the image" test ! -e "$o/proc/cpuinfo"

bad2=$tmp/bad2
mkdir -p "$bad2"
printf 'FROM %s\nADD --checksum=sha256:%064d http://127.0.0.1:%s/payload.txt /x\n' "$base" 0 "$port" >"$bad2/Dockerfile"
build -o type=cacheonly "$bad2"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "digest mismatch" "$tmp/out"; then ok "ADD --checksum refuses a wrong digest"; else not_ok "ADD --checksum refuses a wrong digest (exit $rc)"; fi
printf 'FROM %s\nRUN exit 3\n' "$base" >"$bad2/Dockerfile"
build -o type=cacheonly "$bad2"
rc=$?
if [[ $rc -eq 1 ]] && grep -q 'did not complete successfully: exit code: 3' "$tmp/out"; then ok "a failing RUN says its exit code"; else not_ok "a failing RUN says its exit code (exit $rc)"; fi
ln -s /etc/shadow "$bad2/escape"
printf 'FROM %s\nCOPY escape /x\n' "$base" >"$bad2/Dockerfile"
build -o type=local,dest="$tmp/escape-out" "$bad2"
rc=$?
if [[ $rc -eq 1 ]] && [[ ! -e $tmp/escape-out/x ]]; then ok "a context symlink to /etc/shadow does not leave the context"; else not_ok "a context symlink to /etc/shadow does not leave the context (exit $rc)"; fi
rm "$bad2/escape"
mkfifo "$bad2/fifo"
printf 'FROM %s\nCOPY . /ctx/\n' "$base" >"$bad2/Dockerfile"
build -o type=cacheonly "$bad2"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "fifo" "$tmp/out"; then ok "a fifo in the context is refused by name"; else not_ok "a fifo in the context is refused by name (exit $rc)"; fi
rm "$bad2/fifo"

# --- ONBUILD, and two builds of one step at once ---------------------------------
ob=$tmp/onbuild
mkdir -p "$ob"
printf 'FROM %s AS parent\nONBUILD RUN echo trig > /trig\nFROM parent\nRUN cat /trig\n' "$base" >"$ob/Dockerfile"
if build -o type=local,dest="$tmp/ob-out" "$ob" && grep -qx trig "$tmp/ob-out/trig"; then
  ok "ONBUILD triggers run in the stage built FROM the stage"
else
  not_ok "ONBUILD triggers run in the stage built FROM the stage"
fi
sf=$tmp/flight
mkdir -p "$sf"
printf 'FROM %s\nRUN sleep 2 && date +%%s%%N > /stamp\n' "$base" >"$sf/Dockerfile"
"$kiln" build --progress=plain -o type=local,dest="$tmp/f1" "$sf" >"$tmp/f1.log" 2>&1 &
p1=$!
"$kiln" build --progress=plain -o type=local,dest="$tmp/f2" "$sf" >"$tmp/f2.log" 2>&1
wait $p1
if cmp -s "$tmp/f1/stamp" "$tmp/f2/stamp"; then
  ok "two builds of one step at once run it once"
else
  not_ok "two builds of one step at once run it once"
fi

# --- ADD of a local archive -------------------------------------------------------
arc=$tmp/archive
mkdir -p "$arc/content/inner"
echo packed >"$arc/content/inner/file.txt"
tar -czf "$arc/bundle.tgz" -C "$arc/content" inner
cp "$arc/bundle.tgz" "$arc/renamed.bin"
printf 'FROM scratch\nADD bundle.tgz /x/\nADD renamed.bin /y/\nADD --unpack=false bundle.tgz /z/\nCOPY bundle.tgz /c/\n' >"$arc/Dockerfile"
if build -o type=local,dest="$tmp/arc-out" "$arc"; then ok "ADD of local archives builds"; else not_ok "ADD of local archives builds"; fi
check "ADD extracts a tar.gz" grep -qx packed "$tmp/arc-out/x/inner/file.txt"
check "ADD detects an archive by content, not by name" grep -qx packed "$tmp/arc-out/y/inner/file.txt"
check "ADD --unpack=false keeps the archive" test -f "$tmp/arc-out/z/bundle.tgz"
check "COPY never extracts" test -f "$tmp/arc-out/c/bundle.tgz"
printf 'evil' >"$arc/evil.txt"
python3 - "$arc/evil.tar" "$arc/evil.txt" <<'PYEOF'
import sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    t.add(sys.argv[2], arcname="../../../escaped.txt")
PYEOF
printf 'FROM scratch\nADD evil.tar /dst/\n' >"$arc/Dockerfile"
build -o type=local,dest="$tmp/evil-out" "$arc"
rc=$?
if [[ ! -e $tmp/evil-out/../escaped.txt && ! -e $tmp/escaped.txt && ! -e /escaped.txt ]]; then ok "an archive entry with .. stays inside (exit $rc)"; else not_ok "an archive entry with .. stays inside"; fi

# --- kiln login and a registry with Basic auth --------------------------------------
if [[ -n ${KILN_TEST_AUTH_REGISTRY:-} ]]; then
  export XDG_CONFIG_HOME=$tmp/config
  areg=$KILN_TEST_AUTH_REGISTRY
  build -t "$areg/e2e/private:1" --push "$ctx"
  rc=$?
  if [[ $rc -eq 1 ]] && grep -qi "401\|unauthorized\|credentials" "$tmp/out"; then ok "a push without credentials is refused"; else not_ok "a push without credentials is refused (exit $rc)"; fi
  if printf '%s\n' "$KILN_TEST_PASSWORD" | "$kiln" login -u "$KILN_TEST_USER" --password-stdin "$areg" >"$tmp/out" 2>&1; then ok "kiln login"; else not_ok "kiln login"; fi
  check "the credentials file is private (0600)" test "$(stat -c %a "$XDG_CONFIG_HOME/kiln/credentials.json")" = 600
  if build -t "$areg/e2e/private:1" --push "$ctx"; then ok "a push with kiln login's credentials"; else not_ok "a push with kiln login's credentials"; fi
  check "no password in the build output" bash -c "! grep -qF -- '$KILN_TEST_PASSWORD' '$tmp/out'"
  check "kiln logout" "$kiln" logout "$areg"
  unset XDG_CONFIG_HOME
fi

# --- Docker: --load, and a pushed image pulls and runs ------------------------------
dsock=${DOCKER_HOST:-}
dsock=${dsock#unix://}
[[ -S $dsock ]] || dsock=/var/run/docker.sock
if [[ -S $dsock ]] && command -v docker >/dev/null && docker -H "unix://$dsock" info >/dev/null 2>&1; then
  if DOCKER_HOST=unix://$dsock build -t kiln-e2e-load:1 --load "$ctx" &&
    [[ $(docker -H "unix://$dsock" run --rm --network=host kiln-e2e-load:1 'cat /app/hello.txt' 2>&1) == hello ]]; then
    ok "--load: the image runs in Docker"
  else
    not_ok "--load: the image runs in Docker"
  fi
  if docker -H "unix://$dsock" pull "$reg/e2e/app:1" >/dev/null 2>&1 &&
    [[ $(docker -H "unix://$dsock" run --rm --network=host "$reg/e2e/app:1" 'cat /app/hello.txt' 2>&1) == hello ]]; then
    ok "a pushed image pulls and runs in Docker"
  else
    not_ok "a pushed image pulls and runs in Docker"
  fi
  docker -H "unix://$dsock" rmi -f kiln-e2e-load:1 "$reg/e2e/app:1" >/dev/null 2>&1
else
  n=$((n + 1)); echo "ok $n - --load: the image runs in Docker # SKIP no Docker engine"
  n=$((n + 1)); echo "ok $n - a pushed image pulls and runs in Docker # SKIP no Docker engine"
fi
unset dsock

# --- RUN --mount: cache and tmpfs ------------------------------------------------
rm=$tmp/runmount
mkdir -p "$rm"
cat >"$rm/Dockerfile" <<EOF
FROM $base
RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=tmpfs,target=/scratch touch /scratch/f && ls /scratch > /tmpfs-saw
EOF
build --no-cache -o type=local,dest="$tmp/rm1" "$rm" && build --no-cache -o type=local,dest="$tmp/rm2" "$rm"
check "a cache mount keeps its content from one build to the next" test "$(cat "$tmp/rm1/count" 2>&1)/$(cat "$tmp/rm2/count" 2>&1)" = 1/2
check "cache and tmpfs mounts never reach the image" test ! -e "$tmp/rm2/cache" -a ! -e "$tmp/rm2/scratch" -a "$(cat "$tmp/rm2/tmpfs-saw" 2>&1)" = f
printf 'FROM %s\nRUN --mount=type=secret,id=x test ! -e /run/secrets/x\n' "$base" >"$rm/Dockerfile"
if build -o type=cacheonly "$rm"; then ok "a secret mount not given is skipped (run-mounts-e2e.sh has the rest)"; else not_ok "a secret mount not given is skipped"; fi

# --- entitlements ---------------------------------------------------------------
ent=$tmp/entitle
mkdir -p "$ent"
printf 'FROM %s\nRUN --network=host true\n' "$base" >"$ent/Dockerfile"
build -o type=cacheonly "$ent"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "allow network.host" "$tmp/out"; then ok "RUN --network=host is refused without --allow network.host"; else not_ok "RUN --network=host is refused without --allow network.host (exit $rc)"; fi
if build --allow network.host -o type=cacheonly "$ent"; then ok "--allow network.host grants it"; else not_ok "--allow network.host grants it"; fi

# --- a foreign platform through binfmt_misc --------------------------------------
arm_bb=${KILN_ARM64_BUSYBOX:-/usr/local/lib/kiln-test/busybox-arm64}
if [[ -x $arm_bb ]] && grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 &&
  "$here/make-base-image.sh" "$tmp/base-arm64" "$reg/fixture/base-arm64:1" arm64 "$arm_bb" >"$tmp/out" 2>&1; then
  arm=$tmp/arm
  mkdir -p "$arm"
  printf 'FROM %s\nARG TARGETARCH\nRUN uname -m > /machine && echo $TARGETARCH > /targetarch\n' "$reg/fixture/base-arm64:1" >"$arm/Dockerfile"
  if build --platform linux/arm64 -t e2e/arm:latest -o type=oci,dest="$tmp/arm.tar" "$arm" &&
    unpack_oci "$tmp/arm.tar" "$tmp/arm-u" >/dev/null 2>&1; then
    ok "--platform linux/arm64 builds through qemu"
  else
    not_ok "--platform linux/arm64 builds through qemu"
  fi
  check "RUN ran as aarch64" test "$(cat "$tmp/arm-u/rootfs/machine" 2>&1)/$(cat "$tmp/arm-u/rootfs/targetarch" 2>&1)" = aarch64/arm64
  check "the image says arm64" bash -c "skopeo inspect --config oci-archive:'$tmp/arm.tar' | grep -q '\"architecture\": *\"arm64\"'"
else
  for d in "--platform linux/arm64 builds through qemu" "RUN ran as aarch64" "the image says arm64"; do
    n=$((n + 1)); echo "ok $n - $d # SKIP no qemu-aarch64 in binfmt_misc or no arm64 busybox"
  done
fi

# --- errors ----------------------------------------------------------------------
bad=$tmp/bad
mkdir -p "$bad"
printf 'FROM %s\nCOPY missing.txt /x\n' "$base" >"$bad/Dockerfile"
build -o type=cacheonly "$bad"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "missing.txt" "$tmp/out"; then ok "a missing COPY source fails naming it"; else not_ok "a missing COPY source fails naming it (exit $rc)"; fi
printf 'FROM %s\nFROBNICATE x\n' "$base" >"$bad/Dockerfile"
build -o type=cacheonly "$bad"
rc=$?
if [[ $rc -eq 1 ]] && grep -qi "frobnicate" "$tmp/out"; then ok "an unknown instruction fails naming it"; else not_ok "an unknown instruction fails naming it (exit $rc)"; fi
printf 'FROM %s/fixture/nope:1\n' "$reg" >"$bad/Dockerfile"
build -o type=cacheonly "$bad"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "nope" "$tmp/out"; then ok "a missing base image fails naming it"; else not_ok "a missing base image fails naming it (exit $rc)"; fi

build -o type=cacheonly "$tmp/no-such-context"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "is not a directory" "$tmp/out"; then ok "a missing build context is named"; else not_ok "a missing build context is named (exit $rc)"; fi

# --- the store ------------------------------------------------------------------
check "kiln du" "$kiln" du
check "kiln prune --all" "$kiln" prune --all -f
if KILN_CACHE_LIMIT=1kB build -o type=cacheonly "$ms" && "$kiln" du >"$tmp/du.out" 2>&1 && grep -q "^Total: *0B" "$tmp/du.out"; then
  ok "KILN_CACHE_LIMIT collects the cache after a build"
else
  not_ok "KILN_CACHE_LIMIT collects the cache after a build"
fi
if build -o type=cacheonly "$ctx" && ! grep -q " CACHED" "$tmp/out"; then ok "after prune --all the build is cold"; else not_ok "after prune --all the build is cold"; fi
check "no mount point left behind" bash -c "[[ -z \$(ls -A '$KILN_DATA_DIR/mnt' 2>/dev/null) ]]"

tap_end
