#!/usr/bin/env bash
# usage: tests/e2e/cloud-e2e.sh KILN KILND   (run through run-registry.sh)
# The build cloud end to end on loopback: kilnd with its admin commands,
# kiln's CI flow (token on stdin, login, create, cache-only build, push),
# tokens refused, the queue, the time limit, clients and kilnd killed
# mid-build, eight clients at once, and hostile API input. TAP output.
set -uo pipefail
kiln=${1:?usage: cloud-e2e.sh KILN KILND}
kilnd=${2:?usage: cloud-e2e.sh KILN KILND}
here=$(cd "$(dirname "$0")" && pwd)
reg=${KILN_TEST_REGISTRY:?run through run-registry.sh}
areg=${KILN_TEST_AUTH_REGISTRY:?run through run-registry.sh}

. "$here/tap.sh"
[[ $(id -u) -eq 0 ]] || skip_all "builds need root (overlay mounts)"
command -v runc >/dev/null || skip_all "runc is not installed"

tmp=$(mktemp -d)
kpid=
cleanup() {
  [[ -n $kpid ]] && kill -9 "$kpid" 2>/dev/null
  pkill -9 -f "$kilnd worker $tmp" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
try() { # try DESC CMD...: ok when CMD succeeds; its output in $tmp/out for has()
  local desc=$1; shift
  if "$@" >"$tmp/out" 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}
refute() { # refute DESC CMD...: the command fails
  local desc=$1; shift
  if "$@" >"$tmp/out" 2>&1; then not_ok "$desc"; else ok "$desc"; fi
}
has() { grep -q -- "$1" "$tmp/out"; }

data=$tmp/kilnd
admin() { "$kilnd" admin --data "$data" "$@"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=127.0.0.1:$port
start_kilnd() {
  KILND_UPLOAD_IDLE=${upload_idle:-1h} "$kilnd" serve --data "$data" --listen "$server" --drain-timeout 5s >>"$tmp/kilnd.log" 2>&1 &
  kpid=$!
  for _ in $(seq 100); do
    curl -fs "http://$server/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
engine=${DOCKER_HOST:-unix:///var/run/docker.sock} # the caller's Docker engine, for --load
export XDG_CONFIG_HOME=$tmp/config DOCKER_HOST=unix://$tmp/no-docker.sock KILN_DATA_DIR=$tmp/local
unset KILN_BUILDER BUILDX_BUILDER

# --- the admin's part -----------------------------------------------------------
admin org create acme >/dev/null && admin user create alice >/dev/null &&
  admin org add-member acme alice >/dev/null &&
  admin builder create acme/ci --concurrency 4 >/dev/null &&
  admin builder create acme/short --timeout 4s >/dev/null &&
  admin builder create acme/one --concurrency 1 >/dev/null &&
  admin org create other >/dev/null && admin builder create other/ci >/dev/null
try "kilnd admin creates an org, a user, builders" admin builder ls
token=$(admin token create acme --scope "cloud-connect,repo:acme/*:push" --description ci | tail -n1)
try "the token is printed alone on the last line" test "${token#kiln_}" != "$token"
noconnect=$(admin token create acme --scope repo:public-read | tail -n1)
revoked=$(admin token create acme --scope cloud-connect | tail -n1)
expiring=$(admin token create acme --scope cloud-connect --expires 2s | tail -n1)
otheruser=$(admin token create other --scope cloud-connect | tail -n1)
if start_kilnd; then ok "kilnd serves /healthz"; else not_ok "kilnd serves /healthz"; cat "$tmp/kilnd.log"; exit 1; fi

# --- the CI flow -----------------------------------------------------------------
base=$reg/kiln-test/busybox:1
bash "$here/make-base-image.sh" "$tmp/base" "$base" >/dev/null 2>&1 || skip_all "cannot make the base image"
ctx=$tmp/ctx
mkdir -p "$ctx/src"
head -c 5000000 /dev/urandom >"$ctx/src/blob.bin"
echo hello >"$ctx/hello.txt"
printf 'ignored.txt\n' >"$ctx/.dockerignore"
echo no >"$ctx/ignored.txt"
cat >"$ctx/Dockerfile" <<EOF
FROM $base
COPY hello.txt /hello.txt
COPY src/ /src/
RUN cat /hello.txt > /from-run && test ! -e /ignored.txt
EOF
try "kiln login with the token on stdin" sh -c "echo '$token' | '$kiln' login -u acme --password-stdin $server"
try "kiln create --driver cloud acme/ci --use" "$kiln" create --driver cloud acme/ci --use
try "kiln ls lists the cloud builder" sh -c "'$kiln' ls | grep -q acme/ci"
try "a cache-only build (a pull request)" "$kiln" build --progress=plain --output type=cacheonly "$ctx"
has "transferring context" && ok "progress shows the context transfer" || not_ok "progress shows the context transfer"
try "a push build" "$kiln" build --progress=plain --platform linux/amd64 -t "$reg/acme/app:1" --push \
  --metadata-file "$tmp/meta.json" "$ctx"
try "the pushed image is in the registry" skopeo inspect --tls-verify=false "docker://$reg/acme/app:1"
try "the metadata file has buildx's keys" python3 -c "
import json,sys; m=json.load(open('$tmp/meta.json'))
sys.exit(0 if m['containerimage.digest'].startswith('sha256:') and m['buildx.build.ref'] and 'mediaType' in m['containerimage.descriptor'] else 1)"
posts() { grep -c 'method=POST path=/v1/builders/acme/ci/builds ' "$tmp/kilnd.log"; }
n0=$(posts)
try "an unchanged context rebuilds" "$kiln" build --progress=plain --output type=cacheonly "$ctx"
last_in=$(grep 'method=POST path=/v1/builders/acme/ci/builds ' "$tmp/kilnd.log" | tail -n1 | sed -n 's/.* in=\([0-9]*\).*/\1/p')
if [[ $(($(posts) - n0)) -eq 1 && ${last_in:-99999} -lt 4096 ]]; then ok "...naming its index by digest: one request of $last_in bytes"; else not_ok "...naming its index by digest ($(($(posts) - n0)) requests, last $last_in bytes)"; fi
cp -r "$ctx" "$tmp/ctx2" && touch -d '2001-01-01' "$tmp/ctx2"/* "$tmp/ctx2/src"/*
before=$(curl -s "http://$server/metrics" | awk '/^kilnd_context_bytes_total/ {print $2}')
try "a fresh copy (new mtimes) of the context rebuilds" "$kiln" build --progress=plain -t "$reg/acme/app:1" --push "$tmp/ctx2"
after=$(curl -s "http://$server/metrics" | awk '/^kilnd_context_bytes_total/ {print $2}')
if [[ $((after - before)) -lt 1000000 ]]; then ok "...uploading under 1 MB of a 5 MB context ($((after - before)) bytes)"; else not_ok "...uploading under 1 MB ($((after - before)) bytes)"; fi
all_cached() { # every numbered step of the build output in $tmp/out was a cache hit
  awk '/^#[0-9]+ \[[0-9]/ { step[$1] = 1 } /^#[0-9]+ CACHED/ { hit[$1] = 1 }
       END { n = 0; for (s in step) { n++; if (!(s in hit)) exit 1 } exit n == 0 }' "$tmp/out"
}
if all_cached; then ok "...with every step CACHED"; else not_ok "...with every step CACHED"; fi
try "an OCI tar streams back" "$kiln" build --progress=quiet -o "type=oci,dest=$tmp/img.tar" "$ctx"
try "...and skopeo reads it" skopeo inspect "oci-archive:$tmp/img.tar"
try "type=local streams back into a directory" "$kiln" build --progress=quiet -o "type=local,dest=$tmp/out-local" "$ctx"
try "...holding the RUN's file" grep -qx hello "$tmp/out-local/from-run"
try "a tagged build with no output and no Docker engine says nothing was loaded" \
  sh -c "'$kiln' build --progress=quiet -t x/y:z '$ctx' 2>&1 | grep -q 'no local Docker engine'"
# --load into the caller's engine (DOCKER_HOST=unix://... or tcp://..., or /var/run/docker.sock)
if ! command -v docker >/dev/null || ! DOCKER_HOST=$engine docker info >/dev/null 2>&1; then
  skip "--load sends only the layers the engine lacks: no Docker engine answers (DOCKER_HOST)"
else
  mkdir -p "$tmp/ctx-load" && head -c 3000000 /dev/urandom >"$tmp/ctx-load/big.bin"
  printf 'FROM %s\nCOPY big.bin /big.bin\nRUN echo one > /one\n' "$base" >"$tmp/ctx-load/Dockerfile"
  DOCKER_HOST=$engine "$kiln" build --progress=quiet -t kiln-e2e/load:1 "$tmp/ctx-load" >"$tmp/out" 2>&1
  first=$(stat -c %s "$data/builds/$(ls -t "$data/builds" | head -n1)/output")
  sed -i 's/one/two/' "$tmp/ctx-load/Dockerfile"
  DOCKER_HOST=$engine "$kiln" build --progress=quiet -t kiln-e2e/load:1 "$tmp/ctx-load" >"$tmp/out" 2>&1
  second=$(stat -c %s "$data/builds/$(ls -t "$data/builds" | head -n1)/output")
  got=$(DOCKER_HOST=$engine docker run --rm --network=host kiln-e2e/load:1 sh -c 'cat /one; wc -c < /big.bin' 2>&1 | tr '\n' ' ')
  if [[ $first -gt 3000000 && $second -lt 100000 && $got == "two 3000000 " ]]; then
    ok "--load into $engine sends only the layers the engine lacks ($first then $second bytes) and the image runs"
  else
    not_ok "--load sends only the layers the engine lacks ($first then $second bytes; the image says '$got')"
  fi
  DOCKER_HOST=$engine docker image rm kiln-e2e/load:1 >/dev/null 2>&1 || true
fi
printf 'FROM %s\nRUN exit 3\n' "$base" >"$tmp/Dockerfile.fail"
refute "a failing RUN fails the build" "$kiln" build --progress=plain -f "$tmp/Dockerfile.fail" "$ctx"
has "exit code: 3" && ok "...with BuildKit's words" || not_ok "...with BuildKit's words"

# --- registry credentials travel with the build, in memory only -----------------
try "kiln login to a registry with Basic auth" sh -c "echo '$KILN_TEST_PASSWORD' | '$kiln' login -u '$KILN_TEST_USER' --password-stdin $areg"
try "a push to it through the builder" "$kiln" build --progress=plain -t "$areg/acme/app:1" --push "$ctx"
try "...is in that registry" skopeo inspect --tls-verify=false --creds "$KILN_TEST_USER:$KILN_TEST_PASSWORD" "docker://$areg/acme/app:1"
if grep -rqa -- "$KILN_TEST_PASSWORD" "$data" "$tmp/kilnd.log"; then not_ok "the password is nowhere in kilnd's data or log"; else ok "the password is nowhere in kilnd's data or log"; fi

# --- build secrets travel like credentials: memory only -------------------------------
printf 'kiln-e2e-secret-%s' "$RANDOM$RANDOM" >"$tmp/secret.txt"
printf 'FROM %s\nRUN --mount=type=secret,id=tok,required=true test "$(sha256sum </run/secrets/tok | cut -c1-64)" = %s\n' \
  "$base" "$(sha256sum <"$tmp/secret.txt" | cut -c1-64)" >"$tmp/Dockerfile.secret"
try "a RUN reads a --secret on the cloud builder" "$kiln" build --progress=plain -f "$tmp/Dockerfile.secret" \
  --secret "id=tok,src=$tmp/secret.txt" --output type=cacheonly "$ctx"
printf 'FROM %s\nRUN --mount=type=secret,id=tok,required=true cat /run/secrets/tok >/dev/null\n' "$base" >"$tmp/Dockerfile.secret2"
try "...and a build reading it" "$kiln" build --progress=plain -f "$tmp/Dockerfile.secret2" \
  --secret "id=tok,src=$tmp/secret.txt" -o "type=oci,dest=$tmp/secret.tar" "$ctx"
if grep -rqa -- "$(cat "$tmp/secret.txt")" "$data" "$tmp/kilnd.log" "$tmp/secret.tar"; then not_ok "...leaves it nowhere in kilnd's data, log or the image"; else ok "...leaves it nowhere in kilnd's data, log or the image"; fi
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/agent.sock"
refute "--ssh is refused by a cloud builder" "$kiln" build --progress=plain --ssh "default=$tmp/agent.sock" --output type=cacheonly "$ctx"
has "SSH agent" && ok "...saying why" || not_ok "...saying why"

# --- the network.host entitlement is the builder's to grant; the OCI runtime is kilnd's ----
printf 'FROM %s\nRUN --network=host true\n' "$base" >"$tmp/Dockerfile.nethost"
nethost() { "$kiln" build --progress=plain --no-cache --allow network.host -f "$tmp/Dockerfile.nethost" --output type=cacheonly "$ctx"; }
refute "--allow network.host is refused by a builder that does not grant it" nethost
has "builder acme/ci does not grant the network.host entitlement" && has "kilnd admin builder set acme/ci --allow network.host" &&
  ok "...naming the builder and the admin command that grants it" || not_ok "...naming the builder and the admin command that grants it"
code=$(curl -s -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"dockerfile": "FROM scratch", "request": {"allow_network_host": true}}' "http://$server/v1/builders/acme/ci/builds")
[[ $code == 403 ]] && ok "...with 403 from the build API" || not_ok "...with 403 from the build API (got $code)"
admin builder set acme/ci --allow network.host >/dev/null
try "the builder's description shows the grant" sh -c "curl -s -H 'Authorization: Bearer $token' http://$server/v1/builders/acme/ci | grep -q '\"allow\": *\[\"network.host\"\]'"
try "kiln inspect shows the grant" sh -c "'$kiln' inspect | grep -qE '^Entitlements: +network.host$'"
try "a build with --allow network.host runs once the admin grants it" nethost
admin builder set acme/ci --deny network.host >/dev/null
refute "...and is refused again once withdrawn" nethost
refute "a cloud build cannot choose the OCI runtime" "$kiln" build --progress=plain --oci-runtime runc --output type=cacheonly "$ctx"
has "cannot choose the OCI runtime" && ok "...saying that kilnd serve --oci-runtime sets it" || not_ok "...saying that kilnd serve --oci-runtime sets it"
refute "kilnd serve --oci-runtime with a missing runtime does not start" \
  timeout 20 "$kilnd" serve --data "$tmp/rt-data" --listen 127.0.0.1:0 --oci-runtime kiln-no-such-runtime
has "OCI runtime 'kiln-no-such-runtime' not found" && ok "...naming it" || not_ok "...naming it"
refute "kilnd serve with a misspelt KILN_RUN_SECCOMP does not start" \
  env KILN_RUN_SECCOMP=off timeout 20 "$kilnd" serve --data "$tmp/rt-data" --listen 127.0.0.1:0
has "KILN_RUN_SECCOMP" && ok "...naming the variable" || not_ok "...naming the variable"

# --- history, du, prune, metrics --------------------------------------------------
try "kiln history ls" sh -c "'$kiln' history ls | grep -q succeeded"
id=$("$kiln" history ls --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
try "kiln history inspect" sh -c "'$kiln' history inspect $id | grep -q 'Steps:'"
try "kiln history logs replays the progress" sh -c "'$kiln' history logs $id | grep -q '^#'"
try "kiln du on the builder" sh -c "'$kiln' du | grep -q Total"
try "/metrics in Prometheus text" sh -c "curl -s http://$server/metrics | grep -q '^kilnd_builds_total{result=\"succeeded\"} [1-9]'"

try "kiln prune --all on the builder" "$kiln" prune --all -f
has "Total:" && ok "...says what it freed" || not_ok "...says what it freed"

# --- TLS: kilnd with a certificate, kiln trusting it through KILN_CA_CERT ----------------
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1
"$kilnd" serve --data "$tmp/tls-data" --listen "127.0.0.1:$tport" --tls-cert "$tmp/tls.crt" \
  --tls-key "$tmp/tls.key" >"$tmp/tls.log" 2>&1 &
tpid=$!
for _ in $(seq 100); do curl -fs --cacert "$tmp/tls.crt" "https://127.0.0.1:$tport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
try "kilnd serves HTTPS with --tls-cert and --tls-key" curl -fs --cacert "$tmp/tls.crt" "https://127.0.0.1:$tport/healthz"
"$kilnd" admin --data "$tmp/tls-data" org create tls >/dev/null 2>&1
ttoken=$("$kilnd" admin --data "$tmp/tls-data" token create tls --scope cloud-connect 2>/dev/null | tail -n1)
try "kiln login over HTTPS, trusting the certificate through KILN_CA_CERT" \
  sh -c "echo '$ttoken' | XDG_CONFIG_HOME='$tmp/tls-config' KILN_CA_CERT='$tmp/tls.crt' '$kiln' login -u tls --password-stdin https://127.0.0.1:$tport"
refute "...and refuses a server it cannot verify" \
  sh -c "echo '$ttoken' | XDG_CONFIG_HOME='$tmp/tls-config2' '$kiln' login -u tls --password-stdin https://127.0.0.1:$tport"
has "KILN_CA_CERT" && ok "...naming KILN_CA_CERT" || not_ok "...naming KILN_CA_CERT"
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null

# --- tokens refused ----------------------------------------------------------------
refute "kiln login with a wrong token fails" sh -c "echo kiln_pat_000000000000_nope | '$kiln' login -u acme --password-stdin $server"
has "refused" && ok "...saying the server refused it" || not_ok "...saying the server refused it"
echo "$noconnect" | "$kiln" login -u acme --password-stdin "$server" >/dev/null 2>&1
refute "a token without cloud-connect cannot create the builder" "$kiln" create --driver cloud acme/ci --name nc
has "cloud-connect" && ok "...and the error names cloud-connect" || not_ok "...and the error names cloud-connect"
echo "$otheruser" | "$kiln" login -u other --password-stdin "$server" >/dev/null 2>&1
refute "another account's token cannot use acme's builder" "$kiln" build --builder cloud-acme-ci --progress=plain --output type=cacheonly "$ctx"
echo "$revoked" | "$kiln" login -u acme --password-stdin "$server" >/dev/null 2>&1
rid=$(admin token ls acme | awk 'NR>1 {print $1}' | while read -r t; do [[ ${revoked#kiln_oat_} == "$t"* ]] && echo "$t"; done | head -n1)
admin token revoke "${rid:-none}" >/dev/null 2>&1
refute "a revoked token is refused" "$kiln" build --progress=plain --output type=cacheonly "$ctx"
has "revoked\|refused" && ok "...saying so" || not_ok "...saying so"
sleep 2
echo "$expiring" | "$kiln" login -u acme --password-stdin "$server" >/dev/null 2>&1
refute "an expired token is refused" "$kiln" build --progress=plain --output type=cacheonly "$ctx"
echo "$token" | "$kiln" login -u acme --password-stdin "$server" >/dev/null 2>&1

# --- limits: the time limit, the queue, eight clients ------------------------------
printf 'FROM %s\nRUN sleep 30\n' "$base" >"$tmp/Dockerfile.slow"
"$kiln" create --driver cloud acme/short --name short >/dev/null 2>&1
start=$(date +%s)
refute "a build past the builder's time limit is cancelled" "$kiln" build --builder short --progress=plain -f "$tmp/Dockerfile.slow" --output type=cacheonly "$ctx"
has "exceeded the builder's time limit of 4s and was cancelled" && ok "...with a message naming the limit" || not_ok "...with a message naming the limit"
[[ $(($(date +%s) - start)) -lt 25 ]] && ok "...well before the step's 30 s" || not_ok "...well before the step's 30 s"
try "...and kilnd keeps serving" curl -fs "http://$server/healthz"
printf 'FROM %s\nRUN trap "" TERM INT; sleep 30\n' "$base" >"$tmp/Dockerfile.stubborn"
start=$(date +%s)
refute "a step that ignores SIGTERM is still stopped at the time limit" "$kiln" build --builder short --progress=plain -f "$tmp/Dockerfile.stubborn" --output type=cacheonly "$ctx"
[[ $(($(date +%s) - start)) -lt 25 ]] && ok "...within the limit and the grace period, not the step's 30 s" || not_ok "...within the limit and the grace period ($(($(date +%s) - start)) s)"
left() { pgrep -f "sleep 30" >/dev/null; }
for _ in $(seq 50); do left || break; sleep 0.1; done # the kernel reaps a killed tree asynchronously
if left; then not_ok "...leaving no process of it (5 s later: $(pgrep -af 'sleep 30' | head -n2 | tr '\n' ' '))"; else ok "...leaving no process of it"; fi
"$kiln" create --driver cloud acme/one --name one >/dev/null 2>&1
printf 'FROM %s\nARG N\nRUN sleep 2 && echo $N\n' "$base" >"$tmp/Dockerfile.q"
"$kiln" build --builder one --progress=plain -f "$tmp/Dockerfile.q" --build-arg N=1 --output type=cacheonly "$ctx" >"$tmp/q1" 2>&1 &
q1=$!
sleep 0.5
"$kiln" build --builder one --progress=plain -f "$tmp/Dockerfile.q" --build-arg N=2 --output type=cacheonly "$ctx" >"$tmp/q2" 2>&1
q2=$?
wait $q1 && [[ $q2 -eq 0 ]] && ok "two builds on a builder of concurrency 1 both finish" || not_ok "two builds on a builder of concurrency 1 both finish"
grep -q "waiting for a free slot" "$tmp/q1" "$tmp/q2" && ok "...the second waits in the queue" || not_ok "...the second waits in the queue"
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$kiln" build --progress=plain -f "$tmp/Dockerfile.q" --build-arg N=c$i -t "$reg/acme/many:$i" --push "$ctx" >"$tmp/many$i" 2>&1 &
  pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
if [[ $fails -eq 0 ]]; then ok "eight clients build at once on one builder"; else
  not_ok "eight clients build at once ($fails failed)"
  for i in 1 2 3 4 5 6 7 8; do tail -n 3 "$tmp/many$i" | sed "s/^/# client $i: /"; done
fi

# --- killed clients, killed kilnd --------------------------------------------------
"$kiln" build --progress=plain -f "$tmp/Dockerfile.slow" --build-arg X=1 --output type=cacheonly "$ctx" >"$tmp/killed" 2>&1 &
kc=$!
sleep 3
kill -9 $kc
sleep 8
state=$("$kiln" history ls --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')
[[ $state == canceled ]] && ok "a client killed mid-build: its build is cancelled" || not_ok "a client killed mid-build: its build is cancelled (state $state)"
"$kiln" build --progress=plain -f "$tmp/Dockerfile.slow" --build-arg X=2 --output type=cacheonly "$ctx" >"$tmp/orphan" 2>&1 &
oc=$!
sleep 3
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
kpid=
wait $oc && not_ok "the client of a killed kilnd fails" || ok "the client of a killed kilnd fails"
sleep 1
if pgrep -f "$kilnd worker $data" >/dev/null; then not_ok "no worker outlives kilnd"; else ok "no worker outlives kilnd"; fi
upload_idle=6s # from here on: the hostile-input tests leave a build without its context
try "kilnd restarts on the same data" start_kilnd
state=$("$kiln" history ls --format json | python3 -c 'import json,sys; b=json.load(sys.stdin)[0]; print(b["state"], b["error"])')
[[ $state == failed*kilnd\ stopped* ]] && ok "...and marks the interrupted build failed" || not_ok "...and marks the interrupted build failed ($state)"
try "...and builds again" "$kiln" build --progress=quiet --output type=cacheonly "$ctx"

# --- hostile API input ------------------------------------------------------------------
api() { # api METHOD PATH [curl args...]: prints the status code
  local m=$1 p=$2; shift 2
  curl -s -o "$tmp/out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $token" "http://$server$p" "$@"
}
[[ $(api POST /v1/builders/acme/ci/builds -d '{not json') == 400 ]] && ok "malformed JSON: 400" || not_ok "malformed JSON: 400"
head -c 70000000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
[[ $(api POST /v1/builders/acme/ci/builds --data-binary @"$tmp/big.json") == 413 ]] && ok "oversized JSON: 413" || not_ok "oversized JSON: 413"
req='{"request":{},"dockerfile":"FROM scratch\n","context":[{"path":"../x","mode":33188,"size":1,"mtime":0,"digest":"sha256:'$(printf x | sha256sum | cut -c1-64)'"}]}'
[[ $(api POST /v1/builders/acme/ci/builds -d "$req") == 400 ]] && has '\.\.' && ok "a context path with ..: 400 naming it" || not_ok "a context path with ..: 400 naming it"
req=${req/..\/x/\/etc\/passwd}
[[ $(api POST /v1/builders/acme/ci/builds -d "$req") == 400 ]] && ok "an absolute context path: 400" || not_ok "an absolute context path: 400"
req=${req/\/etc\/passwd/x}
[[ $(api POST /v1/builders/acme/ci/builds -d "$req") == 201 ]] && ok "a valid index: 201" || not_ok "a valid index: 201"
bid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/out")
mkdir -p "$tmp/up/sha256" && printf y >"$tmp/up/sha256/$(printf x | sha256sum | cut -c1-64)"
tar -C "$tmp/up" -cf "$tmp/up.tar" sha256
[[ $(api PUT "/v1/builds/$bid/context" --data-binary @"$tmp/up.tar") == 400 ]] && ok "an upload not matching its digest: 400" || not_ok "an upload not matching its digest: 400"
if find "$data/builders/acme/ci" -path "*$(printf x | sha256sum | cut -c1-64)*" | grep -q .; then not_ok "...and nothing stored under the digest"; else ok "...and nothing stored under the digest"; fi
sleep 7 # past KILND_UPLOAD_IDLE: the next build made drops $bid, still waiting for its context
[[ $(api POST /v1/builders/acme/ci/builds -d "$req") == 201 ]] && api GET "/v1/builds/$bid" >/dev/null &&
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); sys.exit(0 if b["state"] == "failed" and "stopped sending" in b["error"] else 1)' "$tmp/out" &&
  ok "a build whose client stopped sending its context is dropped" || not_ok "a build whose client stopped sending its context is dropped"
[[ $(api GET /v1/builders/other/ci) == 403 ]] && ok "another account's builder: 403" || not_ok "another account's builder: 403"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$server/v1/whoami") == 401 ]] && ok "no token: 401" || not_ok "no token: 401"

# --- SIGTERM drains ----------------------------------------------------------------------
kill -TERM "$kpid"
if wait "$kpid"; then ok "SIGTERM stops kilnd cleanly"; else not_ok "SIGTERM stops kilnd cleanly"; fi
kpid=
if grep -q "kilnd stopped" "$tmp/kilnd.log"; then ok "...saying so in its log"; else not_ok "...saying so in its log"; fi
tap_end
