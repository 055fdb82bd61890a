#!/usr/bin/env python3
"""Fake DNS provider APIs for certkeeper's plugin tests: Cloudflare, Route53, Akamai Edge DNS
and acme-dns (plus the SDK README's example API), each reduced to the calls the plugins make, on
127.0.0.1 at a random port.

Every request is authenticated as the real service does it (bearer token, SigV4, EdgeGrid,
X-Api-User/X-Api-Key) and rejected with 401/403 when it does not check out; request bodies are
checked for the shape the real API demands (400 otherwise). `GET /_fake/txt?name=NAME` answers
the TXT values the fake would serve at NAME, as a sorted JSON list: what a resolver would see.

Usage: fake_dns_api.py KIND SECRET...   (prints the port on its first line, then serves)
  cloudflare API_TOKEN | route53 ACCESS_KEY SECRET_KEY | akamai CLIENT_TOKEN CLIENT_SECRET
  ACCESS_TOKEN | acme-dns USERNAME PASSWORD SUBDOMAIN | example API_KEY
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import apis

KINDS = {
    "cloudflare": apis.Cloudflare,
    "route53": apis.Route53,
    "akamai": apis.Akamai,
    "acme-dns": apis.AcmeDns,
    "example": apis.Example,
}


class Handler(BaseHTTPRequestHandler):
    api = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.lock:
            if url.path == "/_fake/txt":
                name = parse_qs(url.query).get("name", [""])[0]
                status, ctype, payload = 200, "application/json", json.dumps(
                    sorted(self.api.served(name.rstrip(".").lower() + ".")))
            else:
                status, ctype, payload = self.api.handle(
                    self.command, self.path, headers, body)
        data = payload.encode() if isinstance(payload, str) else payload
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def main():
    kind, secrets = sys.argv[1], sys.argv[2:]
    Handler.api = KINDS[kind](*secrets)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
