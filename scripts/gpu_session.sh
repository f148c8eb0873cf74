#!/usr/bin/env bash
# One-shot GPU check for a session that is lent a CUDA machine. The device tool runs it in a copy
# of the working tree; what it needs from the build must be carried (64 MiB at most), so build a
# lean release tree here and drop its object files:
#   meson setup build-gpu -Dbuildtype=release -Dgpu_archs=90 -Dpython=disabled -Dgo=disabled \
#     -Dcsharp=disabled -Dmpi=disabled -Dabi_check=disabled && ninja -C build-gpu -j2
#   mkdir -p .dev && cp -r build-gpu .dev/ && find .dev/build-gpu -name '*.o' -o -name '*.a' | xargs rm
#   run there:  RAI_BUILD=.dev/build-gpu bash scripts/gpu_session.sh "$OUT" [steps]   carry: [".dev"]
# (.dev is listed in .git/info/exclude). What else .dev holds, for the steps that need it:
#   .dev/site/bitsandbytes  a slim copy of bitsandbytes (its Python files, libbitsandbytes_cpu.so and
#                           libbitsandbytes_cuda130.so) for the CUDA goldens and quant_bench's anchor;
#   .dev/whl                cffi and pycparser wheels for the machine's Python (pip download
#                           --only-binary=:all: --python-version 3.12 ...), for python and torchbench;
#   .dev/pyrai/rai          the Python package: bindings/python/rai plus build/bindings/python/rai/_cdef.py.
# Keep the whole tree under the tool's 64 MiB: drop the build's object files and the binaries no
# step runs (tests/io/gguf, write_peft_dir, train_bench, ...).
#
# Steps (default: all but sanitize and bnbsass): info cpu gpu golden python torchbench bench;
# also sanitize (compute-sanitizer memcheck) and bnbsass (bitsandbytes' SASS). The test binaries run directly, not through
# `meson test` (the machine's meson differs from the one that configured the tree); the tree's
# absolute paths (golden-file folders) are made valid by linking the build-time source folder to
# this copy. Everything is written under OUTDIR/r and packed into OUTDIR/results.tgz at the end
# (the tool brings back at most 8 files). Exit status: 0 when every test binary passed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu_session.sh OUTDIR [steps...]}
shift
steps=${*:-info cpu gpu golden python torchbench bench}
build=${RAI_BUILD:-build}
r="$out/r"
mkdir -p "$r"
here=$PWD
# The source folder the tree was configured in (its tests name golden files by absolute path).
src=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['directories']['source'])" \
      "$build/meson-info/meson-info.json" 2>/dev/null || echo "")
