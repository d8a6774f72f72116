#!/usr/bin/env bash
# usage: tests/e2e/multiplatform-e2e.sh KILN   (run by run-registry.sh: KILN_TEST_REGISTRY)
# Multi-platform builds: `kiln build --platform linux/amd64,linux/arm64` on a
# base image index (busybox-static for both), arm64 RUN steps through
# qemu-user-static in binfmt_misc. The index, the images and the outputs are
# checked with skopeo, umoci, tar and jq. TAP output.
set -uo pipefail
kiln=${1:?usage: multiplatform-e2e.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run me through run-registry.sh}
. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds mount overlay filesystems: run as root"
for t in skopeo umoci tar jq; do command -v $t >/dev/null || skip_all "$t is not installed"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KILN_DATA_DIR=$tmp/data

build() { # build ARGS...: kiln build with plain progress; output in $tmp/out
  "$kiln" build --progress=plain "$@" >"$tmp/out" 2>&1
}
# vertices NAME_PART FILE: how many progress vertices (#N) have a name containing NAME_PART
vertices() {
  grep -F -- "$1" "$2" | grep -oE '^#[0-9]+ ' | sort -u | wc -l
}

# --- refused before anything is built ------------------------------------------
ctx=$tmp/ctx
mkdir -p "$ctx"
printf 'FROM scratch\nCOPY Dockerfile /\n' >"$ctx/Dockerfile"
"$kiln" build --progress=plain --platform linux/amd64,linux/arm64 --load "$ctx" >"$tmp/out" 2>&1
status=$?
check "--load of two platforms exits 1" test $status -eq 1
check "... saying docker cannot take a manifest list" \
  grep -q "docker exporter does not currently support exporting manifest lists" "$tmp/out"
check "... before building anything" bash -c "! grep -q 'COPY Dockerfile' '$tmp/out'"
build --platform linux/amd64,linux/arm64 -o type=docker,dest="$tmp/d.tar" "$ctx"
check "type=docker of two platforms is refused too" \
  grep -q "docker exporter does not currently support exporting manifest lists" "$tmp/out"

# --- a RUN for a platform binfmt_misc has no handler for ---------------------------
# The image says ppc64le (its busybox is the host's: the build stops before running it).
if grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-ppc64le; then
  for d in "a RUN for a platform without a binfmt_misc handler is refused" "... naming the package to install"; do
    n=$((n + 1)); echo "ok $n - $d # SKIP qemu-ppc64le is registered here"
  done
elif ! "$here/make-base-image.sh" "$tmp/base-ppc" "$reg/fixture/base-ppc64le:1" ppc64le >"$tmp/base.log" 2>&1; then
  for d in "a RUN for a platform without a binfmt_misc handler is refused" "... naming the package to install"; do
    n=$((n + 1)); echo "ok $n - $d # SKIP cannot build the ppc64le-labelled base: $(tail -1 "$tmp/base.log")"
  done
else
  ppc=$tmp/ppc
  mkdir -p "$ppc"
  printf 'FROM %s\nRUN echo never > /ran\n' "$reg/fixture/base-ppc64le:1" >"$ppc/Dockerfile"
  build --platform linux/amd64,linux/ppc64le -o type=local,dest="$tmp/ppc-out" "$ppc"
  status=$?
  check "a RUN for a platform without a binfmt_misc handler is refused" \
    bash -c "test $status -eq 1 && ! grep -q '^#[0-9]* DONE' <(grep -A1 'RUN echo never' '$tmp/out')"
  check "... naming the package to install" grep -qF "cannot run linux/ppc64le RUN steps: no binfmt_misc handler for ppc64le; install qemu-user-static (apt-get install qemu-user-static)" "$tmp/out"
fi

# --- the base image index and the qemu the arm64 steps need -------------------------
arm_bb=${KILN_ARM64_BUSYBOX:-/usr/local/lib/kiln-test/busybox-arm64}
why=""
if [[ ! -x $arm_bb ]]; then
  why="no arm64 busybox at $arm_bb (Debian's busybox-static:arm64)"
