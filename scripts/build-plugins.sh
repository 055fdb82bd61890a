#!/usr/bin/env bash
# scripts/build-plugins.sh: build every crate in plugins/*/ into a wasm32-wasip2 component.
#
# Output: target/wasm32-wasip2/plugin/<lib name>.wasm (e.g. powerdns.wasm), copied to
# target/plugins/ so that directory can serve as the daemon's plugin_dir. Test plugins (lib names
# starting with test_, such as plugins/test-hostile) go to target/test-plugins/ instead: they are
# never shipped. Extra arguments go to
# cargo. This is the recipe of TOOLCHAIN.md §2: Debian's rustc-web with -Zbuild-std, because the
# rustup target download is not reachable from every machine we build on.
set -euo pipefail
debs=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc); missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get -o DPkg::Lock::Timeout=900 update
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y "${missing[@]}"
fi
cd "$(dirname "$0")/.."
crates=(); for m in plugins/*/Cargo.toml; do crates+=(-p "$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$m" | head -n1)"); done
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-L /usr/lib/wasm32-wasi${RUSTFLAGS:+ $RUSTFLAGS}"   # keep any CI flags
/usr/bin/cargo build --target wasm32-wasip2 -Zbuild-std=std,panic_abort --profile plugin "${crates[@]}" "$@"
mkdir -p target/plugins target/test-plugins
rm -f target/plugins/test_*.wasm
for f in target/wasm32-wasip2/plugin/*.wasm; do   # 8 magic bytes: component, not a core module
  m=$(od -An -tx1 -N8 "$f" | tr -d ' \n')
  [ "$m" = 0061736d0d000100 ] || { echo "not a component: $f ($m)" >&2; exit 1; }
  case "$(basename "$f")" in
    test_*) cp "$f" target/test-plugins/ ;;
    *) cp "$f" target/plugins/ ;;
  esac
done
ls -l target/plugins/*.wasm target/test-plugins/*.wasm
