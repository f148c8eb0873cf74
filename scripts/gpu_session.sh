#!/usr/bin/env bash
# One-shot GPU check for a session that is lent a CUDA machine (the device tool runs it in a copy
# of the working tree; what it needs from the build must be carried, 64 MiB at most, so build a
# lean release tree here and drop its object files):
#   meson setup build-gpu -Dbuildtype=release -Dgpu_archs=90 -Dpython=disabled -Dgo=disabled \
#     -Dcsharp=disabled -Dmpi=disabled && ninja -C build-gpu -j2 && find build-gpu -name '*.o' -delete
#   run there:    RAI_BUILD=build-gpu bash scripts/gpu_session.sh "$OUT"   with carry: ["build-gpu"]
# It records the device, runs the GPU test suite (GPU == CPU checks of every capability) and the
# benchmark sections that use the GPU, and writes each log to OUTDIR. Exit status: that of the
# GPU suite.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu_session.sh OUTDIR}
mkdir -p "$out"
build=${RAI_BUILD:-build}
export RAI_CUDA_PLUGIN="$PWD/$build/src/librai_cuda.so"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
"$build/tools/rai/rai" info > "$out/rai-info.txt" 2>&1
meson test -C "$build" --no-rebuild --suite gpu --print-errorlogs > "$out/gpu-suite.txt" 2>&1
rc=$?
cp "$build/meson-logs/testlog.txt" "$out/gpu-testlog.txt" 2>/dev/null
# Benchmarks with a GPU section (each measures its CUDA path beside its anchor in the same run).
for b in quant_bench ternary_bench; do
  timeout 300 "$build/bench/$b" > "$out/$b.txt" 2>&1
done
tail -n 3 "$out/gpu-suite.txt"
exit $rc