elif ! grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  why="no qemu-aarch64 handler in binfmt_misc (apt-get install qemu-user-static)"
elif ! "$here/make-base-image.sh" --index "$tmp/base" "$reg/fixture/base-multi:1" "$arm_bb" \
  >"$tmp/base.log" 2>&1; then
  why="cannot build the two-platform base image: $(tail -1 "$tmp/base.log")"
fi
arm_tests=(
  "--platform linux/amd64,linux/arm64 --push builds"
  "the registry holds an OCI index"
  "the index has linux/amd64 and linux/arm64"
  "the metadata file's containerimage.digest is the index"
  "containerimage.descriptor is the index's"
  "progress names steps [linux/arm64 ...]"
  "the shared FROM --platform=\$BUILDPLATFORM stage runs once"
  "the per-platform RUN runs once per platform"
  "amd64 image: RUN saw x86_64, TARGETARCH amd64"
  "arm64 image: RUN saw aarch64, TARGETARCH arm64"
  "arm64 image: BUILDPLATFORM and TARGETPLATFORM"
  "the shared stage ran on the build platform"
  "the image configs say their platform"
  "a warm rebuild is all CACHED"
  "a warm rebuild gives the same index"
  "type=oci tar carries the index"
  "type=local writes linux_amd64/ and linux_arm64/"
  "type=tar holds linux_amd64/ and linux_arm64/"
  "oci-mediatypes=false pushes a Docker manifest list"
)
if [[ -n $why ]]; then
  for d in "${arm_tests[@]}"; do
    n=$((n + 1)); echo "ok $n - $d # SKIP $why"
  done
  echo "1..$n"
  exit 0
fi
base=$reg/fixture/base-multi:1

# --- a cross-compiling Dockerfile pushed as one tag ------------------------------
mp=$tmp/mp
mkdir -p "$mp"
cat >"$mp/Dockerfile" <<EOF
FROM --platform=\$BUILDPLATFORM $base AS tools
RUN echo built-once > /tool && uname -m > /tool-arch
FROM $base
ARG TARGETARCH
ARG TARGETPLATFORM
ARG BUILDPLATFORM
COPY --from=tools /tool /tool-arch /
RUN uname -m > /arch && echo \$TARGETARCH > /targetarch && echo "\$BUILDPLATFORM \$TARGETPLATFORM" > /platforms
EOF
img=$reg/e2e/multi:1
platforms=linux/amd64,linux/arm64
if build --platform $platforms -t "$img" --push --metadata-file "$tmp/meta.json" "$mp"; then
  ok "${arm_tests[0]}"
else
  not_ok "${arm_tests[0]}"
fi
cp "$tmp/out" "$tmp/cold.out"
skopeo inspect --raw --tls-verify=false "docker://$img" >"$tmp/index.json" 2>>"$tmp/check.log"
check "${arm_tests[1]}" test "$(jq -r .mediaType "$tmp/index.json")" = application/vnd.oci.image.index.v1+json
check "${arm_tests[2]}" test "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")' "$tmp/index.json")" = "$platforms"
index_digest=sha256:$(sha256sum <"$tmp/index.json" | cut -d' ' -f1)
check "${arm_tests[3]}" test "$(jq -r '."containerimage.digest"' "$tmp/meta.json")" = "$index_digest"
check "${arm_tests[4]}" test "$(jq -r '."containerimage.descriptor" | .mediaType + " " + .digest' "$tmp/meta.json")" = "application/vnd.oci.image.index.v1+json $index_digest"
check "${arm_tests[5]}" grep -qF "[linux/arm64 stage-1 3/3] RUN uname -m" "$tmp/cold.out"
check "${arm_tests[6]}" test "$(vertices "RUN echo built-once" "$tmp/cold.out")" -eq 1
check "${arm_tests[7]}" test "$(vertices "RUN uname -m > /arch" "$tmp/cold.out")" -eq 2

