#!/usr/bin/env bash
# usage: tests/cli/test-builders.sh KILN
# kiln's builders as a user drives them: kiln login to a kilnd (recorded,
# or refused), kiln create/use/ls/rm/inspect, --builder, exit codes and
# messages. The kilnd is fake-kilnd.py (canned answers on loopback) until
# the end-to-end tests run these commands against kilnd itself. TAP output.
set -uo pipefail
kiln=${1:?usage: test-builders.sh KILN}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_CONFIG_HOME=$tmp/config KILN_DATA_DIR=$tmp/data
unset KILN_BUILDER BUILDX_BUILDER KILN_INSECURE_REGISTRIES KILN_CA_CERT
token=kiln_pat_0123456789ab_tokentokentokentokentokentokentokentoken123
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# start_fake NAME [--registry]: a fake kilnd; its host:port in $host.
start_fake() {
  local name=$1
  shift
  python3 "$here/fake-kilnd.py" "$tmp/$name.port" "$token" "$@" &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $tmp/$name.port ]] && break; sleep 0.05; done
  host=127.0.0.1:$(cat "$tmp/$name.port")
}

# run WANT DESC PATTERN CMD...: CMD exits WANT with PATTERN (if not empty) in its stdout+stderr.
run() {
  local want=$1 desc=$2 pattern=$3 status
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  if [[ $status -eq $want ]] && { [[ -z $pattern ]] || grep -qE -- "$pattern" "$tmp/out" "$tmp/err"; }; then
    ok "$desc"
  else
    not_ok "$desc: exit $status (want $want and /$pattern/)"
    sed 's/^/# /' "$tmp/out" "$tmp/err" | head -10
  fi
  cat "$tmp/out" "$tmp/err" >>"$tmp/all-output"
}

# login TOKEN SERVER [ARGS]: kiln login -u alice --password-stdin.
login() {
  local t=$1
  shift
  printf '%s\n' "$t" | "$kiln" login -u alice --password-stdin "$@" >"$tmp/out" 2>"$tmp/err"
}

# set_json FILE PYTHON: edits a JSON file (j is its content) in place.
set_json() {
  python3 -c "import json,sys,os
p=sys.argv[1]; j=json.load(open(p)) if os.path.exists(p) else {}
$2
json.dump(j, open(p,'w'))" "$1"
}

builders=$tmp/config/kiln/builders.json
creds=$tmp/config/kiln/credentials.json
start_fake kilnd
kilnd=$host
start_fake registry --registry
registry=$host

# --- help and usage ---
for c in create use ls rm inspect; do
  run 0 "kiln $c --help" "Usage:  kiln $c" "$kiln" "$c" --help
done
run 2 "create: no ACCOUNT/NAME is exit 2" "name the cloud builder" "$kiln" create --driver cloud
run 2 "create: a bad ACCOUNT/NAME is exit 2" "invalid cloud builder 'acme'" "$kiln" create acme
run 2 "create: ../ is no builder" "invalid cloud builder" "$kiln" create acme/..
run 2 "create: another driver is exit 2" "unsupported driver 'docker-container'" \
  "$kiln" create --driver docker-container acme/app
run 2 "create: an unknown flag is exit 2" "unknown flag: --bootstrap" "$kiln" create --bootstrap acme/app
run 2 "create: --name without a value is exit 2" "flag needs an argument: --name" "$kiln" create acme/app --name
run 2 "create: a bad --name is exit 2" "invalid builder name '9x'" "$kiln" create acme/app --name 9x
run 2 "use: no name is exit 2" "name the builder" "$kiln" use
run 2 "ls: takes no argument" "takes no arguments" "$kiln" ls x
run 2 "rm: one name only" "takes one builder name" "$kiln" rm a b

# --- before any login ---
run 0 "ls: a fresh config has default*, local, running" \
  '^default\*   +local' "$kiln" ls
if grep -qE '^NAME/NODE +DRIVER/ENDPOINT +STATUS +PLATFORMS$' "$tmp/out" &&
  grep -qE '^ \\_ default +\\_ local +running +linux/' "$tmp/out"; then
  ok "ls: buildx's columns and node row"
else
  not_ok "ls: buildx's columns and node row"
  sed 's/^/# /' "$tmp/out"
