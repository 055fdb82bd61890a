#!/usr/bin/env bash
# scripts/setup.sh: install what a fresh Debian 12 needs to build certkeeper and its plugins and
# to run its tests. Idempotent: a machine that has everything gets no apt run at all.
# Writes target/toolchain.env (the host cargo) for callers; scripts/lib.sh's find_cargo makes
# the same choice for scripts that don't read it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Plugins build with Debian's Rust 1.96 (TOOLCHAIN.md §1). rust-web-llvm is only a Recommends
# of cargo-web but carries wasm-component-ld, so it is named. Never `apt install rustup`:
# rustc-web conflicts with it.
ensure_debs "${PEER_DEBS[@]}" build-essential pkg-config \
  rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc

# Host toolchain: rustup's if there is one, else Debian's 1.96 (it builds the host too).
find_cargo || die "no cargo found, not even /usr/bin/cargo from cargo-web"
if [[ "$CARGO" == /usr/bin/cargo ]]; then
  # rustup has its own rustfmt and clippy; with Debian's cargo they come as packages.
  ensure_debs rustfmt-web rust-web-clippy
fi

# fmt and clippy are part of the test command; say now if they are missing, not after a build.
# (rustup's components can't be fetched here: only the Debian/crates.io/PyPI/npm registries are reachable.)
"$CARGO" --version
"$CARGO" fmt --version >/dev/null 2>&1 || die "$CARGO has no rustfmt (rustup: \`rustup component add rustfmt\`)"
"$CARGO" clippy --version >/dev/null 2>&1 || die "$CARGO has no clippy (rustup: \`rustup component add clippy\`)"

mkdir -p "$CERTKEEPER_ROOT/target"
{
  echo "# written by scripts/setup.sh: the host Rust toolchain"
  printf 'export CARGO=%q\n' "$CARGO"
  [[ "$CARGO" != /usr/bin/cargo ]] || echo "export RUSTC=/usr/bin/rustc"
  # shellcheck disable=SC2016  # $PATH is for whoever sources the file to expand
  printf 'export PATH=%q:"$PATH"\n' "$(dirname "$CARGO")"
} >"$CERTKEEPER_ROOT/target/toolchain.env"
log "setup done; host cargo: $CARGO (see target/toolchain.env)"
