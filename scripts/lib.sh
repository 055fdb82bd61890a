# shellcheck shell=bash
# scripts/lib.sh: helpers shared by setup.sh, peers.sh and test.sh. Source it; don't run it.

# shellcheck disable=SC2034  # these two are for the scripts that source this file
CERTKEEPER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Debian packages the peers (scripts/peers.sh) need.
# shellcheck disable=SC2034
PEER_DEBS=(pebble pdns-server pdns-backend-sqlite3 dnsutils knot-dnsutils dnsmasq-base sqlite3 curl openssl
  python3 python3-cryptography)  # python3: the fake provider APIs and the fake CA in tests/fakes

# ensure_debs PKG...: install whichever of PKG is not installed yet. `apt-get update` runs
# only when something is missing, so a machine that has everything never touches the network.
# DPkg::Lock::Timeout makes us wait for another apt/dpkg run instead of failing at once.
ensure_debs() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "missing Debian packages (${missing[*]}) and not root; install them as root"
    sudo=(sudo)
  fi
  log "installing Debian packages: ${missing[*]}"
  apt_retry "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=900 update
  apt_retry "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=900 install -y "${missing[@]}"
}

# apt_retry CMD...: run an apt-get command, retrying for up to 15 min while another apt holds a
# lock. DPkg::Lock::Timeout covers only dpkg's frontend lock: apt 2.6's `update` fails at once
# on /var/lib/apt/lists/lock ("Could not get lock"), as does anything on the archives lock.
apt_retry() {
  local - out rc deadline=$((SECONDS + 900))
  set -o pipefail   # rc is apt's, not tee's
  out="$(mktemp)"
  while :; do
    rc=0
    "$@" 2>&1 </dev/null | tee "$out" >&2 || rc=$?
    if ((rc == 0)) || ! grep -q 'Could not get lock' "$out" || ((SECONDS > deadline)); then
      rm -f "$out"
      return "$rc"
    fi
    log "another apt holds a lock; retrying in 5 s"
    sleep 5
  done
}

# find_cargo: pick the host Rust toolchain and export CARGO (and RUSTC for Debian's).
# Order: $CARGO if already set; rustup's cargo (PATH or ~/.cargo/bin); Debian's cargo-web.
# Debian's /usr/bin/cargo would otherwise run whatever `rustc` is first on PATH, possibly
# rustup's (TOOLCHAIN.md pitfall 1), hence RUSTC=/usr/bin/rustc with it.
find_cargo() {
  if [[ -n "${CARGO:-}" && -x "${CARGO:-}" ]]; then export CARGO; return 0; fi
  local cargo_home="${CARGO_HOME:-$HOME/.cargo}" c
  c="$(command -v cargo || true)"
  if [[ -n "$c" && "$c" != /usr/bin/cargo ]]; then
    export CARGO="$c"
  elif [[ -x "$cargo_home/bin/cargo" ]]; then
    export CARGO="$cargo_home/bin/cargo"
  elif command -v rustup >/dev/null && c="$(rustup which cargo 2>/dev/null)"; then
    export CARGO="$c"
  elif [[ -x /usr/bin/cargo ]]; then
    export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc
  else
    return 1
  fi
  # rustup's proxies and cargo subcommands (cargo-fmt, cargo-clippy) live next to cargo.
  local bin; bin="$(dirname "$CARGO")"
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
}