fi
run 1 "create before login says to log in" "kiln login SERVER first" "$kiln" create acme/app
run 1 "create --endpoint before login: not logged in" "not logged in to $kilnd: kiln login $kilnd" \
  "$kiln" create acme/app --endpoint "$kilnd"

# --- kiln login ---
login kiln_pat_wrong "$kilnd"
status=$?
if [[ $status -eq 1 ]] && grep -q "login to $kilnd failed: the server refused the token" "$tmp/err" &&
  ! grep -qs "$kilnd" "$creds"; then
  ok "login: a token kilnd refuses is exit 1 and is not stored"
else
  not_ok "login: refused token (exit $status)"
  sed 's/^/# /' "$tmp/out" "$tmp/err"
fi
login "$token" "$kilnd"
status=$?
if [[ $status -eq 0 ]] && grep -q "Login Succeeded" "$tmp/out" &&
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j['servers']['$kilnd']['endpoint']=='http://$kilnd' else 1)" "$builders" &&
  [[ $(stat -c %a "$builders") == 600 ]]; then
  ok "login to a kilnd records it in builders.json (0600)"
else
  not_ok "login to a kilnd (exit $status)"
  sed 's/^/# /' "$tmp/out" "$tmp/err" "$builders"
fi
login "$token" "$registry"
status=$?
if [[ $status -eq 0 ]] && ! grep -q "$registry" "$builders" && grep -q "$registry" "$creds"; then
  ok "login to a registry that refuses everything keeps today's behaviour (stored, not a kilnd)"
else
  not_ok "login to a registry (exit $status)"
  sed 's/^/# /' "$tmp/out" "$tmp/err"
fi
login "$token" 127.0.0.1:9
status=$?
if [[ $status -eq 0 ]] && grep -q "Login Succeeded" "$tmp/out" && ! grep -q "127.0.0.1:9\"" "$builders"; then
  ok "login to a server that does not answer stores the credentials, as before"
else
  not_ok "login to nothing (exit $status)"
  sed 's/^/# /' "$tmp/out" "$tmp/err"
fi

# --- kiln create ---
run 0 "create prints buildx's default name" '^cloud-acme-app$' "$kiln" create --driver cloud acme/app
run 1 "create: the name is taken" "a builder named cloud-acme-app exists: kiln rm cloud-acme-app first" \
  "$kiln" create acme/app
run 1 "create: 403 gives the server's message as it is" \
  "^kiln create: the token lacks scope 'cloud-connect' for account 'other'$" \
  "$kiln" create other/app --name o
run 1 "create: 404 gives the server's message" "no route /v1/builders/acme/nope" \
  "$kiln" create acme/nope --name n
if ! grep -q '"o"\|"n"' "$builders"; then ok "refused builders are not stored"; else not_ok "refused builders stored"; fi
run 0 "create --name --use --endpoint" '^cur$' "$kiln" create acme/app --name=cur --use --endpoint "http://$kilnd"
run 0 "ls marks the current builder and asks its server" '^cur\* +cloud' "$kiln" ls
if grep -qE "^ \\\\_ acme/app +\\\\_ http://$kilnd +running +linux/amd64, linux/arm64$" "$tmp/out" &&
  grep -qE '^cloud-acme-app +cloud' "$tmp/out" && grep -qE '^default +local' "$tmp/out"; then
  ok "ls: a cloud builder's node: ACCOUNT/NAME, endpoint, running, platforms"
else
  not_ok "ls: cloud node row"
  sed 's/^/# /' "$tmp/out"
fi

# --- kiln inspect ---
run 0 "inspect (the current builder)" '^Name: +cur$' "$kiln" inspect
if grep -qE '^Driver: +cloud$' "$tmp/out" && grep -qE "^Endpoint: +http://$kilnd$" "$tmp/out" &&
  grep -qE '^Builder: +acme/app$' "$tmp/out" && grep -qE '^Status: +running$' "$tmp/out" &&
  grep -qE '^Platforms: +linux/amd64, linux/arm64$' "$tmp/out" &&
  grep -qE '^Timeout: +1h30m0s$' "$tmp/out" && grep -qE '^Concurrency: +2$' "$tmp/out" &&
  grep -qE '^Entitlements: +none$' "$tmp/out"; then
  ok "inspect: driver, endpoint, builder, status, platforms, timeout, concurrency, entitlements"
