#!/usr/bin/env bash
# `rai info` on a machine with no CUDA libraries at all: run it through the dynamic loader with
# the cache disabled and only the build's own library directory on the path, so neither the
# plugin nor libcudart can be found. It must still work and say why CUDA is unavailable.
set -euo pipefail
cli=$1 build=$2
loader=$(ls /lib64/ld-linux-x86-64.so.2 2>/dev/null || true)
[ -n "$loader" ] || { echo "no ld-linux loader: skipped"; exit 77; }
syslibs=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
out=$(env -u RAI_CUDA_PLUGIN RAI_DEVICE=auto "$loader" --inhibit-cache --library-path "$build/src:$syslibs" "$cli" info)
echo "$out"
echo "$out" | grep -q "^rai " || { echo "no version line"; exit 1; }
echo "$out" | grep -q "cuda devices     0" || { echo "expected 0 CUDA devices"; exit 1; }
echo "$out" | grep -q "default device   cpu:0" || { echo "expected the CPU fallback"; exit 1; }
# With the plugin present but the CUDA runtime hidden, dlopen of the plugin fails cleanly.
if [ -f "$build/src/librai_cuda.so" ]; then
  out=$(RAI_CUDA_PLUGIN="$build/src/librai_cuda.so" "$loader" --inhibit-cache --library-path "$build/src:$syslibs" "$cli" info)
  echo "$out" | grep -q "cuda plugin      not loaded" || { echo "plugin should not load without libcudart"; exit 1; }
  echo "$out" | grep -q -E "libcu(dart|blasLt)" || { echo "status should name the missing CUDA library"; exit 1; }
fi
echo "rai info works without CUDA libraries"
