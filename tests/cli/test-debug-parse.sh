#!/usr/bin/env bash
# usage: tests/cli/test-debug-parse.sh KILN
# `kiln debug parse` as a user runs it: every golden Dockerfile of BuildKit's
# parser tests prints exactly its `result`; every negative case and every
# hostile input exits 1 with a message on stderr, fast, without a crash.
set -uo pipefail
kiln=${1:?usage: test-debug-parse.sh KILN}
data=${KILN_CONFORMANCE_DIR:?}/dockerfile-parser
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

for dir in "$data"/testfiles/*/; do
  name=$(basename "$dir")
  if "$kiln" debug parse "$dir/Dockerfile" >"$tmp/out" 2>"$tmp/err" && cmp -s "$tmp/out" "$dir/result"; then
    ok "golden $name"
  else
    not_ok "golden $name"
    diff "$dir/result" "$tmp/out" | head -20 | sed 's/^/# /'
    sed 's/^/# stderr: /' "$tmp/err"
  fi
done

# expect_error NAME FILE PATTERN: exit status 1, stderr matching PATTERN, within 20 s.
expect_error() {
  local name=$1 file=$2 pattern=$3 status
  timeout 20 "$kiln" debug parse "$file" >/dev/null 2>"$tmp/err"
  status=$?
  if [[ $status -eq 1 ]] && grep -qE -- "$pattern" "$tmp/err"; then
    ok "$name: exit 1, $(head -c 160 "$tmp/err")"
  else
    not_ok "$name: exit $status (want 1 and /$pattern/)"
    head -c 400 "$tmp/err" | sed 's/^/# stderr: /'
  fi
}

for dir in "$data"/testfiles-negative/*/; do
  expect_error "negative $(basename "$dir")" "$dir/Dockerfile" '.'
done

: >"$tmp/empty"
expect_error "empty file" "$tmp/empty" 'empty:[0-9]+: file with no instructions'
head -c 4096 /dev/urandom >"$tmp/binary"
printf 'FROM a\n\0\1\2' >>"$tmp/binary"
expect_error "binary file" "$tmp/binary" 'binary file'
head -c 100000000 /dev/zero | tr '\0' 'a' >"$tmp/huge"
expect_error "100 MB file" "$tmp/huge" 'larger than a Dockerfile may be \(at most 32 MiB\)'
{ printf 'FROM a\nRUN '; head -c 1048576 /dev/zero | tr '\0' 'x'; echo; } >"$tmp/longline"
expect_error "1 MB line" "$tmp/longline" ':2: dockerfile line greater than max allowed size of 65535'
printf 'FROM a\nRUN <<EOF\necho hi\n' >"$tmp/heredoc"
expect_error "unterminated heredoc" "$tmp/heredoc" ':2: unterminated heredoc'
printf 'FROM a\nCMD ["a", 1]\n' >"$tmp/nested-json"
expect_error "JSON array of non-strings" "$tmp/nested-json" ':2: .*strings only'

# Inputs that are valid but stress the parser: they must parse, quickly.
{ echo 'FROM a'; echo 'RUN a \'; for _ in $(seq 10000); do echo '  b \'; done; echo 'c'; } >"$tmp/cont"
if timeout 20 "$kiln" debug parse "$tmp/cont" >"$tmp/out" 2>"$tmp/err" && [[ $(wc -l <"$tmp/out") -eq 2 ]]; then
  ok "10,000 continuation lines make one instruction"
else
  not_ok "10,000 continuation lines"
fi
{ echo 'FROM a'; printf 'ENV A='; for _ in $(seq 5000); do printf '${'; done; printf 'X'; for _ in $(seq 5000); do printf '}'; done; echo; } >"$tmp/nested"
if timeout 20 "$kiln" debug parse "$tmp/nested" >/dev/null 2>"$tmp/err"; then
  ok "deeply nested \${...} parses (expansion happens later)"
else
  not_ok "deeply nested \${...}: $(head -c 200 "$tmp/err")"
fi

timeout 20 "$kiln" debug parse >/dev/null 2>&1
st=$?
if [[ $st -eq 2 ]]; then ok "missing FILE is a usage error (exit 2)"; else not_ok "missing FILE: exit $st"; fi
timeout 20 "$kiln" debug parse "$tmp/does-not-exist" >/dev/null 2>"$tmp/err"
st=$?
if [[ $st -eq 1 ]] && grep -q 'No such file' "$tmp/err"; then ok "missing file: exit 1, $(cat "$tmp/err")"; else not_ok "missing file: exit $st"; fi
printf 'FROM a\nRUN x\n' | "$kiln" debug parse - >"$tmp/out" 2>&1
if [[ $(cat "$tmp/out") == $'(from "a")\n(run "x")' ]]; then ok "reads standard input with -"; else not_ok "stdin: $(cat "$tmp/out")"; fi

echo "1..$n"
echo "# cli debug-parse: $((n - failed)) passed, $failed failed, 0 skipped"
[[ $failed -eq 0 ]]