else
  not_ok "inspect fields"
  sed 's/^/# /' "$tmp/out"
fi
run 0 "inspect default: local, running" '^Driver: +local$' "$kiln" inspect default
run 0 "inspect: \$BUILDX_BUILDER picks the builder" '^Name: +cloud-acme-app$' \
  env BUILDX_BUILDER=cloud-acme-app "$kiln" inspect
run 0 "inspect: \$KILN_BUILDER wins over \$BUILDX_BUILDER" '^Name: +default$' \
  env BUILDX_BUILDER=cloud-acme-app KILN_BUILDER=default "$kiln" inspect
run 1 "inspect: an unknown builder" "no builder named nope: kiln ls lists them" "$kiln" inspect nope
run 1 "inspect: an unknown \$KILN_BUILDER" "no builder named gone: kiln ls lists them" \
  env KILN_BUILDER=gone "$kiln" inspect

# --- statuses: token refused, not logged in, unreachable, slow ---
set_json "$builders" "j['builders'].update({
  'dead': {'driver':'cloud','endpoint':'http://127.0.0.1:9','builder':'acme/app'},
  'nologin': {'driver':'cloud','endpoint':'http://127.0.0.2:9','builder':'acme/app'},
  'slow': {'driver':'cloud','endpoint':'http://$kilnd','builder':'acme/slow'}})"
start=$(date +%s)
run 0 "ls: unreachable, not logged in" 'unreachable' "$kiln" ls
elapsed=$(($(date +%s) - start))
if grep -qE '^ \\_ acme/app +\\_ http://127.0.0.2:9 +not logged in' "$tmp/out" &&
  grep -qE '^ \\_ acme/slow +\\_ http://127.0.0.1:[0-9]+ +unreachable' "$tmp/out" && ((elapsed < 6)); then
  ok "ls: a slow server is unreachable after 3 s (ls took ${elapsed}s)"
else
  not_ok "ls statuses (took ${elapsed}s)"
  sed 's/^/# /' "$tmp/out"
fi
set_json "$creds" "j['auths']['$kilnd']['password']='kiln_pat_revoked'"
run 0 "ls: a refused token" "acme/app +.*http://$kilnd +token refused" "$kiln" ls
run 1 "inspect: a refused token says to log in again" \
  "the token for $kilnd was refused \(wrong, expired or revoked\): kiln login $kilnd again" \
  "$kiln" inspect cur
grep -qE '^Status: +token refused$' "$tmp/out" && ok "inspect: Status token refused" ||
  not_ok "inspect: Status token refused"
run 1 "create: a refused token says to log in again" "kiln login $kilnd again" \
  "$kiln" create acme/app --name again

# --- kiln use, kiln rm ---
run 1 "use: an unknown builder" "no builder named nope: kiln ls lists them" "$kiln" use nope
run 0 "use cloud-acme-app" '' "$kiln" use cloud-acme-app
grep -q '"current": "cloud-acme-app"' "$builders" && ok "use sets current" || not_ok "use sets current"
run 1 "rm default is refused" "cannot be removed" "$kiln" rm default
run 1 "rm: an unknown builder" "no builder named nope" "$kiln" rm nope
run 0 "rm (the current one) says it is removed" '^cloud-acme-app removed$' "$kiln" rm
run 0 "after rm of the current one, default is current" '^default\* ' "$kiln" ls
run 0 "use default" '' "$kiln" use default

# --- kiln build --builder ---
mkdir -p "$tmp/ctx" && printf 'FROM scratch\n' >"$tmp/ctx/Dockerfile"
run 0 "build --builder is parsed" '"builder_name": "cur"' "$kiln" build --dry-run-request --builder cur "$tmp/ctx"
run 2 "build --builder needs a value" "flag needs an argument: --builder" "$kiln" build --dry-run-request "$tmp/ctx" --builder

# --- secrets ---
if grep -q "$token" "$tmp/all-output"; then not_ok "the token appears in some output"; else ok "the token never appears in any output"; fi

echo "1..$n"
exit $((failed > 0))
