#!/usr/bin/env bash
# scripts/test.sh: the whole test run, the same on a laptop and in CI (.ci/run calls exactly
# this). Installs what is missing first (scripts/setup.sh), then exits non-zero at the first
# failing step.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CERTKEEPER_ROOT"
bash scripts/setup.sh
find_cargo || die "no cargo found; scripts/setup.sh should have installed one"

T0=$SECONDS
peers_started=false
# step NAME CMD...: run CMD under a banner and report how long it took.
step() {
  local name="$1" t=$SECONDS rc=0; shift
  printf '\n=== %s\n=== $ %s\n' "$name" "$*" >&2
  "$@" || rc=$?
  if ((rc)); then
    printf '=== FAILED: %s (exit %d, %d s; %d s in all)\n' "$name" "$rc" $((SECONDS - t)) $((SECONDS - T0)) >&2
    $peers_started && echo "=== peer logs: $CERTKEEPER_PEERS_DIR/*/*.log" >&2
    exit "$rc"
  fi
  printf '=== ok: %s (%d s)\n' "$name" $((SECONDS - t)) >&2
}

# Peers that were already up (a developer's running set) stay up; ones we start, we stop.
peers_were_up=false
scripts/peers.sh status >/dev/null 2>&1 && peers_were_up=true
stop_peers() { $peers_were_up || scripts/peers.sh stop || true; }
trap stop_peers EXIT
trap 'exit 130' INT   # route signals through the EXIT trap
trap 'exit 143' TERM

"$CARGO" --version >&2
step "format (cheapest check first)" "$CARGO" fmt --all --check

# The plugin script runs Debian's cargo with its own RUSTC and prepends its -L to RUSTFLAGS,
# so CI's RUSTFLAGS stay in effect (TOOLCHAIN.md pitfall 2). CARGO and RUSTC are the host's
# choice, so they are kept away from it.
if [[ -f scripts/build-plugins.sh ]]; then
  step "build plugins (wasm32-wasip2)" env -u CARGO -u RUSTC bash scripts/build-plugins.sh
else
  echo "=== (no scripts/build-plugins.sh yet: plugins not built)" >&2
fi

step "start peers" scripts/peers.sh start
eval "$(scripts/peers.sh env)"
peers_started=true

step "clippy" "$CARGO" clippy --workspace --all-targets -- -D warnings
step "unit tests" "$CARGO" test --workspace --lib --bins
step "doc tests" "$CARGO" test --workspace --doc
# One at a time: every e2e test answers challenges on pebble's fixed HTTP-01 port 5002.
# The lock keeps two test runs on one machine (a developer's and a helper's) off each other's
# fixed ports; CI holds it uncontested.
step "end-to-end tests (serial)" flock /tmp/certkeeper-e2e.lock \
  "$CARGO" test -p certkeeper --test e2e -- --test-threads=1

printf '\n=== all steps passed (%d s)\n' $((SECONDS - T0)) >&2
