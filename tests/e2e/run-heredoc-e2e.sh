#!/usr/bin/env bash
# usage: tests/e2e/run-heredoc-e2e.sh KILN   (run by run-registry.sh, which sets KILN_TEST_REGISTRY)
# RUN heredocs end to end on a busybox base image, as BuildKit runs them: a
# lone heredoc whose body starts with #! is a file mounted read-only at
# /dev/pipes/NAME and executed directly; any other heredoc goes to the shell
# (a program after it reads it on stdin, redirections, several heredocs,
# <<- tab stripping). TAP output.
set -uo pipefail
kiln=${1:?usage: run-heredoc-e2e.sh KILN}
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
# oci_build DIR ARGS...: build to an OCI tar and unpack it into DIR/rootfs (config in DIR.config)
oci_build() {
  local dir=$1; shift
  build -t e2e/heredoc:latest -o type=oci,dest="$dir.tar" "$@" || return 1
  rm -rf "$dir" "$dir.layout" && mkdir -p "$dir.layout" && tar -xf "$dir.tar" -C "$dir.layout" &&
    umoci unpack --image "$dir.layout:latest" "$dir" >/dev/null &&
    skopeo inspect --config "oci-archive:$dir.tar" >"$dir.config"
}

ctx=$tmp/ctx
mkdir -p "$ctx"
{
  echo "FROM $base"
  cat <<'DOCKERFILE'
ENV WHO=world
RUN <<SCRIPT
#!/bin/sh
echo "$0 $#" > /shebang
stat -c %a "$0" >> /shebang
touch /dev/pipes/x 2>/dev/null || echo read-only >> /shebang
SCRIPT
RUN <<-SCRIPT
	#!/bin/sh -e
	echo "chomped $0" > /chomped
	SCRIPT
RUN <<EOF sh
echo "stdin $WHO" > /stdin
EOF
RUN cat <<EOF > /redirect
hello $WHO
EOF
RUN cat <<A > /two; cat <<'B' >> /two
one $WHO
A
two $WHO
B
RUN <<EOF
echo "plain $0" > /plain
EOF
DOCKERFILE
} >"$ctx/Dockerfile"

if oci_build "$tmp/h1" "$ctx"; then ok "a build with RUN heredocs"; else not_ok "a build with RUN heredocs"; fi
r=$tmp/h1/rootfs
check "a #! heredoc runs as the file /dev/pipes/NAME with no arguments" test "$(sed -n 1p "$r/shebang")" = "/dev/pipes/SCRIPT 0"
check "the #! file is 0755" test "$(sed -n 2p "$r/shebang")" = 755
check "/dev/pipes is read-only" test "$(sed -n 3p "$r/shebang")" = read-only
check "<<- strips the tabs before #! and runs the file" test "$(cat "$r/chomped")" = "chomped /dev/pipes/SCRIPT"
check "RUN <<EOF sh feeds the body to the program's stdin" test "$(cat "$r/stdin")" = "stdin world"
check "RUN cat <<EOF > FILE: the shell redirects and expands" test "$(cat "$r/redirect")" = "hello world"
printf 'one world\ntwo $WHO\n' >"$tmp/two.want"
check "two heredocs in one RUN; a quoted delimiter is not expanded" cmp "$tmp/two.want" "$r/two"
check "a lone heredoc without #! is the shell's command" test "$(cat "$r/plain")" = "plain /bin/sh"
check "no /dev/pipes in the image" test ! -e "$r/dev/pipes"
check "history records the #! step as BuildKit: RUN /bin/sh -c /dev/pipes/SCRIPT" \
  grep -q '"created_by": *"RUN /bin/sh -c /dev/pipes/SCRIPT # buildkit"' "$tmp/h1.config"
check "the progress shows the file's internal step" grep -q "preparing inline document" "$tmp/out"

if build -o type=cacheonly "$ctx" && [[ $(grep -c " CACHED" "$tmp/out") -ge 6 ]]; then ok "a rebuild is cached"; else not_ok "a rebuild is cached"; fi
sed -i 's|^echo "\$0 \$#" > /shebang$|echo "$0 $# changed" > /shebang|' "$ctx/Dockerfile"
if oci_build "$tmp/h2" "$ctx" && grep -q changed "$tmp/h2/rootfs/shebang"; then ok "a changed #! body reruns its step"; else not_ok "a changed #! body reruns its step"; fi

# a #! interpreter that does not exist fails the step with the file's name
printf 'FROM %s\nRUN <<EOF\n#!/no/such/interpreter\necho x\nEOF\n' "$base" >"$ctx/Dockerfile.bad"
build -o type=cacheonly -f "$ctx/Dockerfile.bad" "$ctx"
rc=$?
if [[ $rc -ne 0 ]] && grep -q '/dev/pipes/EOF' "$tmp/out"; then ok "a missing interpreter fails the step"; else not_ok "a missing interpreter fails the step (exit $rc)"; fi
check "no scratch left behind" bash -c "[[ -z \$(ls -A '$KILN_DATA_DIR/tmp' 2>/dev/null) ]]"

tap_end
