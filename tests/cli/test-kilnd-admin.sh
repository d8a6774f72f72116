#!/usr/bin/env bash
# usage: tests/cli/test-kilnd-admin.sh KILND
# `kilnd admin` as an administrator runs it, on a fresh data directory:
# every command, its --help, bad input (exit 2), failures (exit 1), the
# token printed once on the last line of stdout and nowhere else, the
# database private (0600), and commands that work while another process
# holds the database open or writes to it.
set -uo pipefail
kilnd=${1:?usage: test-kilnd-admin.sh KILND}
tmp=$(mktemp -d)
holder=
trap '[[ -n $holder ]] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
data=$tmp/data
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# run WANT_STATUS ARGS...: runs kilnd admin --data DATA ARGS, stdout in $tmp/out, stderr in $tmp/err.
run() {
  local want=$1 status
  shift
  timeout 30 "$kilnd" admin --data "$data" "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
  if [[ $status -eq $want ]]; then
    return 0
  fi
  echo "# kilnd admin $*: exit $status, want $want"
  sed 's/^/# stdout: /' "$tmp/out" | head -5
  sed 's/^/# stderr: /' "$tmp/err" | head -5
  return 1
}

# check NAME WANT_STATUS PATTERN ARGS...: exit status and PATTERN in stdout+stderr.
check() {
  local name=$1 want=$2 pattern=$3
  shift 3
  if run "$want" "$@" && grep -qE -- "$pattern" "$tmp/out" "$tmp/err"; then
    ok "$name"
  else
    not_ok "$name (want /$pattern/)"
    cat "$tmp/out" "$tmp/err" | head -5 | sed 's/^/# /'
  fi
}

check "org create" 0 "created organisation acme" org create acme
check "user create" 0 "created user alice" user create alice
check "user create bob" 0 "created user bob" user create bob
mode=$(stat -c %a "$data/kilnd.db")
[[ $mode == 600 ]] && ok "kilnd.db is mode 600" || not_ok "kilnd.db is mode $mode"
dmode=$(stat -c %a "$data")
[[ $dmode == 700 ]] && ok "the data directory is mode 700" || not_ok "data directory mode $dmode"
check "a name is either a user or an organisation" 1 "the name 'acme' is taken by an organisation" user create acme
check "bad account name" 2 "invalid name 'Acme'" org create Acme
check "add-member" 0 "added alice to acme" org add-member acme alice
check "add-member twice" 1 "'alice' is already a member of 'acme'" org add-member acme alice
check "add-member of a user" 2 "'alice' is a user, not an organisation" org add-member alice bob
check "add-member unknown" 1 "no user or organisation 'carol'" org add-member acme carol

check "builder create defaults" 0 "acme/main +1h30m0s +linux/amd64,linux/arm64 +4 +20GB" builder create acme/main
check "builder create options" 0 "acme/small +20s +linux/arm64 +2 +500MiB|acme/small +20s +linux/arm64 +2 +524.3MB" \
  builder create acme/small --timeout 20s --platforms linux/aarch64 --concurrency 2 --cache-max 500MiB
check "builder create options after =" 0 "acme/long +2h30m0s" builder create --timeout=150m acme/long
check "builder exists" 1 "builder 'acme/main' exists already" builder create acme/main
check "builder of no account" 1 "no user or organisation 'ghost'" builder create ghost/main
check "builder bad name" 2 "invalid builder name '-x'" builder create acme/-x
check "builder no slash" 2 "write it ACCOUNT/NAME" builder create acme
check "builder bad timeout" 2 "invalid --timeout '90'" builder create acme/x --timeout 90
check "builder bad size" 2 "invalid --cache-max 'lots'" builder create acme/x --cache-max lots
check "builder bad concurrency" 2 "invalid --concurrency '0'" builder create acme/x --concurrency 0
check "builder bad platform" 2 "invalid platform 'linux'" builder create acme/x --platforms linux
check "builder unknown option" 2 "unknown option '--memory'" builder create acme/x --memory 1G
check "builder option without value" 2 "option '--timeout' needs a value" builder create acme/x --timeout
if run 0 builder ls acme && [[ $(head -1 "$tmp/out") =~ ^NAME\ +TIMEOUT\ +PLATFORMS\ +CONCURRENCY\ +CACHE\ MAX\ +ALLOW$ ]] &&
  [[ $(sed 1d "$tmp/out" | awk '{print $1}' | tr '\n' ' ') == "acme/long acme/main acme/small " ]]; then
  ok "builder ls ACCOUNT: header and rows sorted"
