#!/usr/bin/env bash
# README command 1: install what is missing, build, install into _install/, and run the main
# example (examples/c/example.c) compiled against the installed rai.pc with pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
rai_build
meson install -C "$RAI_BUILD" --quiet
pc=$(find "$RAI_PREFIX" -name rai.pc | head -n 1)
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir rai)
cc -std=c11 -Wall -Wextra examples/c/example.c $(pkg-config --cflags --libs rai) -Wl,-rpath,"$libdir" \
   -o "$RAI_BUILD/example-installed"
"$RAI_BUILD/example-installed"
echo
echo "rai is installed in $RAI_PREFIX; the CLI is $RAI_PREFIX/bin/rai (try: $RAI_PREFIX/bin/rai info)"
