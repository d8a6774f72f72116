#!/usr/bin/env bash
# usage: tests/e2e/make-base-image.sh WORKDIR REF [ARCH BUSYBOX]
#        tests/e2e/make-base-image.sh --index WORKDIR REF ARM64_BUSYBOX
# Builds the fixture base image of the build tests from busybox-static and
# pushes it to REF (a plain-HTTP loopback registry): one layer holding
# busybox and its applet links, /etc/passwd and /etc/group with root, app
# (1000:1000) and nobody, /tmp, mtimes 0; PATH, Cmd /bin/sh, WorkingDir /.
# ARCH (default amd64) and BUSYBOX (default the host's) make a foreign image.
# --index pushes an image index instead: linux/amd64 (the host's busybox)
# and linux/arm64 (ARM64_BUSYBOX), each image as above.
set -euo pipefail
index=false
if [[ ${1:-} == --index ]]; then
  index=true
  shift
fi
work=${1:?usage: make-base-image.sh WORKDIR REF}
ref=${2:?usage: make-base-image.sh WORKDIR REF}
arch=${3:-amd64}
busybox=${4:-$(command -v busybox)}
mkdir -p "$work"
umoci init --layout "$work/oci"
# image TAG ARCH BUSYBOX: the fixture image for ARCH as $work/oci:TAG
image() {
  local tag=$1 arch=$2 busybox=$3 bundle=$work/bundle-$1
  umoci new --image "$work/oci:$tag"
  umoci unpack --image "$work/oci:$tag" "$bundle" >/dev/null
  local r=$bundle/rootfs
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/app,tmp}
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  install -m 0755 "$busybox" "$r/bin/busybox"
  for p in $("$busybox" --list-full); do
    [[ -e $r/$p || -L $r/$p ]] || ln -s /bin/busybox "$r/$p"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'app:x:1000:' 'staff:x:50:app' 'nogroup:x:65534:' >"$r/etc/group"
  chown 1000:1000 "$r/home/app"
  find "$r" -exec touch -h -d @0 {} +
  umoci repack --history.created 1970-01-01T00:00:00Z --history.created_by "busybox-static rootfs" \
    --image "$work/oci:$tag" "$bundle"
  umoci config --image "$work/oci:$tag" --created 1970-01-01T00:00:00Z \
    --history.created 1970-01-01T00:00:00Z --architecture "$arch" --os linux \
    --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.cmd /bin/sh --config.workingdir /
}
if $index; then
  image amd64 amd64 "$(command -v busybox)"
  image arm64 arm64 "${3:?usage: make-base-image.sh --index WORKDIR REF ARM64_BUSYBOX}"
  # The index over both, added to the layout as tag 1.
  python3 - "$work/oci" <<'PY'
import hashlib, json, os, sys
layout = sys.argv[1]
with open(os.path.join(layout, "index.json")) as f:
    top = json.load(f)
byname = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in top["manifests"]}
entries = []
for arch in ("amd64", "arm64"):
    m = dict(byname[arch])
    m.pop("annotations", None)
    m["platform"] = {"architecture": arch, "os": "linux"}
    entries.append(m)
blob = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": entries}, indent=2).encode()
digest = hashlib.sha256(blob).hexdigest()
with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
    f.write(blob)
top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                         "digest": "sha256:" + digest, "size": len(blob),
                         "annotations": {"org.opencontainers.image.ref.name": "1"}})
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(top, f)
PY
  skopeo copy --quiet --all --dest-tls-verify=false "oci:$work/oci:1" "docker://$ref"
else
  image 1 "$arch" "$busybox"
  umoci gc --layout "$work/oci"
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/oci:1" "docker://$ref"
fi