else
  not_ok "builder ls ACCOUNT"
  sed 's/^/# /' "$tmp/out"
fi
check "builder ls of all" 0 "acme/small" builder ls

# The network.host entitlement: off by default, granted and withdrawn per builder.
check "builder grants nothing by default" 0 "^acme/main .* 20GB +-$" builder ls acme
check "builder create --allow network.host" 0 "^acme/open .* network.host$" builder create acme/open --allow network.host
check "builder set --allow network.host" 0 "^acme/main .* network.host$" builder set acme/main --allow network.host
check "builder ls shows the grant" 0 "^acme/main .* network.host$" builder ls acme
check "builder set --deny network.host" 0 "^acme/main .* -$" builder set acme/main --deny network.host
check "builder set keeps what is not given" 0 "^acme/small +20s +linux/arm64 +3 .* -$" builder set acme/small --concurrency 3
check "builder set of no builder" 1 "no builder 'acme/ghost'" builder set acme/ghost --allow network.host
check "builder unknown entitlement" 2 "invalid --allow 'security.insecure': the entitlement a builder grants is network.host" \
  builder set acme/main --allow security.insecure
check "builder --allow and --deny" 2 "--allow and --deny together" builder set acme/main --allow network.host --deny network.host
check "builder create has no --deny" 2 "unknown option '--deny'" builder create acme/x --deny network.host
check "builder set --help" 0 "--deny network.host" builder set --help
check "builder rm acme/open" 0 "removed builder acme/open" builder rm acme/open

# A data directory of the schema before the grant: migrated, its builders grant nothing.
old=$tmp/old-data
mkdir -m 700 "$old"
python3 - "$old/kilnd.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
CREATE TABLE accounts (name TEXT PRIMARY KEY, kind TEXT NOT NULL, created INTEGER NOT NULL) STRICT;
CREATE TABLE members (org TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (org, user)) STRICT;
CREATE TABLE builders (account TEXT NOT NULL, name TEXT NOT NULL,
  timeout_s INTEGER NOT NULL DEFAULT 5400, platforms TEXT NOT NULL DEFAULT 'linux/amd64,linux/arm64',
  concurrency INTEGER NOT NULL DEFAULT 4, cache_max INTEGER NOT NULL DEFAULT 20000000000,
  created INTEGER NOT NULL, PRIMARY KEY (account, name)) STRICT;
