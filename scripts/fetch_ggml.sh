#!/usr/bin/env bash
# Fetches the C sources of llama.cpp's ggml (gguf.cpp, ggml.c, ggml-quants.c, ...) for the test
# gguf-check-with-ggml, which reads rai-written GGUF files with llama.cpp's own C reader.
# Source: the llama.cpp tree vendored in the llama-cpp-python sdist on PyPI (the one registry
# this project installs from), pinned by version and sha256. Only ggml/ is kept, under
# .cache/ggml/ (git-ignored). Idempotent: a second run only checks the stamp.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
DEST=.cache/ggml
STAMP="$DEST/llama-cpp-python-$VERSION.stamp"

if [ -f "$STAMP" ] && [ -f "$DEST/ggml/src/gguf.cpp" ]; then exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION"
archive="$tmp/llama_cpp_python-$VERSION.tar.gz"
echo "$SHA256  $archive" | sha256sum -c --quiet -
tar -xzf "$archive" -C "$tmp" \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/ggml/include" \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/ggml/src" \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/LICENSE"
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp/ggml" "$DEST/ggml"
mv "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp/LICENSE" "$DEST/LICENSE"
touch "$STAMP"
echo "fetch_ggml: llama.cpp ggml sources from llama-cpp-python $VERSION in $DEST"
