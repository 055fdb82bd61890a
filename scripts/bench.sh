#!/usr/bin/env bash
# scripts/bench.sh: the benchmarks, each printing certkeeper's numbers beside a peer's measured in
# the same run. Installs the peers it needs (dnsperf, knot) and starts scripts/peers.sh for
# PowerDNS. Results and the machine they ran on belong in docs/BENCHMARKS.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CERTKEEPER_ROOT"
bash scripts/setup.sh
find_cargo || die "no cargo found; scripts/setup.sh should have installed one"
ensure_debs dnsperf knot
scripts/peers.sh start
eval "$(scripts/peers.sh env)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
"$CARGO" bench -p certkeeper --bench dns_qps
