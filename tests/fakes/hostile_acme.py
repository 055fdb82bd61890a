#!/usr/bin/env python3
"""A hostile ACME server for certkeeper's tests: HTTPS on 127.0.0.1, a random port (printed on
the first line of stdout), and one misbehaviour per path prefix:

  /500/dir          the directory answers 500 with an RFC 7807 problem
  /garbage/dir      the directory answers 200 with HTML
  /badacct/dir      a valid directory; newAccount answers 201 with a body that is not JSON
  /ratelimit/dir    a valid directory; newAccount answers 429 rateLimited with Retry-After

Usage: hostile_acme.py CERT_PEM KEY_PEM
"""
import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Replay-Nonce", "fake-nonce-0123456789")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def directory(self, prefix):
        base = f"https://127.0.0.1:{self.server.server_port}/{prefix}"
        return json.dumps({
            "newNonce": f"{base}/nonce", "newAccount": f"{base}/account",
            "newOrder": f"{base}/order", "revokeCert": f"{base}/revoke",
            "keyChange": f"{base}/key-change", "meta": {"termsOfService": "data:text/plain,ok"},
        })

    def do_HEAD(self):
        self.send(200, "")

    def do_GET(self):
        prefix = self.path.strip("/").split("/")[0]
        if prefix == "500":
            problem = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "the CA is on fire"}
            self.send(500, json.dumps(problem), "application/problem+json")
        elif prefix == "garbage":
            self.send(200, "<html>maintenance</html>", "text/html")
        elif self.path.endswith("/dir"):
            self.send(200, self.directory(prefix))
        else:
            self.send(200, "")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        prefix = self.path.strip("/").split("/")[0]
        if prefix == "ratelimit":
            problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many new accounts"}
            self.send(429, json.dumps(problem), "application/problem+json", [("Retry-After", "3600")])
        else:
            self.send(201, "{ this is not json", headers=[("Location", "https://127.0.0.1/acct/1")])


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
