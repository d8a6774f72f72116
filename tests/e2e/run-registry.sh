#!/usr/bin/env bash
# usage: tests/e2e/run-registry.sh PROGRAM [ARGS...]
# Starts two real registries (Debian's docker-registry, CNCF distribution) on
# free loopback ports with their storage in a temporary directory: one open,
# one behind htpasswd Basic auth. Runs PROGRAM (a TAP producer) with
#   KILN_TEST_REGISTRY=127.0.0.1:PORT        the open one
#   KILN_TEST_AUTH_REGISTRY=127.0.0.1:PORT   the one with Basic auth
#   KILN_TEST_TOKEN_REGISTRY=127.0.0.1:PORT  one with Bearer tokens from token-server.py
#   KILN_TEST_USER / KILN_TEST_PASSWORD      the account of both
# and always stops the registries and the token server and removes the
# directory at the end.
set -uo pipefail
prog=${1:?usage: run-registry.sh PROGRAM [ARGS...]}
shift
skip() {
  echo "1..0 # SKIP $*"
  exit 0
}
registry=$(command -v docker-registry) || skip "docker-registry is not installed"
htpasswd=$(command -v htpasswd) || skip "htpasswd (apache2-utils) is not installed"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Four distinct free ports (all held while asked for, so they differ).
free_ports() {
  /usr/bin/python3 -c 'import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
}

# start NAME PORT [AUTH_YAML]: one registry with its config and storage under $tmp/NAME.
start() {
  local name=$1 port=$2 auth=${3:-}
  mkdir -p "$tmp/$name/data"
  cat >"$tmp/$name/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/$name/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
YAML
  "$registry" serve "$tmp/$name/config.yml" >"$tmp/$name/log" 2>&1 &
  pids+=($!)
}

# wait_up PORT: until /v2/ answers (200 or 401), at most 15 s.
wait_up() {
  local port=$1 code
  for _ in $(seq 150); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/v2/")
    [[ $code == 200 || $code == 401 ]] && return 0
    sleep 0.1
  done
  sed 's/^/# /' "$tmp"/*/log
  skip "the registry on port $port did not start"
}

user=kiln-e2e
password="pw-$RANDOM$RANDOM"
"$htpasswd" -Bbn "$user" "$password" >"$tmp/htpasswd" 2>/dev/null

read -r open_port auth_port token_reg_port token_port < <(free_ports)
start open "$open_port"
start auth "$auth_port" "auth:
  htpasswd:
    realm: kiln-e2e
    path: $tmp/htpasswd"

# The token server signs with a throwaway key whose certificate the registry trusts.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/token.key" -out "$tmp/token.pem" \
  -days 2 -subj /CN=kiln-e2e-token >/dev/null 2>&1 ||
  skip "openssl cannot make a certificate"
/usr/bin/python3 "$(dirname "$0")/token-server.py" "$token_port" "$tmp/token.key" \
  "$tmp/token.pem" kiln-e2e "$user" "$password" 2>"$tmp/token-server.log" &
pids+=($!)
start token "$token_reg_port" "auth:
  token:
    realm: http://127.0.0.1:$token_port/token
    service: kiln-e2e
    issuer: kiln-e2e-issuer
    rootcertbundle: $tmp/token.pem"
wait_up "$open_port"
wait_up "$auth_port"
wait_up "$token_reg_port"

KILN_TEST_REGISTRY=127.0.0.1:$open_port \
KILN_TEST_REGISTRY_DATA=$tmp/open/data \
KILN_TEST_AUTH_REGISTRY=127.0.0.1:$auth_port \
KILN_TEST_TOKEN_REGISTRY=127.0.0.1:$token_reg_port \
KILN_TEST_USER=$user \
KILN_TEST_PASSWORD=$password \
TMPDIR=$tmp \
  timeout 240 "$prog" "$@"
status=$?
if ((status != 0)); then
  tail -n 8 "$tmp"/*/log | cut -c1-300 | sed 's/^/# registry log: /'
fi
exit $status
