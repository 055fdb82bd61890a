#!/usr/bin/env bash
# scripts/demo.sh: the main job, from a fresh Debian 12 machine. Installs what is missing,
# builds certkeeper and its plugins, starts the local peers (pebble, PowerDNS, dnsmasq), and
# runs the daemon until it has issued three certificates from pebble:
#   a    a.example.test                      HTTP-01 on certkeeper's own listener
#   b    *.b.example.test + b.example.test   DNS-01 on certkeeper's own authoritative server
#   c    c.example.test                      DNS-01 through the WASM PowerDNS plugin
# Then it prints each certificate's names, issuer and expiry and checks each chain against
# pebble's root. Each run starts from an empty target/demo/ (pebble's roots change on every
# pebble start, so certificates from an earlier run would not verify).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CERTKEEPER_ROOT"

bash scripts/setup.sh
find_cargo || die "no cargo found; scripts/setup.sh should have installed one"
log "building certkeeper"
"$CARGO" build -p certkeeper
log "building plugins"
env -u CARGO -u RUSTC bash scripts/build-plugins.sh

peers_were_up=false
scripts/peers.sh status >/dev/null 2>&1 && peers_were_up=true
scripts/peers.sh start
eval "$(scripts/peers.sh env)"

DEMO="$CERTKEEPER_ROOT/target/demo"
rm -rf "$DEMO"
mkdir -p "$DEMO"
BIN="$CERTKEEPER_ROOT/target/debug/certkeeper"
CONFIG="$DEMO/certkeeper.toml"
# The config holds the PowerDNS API key: owner-only, like any config with credentials.
install -m 600 /dev/null "$CONFIG"
cat >"$CONFIG" <<TOML
# Written by scripts/demo.sh: certkeeper against the local peers of scripts/peers.sh.
store = "$DEMO/certkeeper.redb"
admin_socket = "$DEMO/admin.sock"
plugin_dir = "$CERTKEEPER_ROOT/target/plugins"   # shipped plugins only (scripts/build-plugins.sh)

[http01]
listen = ["127.0.0.1:5002"]          # pebble's VA connects to port 5002

[dns_server]                         # dnsmasq forwards _acme-challenge.b.example.test here
listen = ["127.0.0.1:5353"]
zones = ["_acme-challenge.b.example.test"]
nameserver = "ns.certkeeper.example.test."

[propagation]                        # PowerDNS is example.test's authoritative server
resolvers = ["$CERTKEEPER_TEST_PDNS_DNS"]
nameserver_port = ${CERTKEEPER_TEST_PDNS_DNS##*:}
timeout_secs = 60
interval_secs = 1

[[ca]]
name = "pebble"
directory = "$CERTKEEPER_TEST_PEBBLE_DIRECTORY"
tls_root = "$CERTKEEPER_TEST_PEBBLE_TLS_CA"

[[account]]
name = "demo"
ca = "pebble"
email = "hostmaster@example.test"
agree_tos = true

[[dns_provider]]
name = "pdns"
plugin = "powerdns"
allowed_hosts = ["${CERTKEEPER_TEST_PDNS_API#http://}"]
settings = { server_url = "$CERTKEEPER_TEST_PDNS_API", api_key = "$CERTKEEPER_TEST_PDNS_KEY", server_id = "localhost" }

[[certificate]]
name = "a"
names = ["a.example.test"]
account = "demo"
challenge = "http-01"

[[certificate]]
name = "b"
names = ["*.b.example.test", "b.example.test"]
account = "demo"
challenge = "dns-01"
dns = "builtin"

[[certificate]]
name = "c"
names = ["c.example.test"]
account = "demo"
challenge = "dns-01"
dns = "pdns"
TOML

log "starting the daemon (log: $DEMO/daemon.log)"
"$BIN" run --config "$CONFIG" 2>"$DEMO/daemon.log" &
daemon=$!
cleanup() {
  kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  $peers_were_up || scripts/peers.sh stop
}
trap cleanup EXIT

ck() { "$BIN" --config "$CONFIG" "$@"; }
log "waiting for certificates a, b and c (pebble's certificates change on every pebble start)"
for _ in $(seq 1 240); do
  have=$(ck --json cert list 2>/dev/null | grep -c '"serial"' || true)
  [[ "$have" -ge 3 ]] && break
  kill -0 "$daemon" 2>/dev/null || { tail -n 30 "$DEMO/daemon.log"; die "the daemon exited"; }
  sleep 0.5
done
[[ "${have:-0}" -ge 3 ]] || { ck order list; tail -n 40 "$DEMO/daemon.log"; die "not all certificates were issued"; }

curl -fsS --cacert "$CERTKEEPER_TEST_PEBBLE_TLS_CA" "$CERTKEEPER_TEST_PEBBLE_MGMT/roots/0" -o "$DEMO/pebble-root.pem"
echo
ck cert list
echo
for name in a b c; do
  ck --json cert show "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["chain_pem"], end="")' >"$DEMO/$name.pem"
  csplit -s -z -f "$DEMO/$name-part-" "$DEMO/$name.pem" '/-----BEGIN CERTIFICATE-----/' '{*}'
  cat "$DEMO/$name"-part-0[1-9] >"$DEMO/$name-chain.pem"
  printf '%s: ' "$name"
  openssl verify -CAfile "$DEMO/pebble-root.pem" -untrusted "$DEMO/$name-chain.pem" "$DEMO/$name-part-00" | sed 's#.*: ##'
  rm -f "$DEMO/$name"-part-* "$DEMO/$name-chain.pem"
done
echo
ck challenge list
log "done: certificates are in $DEMO/{a,b,c}.pem and in the store $DEMO/certkeeper.redb"
