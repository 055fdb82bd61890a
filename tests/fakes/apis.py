"""The four fake APIs behind fake_dns_api.py. Each keeps zone example.test. in memory."""

import itertools
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import auth

ZONE = "example.test."
JSON = "application/json"


def unquote_txt(content):
    """The value of one quoted TXT character string, or None when it is not one."""
    match = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', content)
    return re.sub(r"\\(.)", r"\1", match.group(1)) if match else None


def in_zone(name):
    return name == ZONE or name.endswith("." + ZONE)


class Cloudflare:
    """/client/v4: bearer token; one record per value; Cloudflare's envelope."""

    def __init__(self, token):
        self.token, self.records, self.ids = token, {}, itertools.count(1)

    def served(self, name):
        return [r["content"] for r in self.records.values() if r["name"] + "." == name]

    def handle(self, method, raw_path, headers, body):
        if headers.get("authorization") != "Bearer " + self.token:
            return self.reply(403, errors=[{"code": 10000, "message": "Authentication error"}])
        url = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if method == "GET" and path == "/client/v4/user/tokens/verify":
            return self.reply(200, {"id": "token-1", "status": "active"})
        if method == "GET" and path == "/client/v4/zones":
            hit = query.get("name", "") + "." == ZONE
            return self.reply(200, [{"id": "zone-1", "name": ZONE[:-1]}] if hit else [])
        match = re.fullmatch(r"/client/v4/zones/zone-1/dns_records(?:/(\w+))?", path)
        if not match:
            return self.reply(404, errors=[{"code": 7003, "message": "No route"}])
        if method == "GET":
            found = [r for r in self.records.values()
                     if r["type"] == query.get("type") and r["name"] == query.get("name")]
            return self.reply(200, found)
        if method == "POST":
            return self.create(json.loads(body))
        if method == "DELETE" and match.group(1) in self.records:
            self.records.pop(match.group(1))
            return self.reply(200, {"id": match.group(1)})
        return self.reply(404, errors=[{"code": 81044, "message": "Record does not exist."}])

    def create(self, record):
        ok = (record.get("type") == "TXT" and isinstance(record.get("content"), str)
              and in_zone(str(record.get("name")) + ".") and not record["name"].endswith(".")
              and (record.get("ttl") == 1 or 60 <= int(record.get("ttl") or 0) <= 86400))
        if not ok:
            return self.reply(400, errors=[{"code": 9000, "message": "bad record %r" % record}])
        if any(r["name"] == record["name"] and r["content"] == record["content"]
               for r in self.records.values()):
            return self.reply(400, errors=[{"code": 81058, "message": "identical record"}])
        record_id = "rec%d" % next(self.ids)
        self.records[record_id] = dict(record, id=record_id)
        return self.reply(200, self.records[record_id])

    @staticmethod
    def reply(status, result=None, errors=()):
        envelope = {"success": not errors, "errors": list(errors), "messages": [],
                    "result": result}
        return status, JSON, json.dumps(envelope)