if [ -n "$src" ] && [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$here" "$src"; fi
bdir="$here/$build"
export RAI_CUDA_PLUGIN="$bdir/src/librai_cuda.so"
nccl_dir=$(dirname "$(find /usr/local /opt /usr/lib -name 'libnccl.so.2' 2>/dev/null | head -n 1)" 2>/dev/null)
export LD_LIBRARY_PATH="/usr/local/cuda/lib64:${nccl_dir:-/usr/local/cuda/lib64}:${LD_LIBRARY_PATH:-}"
rc=0
has() { case " $steps " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# Runs a test binary with a time limit; records its log and one summary line.
run_test() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$r/test-$name.txt" 2>&1
  local st=$?
  echo "$name exit $st ($((SECONDS - t0)) s)" >> "$r/summary.txt"
  return $st
}

if has info; then
  { nvidia-smi; nvidia-smi -q -d CLOCK | head -n 30; lscpu; } > "$r/machine.txt" 2>&1
  grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ' >> "$r/summary.txt"; echo >> "$r/summary.txt"
  "$bdir/tools/rai/rai" info > "$r/rai-info.txt" 2>&1
fi

pids=()
if has cpu; then
  # The CPU suites on this machine's CPU (AVX-512 kernels where it has them), concurrently.
  for t in rai_unit_tests ternary/rai_ternary_tests quant/rai_quant_tests quant/bitnet/rai_bitnet_tests \
           compress/rai_compress_tests train/rai_train_tests adapters/rai_adapters_tests io/rai_io_tests; do
    [ -x "$bdir/tests/$t" ] || { echo "$t missing" >> "$r/summary.txt"; continue; }
    run_test "cpu-$(basename "$t")" ${RAI_TEST_LIMIT:-240} "$bdir/tests/$t" --gtest_brief=1 & pids+=($!)
  done
fi
if has gpu; then
  for t in rai_gpu_tests ternary/rai_ternary_gpu_tests quant/rai_quant_gpu_tests quant/bitnet/rai_bitnet_gpu_tests \
           adapters/rai_adapters_gpu_tests compress/rai_compress_gpu_tests compress/rai_compress_nccl_tests \
           train/rai_train_gpu_tests; do
    [ -x "$bdir/tests/$t" ] || { echo "$t missing" >> "$r/summary.txt"; continue; }
    run_test "gpu-$(basename "$t")" ${RAI_TEST_LIMIT:-240} "$bdir/tests/$t" --gtest_brief=1 & pids+=($!)
  done
fi
if has python; then
  # The Python suite (ABI mode: cffi travels as wheels in .dev/whl, the package in .dev/pyrai)
  # with the machine's PyTorch, so CUDA tensors, DLPack and the DDP hook run for real; beside the
  # test binaries.
  ( python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$here"/.dev/whl/*.whl &&
    export PYTHONPATH="$here/.dev/pyrai:/tmp/site" RAI_LIBRARY="$bdir/src/librai.so" RAI_PY_FORCE_ABI=1 \
           RAI_PY_EXPECT_MODE=abi RAI_HEADER="$here/include/rai.h" PYTHONDONTWRITEBYTECODE=1 &&
    timeout 240 python3 -m unittest discover -s bindings/python/tests -t bindings/python/tests ) > "$r/python.txt" 2>&1
  echo "python exit $?" >> "$r/summary.txt"
fi &
pids+=($!)

for p in "${pids[@]}"; do wait "$p" || rc=1; done

if has sanitize; then
  # compute-sanitizer memcheck over the GPU suites (out-of-bounds and misaligned accesses, leaks
  # of device memory are not checked), concurrently.
  spids=()
  for t in rai_gpu_tests ternary/rai_ternary_gpu_tests quant/rai_quant_gpu_tests quant/bitnet/rai_bitnet_gpu_tests \
           adapters/rai_adapters_gpu_tests compress/rai_compress_gpu_tests train/rai_train_gpu_tests; do
    run_test "memcheck-$(basename "$t")" ${RAI_SANITIZE_LIMIT:-300} compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 9 \
      "$bdir/tests/$t" --gtest_brief=1 & spids+=($!)
  done
  for p in "${spids[@]}"; do wait "$p" || rc=1; done
fi

if has bnbsass; then
  # Which reciprocal bitsandbytes' quantise kernel uses (MUFU.RCP = the fast-math approximation).
  cuobjdump -sass "$here/.dev/site/bitsandbytes/libbitsandbytes_cuda130.so" 2>/dev/null |
    awk '/Function : /{f = ($0 ~ /kQuantizeBlockwise/); name = $3} f && /MUFU.RCP|FCHK|CALL/ {print name, $0}' |
    head -n 40 > "$r/bnb-sass.txt"
  echo "bnb sass lines: $(wc -l < "$r/bnb-sass.txt")" >> "$r/summary.txt"
fi

if has golden; then
  # bitsandbytes' CUDA kernels produce the *_cuda.safetensors golden files.
  ( export PYTHONPATH="$here/.dev/site:${PYTHONPATH:-}"
    timeout 300 python3 tests/quant/golden/make_bnb_golden.py --device cuda --out "$r/golden" ) > "$r/golden.txt" 2>&1 \
    || echo "golden failed" >> "$r/summary.txt"
fi

if has torchbench; then
  # Python benchmarks that need PyTorch on the GPU (rai through its ABI-mode package).
  ( python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$here"/.dev/whl/*.whl &&
    export PYTHONPATH="$here/.dev/pyrai:/tmp/site" RAI_LIBRARY="$bdir/src/librai.so" RAI_PY_FORCE_ABI=1 &&
    timeout 300 python3 bench/vsa_topk_vs_torch.py ) > "$r/bench-vsa_topk_vs_torch.txt" 2>&1
  echo "bench vsa_topk_vs_torch.py exit $?" >> "$r/summary.txt"
fi

# The PyTorch-driven training benchmarks (rai drives the steps; bench/torch_tasks.py): steps
# smoke (T3 and the compression protocol with --quick on the GPU), hybrid-t2, hybrid-t3,
# compress-t2. Each writes its JSON (rewritten after every run, so a cut-off run keeps what
# finished; pass it back with --resume) and its report. Extra arguments: RAI_HYBRID_T2_ARGS,
# RAI_HYBRID_T3_ARGS, RAI_COMPRESS_T2_ARGS; time: RAI_<STEP>_LIMIT seconds (default: what is left
# before RAI_DEADLINE); a script starts no new run in its last RAI_RUN_RESERVE (60) s.
torch_bench() {
  local name=$1 want=$2
  shift 2
  local left=$(( ${RAI_DEADLINE:-560} - SECONDS ))
  local limit=$(( want < left ? want : left ))
  [ "$limit" -lt 20 ] && { echo "$name: no time left" >> "$r/summary.txt"; return; }
  local reserve=${RAI_RUN_RESERVE:-60}
  local t0=$SECONDS
  ( python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$here"/.dev/whl/*.whl &&
    export PYTHONPATH="$here/.dev/pyrai:/tmp/site" RAI_LIBRARY="$bdir/src/librai.so" RAI_PY_FORCE_ABI=1 &&
    timeout "$limit" python3 "$@" --dump-tool "$bdir/bench/t2_corpus_dump" \
      --time-limit $(( limit - reserve > 10 ? limit - reserve : 10 )) --out "$r/$name.json" ) > "$r/$name.txt" 2>&1
  echo "$name exit $? ($((SECONDS - t0)) s)" >> "$r/summary.txt"
}
if has smoke; then
  RAI_RUN_RESERVE=30 torch_bench smoke-hybrid-t3 90 bench/hybrid_torch_bench.py --task t3 --device cuda --quick --jobs 2
  RAI_RUN_RESERVE=30 torch_bench smoke-compress-t2 90 bench/compress_torch_bench.py --device cuda --quick --jobs 2
fi
# shellcheck disable=SC2086  # the *_ARGS are word lists
has hybrid-t2 && torch_bench hybrid-t2 ${RAI_HYBRID_T2_LIMIT:-9999} bench/hybrid_torch_bench.py --task t2 --device cuda ${RAI_HYBRID_T2_ARGS:-}
# shellcheck disable=SC2086
has hybrid-t3 && torch_bench hybrid-t3 ${RAI_HYBRID_T3_LIMIT:-9999} bench/hybrid_torch_bench.py --task t3 --device cuda ${RAI_HYBRID_T3_ARGS:-}
# shellcheck disable=SC2086
has compress-t2 && torch_bench compress-t2 ${RAI_COMPRESS_T2_LIMIT:-9999} bench/compress_torch_bench.py --device cuda ${RAI_COMPRESS_T2_ARGS:-}

if has bench; then
  # The benchmarks' GPU sections (each measures rai beside its anchor in the same run), then the
  # CPU benchmarks whose kernels have AVX-512 paths. Entries are program:argument.
  export RAI_BNB_LIBRARY="$here/.dev/site/bitsandbytes/libbitsandbytes_cuda130.so"
  for e in ${RAI_BENCHES:-quant_bench:--gpu ternary_bench:--gpu adapters_bench:--gpu bitnet_bench:--gpu compress_bench:gpu ternary_bench: bitnet_bench:}; do
    b=${e%%:*}
    a=${e#*:}
    [ -x "$bdir/bench/$b" ] || continue
    left=$(( ${RAI_DEADLINE:-560} - SECONDS ))  # the device tool's 600 s per command, less packing
    limit=${RAI_BENCH_LIMIT:-150}
    [ "$left" -lt "$limit" ] && limit=$left
    [ "$limit" -lt 10 ] && { echo "bench $b $a: no time left" >> "$r/summary.txt"; continue; }
    t0=$SECONDS
    timeout "$limit" "$bdir/bench/$b" $a > "$r/bench-$b${a:+-${a#--}}.txt" 2>&1
    echo "bench $b $a exit $? ($((SECONDS - t0)) s)" >> "$r/summary.txt"
  done
fi

cat "$r/summary.txt"
tar czf "$out/results.tgz" -C "$out" r && rm -rf "$r"
exit $rc
