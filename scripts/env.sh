# Sourced by the scripts: puts the project's tools on PATH (the virtualenv's meson and python,
# and nvcc when a CUDA toolkit is installed at /usr/local/cuda).
RAI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$RAI_ROOT/.venv/bin:$PATH"
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
RAI_BUILD=${RAI_BUILD:-$RAI_ROOT/build}
RAI_PREFIX=${RAI_PREFIX:-$RAI_ROOT/_install}

# Configures (once) and builds the tree in $RAI_BUILD.
rai_build() {
  if [ ! -f "$RAI_BUILD/build.ninja" ]; then
    meson setup "$RAI_BUILD" "$RAI_ROOT" -Dgpu_archs=90 --prefix="$RAI_PREFIX" "$@" || return 1
  fi
  ninja -C "$RAI_BUILD" -j"$(nproc)"
}
