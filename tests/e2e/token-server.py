#!/usr/bin/python3
# usage: token-server.py PORT KEY.pem CERT.pem SERVICE USER PASSWORD
# A token server of the distribution token-auth spec, for tests only (Debian's
# python3, stdlib, and the openssl command for RS256 signatures): GET
# /token?service=&scope= with Basic credentials (or none), and the OAuth2
# POST form with grant_type=refresh_token. The JWT carries the certificate in
# its x5c header, which the registry checks against its rootcertbundle.
# Anonymous callers get "pull" only; the user gets what they ask for; a wrong
# password or refresh token is a 401.
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse
import uuid

port, key, cert, service, user, password = sys.argv[1:7]
refresh_token = "refresh-" + password


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der():
    pem = open(cert).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return "".join(body.split())


def make_token(subject, scopes):
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) != 3 or parts[0] != "repository":
            continue
        actions = [a for a in parts[2].split(",") if subject or a == "pull"]
        access.append({"type": "repository", "name": parts[1], "actions": actions})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der()]}
    claims = {"iss": "kiln-e2e-issuer", "sub": subject, "aud": service, "exp": now + 300,
              "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def grant(self, subject, params):
        if params.get("service", [""])[0] != service:
            return self.answer(400, {"errors": [{"code": "UNSUPPORTED", "message": "service"}]})
        token = make_token(subject, params.get("scope", []))
        self.answer(200, {"token": token, "access_token": token, "expires_in": 300})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        params = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        if not auth:
            return self.grant("", params)
        given = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
        if given != user + ":" + password:
            return self.answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "wrong user name or password"}]})
        self.grant(user, params)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        params = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if (params.get("grant_type", [""])[0] != "refresh_token"
                or params.get("refresh_token", [""])[0] != refresh_token):
            return self.answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "bad refresh token"}]})
        self.grant(user, params)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
