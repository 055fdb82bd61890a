#!/usr/bin/env bash
# scripts/peers.sh start|stop|status|env: the real peers certkeeper's tests and demo talk to.
#
#   PowerDNS      DNS 127.0.0.1:5300 udp+tcp, API http://127.0.0.1:8081 (key test-api-key)
#   dnsmasq       recursive resolver for pebble's VA, 127.0.0.1:5399 udp+tcp, no cache
#   pebble        ACME https://127.0.0.1:14000/dir, management https://127.0.0.1:15000
#   pebble-eab    same, EAB required: https://127.0.0.1:14100/dir, management :15100
#   pebble-short  same, issuing 40-second certificates (renewal tests): :14300, management :15300
#   pebble-faulty same, with pebble's own faults on (hostile-CA tests): :14200, management :15200;
#                 half of all good nonces are rejected with badNonce (PEBBLE_WFE_NONCEREJECT=50)
#                 and the VA sleeps 0-15 s before each validation (no PEBBLE_VA_NOSLEEP)
#   pebble-load   same, for the 1,000-order load test alone (its in-memory database grows by
#                 1,000 orders a run, and pebble 2.4 can deadlock under that many requests in
#                 flight): :14500, management :15500
#   dnsmasq-bench as dnsmasq on 127.0.0.1:5499, also forwarding all of dns.bench.example.test
#                 to certkeeper's DNS server on 127.0.0.1:5363, for scripts/bench.sh issuance
#   pebble-bench  as pebble, resolving through dnsmasq-bench and validating HTTP-01 on port
#                 5012: :14400, management :15400. The bench's own ports keep it out of the
#                 e2e tests' way (5002, 5353), so it needs no lock.
#
# The pebbles validate HTTP-01 on port 5002 and TLS-ALPN-01 on port 5001 of whatever the
# name resolves to (127.0.0.1), so tests that answer challenges must take turns.
# Everything binds 127.0.0.1 only. State lives in ${CERTKEEPER_PEERS_DIR:-<repo>/target/peers};
# recipes and gotchas: /work/shared/PEERS.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR="${CERTKEEPER_PEERS_DIR:-$CERTKEEPER_ROOT/target/peers}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"   # absolute: it ends up in configs and in the env file

PDNS_KEY=test-api-key
PDNS_API=http://127.0.0.1:8081
ZONE=example.test.
CHALLENGE_DNS=127.0.0.1#5353   # certkeeper's own authoritative DNS server in tests and the demo
SERVICES=(pdns dnsmasq pebble pebble-eab pebble-short pebble-faulty pebble-load dnsmasq-bench pebble-bench)   # start order; stop goes in reverse

# tcp/udp ports each service binds (checked free before it starts).
declare -A TCP_PORTS=([pdns]="5300 8081" [dnsmasq]=5399 [pebble]="14000 15000" [pebble-eab]="14100 15100" [pebble-short]="14300 15300"
  [pebble-faulty]="14200 15200" [pebble-load]="14500 15500" [dnsmasq-bench]=5499 [pebble-bench]="14400 15400")
declare -A UDP_PORTS=([pdns]=5300 [dnsmasq]=5399 [pebble]="" [pebble-eab]="" [pebble-short]=""
  [pebble-faulty]="" [pebble-load]="" [dnsmasq-bench]=5499 [pebble-bench]="")

pidfile() { echo "$DIR/$1.pid"; }
logfile() { echo "$DIR/$1/$1.log"; }

# ours SERVICE: true if the PID in its pidfile is alive and is the process we started (its
# command line names our config under $DIR), so a recycled PID is never taken for ours.
ours() {
  local pid state
  pid="$(cat "$(pidfile "$1")" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "$state" != Z ]] || return 1   # a zombie is dead; PID 1 may be slow to reap it
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/$1/"
}

# check_ports SERVICE: fail with the current holder if a port we need is taken by someone else.
check_ports() {
  local port holder
  for port in ${TCP_PORTS[$1]}; do
    holder="$(ss -Hltnp "sport = :$port")"
    [[ -z "$holder" ]] || die "$1: tcp port $port is already in use (not by our $1):"$'\n'"$holder"
  done
  for port in ${UDP_PORTS[$1]}; do
    holder="$(ss -Hlunp "sport = :$port")"
    [[ -z "$holder" ]] || die "$1: udp port $port is already in use (not by our $1):"$'\n'"$holder"
  done
}

