"""Request-signature checks for the fake provider APIs, written from the providers' docs.

These are independent of the plugin SDK's Rust signers on purpose: a request passes only if
both sides agree on the algorithm.
"""

import base64
import calendar
import hashlib
import hmac
import time
from urllib.parse import quote, unquote


def sigv4_problem(method, raw_path, headers, body, access_key, secret, region, service):
    """None when the request carries a valid AWS SigV4 Authorization header, else a
    (code, message) pair in Route53's error vocabulary."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "IncompleteSignature", "no AWS4-HMAC-SHA256 Authorization header"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key_id, date, cred_region, cred_service, terminal = fields["Credential"].split("/")
    if key_id != access_key:
        return "InvalidClientTokenId", "The security token included in the request is invalid."
    if (cred_region, cred_service, terminal) != (region, service, "aws4_request"):
        return "SignatureDoesNotMatch", "credential scope is not %s/%s" % (region, service)
    amz_date = headers.get("x-amz-date", "")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(date):
        return "SignatureDoesNotMatch", "host and x-amz-date must be signed"
    stamp = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    if abs(time.time() - stamp) > 300:
        return "SignatureDoesNotMatch", "Signature expired"

    path, _, query = raw_path.partition("?")
    canonical_path = "/".join(quote(unquote(seg), safe="-_.~") for seg in path.split("/"))
    pairs = sorted(
        (quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
        for k, _, v in (p.partition("=") for p in query.split("&") if p)
    )
    canonical_query = "&".join("%s=%s" % pair for pair in pairs)
    header_lines = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split())) for h in signed)
    canonical = "\n".join([method, canonical_path, canonical_query, header_lines,
                           ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return "SignatureDoesNotMatch", "The request signature we calculated does not match"
    return None


def edgegrid_problem(method, raw_path, headers, body, creds, seen_nonces, max_body=131072):
    """None when the request carries a valid EG1-HMAC-SHA256 Authorization header, else a
    message. `creds` holds client_token, client_secret and access_token."""
    auth = headers.get("authorization", "")
    if not auth.startswith("EG1-HMAC-SHA256 "):
        return "no EG1-HMAC-SHA256 Authorization header"
    unsigned, _, signature = auth.rpartition("signature=")
    fields = dict(p.split("=", 1) for p in unsigned[len("EG1-HMAC-SHA256 "):].split(";") if p)
    if (fields.get("client_token"), fields.get("access_token")) != (
            creds["client_token"], creds["access_token"]):
        return "unknown client or access token"
    stamp = calendar.timegm(time.strptime(fields.get("timestamp", ""), "%Y%m%dT%H:%M:%S+0000"))
    if abs(time.time() - stamp) > 300:
        return "timestamp out of range"
    if fields.get("nonce") in seen_nonces:
        return "nonce reused"
    seen_nonces.add(fields.get("nonce"))

    content_hash = ""
    if method == "POST" and body:
        content_hash = base64.b64encode(hashlib.sha256(body[:max_body]).digest()).decode()
    data = "\t".join([method, "http", headers.get("host", ""), raw_path, "", content_hash,
                      unsigned])
    timestamp_key = hmac.new(creds["client_secret"].encode(), fields["timestamp"].encode(),
                             hashlib.sha256).digest()
    key = base64.b64encode(timestamp_key)
    expected = base64.b64encode(hmac.new(key, data.encode(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        return "signature does not match"
    return None