class Route53:
    """/2013-04-01: SigV4 (route53, us-east-1); XML; changes go INSYNC on the second look."""

    NS = "{https://route53.amazonaws.com/doc/2013-04-01/}"

    def __init__(self, access_key, secret_key):
        self.access_key, self.secret_key = access_key, secret_key
        # An unrelated set later in the zone's order, as a real listing would show next.
        self.sets = {"zz-unrelated.example.test.": (300, ['"keep-me"'])}
        self.changes, self.ids = {}, itertools.count(1)

    def served(self, name):
        return [unquote_txt(v) for v in self.sets.get(name, (0, []))[1]]

    def handle(self, method, raw_path, headers, body):
        problem = auth.sigv4_problem(method, raw_path, headers, body, self.access_key,
                                     self.secret_key, "us-east-1", "route53")
        if problem:
            return self.error(403, *problem)
        url = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/2013-04-01/hostedzonecount":
            return 200, "text/xml", "<GetHostedZoneCountResponse><HostedZoneCount>2" \
                "</HostedZoneCount></GetHostedZoneCountResponse>"
        if path == "/2013-04-01/hostedzonesbyname":
            return self.zones_by_name(query.get("dnsname", ""))
        if path == "/2013-04-01/hostedzone/Z1EXAMPLE/rrset" and method == "GET":
            return self.list_sets(query.get("name", ""), query.get("type"))
        if path == "/2013-04-01/hostedzone/Z1EXAMPLE/rrset/" and method == "POST":
            return self.change(body)
        if path.startswith("/2013-04-01/change/") and path[19:] in self.changes:
            self.changes[path[19:]] = "INSYNC"
            return 200, "text/xml", self.change_info(path[19:], "INSYNC", "GetChangeResponse")
        if path.startswith("/2013-04-01/hostedzone/"):
            return self.error(404, "NoSuchHostedZone", "No hosted zone found")
        return self.error(400, "InvalidInput", "no such call: %s %s" % (method, path))

    def zones_by_name(self, dnsname):
        # Zones in DNS order from dnsname on: example.test. then zzz.test. (private).
        zones = [("Z1EXAMPLE", ZONE, "false"), ("Z2PRIVATE", "zzz.test.", "true")]
        key = lambda name: list(reversed(name.rstrip(".").split(".")))
        listed = [z for z in zones if key(z[1]) >= key(dnsname)][:1]
        items = "".join(
            "<HostedZone><Id>/hostedzone/%s</Id><Name>%s</Name><CallerReference>r</CallerReference>"
            "<Config><PrivateZone>%s</PrivateZone></Config></HostedZone>" % z for z in listed)
        return 200, "text/xml", "<ListHostedZonesByNameResponse xmlns=\"%s\"><HostedZones>%s" \
            "</HostedZones><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems>" \
            "</ListHostedZonesByNameResponse>" % (self.NS[1:-1], items)

    def list_sets(self, name, kind):
        if kind != "TXT" or not name.endswith("."):
            return self.error(400, "InvalidInput", "name needs a trailing dot, type TXT")
        names = sorted(n for n in self.sets if n >= name)[:1]
        items = "".join(
            "<ResourceRecordSet><Name>%s</Name><Type>TXT</Type><TTL>%d</TTL><ResourceRecords>%s"
            "</ResourceRecords></ResourceRecordSet>" % (n, self.sets[n][0], "".join(
                "<ResourceRecord><Value>%s</Value></ResourceRecord>" % v.replace("&", "&amp;")
                for v in self.sets[n][1])) for n in names)
        return 200, "text/xml", "<ListResourceRecordSetsResponse><ResourceRecordSets>%s" \
            "</ResourceRecordSets><IsTruncated>false</IsTruncated>" \
            "</ListResourceRecordSetsResponse>" % items

    def change(self, body):
        # A client that does not wait for INSYNC before its next change gets what Route53 answers
        # a change racing an unfinished one.
        if "PENDING" in self.changes.values():
            return self.error(400, "PriorRequestNotComplete", "a previous change is PENDING")
        try:
            change = ET.fromstring(body).find("./%sChangeBatch/%sChanges/%sChange" % ((self.NS,) * 3))
            action = change.find(self.NS + "Action").text
            rrset = change.find(self.NS + "ResourceRecordSet")
            name = rrset.find(self.NS + "Name").text
            ttl = int(rrset.find(self.NS + "TTL").text)
            kind = rrset.find(self.NS + "Type").text
            values = [v.text for v in rrset.iter(self.NS + "Value")]
        except (ET.ParseError, AttributeError, TypeError, ValueError) as error:
            return self.error(400, "InvalidInput", "malformed change batch: %s" % error)
        if kind != "TXT" or not in_zone(name) or not values or \
                any(unquote_txt(v) is None for v in values):
            return self.error(400, "InvalidChangeBatch", "bad TXT set %s %r" % (name, values))
        if action == "DELETE":
            if self.sets.get(name) != (ttl, values):
                return self.error(400, "InvalidChangeBatch", "Tried to delete resource record "
                                  "set but the values provided do not match the current values")
            del self.sets[name]
        elif action == "UPSERT":
            self.sets[name] = (ttl, values)
        else:
            return self.error(400, "InvalidChangeBatch", "unsupported action %s" % action)
        change_id = "C%04d" % next(self.ids)
        self.changes[change_id] = "PENDING"
        return 200, "text/xml", self.change_info(change_id, "PENDING",
                                                 "ChangeResourceRecordSetsResponse")

    @staticmethod
    def change_info(change_id, status, root):
        return "<%s><ChangeInfo><Id>/change/%s</Id><Status>%s</Status><SubmittedAt>" \
            "2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></%s>" % (root, change_id, status, root)

    @staticmethod
    def error(status, code, message):
        return status, "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>" \
            "<Message>%s</Message></Error><RequestId>r-1</RequestId></ErrorResponse>" % (
                code, message)


