#!/usr/bin/env python3
"""NF4 / FP4 on the CPU: rai against bitsandbytes' own CPU backend, in the same process, one
thread each (RAI_NUM_THREADS=1, torch.set_num_threads(1)); times are the calling thread's CPU
time (time.thread_time), medians, so a loaded machine's other work does not count.

Per case it also checks that both produce the same thing: packed codes and absmax byte for byte
after quantising, equal dequantised values, and the GEMV outputs against each other.

Usage (bitsandbytes needs torch, which is too large for the project's .venv, so this runs in a
separate virtualenv with torch, bitsandbytes >= 0.46 (CPU backend), numpy and cffi):
  PYTHONPATH=build/bindings/python RAI_LIBRARY=build/src/librai.so \\
    ANCHOR_VENV/bin/python bench/quant4_vs_bitsandbytes.py [--quick]"""
import os
import statistics
import sys
import time

os.environ["RAI_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402
import torch  # noqa: E402
import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.functional as F  # noqa: E402
import rai  # noqa: E402
import rai.quant4 as q4  # noqa: E402

torch.set_num_threads(1)


def cpu_time(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.thread_time()
        fn()
        times.append(time.thread_time() - t)
    return statistics.median(times)


def main(quick):
    print(f"rai {rai.version()} vs bitsandbytes {bnb.__version__} (torch {torch.__version__}), CPU, one thread")
    n_out, k = (1024, 4096) if quick else (4096, 4096)
    reps = 3 if quick else 5
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n_out, k)) * 0.02).astype(np.float32)
    x = rng.standard_normal((1, k)).astype(np.float32)
    wt, xt = torch.from_numpy(w), torch.from_numpy(x)
    mb = w.nbytes / 1e6
    print(f"weight {n_out} x {k} f32 ({mb:.0f} MB), blocksize 64; ratio = bitsandbytes time / rai time\n")
    print(f"{'case':34s} {'bitsandbytes':>14s} {'rai':>12s} {'ratio':>8s}  check")
    for qt in ("nf4", "fp4"):
        state = q4.quantize_4bit(w, quant_type=qt, blocksize=64)
        qb, sb = F.quantize_4bit(wt, blocksize=64, quant_type=qt)
        diff = int(np.count_nonzero(state.codes.reshape(-1) != qb.numpy().reshape(-1)))
        absmax_equal = np.array_equal(state.absmax, sb.absmax.numpy())
        t_b = cpu_time(lambda: F.quantize_4bit(wt, blocksize=64, quant_type=qt), reps)
        t_r = cpu_time(lambda: q4.quantize_4bit(w, quant_type=qt, blocksize=64), reps)
        print(f"{qt} quantise ({mb / t_b:.0f} vs {mb / t_r:.0f} MB/s){'':3s} {t_b * 1e3:11.1f} ms {t_r * 1e3:9.1f} ms "
              f"{t_b / t_r:7.1f}x  codes {'identical' if diff == 0 else f'{diff} bytes differ'}, "
              f"absmax {'identical' if absmax_equal else 'differs'}")
        deq_r = q4.dequantize_4bit(state)
        deq_b = F.dequantize_4bit(qb, sb).numpy()
        t_b = cpu_time(lambda: F.dequantize_4bit(qb, sb), reps)
        t_r = cpu_time(lambda: q4.dequantize_4bit(state), reps)
        same = np.array_equal(deq_r, deq_b)
        print(f"{qt} dequantise to f32{'':16s} {t_b * 1e3:11.1f} ms {t_r * 1e3:9.1f} ms {t_b / t_r:7.1f}x  "
              f"values {'identical' if same else 'max |diff| %.3g' % float(np.max(np.abs(deq_r - deq_b)))}")
        y_r = q4.linear_4bit(x, state)
        y_b = bnb.matmul_4bit(xt, qb.t(), quant_state=sb).numpy()
        t_b = cpu_time(lambda: bnb.matmul_4bit(xt, qb.t(), quant_state=sb), reps * 4)
        t_r = cpu_time(lambda: q4.linear_4bit(x, state), reps * 4)
        rel = float(np.linalg.norm(y_r - y_b) / np.linalg.norm(y_b))
        print(f"{qt} GEMV M=1 (matmul_4bit){'':10s} {t_b * 1e3:11.2f} ms {t_r * 1e3:9.2f} ms {t_b / t_r:7.1f}x  "
              f"outputs rel. L2 diff {rel:.1e}")


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
