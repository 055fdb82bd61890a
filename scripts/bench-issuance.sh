#!/usr/bin/env bash
# scripts/bench-issuance.sh [COUNTS...]: issuance throughput, certkeeper vs lego, on the bench
# pebble of scripts/peers.sh (pebble-bench, VA sleeps off, resolving through dnsmasq-bench).
#
# For each count N (default 1 10 100) and each challenge type, certkeeper issues N certificates
# declared in its config with its natural concurrency (timed from daemon start until `cert list`
# shows all N), then lego issues N certificates for the same kind of names one after another
# (timed over the whole loop, account registration included as for certkeeper).
#   HTTP-01  both answer on 127.0.0.1:5012, where pebble-bench validates; names
#            hI.http.bench.example.test (PowerDNS's wildcard A)
#   DNS-01   certkeeper on its built-in server (127.0.0.1:5363, to which dnsmasq-bench delegates
#            all of dns.bench.example.test); lego through PowerDNS's API, its own best local
#            option, for names under pdns.bench.example.test
# The bench peers' ports are not the e2e tests' (5002, 5353), so no lock is needed; certkeeper
# and lego still take turns, since both answer HTTP-01 on 5012. Prints certs/s for both and the ratio against the targets.
# Needs: a release build (target/release/certkeeper), peers up, `eval "$(scripts/peers.sh env)"`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CERTKEEPER_ROOT"

COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(1 10 100)
BIN="$CERTKEEPER_ROOT/target/release/certkeeper"
DIRECTORY="${CERTKEEPER_BENCH_PEBBLE_DIRECTORY:?run eval \"\$(scripts/peers.sh env)\" first}"
TLS_CA="$CERTKEEPER_TEST_PEBBLE_TLS_CA"
WORK="$CERTKEEPER_ROOT/target/bench/issuance"
RUN_ID="r$(date +%s)"   # fresh names each run: pebble would otherwise answer from nothing
[[ -x "$BIN" ]] || die "no release build at $BIN; run cargo build --release -p certkeeper"

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$@"; }

# names KIND N: the N DNS names of a run, one per certificate.
names() {
  local kind="$1" n="$2" i
  for ((i = 1; i <= n; i++)); do
    case "$kind" in
      http) echo "h$i-$RUN_ID.http.bench.example.test" ;;
      dns) echo "d$i-$RUN_ID.dns.bench.example.test" ;;
      lego-dns) echo "l$i-$RUN_ID.pdns.bench.example.test" ;;
    esac
  done
}

# certkeeper_config DIR KIND N: a config declaring N certificates of challenge KIND.
certkeeper_config() {
  local dir="$1" kind="$2" n="$3" name i=0
  mkdir -p "$dir/plugins"
  cat <<TOML
store = "$dir/certkeeper.redb"
admin_socket = "$dir/admin.sock"
plugin_dir = "$dir/plugins"

[http01]
listen = ["127.0.0.1:5012"]

[dns_server]
listen = ["127.0.0.1:5363"]
zones = ["dns.bench.example.test"]
nameserver = "ns.certkeeper.example.test."

[[ca]]
name = "pebble"
directory = "$DIRECTORY"
tls_root = "$TLS_CA"

[[account]]
name = "bench"
ca = "pebble"
email = "hostmaster@example.test"
agree_tos = true
TOML
  while read -r name; do
    i=$((i + 1))
    printf '\n[[certificate]]\nname = "c%d"\nnames = ["%s"]\naccount = "bench"\n' "$i" "$name"
    if [[ $kind == http ]]; then
      echo 'challenge = "http-01"'
    else
      printf 'challenge = "dns-01"\ndns = "builtin"\n'
    fi
  done < <(names "$kind" "$n")
}

# run_certkeeper KIND N: seconds from daemon start until all N certificates are listed.
run_certkeeper() {
  local kind="$1" n="$2" dir="$WORK/certkeeper-$1-$2" t0 have=0 daemon
  rm -rf "$dir"
  mkdir -p "$dir"
  certkeeper_config "$dir" "$kind" "$n" >"$dir/certkeeper.toml"
  chmod 600 "$dir/certkeeper.toml"
  t0=$(now)
  "$BIN" run --config "$dir/certkeeper.toml" 2>"$dir/daemon.log" &
  daemon=$!
  while ((have < n)); do
    sleep 0.05
    kill -0 "$daemon" 2>/dev/null || { tail -n 20 "$dir/daemon.log" >&2; die "certkeeper exited"; }
    have=$("$BIN" --config "$dir/certkeeper.toml" --json cert list 2>/dev/null | grep -o '"serial"' | wc -l)
    [[ $(elapsed "$t0" "$(now)" | cut -d. -f1) -lt 600 ]] || die "certkeeper: $have of $n after 600 s"
  done
  elapsed "$t0" "$(now)"
  kill -TERM "$daemon"
  wait "$daemon" || true
}

# run_lego KIND N: seconds lego takes to issue N certificates one after another.
run_lego() {
  local kind="$1" n="$2" dir="$WORK/lego-$1-$2" t0 name
  local args=(--accept-tos --email hostmaster@example.test --server "$DIRECTORY" --path "$dir")
  if [[ $kind == http ]]; then
    args+=(--http --http.port 127.0.0.1:5012)
  else
    args+=(--dns pdns --dns.resolvers "$CERTKEEPER_TEST_PDNS_DNS" --dns.disable-cp)
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  t0=$(now)
  while read -r name; do
    LEGO_CA_CERTIFICATES="$TLS_CA" PDNS_API_URL="$CERTKEEPER_TEST_PDNS_API" \
      PDNS_API_KEY="$CERTKEEPER_TEST_PDNS_KEY" \
      lego "${args[@]}" --domains "$name" run >>"$dir/lego.log" 2>&1 ||
      { tail -n 20 "$dir/lego.log" >&2; die "lego failed for $name"; }
  done < <(names "$([[ $kind == http ]] && echo http || echo lego-dns)" "$n")
  elapsed "$t0" "$(now)"
}

# pair KIND N: certkeeper, then lego; prints a report.
pair() {
  local ck lego_s
  ck=$(run_certkeeper "$1" "$2")
  lego_s=$(run_lego "$1" "$2")
  report "$1-01" "$2" "$ck" "$lego_s"
}

# report KIND N CK_SECONDS LEGO_SECONDS: one line with rates, ratio and the target met or missed.
report() {
  python3 - "$@" <<'PY'
import sys
kind, n, ck, lego = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ratio = lego / ck
target, want = ("≥ 5×", 5.0) if n >= 100 else ("≥ 1×", 1.0) if n == 1 else ("", None)
verdict = "" if want is None else (" met" if ratio >= want else " MISSED")
print(f"{kind:8} N={n:<4} certkeeper {ck:7.2f} s {n / ck:6.2f} certs/s | "
      f"lego {lego:7.2f} s {n / lego:6.2f} certs/s | ratio {ratio:5.2f}× {target}{verdict}")
PY
}

ensure_debs lego
mkdir -p "$WORK"
echo "issuance: pebble-bench $DIRECTORY, lego $(dpkg-query -W -f='${Version}' lego)"
for kind in http dns; do
  for n in "${COUNTS[@]}"; do
    pair "$kind" "$n"
  done
done