class Akamai:
    """/config-dns/v2: EdgeGrid; one TXT set (rdata of quoted strings) per name."""

    def __init__(self, client_token, client_secret, access_token):
        self.creds = {"client_token": client_token, "client_secret": client_secret,
                      "access_token": access_token}
        self.nonces, self.sets = set(), {}

    def served(self, name):
        return [unquote_txt(v) for v in self.sets.get(name[:-1], {}).get("rdata", [])]

    def handle(self, method, raw_path, headers, body):
        problem = auth.edgegrid_problem(method, raw_path, headers, body, self.creds, self.nonces)
        if problem:
            return self.problem(401, "Not authorized", problem)
        path = urlsplit(raw_path).path
        if method == "GET" and path == "/config-dns/v2/zones":
            return 200, JSON, json.dumps({"zones": [{"zone": ZONE[:-1], "type": "PRIMARY"}]})
        match = re.fullmatch(r"/config-dns/v2/zones/([^/]+)(?:/names/([^/]+)/types/TXT)?", path)
        if not match or match.group(1) + "." != ZONE:
            return self.problem(404, "Not Found", "no such zone or call: %s" % path)
        name = match.group(2)
        if name is None:
            return 200, JSON, json.dumps({"zone": ZONE[:-1], "type": "PRIMARY"})
        return self.record_set(method, name, body)

    def record_set(self, method, name, body):
        exists = name in self.sets
        if method == "GET":
            return (200, JSON, json.dumps(self.sets[name])) if exists else \
                self.problem(404, "Not Found", "no TXT at %s" % name)
        if method == "DELETE":
            self.sets.pop(name, None)
            return (204, JSON, "") if exists else self.problem(404, "Not Found", name)
        if (method == "POST") == exists:
            return self.problem(409 if exists else 404, "Conflict", "%s %s" % (method, name))
        record = json.loads(body or b"{}")
        if record.get("name") != name or record.get("type") != "TXT" or \
                not isinstance(record.get("ttl"), int) or not record.get("rdata") or \
                any(unquote_txt(v) is None for v in record["rdata"]):
            return self.problem(400, "Bad Request", "bad record set %r" % record)
        self.sets[name] = record
        return (201 if method == "POST" else 200), JSON, json.dumps(record)

    @staticmethod
    def problem(status, title, detail):
        return status, "application/problem+json", json.dumps(
            {"type": "https://problems.example/%d" % status, "title": title, "status": status,
             "detail": detail})


class AcmeDns:
    """acme-dns: X-Api-User/X-Api-Key; keeps the two newest values per registration."""

    def __init__(self, username, password, subdomain):
        self.username, self.password, self.subdomain = username, password, subdomain
        self.values = []

    def served(self, _name):
        return list(self.values)

    def handle(self, method, raw_path, headers, body):
        path = urlsplit(raw_path).path
        if method == "GET" and path == "/health":
            return 200, JSON, ""
        if method != "POST" or path != "/update":
            return 404, JSON, json.dumps({"error": "not_found"})
        if (headers.get("x-api-user"), headers.get("x-api-key")) != (self.username, self.password):
            return 401, JSON, json.dumps({"error": "forbidden"})
        update = json.loads(body or b"{}")
        if update.get("subdomain") != self.subdomain:
            return 401, JSON, json.dumps({"error": "forbidden"})
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", str(update.get("txt"))):
            return 400, JSON, json.dumps({"error": "bad_txt"})
        self.values = (self.values + [update["txt"]])[-2:]
        return 200, JSON, json.dumps({"txt": update["txt"]})


class Example:
    """The API of plugin-sdk/README.md's example: X-Api-Key; one value list per name."""

    def __init__(self, api_key):
        self.api_key, self.sets = api_key, {}

    def served(self, name):
        return list(self.sets.get(name, {}).get("values", []))

    def handle(self, method, raw_path, headers, body):
        if headers.get("x-api-key") != self.api_key:
            return 401, JSON, json.dumps({"error": "bad api key"})
        path = urlsplit(raw_path).path
        if method == "GET" and path == "/v1/zones":
            return 200, JSON, json.dumps([ZONE])
        match = re.fullmatch(r"/v1/zones/([^/]+)/txt/([^/]+)", path)
        if not match or match.group(1) != ZONE or not in_zone(match.group(2)):
            return 404, JSON, json.dumps({"error": "no such zone or name"})
        name = match.group(2)
        if method == "GET":
            found = self.sets.get(name)
            return (200, JSON, json.dumps(found)) if found else (404, JSON, "{}")
        if method == "DELETE":
            return (204, JSON, "") if self.sets.pop(name, None) else (404, JSON, "{}")
        txt_set = json.loads(body or b"{}")
        if method != "PUT" or not isinstance(txt_set.get("ttl"), int) or \
                not all(isinstance(v, str) for v in txt_set.get("values") or [None]):
            return 400, JSON, json.dumps({"error": "bad request %r" % txt_set})
        self.sets[name] = txt_set
        return 200, JSON, json.dumps(txt_set)
