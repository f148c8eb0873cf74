#!/usr/bin/env bash
# Regenerates golden.txt (and GOLDEN_VERSIONS.txt) from the real rand_chacha crate.
# Needs: cargo + rustc, and `apt-get install -y librust-rand-chacha-dev` (Debian bookworm:
# rand_chacha 0.3.1, rand_core 0.6.3, ppv-lite86 0.2.16 under /usr/share/cargo/registry).
# Builds offline (.cargo/config.toml); the build directory is a throw-away under $TMPDIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="$(mktemp -d)"
trap 'rm -rf "$target"' EXIT
cd "$here"
cargo build --offline --release --quiet --target-dir "$target"
"$target/release/tritter_chacha_golden" > "$here/golden.txt"
{
  # Crate versions as resolved in Cargo.lock, the Debian packages that supplied them, the toolchain.
  awk '/^name = / {n = $3} /^version = / && n != "" {v = $3; gsub(/"/, "", n); gsub(/"/, "", v); print n, v}' Cargo.lock
  dpkg-query -W -f='debian ${Package} ${Version}\n' librust-rand-chacha-dev librust-rand-core-dev librust-ppv-lite86-dev
  rustc --version
  cargo --version
} > "$here/GOLDEN_VERSIONS.txt"
echo "wrote $here/golden.txt"
