#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR and builds examples/c/example.c against the
# installed rai.pc with pkg-config, as a user would; then runs it.
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
meson_cmd=${MESON:-meson}
$meson_cmd install -C "$build" --destdir "$tmp" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp" -name rai.pc | head -n 1)
[ -n "$pc" ] || { echo "rai.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$tmp
flags=$(pkg-config --cflags --libs rai)
libdir=$(dirname "$(dirname "$pc")")   # rai.pc lives in <libdir>/pkgconfig
test -f "$libdir/librai.so.0" || { echo "librai.so.0 not installed in $libdir"; exit 1; }
echo "$flags" | grep -q -- "-I$tmp" || { echo "rai.pc gives no include path into the install: $flags"; exit 1; }
cc -std=c11 -Wall -Wextra -pedantic -Werror "$src/examples/c/example.c" $flags -o "$tmp/example"
LD_LIBRARY_PATH="$libdir" "$tmp/example"
