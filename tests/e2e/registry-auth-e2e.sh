#!/usr/bin/env bash
# usage: tests/e2e/registry-auth-e2e.sh KILN KILND
# kilnd as the token service of a real registry (Debian's docker-registry,
# CNCF distribution) configured from `kilnd admin registry-config` alone:
# the registry's answers to tokens kilnd signs (pull and push per scope),
# to tampered ones (bad signature, alg none, wrong aud or iss, expired, an
# unknown key), to expired and revoked access tokens, skopeo's and Docker's
# real token flows, a build's push, and a signing key rotation. TAP output.
set -uo pipefail
kiln=${1:?usage: registry-auth-e2e.sh KILN KILND}
kilnd=${2:?usage: registry-auth-e2e.sh KILN KILND}

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1))
  echo "not ok $n - $1"
  [[ -f $tmp/out ]] && sed 's/^/# /' "$tmp/out" | tail -15
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
registry=$(command -v docker-registry) || skip_all "docker-registry is not installed"
for tool in curl python3 openssl; do
  command -v $tool >/dev/null || skip_all "$tool is not installed"
done

tmp=$(mktemp -d)
rpid= kpid=
cleanup() {
  [[ -n $rpid ]] && kill "$rpid" 2>/dev/null
  [[ -n $kpid ]] && kill "$kpid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
check() { # check DESC CMD...: the command succeeds
  local desc=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}
refute() { # refute DESC CMD...: the command fails
  local desc=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then not_ok "$desc"; else ok "$desc"; fi
}
is() { # is DESC GOT WANT
  if [[ $2 == "$3" ]]; then ok "$1"; else
    echo "got '$2', expected '$3'" >"$tmp/out"
    not_ok "$1"
  fi
}

read -r rport kport < <(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
reg=127.0.0.1:$rport
service=kiln-e2e-registry
realm=http://127.0.0.1:$kport/token
data=$tmp/kilnd
admin() { "$kilnd" admin --data "$data" "$@"; }

# --- the registry, configured from registry-config alone ---------------------------
check "registry-config prints the registry's auth section" \
  admin registry-config --service $service --realm "$realm" --registry "$reg"
cp "$tmp/out" "$tmp/auth.yml"
grep -q "rootcertbundle: \"$(realpath "$data")/signing/bundle.pem\"" "$tmp/auth.yml" &&
  grep -q "issuer: \"kilnd\"" "$tmp/auth.yml" && ok "it names the bundle kilnd keeps and the issuer" ||
  not_ok "it names the bundle kilnd keeps and the issuer"
refute "registry-config refuses a realm that is not a URL" \
  admin registry-config --service $service --realm 127.0.0.1/token

mkdir -p "$tmp/storage"
start_registry() {
  cat >"$tmp/registry.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $tmp/storage
http:
  addr: $reg
$(cat "$tmp/auth.yml")
YAML
  "$registry" serve "$tmp/registry.yml" >>"$tmp/registry.log" 2>&1 &
  rpid=$!
  for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$reg/v2/") == 401 ]] && return 0
    sleep 0.1
  done
  sed 's/^/# registry: /' "$tmp/registry.log" | tail -5
  return 1
}
stop_registry() { kill "$rpid" && wait "$rpid" 2>/dev/null; rpid=; }
start_registry || skip_all "docker-registry did not start with kilnd's configuration"

curl -s -D "$tmp/h" -o /dev/null "http://$reg/v2/acme/app/manifests/1"
grep -qi "^www-authenticate: Bearer realm=\"$realm\",service=\"$service\",scope=\"repository:acme/app:pull\"" "$tmp/h" &&
  grep -q "^HTTP/1.1 401" "$tmp/h" && ok "the registry answers 401 without a token, pointing at kilnd" ||
  { cp "$tmp/h" "$tmp/out"; not_ok "the registry answers 401 without a token, pointing at kilnd"; }

# status TOKEN METHOD PATH: the registry's HTTP status for one request with TOKEN.
status() {
  local method=(-X "$2")
  [[ $2 == HEAD ]] && method=(-I) # curl waits for a body after -X HEAD
  curl -s -o /dev/null -w '%{http_code}' "${method[@]}" -H "Authorization: Bearer $1" "http://$reg/v2/$3"
}

# --- tokens crafted with kilnd's own key, to see what the registry checks -----------
cat >"$tmp/mkjwt.py" <<'PY'
# mkjwt.py KEY KID CLAIMS_JSON [ALG]: a compact JWT signed with KEY through the
# openssl CLI (ES256, R||S); ALG none gives an unsigned token.
import base64, json, subprocess, sys
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key, kid, claims = sys.argv[1], sys.argv[2], sys.argv[3]
alg = sys.argv[4] if len(sys.argv) > 4 else "ES256"
head = b64(json.dumps({"typ": "JWT", "alg": alg, "kid": kid}).encode())
body = b64(claims.encode())
data = (head + "." + body).encode()
if alg == "none":
    print(head + "." + body + ".")
    sys.exit(0)
der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                     capture_output=True, check=True).stdout
def integer(i):
    assert der[i] == 2
    return int.from_bytes(der[i + 2:i + 2 + der[i + 1]], "big"), i + 2 + der[i + 1]
r, i = integer(2)
s, _ = integer(i)
print(head + "." + body + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
PY
kid_of() { python3 -c "import json,sys; print([k['kid'] for k in json.load(open(sys.argv[1]))['keys'] if k['n']==$1][0])" "$data/signing/keys.json"; }
claims() { # claims ISS AUD EXP ACTIONS: a token for acme/app
  local now
  now=$(date +%s)
  printf '{"iss":"%s","sub":"alice","aud":"%s","exp":%s,"nbf":%s,"iat":%s,"jti":"j%s","access":[{"type":"repository","name":"acme/app","actions":[%s]}]}' \
    "$1" "$2" "$3" $((now - 5)) $((now - 5)) $RANDOM "$4"
}
key1=$data/signing/keys/1.key
kid1=$(kid_of 1)
later=$(($(date +%s) + 300))
good=$(python3 "$tmp/mkjwt.py" "$key1" "$kid1" "$(claims kilnd $service $later '"pull","push"')")
is "a token signed with kilnd's key, kid its libtrust ID, opens /v2/" "$(status "$good" GET "")" 200
is "...and starts a blob upload to the repository it names" "$(status "$good" POST acme/app/blobs/uploads/)" 202
is "...but not to another" "$(status "$good" POST acme/other/blobs/uploads/)" 401
flipped=${good%?????}$([[ ${good: -5:1} == A ]] && echo B || echo A)${good: -4}
is "a flipped signature byte is refused" "$(status "$flipped" GET "")" 401
none=$(python3 "$tmp/mkjwt.py" "$key1" "$kid1" "$(claims kilnd $service $later '"pull","push"')" none)
is "alg none is refused" "$(status "$none" GET "")" 401
is "a wrong aud is refused" "$(status "$(python3 "$tmp/mkjwt.py" "$key1" "$kid1" "$(claims kilnd other-registry $later '"pull"')")" GET "")" 401
is "a wrong iss is refused" "$(status "$(python3 "$tmp/mkjwt.py" "$key1" "$kid1" "$(claims mallory $service $later '"pull"')")" GET "")" 401
is "an expired token is refused" "$(status "$(python3 "$tmp/mkjwt.py" "$key1" "$kid1" "$(claims kilnd $service $(($(date +%s) - 120)) '"pull"')")" GET "")" 401
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/attacker.key" 2>/dev/null
is "a key outside the bundle is refused, even under a trusted kid" \
  "$(status "$(python3 "$tmp/mkjwt.py" "$tmp/attacker.key" "$kid1" "$(claims kilnd $service $later '"pull"')")" GET "")" 401

# --- kilnd serving /token -----------------------------------------------------------
if ! "$kilnd" serve --help >/dev/null 2>&1; then
  skip "kilnd serve is not available in this kilnd: the token flow, skopeo, docker login, the build push and rotation need it"
  echo "1..$n"
  exit 0
fi
admin org create acme >/dev/null && admin user create alice >/dev/null &&
  admin org add-member acme alice >/dev/null && admin builder create acme/ci >/dev/null &&
  admin repo set-public acme/pub >/dev/null
mint() { admin token create "$1" --scope "$2" "${@:3}" | tail -n1; }
push=$(mint alice repo:acme/app:push)
pull=$(mint alice repo:acme/app:pull)
build=$(mint acme "cloud-connect,repo:acme/app:push")
expiring=$(mint alice repo:acme/app:push --expires 2s)
revoked=$(mint alice repo:acme/app:push)
admin token revoke "$(echo "$revoked" | cut -d_ -f3)" >/dev/null
"$kilnd" serve --data "$data" --listen "127.0.0.1:$kport" >"$tmp/kilnd.log" 2>&1 &
kpid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$kport/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# token USER:TOKEN SCOPE...: the registry token kilnd answers (anonymous when USER:TOKEN is -).
token() {
  local creds=$1 args=()
  shift
  [[ $creds != - ]] && args=(-u "$creds")
  for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
  curl -s -G "${args[@]}" --data-urlencode "service=$service" "$realm" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("token", ""))'
}
t=$(token "alice:$push" repository:acme/app:pull,push)
is "a push token's registry token starts an upload" "$(status "$t" POST acme/app/blobs/uploads/)" 202
tampered=${t%?????}$([[ ${t: -5:1} == A ]] && echo B || echo A)${t: -4}
is "...and the same token with one signature byte flipped is refused" "$(status "$tampered" POST acme/app/blobs/uploads/)" 401
t=$(token "alice:$pull" repository:acme/app:pull,push)
is "a pull token asked for push gets pull: the upload is refused" "$(status "$t" POST acme/app/blobs/uploads/)" 401
is "...and the pull allowed (the manifest is just missing)" "$(status "$t" HEAD acme/app/manifests/none)" 404
t=$(token - repository:acme/app:pull)
is "anonymous: a private repository stays closed" "$(status "$t" HEAD acme/app/manifests/none)" 401
t=$(token - repository:acme/pub:pull)
is "anonymous: a public repository can be pulled" "$(status "$t" HEAD acme/pub/manifests/none)" 404
code() { curl -s -o /dev/null -w '%{http_code}' -G -u "$1" --data-urlencode "service=$service" "$realm"; }
is "/token refuses a wrong token with 401" "$(code alice:kiln_pat_000000000000_nope)" 401
is "/token refuses a revoked token with 401" "$(code "alice:$revoked")" 401
sleep 2.2
is "/token refuses an expired token with 401" "$(code "alice:$expiring")" 401
is "/token refuses another service with 400" \
  "$(curl -s -o /dev/null -w '%{http_code}' -u "alice:$push" "$realm?service=elsewhere")" 400

# The OAuth2 form: password grant with a refresh token, then the refresh grant.
curl -s -d grant_type=password -d username=alice --data-urlencode "password=$push" -d client_id=e2e \
  -d access_type=offline -d "service=$service" --data-urlencode "scope=repository:acme/app:pull,push" \
  "$realm" >"$tmp/oauth.json"
refresh=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["refresh_token"])' "$tmp/oauth.json" 2>/dev/null)
[[ -n $refresh ]] && ok "POST /token (password grant, offline) answers a refresh token" ||
  { cp "$tmp/oauth.json" "$tmp/out"; not_ok "POST /token (password grant, offline) answers a refresh token"; }
