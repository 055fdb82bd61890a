#!/usr/bin/env python3
"""A fake of ZeroSSL's EAB credentials API for certkeeper's tests, on 127.0.0.1 at a random port.

The two calls ZeroSSL documents (https://zerossl.com/documentation/acme/generate-eab-credentials):
`POST /acme/eab-credentials-email` with the form field `email`, and
`POST /acme/eab-credentials?access_key=KEY`. Both answer HTTP 200 with JSON, as ZeroSSL does:
`{"success": true, "eab_kid": ..., "eab_hmac_key": ...}`, or `"success": false` with an error
object (code 101 `invalid_access_key` for a key other than ACCESS_KEY; code 999 quoting the
request URL, key and all, for a key starting with `ECHO`). The credentials handed
out are the ones given on the command line (pebble's EAB MAC keys in the tests).

`GET /_fake/seen` answers every request seen so far, as JSON: method, path, query, form.

Usage: fake_zerossl.py KID HMAC_KEY ACCESS_KEY   (prints the port on its first line, then serves)
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    kid = hmac_key = access_key = ""
    seen = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _reply(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _credentials(self):
        return {"success": True, "eab_kid": self.kid, "eab_hmac_key": self.hmac_key}

    def do_GET(self):
        if urlsplit(self.path).path != "/_fake/seen":
            return self._reply({"success": False, "error": {"code": 404, "type": "not_found"}})
        with self.lock:
            self._reply(list(self.seen))

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        form = {k: v[0] for k, v in parse_qs(body).items()}
        with self.lock:
            self.seen.append({"method": "POST", "path": url.path, "query": query, "form": form})
        if url.path == "/acme/eab-credentials-email" and form.get("email"):
            return self._reply(self._credentials())
        if url.path == "/acme/eab-credentials" and "access_key" in query:
            if query["access_key"] == self.access_key:
                return self._reply(self._credentials())
            if query["access_key"].startswith("ECHO"):
                # An API that quotes the request URL, access key and all, in its error.
                return self._reply({"success": False,
                                    "error": {"code": 999, "type": "bad key " + self.path}})
            return self._reply({"success": False,
                                "error": {"code": 101, "type": "invalid_access_key"}})
        self._reply({"success": False, "error": {"code": 2800, "type": "invalid_request"}})


def main():
    Handler.kid, Handler.hmac_key, Handler.access_key = sys.argv[1:4]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