# launch SERVICE CMD...: start CMD detached, its output in the service's log, its PID in the pidfile.
# setsid (like setpriv and env) execs, so $! is the service's own PID; setsid keeps a Ctrl-C in
# the calling terminal from reaching it.
launch() {
  local name="$1"; shift
  : >"$(logfile "$name")"
  setsid "$@" </dev/null >>"$(logfile "$name")" 2>&1 &
  echo $! >"$(pidfile "$name")"
}

# wait_for SERVICE DESC CMD...: poll CMD for up to 20 s; on failure show the service's log.
wait_for() {
  local name="$1" desc="$2" i; shift 2
  for ((i = 0; i < 200; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    # It died: no point waiting longer. Not judged in the first second: while setsid and env
    # exec into the service, /proc briefly shows a command line that is not yet the service's.
    ((i < 10)) || ours "$name" || break
    sleep 0.1
  done
  printf 'error: %s did not come up (%s). Last lines of %s:\n' "$name" "$desc" "$(logfile "$name")" >&2
  tail -n 25 "$(logfile "$name")" >&2 || true
  exit 1
}

pdns_api() { curl -fsS --max-time 5 -H "X-API-Key: $PDNS_KEY" "$@"; }
digq() { dig +time=1 +tries=1 +short "$@"; }   # always with @server: never the system resolver

# ---------------------------------------------------------------------------- PowerDNS
start_pdns() {
  local d="$DIR/pdns" user=(setpriv --reuid=pdns --regid=pdns --init-groups)
  mkdir -p "$d"
  [[ -s "$d/pdns.sqlite3" ]] || sqlite3 "$d/pdns.sqlite3" </usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
  # security-poll-suffix= stops pdns sending a DNS query to the outside world at start.
  cat >"$d/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$d/pdns.sqlite3
gsqlite3-dnssec=no
local-address=127.0.0.1
local-port=5300
api=yes
api-key=$PDNS_KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=8081
webserver-allow-from=127.0.0.1/32
socket-dir=$d
security-poll-suffix=
primary=no
secondary=no
disable-syslog=yes
loglevel=4
EOF
  # sqlite in WAL mode writes files next to the db, so pdns must own the whole dir.
  chown -R pdns:pdns "$d"
  # The pdns user must reach $d; a repo under /root (mode 700) is out of its reach.
  if ! "${user[@]}" test -w "$d"; then
    log "pdns: user pdns cannot write $d (a parent dir is closed to it); running pdns as root"
    user=()
  fi
  launch pdns "${user[@]}" /usr/sbin/pdns_server --config-dir="$d/" --daemon=no --guardian=no --write-pid=no
  wait_for pdns "API at $PDNS_API" pdns_api "$PDNS_API/api/v1/servers/localhost"
  # dig exits 0 on any answer (even REFUSED, before the zone exists), 9 when nothing answers.
  wait_for pdns "DNS on 127.0.0.1:5300" digq @127.0.0.1 -p 5300 +norec SOA "$ZONE"
}

# The zone is created once and then kept, like the rest of the state.
ensure_zone() {
  local api="$PDNS_API/api/v1/servers/localhost/zones" code n rrsets=""
  rr() { printf '{"name":"%s","type":"%s","ttl":60,"records":[{"content":"%s","disabled":false}]}' "$@"; }
  code="$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $PDNS_KEY" "$api/$ZONE")"
  case "$code" in
    200) return 0 ;;
    404) ;;
    *) die "pdns: GET zone $ZONE answered HTTP $code" ;;
  esac
  # Explicit A records for a..d: a TXT under a name hides the wildcard from it (PEERS.md §3).
  for n in "$ZONE" "*.$ZONE" "ns1.$ZONE" a."$ZONE" b."$ZONE" c."$ZONE" d."$ZONE"; do
    rrsets+=",$(rr "$n" A 127.0.0.1)"
  done
  log "pdns: creating zone $ZONE"
  pdns_api -o /dev/null -H 'Content-Type: application/json' -X POST "$api" -d "{
    \"name\": \"$ZONE\", \"kind\": \"Native\", \"nameservers\": [],
    \"rrsets\": [$(rr "$ZONE" SOA "ns1.$ZONE hostmaster.$ZONE 1 3600 600 86400 5"),
                 $(rr "$ZONE" NS "ns1.$ZONE")$rrsets]}"
}

