#!/usr/bin/env bash
# usage: tests/e2e/make-base-image.sh WORKDIR REF [ARCH BUSYBOX]
# Builds the fixture base image of the build tests from busybox-static and
# pushes it to REF (a plain-HTTP loopback registry): one layer holding
# busybox and its applet links, /etc/passwd and /etc/group with root, app
# (1000:1000) and nobody, /tmp, mtimes 0; PATH, Cmd /bin/sh, WorkingDir /.
# ARCH (default amd64) and BUSYBOX (default the host's) make a foreign image.
set -euo pipefail
work=${1:?usage: make-base-image.sh WORKDIR REF}
ref=${2:?usage: make-base-image.sh WORKDIR REF}
arch=${3:-amd64}
busybox=${4:-$(command -v busybox)}
mkdir -p "$work"
umoci init --layout "$work/oci"
umoci new --image "$work/oci:1"
umoci unpack --image "$work/oci:1" "$work/bundle" >/dev/null
r=$work/bundle/rootfs
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
  --image "$work/oci:1" "$work/bundle"
umoci config --image "$work/oci:1" --created 1970-01-01T00:00:00Z \
  --history.created 1970-01-01T00:00:00Z --architecture "$arch" --os linux \
  --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.cmd /bin/sh --config.workingdir /
umoci gc --layout "$work/oci"
skopeo copy --quiet --dest-tls-verify=false "oci:$work/oci:1" "docker://$ref"