# unpack_arch ARCH DIR: that platform's image from the registry, unpacked into DIR/rootfs
unpack_arch() {
  rm -rf "$2" "$2.layout" &&
    skopeo copy --quiet --src-tls-verify=false --override-arch "$1" "docker://$img" "oci:$2.layout:x" &&
    umoci unpack --image "$2.layout:x" "$2" >/dev/null
}
unpack_arch amd64 "$tmp/amd64" >>"$tmp/check.log" 2>&1
unpack_arch arm64 "$tmp/arm64" >>"$tmp/check.log" 2>&1
check "${arm_tests[8]}" test "$(cat "$tmp/amd64/rootfs/arch" "$tmp/amd64/rootfs/targetarch" 2>&1 | tr '\n' ' ')" = "x86_64 amd64 "
check "${arm_tests[9]}" test "$(cat "$tmp/arm64/rootfs/arch" "$tmp/arm64/rootfs/targetarch" 2>&1 | tr '\n' ' ')" = "aarch64 arm64 "
check "${arm_tests[10]}" test "$(cat "$tmp/arm64/rootfs/platforms" 2>&1)" = "linux/amd64 linux/arm64"
check "${arm_tests[11]}" test "$(cat "$tmp/amd64/rootfs/tool-arch" "$tmp/arm64/rootfs/tool-arch" "$tmp/arm64/rootfs/tool" 2>&1 | tr '\n' ' ')" = "x86_64 x86_64 built-once "
check "${arm_tests[12]}" test "$(for a in amd64 arm64; do skopeo inspect --config --tls-verify=false --override-arch $a "docker://$img" | jq -r .architecture; done | tr '\n' ' ')" = "amd64 arm64 "

# --- warm rebuild -----------------------------------------------------------------
build --platform $platforms -t "$img" --push --metadata-file "$tmp/meta2.json" "$mp"
steps=$(vertices "[linux/" "$tmp/out")
cached=$(grep -E '^#[0-9]+ CACHED' "$tmp/out" | sort -u | wc -l)
check "${arm_tests[13]}" test "$steps" -gt 0 -a "$steps" -eq "$cached"
check "${arm_tests[14]}" test "$(jq -r '."containerimage.digest"' "$tmp/meta2.json")" = "$index_digest"

# --- file outputs -----------------------------------------------------------------
build --platform $platforms -t e2e/multi:1 -o type=oci,dest="$tmp/multi.tar" "$mp"
check "${arm_tests[15]}" bash -c "skopeo inspect --raw oci-archive:'$tmp/multi.tar' | jq -e '.mediaType == \"application/vnd.oci.image.index.v1+json\" and (.manifests | length) == 2'"
build --platform $platforms -o type=local,dest="$tmp/local" "$mp"
check "${arm_tests[16]}" test "$(cat "$tmp/local/linux_amd64/arch" "$tmp/local/linux_arm64/arch" 2>&1 | tr '\n' ' ')" = "x86_64 aarch64 "
build --platform $platforms -o type=tar,dest="$tmp/fs.tar" "$mp"
check "${arm_tests[17]}" bash -c "tar -tf '$tmp/fs.tar' | grep -qx linux_amd64/arch && tar -tf '$tmp/fs.tar' | grep -qx linux_arm64/arch && test \"\$(tar -xOf '$tmp/fs.tar' linux_arm64/arch)\" = aarch64"
build --platform $platforms -o type=image,name="$reg/e2e/multi:docker",push=true,oci-mediatypes=false "$mp"
check "${arm_tests[18]}" bash -c "skopeo inspect --raw --tls-verify=false docker://$reg/e2e/multi:docker | jq -e '.mediaType == \"application/vnd.docker.distribution.manifest.list.v2+json\" and ([.manifests[].mediaType] | unique) == [\"application/vnd.docker.distribution.manifest.v2+json\"]'"

tap_end