INSERT INTO accounts VALUES ('acme', 'org', 0);
INSERT INTO builders (account, name, created) VALUES ('acme', 'old', 0);
PRAGMA user_version = 1;
""")
db.commit()
PY
chmod 600 "$old/kilnd.db"
if timeout 30 "$kilnd" admin --data "$old" builder ls >"$tmp/out" 2>"$tmp/err" && grep -qE "^acme/old .* -$" "$tmp/out" &&
  timeout 30 "$kilnd" admin --data "$old" builder set acme/old --allow network.host >"$tmp/out" 2>"$tmp/err" &&
  grep -qE "^acme/old .* network.host$" "$tmp/out"; then
  ok "a data directory of the previous schema is migrated: its builders grant nothing until set"
else
  not_ok "migration of a previous schema's builders"
  cat "$tmp/out" "$tmp/err" | head -5 | sed 's/^/# /'
fi
check "builder rm" 0 "removed builder acme/long" builder rm acme/long
check "builder rm again" 1 "no builder 'acme/long'" builder rm acme/long
python3 - "$data/kilnd.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO builds (id, builder, state) VALUES ('b1', 'acme/small', 'queued')")
db.commit()
PY
check "builder rm with a build queued" 1 "builder 'acme/small' has 1 builds in progress" builder rm acme/small

# Tokens: the secret alone on the last line of stdout, once.
if run 0 token create acme --scope cloud-connect,'repo:acme/*:push' --expires 30d --description "ci bot"; then
  token=$(tail -1 "$tmp/out")
  if [[ $token =~ ^kiln_oat_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$ ]]; then
    ok "token create prints an organisation token on the last line"
    oat_id=${BASH_REMATCH[1]}
  else
    not_ok "token create: last line '$token'"
    oat_id=none
  fi
  if [[ $(grep -c kiln_ "$tmp/out") -eq 1 ]] && ! grep -q kiln_ "$tmp/err"; then
    ok "the token appears once, nowhere else"
  else
    not_ok "the token appears more than once"
  fi
  if grep -q "^id: *$oat_id$" "$tmp/out" && grep -q "^owner: *acme (organisation token)" "$tmp/out" &&
    grep -q "^scopes: *cloud-connect,repo:acme/\*:push$" "$tmp/out" && grep -qE "^expires: *[0-9]{4}-" "$tmp/out"; then
    ok "token create describes what it made"
  else
    not_ok "token create's description"
    sed 's/^/# /' "$tmp/out" | head -6
  fi
  secret=${token:22} # after kiln_oat_ID_
  if ! grep -rqF -- "${secret:0:20}" "$data"; then
    ok "the data directory does not hold the token"
  else
    not_ok "the token is stored in the data directory"
  fi
else
  not_ok "token create"
  oat_id=none
  secret=none
fi
check "personal token" 0 "^kiln_pat_" token create alice --scope cloud-connect
check "token bad scope is a usage error" 2 "invalid scope 'repo:acme:delete'" token create acme --scope repo:acme:delete
check "token needs a scope" 2 "needs --scope" token create acme
check "token bad expiry" 2 "invalid --expires 'soon'" token create acme --scope cloud-connect --expires soon
check "token of no one" 1 "no user or organisation 'nobody'" token create nobody --scope cloud-connect
if run 0 token ls acme && grep -q "$oat_id" "$tmp/out" && ! grep -qF -- "${secret:0:20}" "$tmp/out" &&
  ! grep -q kiln_oat_ "$tmp/out" && grep -q active "$tmp/out" && grep -q "ci bot" "$tmp/out"; then
  ok "token ls lists the token, never the secret"
else
  not_ok "token ls"
  sed 's/^/# /' "$tmp/out"
fi
check "token revoke" 0 "revoked token $oat_id" token revoke "$oat_id"
check "token ls shows revoked" 0 "$oat_id .*revoked" token ls acme
check "token revoke unknown" 1 "no token '000000000000'" token revoke 000000000000

check "repo set-public" 0 "acme/app is public" repo set-public acme/app
check "repo set-private" 0 "acme/app is private" repo set-private acme/app
check "repo bad name" 2 "invalid repository 'Acme/App'" repo set-public Acme/App

# Help and usage.
for cmd in org user builder token repo; do
  check "$cmd --help" 0 "^usage: kilnd admin \[--data DIR\] $cmd " "$cmd" --help
done
check "builder create --help" 0 "--cache-max SIZE" builder create --help
check "token create --help" 0 "repo:public-read" token create --help
check "admin --help" 0 "Commands:" --help
check "unknown command" 2 "unknown command 'frobnicate'" frobnicate
check "unknown verb" 2 "unknown command 'org delete'" org delete acme
check "too many arguments" 2 "org create takes fewer arguments" org create a b
check "too few arguments" 2 "org add-member takes more arguments" org add-member acme
if KILND_DATA=$data timeout 30 "$kilnd" admin builder ls >"$tmp/out" 2>&1 && grep -q acme/main "$tmp/out"; then
  ok "KILND_DATA names the data directory"
else
  not_ok "KILND_DATA"
fi

# Another process holds the database open with a read transaction: commands still work.
python3 - "$data/kilnd.db" "$tmp/ready" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM accounts").fetchall()
open(sys.argv[2], "w").close()
time.sleep(30)
PY
holder=$!
for _ in $(seq 100); do [[ -e $tmp/ready ]] && break; sleep 0.1; done
check "works while another process reads" 0 "created user reader" user create reader
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=

# Another process writes for 2 s: the command waits for it, then succeeds.
rm -f "$tmp/ready"
python3 - "$data/kilnd.db" "$tmp/ready" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE accounts SET created = created")
open(sys.argv[2], "w").close()
time.sleep(2)
db.execute("COMMIT")
PY
holder=$!
for _ in $(seq 100); do [[ -e $tmp/ready ]] && break; sleep 0.1; done
start=$(date +%s%N)
check "waits for another process's write" 0 "created user writer" user create writer
elapsed=$((($(date +%s%N) - start) / 1000000))
echo "# waited ${elapsed} ms for the other writer"
wait "$holder" 2>/dev/null
holder=

echo "1..$n"
[[ $failed -eq 0 ]]
