#!/usr/bin/env python3
"""Item-memory top-k: rai's packed trits against the PyTorch code a user would write, in one
script (issue 3's benchmark): `torch.topk(Q_fp16 @ M_fp16.T, k)` on the same {-1, 0, 1}
matrices. D = 10^4, k = 10, metric dot, q in {1, 64, 1024}, m in {10^3, 10^5}.

rai runs on PyTorch's current CUDA stream (rai.Context(stream=...)), so CUDA events time both the
same way: batches of calls between two events, median of 5 batches, after a warm-up call. Each
case also checks that both find the same best item for every query (fp16 scores above 2048 are
rounded, so only the top-1 indices are compared, and only where the top-2 scores differ in rai).

Needs a CUDA machine with torch, numpy and cffi, and rai's Python package (ABI mode):
  PYTHONPATH=build/bindings/python RAI_LIBRARY=build/src/librai.so \\
    RAI_CUDA_PLUGIN=build/src/librai_cuda.so python3 bench/vsa_topk_vs_torch.py [--quick]
`--device cpu` runs the same comparison on the CPU (a check of the script, not the benchmark)."""
import argparse
import statistics
import time

import torch

import rai
import rai.vsa as vsa


def timed(fn, reps, device, batches=5):
    """Median seconds per call over `batches` batches of `reps` calls (one warm-up call)."""
    fn()
    times = []
    for _ in range(batches):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3 / reps)
        else:
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            times.append((time.perf_counter() - t) / reps)
    return statistics.median(times)


def trits(rows, dim, gen, device):
    return (torch.randint(0, 3, (rows, dim), generator=gen, dtype=torch.int8) - 1).to(device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="m = 10^3 only")
    args = ap.parse_args()
    dev = args.device
    dim, k = 10000, 10
    stream = None
    if dev == "cuda":  # a real stream: the legacy default one (handle 0) would mean "rai's own"
        stream = torch.cuda.Stream()
        torch.cuda.set_stream(stream)
    ctx = rai.Context(dev, strict=True, stream=stream)
    name = torch.cuda.get_device_name(0) if dev == "cuda" else "CPU"
    print(f"rai {rai.version()} vs torch {torch.__version__} on {name}: top-{k}, D = {dim}, dot; "
          "ratio = torch time / rai time")
    print(f"{'q':>6} {'m':>8} {'rai us':>10} {'torch us':>10} {'ratio':>7}  top-1")
    gen = torch.Generator().manual_seed(7)
    for m in (1000,) if args.quick else (1000, 100000):
        items_i8 = trits(m, dim, gen, dev)
        items = vsa.ItemMemory.from_array(ctx, items_i8)
        items_h = items_i8.to(torch.float16)
        del items_i8
        for q in (1, 64, 1024):
            queries_i8 = trits(q, dim, gen, dev)
            queries = vsa.ItemMemory.from_array(ctx, queries_i8)
            queries_h = queries_i8.to(torch.float16)
            reps = 1 if dev == "cpu" else 3 if q * m >= 10**7 else 20
            batches = 1 if dev == "cpu" else 5
            t_rai = timed(lambda: queries.topk(items, k, metric="dot"), reps, dev, batches)
            t_torch = timed(lambda: torch.topk(queries_h @ items_h.T, k, dim=1), reps, dev, batches)
            idx, score = queries.topk(items, k, metric="dot")
            ctx.synchronize()
            ours, ours_s = torch.as_tensor(idx, device=dev), torch.as_tensor(score, device=dev)
            theirs = torch.topk((queries_h @ items_h.T).float(), k, dim=1).indices
            clear = ours_s[:, 0] > ours_s[:, 1]
            agree = bool(torch.equal(ours[clear, 0].cpu(), theirs[clear, 0].cpu()))
            print(f"{q:>6} {m:>8} {t_rai * 1e6:>10.1f} {t_torch * 1e6:>10.1f} {t_torch / t_rai:>6.2f}x  "
                  f"{'same' if agree else 'DIFFERENT'}{'  (L2-resident)' if m == 1000 and dev == 'cuda' else ''}")
            queries.close()
        items.close()
    ctx.close()


if __name__ == "__main__":
    main()
