#!/usr/bin/env bash
# scripts/bench.sh [all|dns|issuance|plugins|store]: the benchmarks, each printing certkeeper's
# numbers beside a peer's (or its target) measured in the same run. Installs the peers it needs
# (dnsperf, knot, lego) and starts scripts/peers.sh. Results and the machine they ran on belong
# in docs/BENCHMARKS.md.
#   dns       port-53 TXT queries/s vs knot and PowerDNS         (benches/dns_qps.rs)
#   issuance  certificates/s vs lego, HTTP-01 and DNS-01, N=1,10,100 (scripts/bench-issuance.sh)
#   plugins   call round trip, load/compile with and without cache, hot reload (benches/plugin_calls.rs)
#   store     10,000 certificates: cert list, renewal scan, start time, idle RSS (benches/store_scale.rs)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CERTKEEPER_ROOT"

what="${1:-all}"
case "$what" in
  all) benches=(dns issuance plugins store) ;;
  dns | issuance | plugins | store) benches=("$what") ;;
  *) echo "usage: $0 [all|dns|issuance|plugins|store]" >&2; exit 2 ;;
esac

bash scripts/setup.sh
find_cargo || die "no cargo found; scripts/setup.sh should have installed one"
scripts/peers.sh start
eval "$(scripts/peers.sh env)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"

# The plugin and store benchmarks load the built plugins; building them is a no-op when current.
plugins_built=false
build_plugins() {
  $plugins_built || env -u CARGO -u RUSTC bash scripts/build-plugins.sh
  plugins_built=true
}

for bench in "${benches[@]}"; do
  echo "== $bench"
  case "$bench" in
    dns)
      ensure_debs dnsperf knot
      "$CARGO" bench -p certkeeper --bench dns_qps
      ;;
    issuance)
      "$CARGO" build --release -p certkeeper
      scripts/bench-issuance.sh
      ;;
    plugins)
      build_plugins
      "$CARGO" bench -p certkeeper --bench plugin_calls
      ;;
    store)
      build_plugins
      "$CARGO" bench -p certkeeper --bench store_scale
      ;;
  esac
done
