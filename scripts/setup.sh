#!/usr/bin/env bash
# Installs everything rai needs on Debian 12: Debian packages through apt, Python packages
# through pip into a project virtualenv (.venv). CUDA is detected, never installed.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  build-essential pkg-config ninja-build
  libgtest-dev libgmock-dev
  swig golang-go mono-mcs mono-runtime
  python3 python3-dev python3-venv
  abigail-tools libopenmpi-dev openmpi-bin
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python tools and packages live in .venv, built on Debian's python3 (which has python3-dev).
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r scripts/requirements.txt
# llama.cpp's ggml C sources, for the test that reads rai's GGUF files with llama.cpp's own reader.
# Optional: without them (no network) that one test is skipped.
bash scripts/fetch_ggml.sh || echo "setup: could not fetch llama.cpp's ggml sources; gguf-check-with-ggml will be skipped"

if [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: CUDA toolkit found at /usr/local/cuda (the CUDA plugin will be built)"
else
  echo "setup: no CUDA toolkit found; building CPU-only"
fi
