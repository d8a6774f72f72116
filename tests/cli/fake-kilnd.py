#!/usr/bin/env python3
# usage: fake-kilnd.py PORTFILE TOKEN [--registry]
# A stand-in for kilnd's HTTP API (docs/internals/cloud-api.md) with canned
# answers, for the client's tests until they run against kilnd itself. It
# listens on 127.0.0.1 on a free port, written to PORTFILE once it listens.
# Every /v1 request must carry "Authorization: Bearer TOKEN" (or Basic
# base64(USER:TOKEN)), else 401 {"error"}. With --registry it answers 401
# {"errors": [...]} to everything, as a registry behind an auth proxy does.
import base64
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, TOKEN = sys.argv[1], sys.argv[2]
REGISTRY = "--registry" in sys.argv[3:]

BUILDER = {"name": "app", "platforms": ["linux/amd64", "linux/arm64"], "timeout_s": 5400,
           "concurrency": 2, "cache_max": 10 << 30, "running": 0, "queued": 0, "allow": []}
OUTPUT = bytes(i * 7 % 251 for i in range(200_000))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, obj=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status >= 300:  # a request body may be left unread
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if auth == "Bearer " + TOKEN:
            return True
        if auth.startswith("Basic "):
            user_token = base64.b64decode(auth[6:]).decode(errors="replace")
            return user_token.split(":", 1)[-1] == TOKEN
        return False

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data, True
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0"))), False

    def chunked(self, parts, delay=0.0):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for p in parts:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")

    def route(self):
        p = self.path
        if p == "/healthz":
            return self.send(200, raw=b"ok", ctype="text/plain")
        if REGISTRY:
            return self.send(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        if not self.authorized():
            return self.send(401, {"error": "the token is wrong, expired or revoked"})
        if p == "/v1/whoami":
            return self.send(200, {"principal": "alice", "kind": "user",
                                   "token_id": "0123456789ab", "scopes": ["cloud-connect"]})
        if p == "/v1/builders/acme/app":
            return self.send(200, BUILDER)
        if p == "/v1/builders/acme/slow":
            time.sleep(6)
            return self.send(200, BUILDER)
        if p.startswith("/v1/builders/other/"):
            return self.send(403, {"error": "the token lacks scope 'cloud-connect' for "
                                            "account 'other'"})
        if p == "/v1/echo":
            data, chunked = self.body()
            return self.send(200, {"method": self.command, "body": json.loads(data or b"null"),
                                   "type": self.headers.get("Content-Type")})
        if p == "/v1/builds/b1/context":
            data, chunked = self.body()
            return self.send(200, {"missing": [], "bytes": len(data), "chunked": chunked,
                                   "sha256": hashlib.sha256(data).hexdigest(),
                                   "encoding": self.headers.get("Content-Encoding"),
                                   "type": self.headers.get("Content-Type")})
        if p == "/v1/builds/b1/events":
            return self.chunked([b'{"n":1}\n\n{"n"', b':2}\r\n', b'{"kiln":"result"}\n{"n":3}'],
                                0.05)
        if p == "/v1/builds/long/events":
            return self.chunked([b"x" * (1 << 20), b"yy\n"])
        if p == "/v1/builds/b1/output":
            return self.send(200, raw=OUTPUT, ctype="application/x-tar")
        if p == "/v1/big":
            return self.send(200, raw=b" " * ((64 << 20) + 1))
        if p == "/v1/notjson":
            return self.send(200, raw=b"<html>", ctype="text/html")
        if p == "/v1/status/503":
            return self.send(503, {"error": "kilnd is draining: try again later"})
        if p == "/v1/status/409":
            return self.send(409, {"error": "the build has ended"})
        if p == "/v1/status/ctl":
            return self.send(400, {"error": "bad\x1b[31m input\n"})
        if p == "/v1/status/plain":
            return self.send(500, raw=b"oops", ctype="text/plain")
        return self.send(404, {"error": "no route %s" % p})

    do_GET = do_POST = do_PUT = do_DELETE = route


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gives up mid-request (the tests make some) is not news


server = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