# ---------------------------------------------------------------------------- dnsmasq
# start_dnsmasq [NAME PORT EXTRA_SERVER_LINE]
start_dnsmasq() {
  local name="${1:-dnsmasq}" port="${2:-5399}" extra="${3:-}" d
  d="$DIR/$name"
  mkdir -p "$d"
  # No resolv.conf, no /etc/hosts, no other upstream: a name outside these domains is REFUSED
  # and never leaves the machine. The more specific server= line wins, so the two
  # _acme-challenge zones go to certkeeper, the rest of example.test to PowerDNS.
  # Rebind protection (stop-dns-rebind) is off by default and stays off: every answer is 127.0.0.1.
  cat >"$d/dnsmasq.conf" <<EOF
port=$port
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
cache-size=0
log-facility=-
log-queries
pid-file=
user=nobody
group=nogroup
server=/example.test/127.0.0.1#5300
server=/_acme-challenge.b.example.test/$CHALLENGE_DNS
server=/_acme-challenge.d.example.test/$CHALLENGE_DNS
$extra
EOF
  # --conf-file replaces /etc/dnsmasq.conf (and its conf-dir); -k stays in the foreground.
  launch "$name" /usr/sbin/dnsmasq -k --conf-file="$d/dnsmasq.conf"
  wait_for "$name" "a.example.test A via 127.0.0.1:$port" \
    bash -c "dig +time=1 +tries=1 +short @127.0.0.1 -p $port a.example.test A | grep -qx 127.0.0.1"
}

# ---------------------------------------------------------------------------- pebble
# One TLS CA and leaf for both pebbles' HTTPS listeners, made once. Clients trust tls-ca.pem.
ensure_tls() {
  local d="$DIR/tls"
  [[ -s "$d/tls-cert.pem" && -s "$d/tls-key.pem" && -s "$d/tls-ca.pem" ]] && return 0
  mkdir -p "$d"
  log "pebble: making the TLS CA and leaf in $d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=pebble test TLS CA (local)" -keyout "$d/tls-ca.key" -out "$d/tls-ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$d/tls-key.pem" -out "$d/tls-cert.csr" 2>/dev/null
  printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth' \
    'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' >"$d/tls-leaf.ext"
  openssl x509 -req -in "$d/tls-cert.csr" -CA "$d/tls-ca.pem" -CAkey "$d/tls-ca.key" \
    -CAcreateserial -days 3650 -extfile "$d/tls-leaf.ext" -out "$d/tls-cert.pem" 2>/dev/null
}

# start_pebble NAME ACME_PORT MGMT_PORT EAB(true|false) [VALIDITY_SECONDS] [faulty] [RESOLVER] [HTTP01_PORT]
# "faulty" turns pebble's own fault switches on: badNonce for half of all good nonces and the
# VA's random 0-15 s sleep before each validation. The other pebbles have both off.
start_pebble() {
  local name="$1" port="$2" mgmt="$3" eab="$4" d="$DIR/$1" keys="" validity=""
  local knobs=(PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0)
  [ "${6:-}" = faulty ] && knobs=(PEBBLE_WFE_NONCEREJECT=50 PEBBLE_AUTHZREUSE=0)
  local resolver="${7:-127.0.0.1:5399}" http01="${8:-5002}"
  [ -n "${5:-}" ] && validity=",
    \"certificateValidityPeriod\": $5"
  mkdir -p "$d"
  ensure_tls
  # The MAC keys from Debian's pebble example config (base64url, no padding).
  $eab && keys=',
    "externalAccountMACKeys": {
      "kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
      "kid-2": "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH"
    }'
  cat >"$d/pebble-config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$port",
    "managementListenAddress": "127.0.0.1:$mgmt",
    "certificate": "$DIR/tls/tls-cert.pem",
    "privateKey": "$DIR/tls/tls-key.pem",
    "httpPort": $http01,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": $eab$keys$validity
  }
}
EOF
  # A clean environment: no stray PEBBLE_* knob from the caller changes the tests' CA.
  # -strict=false needs the "=": with a space Go's flag parser stops there (PEERS.md).
  # Run from $d: pebble's defaults are paths relative to the cwd.
  launch "$name" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${knobs[@]}" \
    /usr/bin/pebble -config "$d/pebble-config.json" -dnsserver "$resolver" -strict=false
  wait_for "$name" "https://127.0.0.1:$port/dir" \
    curl -fsS --max-time 2 --cacert "$DIR/tls/tls-ca.pem" "https://127.0.0.1:$port/dir"
}