t=$(curl -s -d grant_type=refresh_token --data-urlencode "refresh_token=$refresh" -d "service=$service" \
  --data-urlencode "scope=repository:acme/app:pull,push" "$realm" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("access_token", ""))')
is "...whose access token starts an upload" "$(status "$t" POST acme/app/blobs/uploads/)" 202

# skopeo runs the whole challenge → /token → retry flow itself.
blobs() { find "$tmp/storage" -path '*/blobs/sha256/*' -name data 2>/dev/null | wc -l; }
if command -v skopeo >/dev/null && command -v umoci >/dev/null; then
  umoci init --layout "$tmp/oci" && umoci new --image "$tmp/oci:v1" &&
    mkdir -p "$tmp/layer" && echo "kilnd $RANDOM" >"$tmp/layer/hello" &&
    umoci insert --image "$tmp/oci:v1" "$tmp/layer/hello" /hello >/dev/null 2>&1
  check "skopeo copy with a push token" skopeo copy --dest-tls-verify=false \
    --dest-creds "alice:$push" "oci:$tmp/oci:v1" "docker://$reg/acme/app:v1"
  check "skopeo inspect with a pull token" skopeo inspect --tls-verify=false \
    --creds "alice:$pull" "docker://$reg/acme/app:v1"
  before=$(blobs)
  refute "skopeo copy with a pull token is refused" skopeo copy --dest-tls-verify=false \
    --dest-creds "alice:$pull" "oci:$tmp/oci:v1" "docker://$reg/acme/app:v2"
  grep -q "denied\|unauthorized\|authentication required" "$tmp/out" && ok "...saying it is denied" || not_ok "...saying it is denied"
  is "...and nothing was written to the registry" "$(blobs)" "$before"
  refute "skopeo copy with a revoked token is refused" skopeo copy --dest-tls-verify=false \
    --dest-creds "alice:$revoked" "oci:$tmp/oci:v1" "docker://$reg/acme/app:v3"
