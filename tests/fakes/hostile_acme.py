#!/usr/bin/env python3
"""A hostile ACME server for certkeeper's tests: HTTPS on 127.0.0.1, a random port (printed on
the first line of stdout), and one misbehaviour per path prefix:

  /500/dir          the directory answers 500 with an RFC 7807 problem
  /garbage/dir      the directory answers 200 with HTML
  /badacct/dir      a valid directory; newAccount answers 201 with a body that is not JSON
  /ratelimit/dir    a valid directory; newAccount answers 429 rateLimited with Retry-After

and a whole order flow (accounts are accepted, every authorization is already valid, the CSR is
signed by a throwaway CA) that misbehaves after finalize:

  /slow/dir         the order stays processing for 2 polls, each answered with Retry-After: 2
  /huge/dir         the order stays processing for 1 poll, answered with Retry-After: 86400
  /stuck/dir        the order stays processing forever (Retry-After: 1)
  /wrongkey/dir     the certificate certifies a key other than the CSR's
  /wrongnames/dir   the certificate has the CSR's key but names other.example.test
  /busy/dir         the first newOrder answers 503 with Retry-After: 3, later ones succeed
  /nonces/dir       the first 4 POSTs to each finalize and certificate URL answer badNonce
                    (one more than instant-acme's own tries); the certificate then comes 1 s late

Every request is appended to LOG (when given) as one JSON line: {"t", "method", "path"}.

Usage: hostile_acme.py CERT_PEM KEY_PEM [LOG]
"""
import base64
import datetime
import http.server
import itertools
import json
import ssl
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FLOWS = {"slow", "huge", "stuck", "wrongkey", "wrongnames", "busy", "nonces"}
NONCE_REJECTIONS = 4
REJECTED = {}  # path -> badNonce answers sent for it (nonces flow)
# behaviour -> (processing polls before valid, Retry-After while processing)
PROCESSING = {"slow": (2, "2"), "huge": (1, "86400"), "stuck": (None, "1")}
ORDERS = {}
BUSY_ANSWERED = []  # set once the busy CA has refused its first newOrder
COUNTER = itertools.count(1)
LOCK = threading.Lock()


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload(body):
    """The JWS payload of a POST (signatures are not checked: this CA trusts anyone)."""
    try:
        data = b64d(json.loads(body)["payload"])
        return json.loads(data) if data else None
    except (ValueError, KeyError):
        return None


def make_issuer():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile fake CA")])
    return key, name


ISSUER_KEY, ISSUER_NAME = make_issuer()


def issue(public_key, names):
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ISSUER_NAME)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=True)
        .sign(ISSUER_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def certificate_for(behaviour, csr_der):
    csr = x509.load_der_x509_csr(csr_der)
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = names.get_values_for_type(x509.DNSName)
    key = csr.public_key()
    if behaviour == "wrongkey":
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
    if behaviour == "wrongnames":
        names = ["other.example.test"]
    return issue(key, names)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def log_request(self, code="-", size="-"):
        log = self.server.request_log
        if log:
            line = json.dumps({"t": time.time(), "method": self.command, "path": self.path})
            with LOCK, open(log, "a") as f:
                f.write(line + "\n")

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
        body = self.rfile.read(length)
        prefix = self.path.strip("/").split("/")[0]
        if prefix == "ratelimit":
            problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many new accounts"}
            self.send(429, json.dumps(problem), "application/problem+json", [("Retry-After", "3600")])
        elif prefix in FLOWS:
            self.flow(prefix, payload(body))
        else:
            self.send(201, "{ this is not json", headers=[("Location", "https://127.0.0.1/acct/1")])

    def base(self, prefix):
        return f"https://127.0.0.1:{self.server.server_port}/{prefix}"

    def order_json(self, prefix, n):
        order = ORDERS[n]
        body = {
            "status": order["status"],
            "identifiers": [{"type": "dns", "value": v} for v in order["names"]],
            "authorizations": [f"{self.base(prefix)}/authz/{n}/{i}" for i in range(len(order["names"]))],
            "finalize": f"{self.base(prefix)}/finalize/{n}",
        }
        if order["status"] == "valid":
            body["certificate"] = f"{self.base(prefix)}/cert/{n}"
        return json.dumps(body)

    def reject_nonce(self, prefix, kind):
        """In the nonces flow, whether this request was answered with badNonce."""
        if prefix != "nonces" or kind not in ("finalize", "cert"):
            return False
        with LOCK:
            sent = REJECTED.get(self.path, 0)
            if sent >= NONCE_REJECTIONS:
                return False
            REJECTED[self.path] = sent + 1
        problem = {"type": "urn:ietf:params:acme:error:badNonce", "detail": "stale nonce"}
        self.send(400, json.dumps(problem), "application/problem+json")
        return True

    def flow(self, prefix, request):
        parts = self.path.strip("/").split("/")
        kind = parts[1]
        if self.reject_nonce(prefix, kind):
            return
        if kind == "account":
            body = json.dumps({"status": "valid", "contact": (request or {}).get("contact", [])})
            self.send(201, body, headers=[("Location", f"{self.base(prefix)}/acct/1")])
        elif kind == "order" and len(parts) == 2 and prefix == "busy" and not BUSY_ANSWERED:
            BUSY_ANSWERED.append(True)
            problem = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "overloaded"}
            self.send(503, json.dumps(problem), "application/problem+json", [("Retry-After", "3")])
        elif kind == "order" and len(parts) == 2:
            n = next(COUNTER)
            names = [i["value"] for i in request["identifiers"]]
            ORDERS[n] = {"status": "ready", "names": names, "polls": 0, "cert": None}
            location = f"{self.base(prefix)}/order/{n}"
            self.send(201, self.order_json(prefix, n), headers=[("Location", location)])
        elif kind == "order":
            self.poll(prefix, int(parts[2]))
        elif kind == "authz":
            name = ORDERS[int(parts[2])]["names"][int(parts[3])]
            challenge = {"type": "http-01", "url": f"{self.base(prefix)}/chall/{parts[2]}",
                         "token": "fake-token-0123456789", "status": "valid"}
            body = {"identifier": {"type": "dns", "value": name}, "status": "valid",
                    "challenges": [challenge]}
            self.send(200, json.dumps(body))
        elif kind == "finalize":
            n = int(parts[2])
            ORDERS[n]["cert"] = certificate_for(prefix, b64d(request["csr"]))
            ORDERS[n]["status"] = "processing"
            self.send(200, self.order_json(prefix, n))
        elif kind == "cert":
            if prefix == "nonces":
                time.sleep(1)
            self.send(200, ORDERS[int(parts[2])]["cert"], "application/pem-certificate-chain")
        else:
            self.send(404, json.dumps({"type": "urn:ietf:params:acme:error:malformed"}),
                      "application/problem+json")

    def poll(self, prefix, n):
        order = ORDERS[n]
        headers = []
        if order["status"] == "processing":
            polls_before_valid, retry_after = PROCESSING.get(prefix, (0, None))
            order["polls"] += 1
            if polls_before_valid is not None and order["polls"] > polls_before_valid:
                order["status"] = "valid"
            else:
                headers.append(("Retry-After", retry_after))
        self.send(200, self.order_json(prefix, n), headers=headers)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.request_log = sys.argv[3] if len(sys.argv) > 3 else None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