# ---------------------------------------------------------------------------- commands
env_lines() {
  local k v
  while read -r k v; do printf 'export %s=%q\n' "$k" "$v"; done <<EOF
CERTKEEPER_TEST_PEBBLE_DIRECTORY https://127.0.0.1:14000/dir
CERTKEEPER_TEST_PEBBLE_MGMT https://127.0.0.1:15000
CERTKEEPER_TEST_PEBBLE_EAB_DIRECTORY https://127.0.0.1:14100/dir
CERTKEEPER_TEST_PEBBLE_EAB_MGMT https://127.0.0.1:15100
CERTKEEPER_TEST_PEBBLE_SHORT_DIRECTORY https://127.0.0.1:14300/dir
CERTKEEPER_TEST_PEBBLE_SHORT_MGMT https://127.0.0.1:15300
CERTKEEPER_TEST_PEBBLE_FAULTY_DIRECTORY https://127.0.0.1:14200/dir
CERTKEEPER_TEST_PEBBLE_FAULTY_MGMT https://127.0.0.1:15200
CERTKEEPER_TEST_PEBBLE_LOAD_DIRECTORY https://127.0.0.1:14500/dir
CERTKEEPER_TEST_PEBBLE_LOAD_MGMT https://127.0.0.1:15500
CERTKEEPER_BENCH_PEBBLE_DIRECTORY https://127.0.0.1:14400/dir
CERTKEEPER_TEST_PEBBLE_TLS_CA $DIR/tls/tls-ca.pem
CERTKEEPER_TEST_PDNS_API $PDNS_API
CERTKEEPER_TEST_PDNS_KEY $PDNS_KEY
CERTKEEPER_TEST_PDNS_DNS 127.0.0.1:5300
CERTKEEPER_TEST_RESOLVER 127.0.0.1:5399
CERTKEEPER_PEERS_DIR $DIR
EOF
}

start_one() {
  if ours "$1"; then log "$1: already running (pid $(cat "$(pidfile "$1")"))"; return 0; fi
  check_ports "$1"
  local t0=$SECONDS
  case "$1" in
    pdns) start_pdns ;;
    dnsmasq) start_dnsmasq ;;
    pebble) start_pebble pebble 14000 15000 false ;;
    pebble-eab) start_pebble pebble-eab 14100 15100 true ;;
    pebble-short) start_pebble pebble-short 14300 15300 false 40 ;;
    pebble-faulty) start_pebble pebble-faulty 14200 15200 false "" faulty ;;
    pebble-load) start_pebble pebble-load 14500 15500 false ;;
    dnsmasq-bench) start_dnsmasq dnsmasq-bench 5499 "server=/dns.bench.example.test/127.0.0.1#5363" ;;
    pebble-bench) start_pebble pebble-bench 14400 15400 false "" "" 127.0.0.1:5499 5012 ;;
  esac
  log "$1: up (pid $(cat "$(pidfile "$1")"), $((SECONDS - t0)) s)"
}

# stop_one SERVICE: SIGTERM by PID, wait up to 10 s, then SIGKILL.
stop_one() {
  local pid i
  if ! ours "$1"; then rm -f "$(pidfile "$1")"; return 0; fi
  pid="$(cat "$(pidfile "$1")")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do ours "$1" || break; sleep 0.1; done
  if ours "$1"; then
    log "$1: still alive 10 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do ours "$1" || break; sleep 0.1; done
    ours "$1" && die "$1: pid $pid survived SIGKILL"
  fi
  rm -f "$(pidfile "$1")"
  log "$1: stopped (pid $pid)"
}

case "${1:-}" in
  start)
    ensure_debs "${PEER_DEBS[@]}"
    for s in "${SERVICES[@]}"; do
      start_one "$s"
      [[ $s != pdns ]] || ensure_zone
    done
    env_lines >"$DIR/env"
    log "peers up; env in $DIR/env"
    ;;
  stop)
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_one "${SERVICES[i]}"; done
    ;;
  status)
    rc=0
    for s in "${SERVICES[@]}"; do
      if ours "$s"; then echo "$s: running (pid $(cat "$(pidfile "$s")"))"; else echo "$s: stopped"; rc=3; fi
    done
    exit $rc
    ;;
  env) env_lines ;;
  *) echo "usage: $0 start|stop|status|env   (state in $DIR)" >&2; exit 2 ;;
esac