else
  skip "skopeo or umoci is not installed"
fi

# docker login, when an engine that treats this registry as insecure is reachable.
if ! command -v docker >/dev/null || ! docker info >"$tmp/docker-info" 2>/dev/null; then
  skip "docker login: no Docker engine is reachable (DOCKER_HOST or /var/run/docker.sock)"
elif ! grep -q "127.0.0.0/8\|$reg" "$tmp/docker-info"; then
  skip "docker login: the Docker engine does not list $reg (or 127.0.0.0/8) in insecure-registries"
else
  check "docker login with a kiln token" sh -c "echo '$push' | DOCKER_CONFIG='$tmp/docker' docker login -u alice --password-stdin '$reg'"
  refute "docker login with a revoked kiln token fails" sh -c "echo '$revoked' | DOCKER_CONFIG='$tmp/docker' docker login -u alice --password-stdin '$reg'"
fi

# A build's push: allowed where the token's scopes allow it, refused before anything runs elsewhere.
if [[ $(id -u) -ne 0 ]]; then
  skip "a build's push needs root (overlay mounts)"
else
  export XDG_CONFIG_HOME=$tmp/config DOCKER_HOST=unix://$tmp/no-docker.sock KILN_DATA_DIR=$tmp/local
  unset KILN_BUILDER BUILDX_BUILDER
  kiln_build() { "$kiln" build "$@"; }
  mkdir -p "$tmp/ctx" && echo built >"$tmp/ctx/built.txt"
  printf 'FROM scratch\nCOPY built.txt /built.txt\n' >"$tmp/ctx/Dockerfile"
  echo "$build" | "$kiln" login -u acme --password-stdin "127.0.0.1:$kport" >/dev/null 2>&1 &&
    "$kiln" create --driver cloud acme/ci --use >/dev/null 2>&1
  check "a build pushes to the registry the token allows" kiln_build --progress=plain \
    -t "$reg/acme/app:built" --push "$tmp/ctx"
  check "...and the image is there" skopeo inspect --tls-verify=false --creds "alice:$pull" \
    "docker://$reg/acme/app:built"
  before=$(blobs)
  refute "a build pushing outside the token's scopes is refused" kiln_build --progress=plain \
    -t "$reg/acme/other:built" --push "$tmp/ctx"
  grep -q "acme/other" "$tmp/out" && grep -q "push" "$tmp/out" &&
    ok "...naming the repository and the missing scope" || not_ok "...naming the repository and the missing scope"
  is "...with nothing written to the registry" "$(blobs)" "$before"
