#!/usr/bin/env bash
# Writes the ABI baseline abi/librai-0.abi from a build (default: build/). Run it only for a
# reviewed, compatible change; commit the result with the change.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
abidw --no-corpus-path --no-comp-dir-path --short-locs --out-file abi/librai-0.abi "$build"/src/librai.so.0
echo "wrote abi/librai-0.abi from $build"