fi

# --- rotation: tokens signed before it stay valid on a registry started with the new bundle
old=$(token "alice:$push" repository:acme/app:pull)
check "signing-key rotate adds a key and says to restart the registry" admin signing-key rotate
grep -q "restart the registry" "$tmp/out" || not_ok "...the rotate output says to restart the registry"
stop_registry
start_registry || not_ok "the registry restarts on the new bundle"
is "a token signed before the rotation is still accepted" "$(status "$old" HEAD acme/app/manifests/none)" 404
t=$(token "alice:$push" repository:acme/app:pull)
is "...as are tokens signed until activation (the old key still signs)" "$(status "$t" HEAD acme/app/manifests/none)" 404
check "signing-key activate" admin signing-key activate
t=$(token "alice:$push" repository:acme/app:pull)
kid2=$(kid_of 2)
python3 -c 'import base64,json,sys; h=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$t" >"$tmp/kid"
is "new tokens are signed with the new key" "$(cat "$tmp/kid")" "$kid2"
is "...and accepted" "$(status "$t" HEAD acme/app/manifests/none)" 404
is "the token from before the rotation is still accepted" "$(status "$old" HEAD acme/app/manifests/none)" 404
check "signing-key ls shows the retired key until it leaves the bundle" sh -c \
  "'$kilnd' admin --data '$data' signing-key ls | grep -q retired"

echo "1..$n"
