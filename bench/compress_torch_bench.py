#!/usr/bin/env python3
"""Gradient compression on T2 with a PyTorch model, rai compressing and stepping:
bench/compress_bench.cpp's `t2` protocol (reference: compression-and-hybrid-training.md section 5,
compression benchmark 2) on torch's 2-layer GRU character LM, at full length.

Each step, W = 4 simulated data-parallel workers (one model: the replicas are identical) each
compute the gradient of their own batch: worker w of seed S reads windows
[step*B, (step+1)*B) of training stream S*64 + w (B = 4 per worker), exactly compress_bench's
indexing. Each worker compresses every gradient tensor with its own rai.GradientCompressor (its
own error-feedback residuals and PowerSGD warm start; all with seed 1, as compress_bench);
worker 0's compressor reduces the W messages (rai_gc_message_reduce: union-sum for top-k, rank
concatenation for PowerSGD, majority vote for sign, dense sum for the others) and decompresses the
sum into the gradient buffers, which are divided by W. Uncompressed = the exact mean. Then one
rai.Optimizer step whose max_grad_norm = 1 clips the averaged (decompressed) gradient, as DDP
clips after the all-reduce: SGD-momentum 0.9 lr 0.4 and AdamW (wd 0.01) lr 5e-3, compress_bench
t2's rates. Held-out: mean cross-entropy over the 128 held-out windows (chunks of 32).

Arms (default, as docs/compress.md's T2 table): uncompressed, EF-POWERSGD r2, EF-POWERSGD r4,
EF-SIGN, EF-TOPK 1%, EF-TERNARY, TOPK 1% (no EF); each at every --warmup (percent of the steps,
default 0). An arm name ending in " MC" (SGD-momentum only) uses momentum correction (DGC, rai_gc
momentum 0.9): each worker clips its own gradient to global norm sqrt(W) (DGC's local clipping:
the average of W noisy gradients then has norm about 1, the baseline's threshold), its compressor
keeps the velocity u = 0.9 u + g and sends it with the EF residual, and the averaged decoded
velocity takes a plain SGD step (momentum 0, no further clipping). "uncompressed MC" sends the
velocity exactly (NONE with EF): momentum SGD with local clipping, the control for the MC arms.
" LC" (either optimizer): the same local clipping to sqrt(W) before compressing, and no clipping
of the averaged decoded gradient (which carries the EF catch-up that a global clip would cut);
"uncompressed LC" is its control. " FV" (AdamW only; 1-bit Adam's two stages, Tang et al. 2021):
the warm-up (--warmup, required) runs uncompressed AdamW and tracks the variance v; at its end v
is frozen, and each worker clips locally, divides its gradient by sqrt(v_hat) + eps and compresses
it with momentum correction (momentum beta1); plain SGD with lr (1 - beta1) lr_adam and weight decay
wd / (1 - beta1) then makes exactly Adam's frozen-variance step with decoupled decay. Our variant
preconditions before compressing, so top-k selects by the size of the update. bits/param counts
the warm-up at 32. "uncompressed FV" is its control. " AG" (either optimizer): the W messages are
not reduced (majority vote for sign) but each is decoded and the decodes averaged, as an
all-gather of the messages would (each worker still sends the same bits; for top-k and PowerSGD
this equals the reduce). " PQ" (PowerSGD arms): PowerSGD's own two all-reduces, as
rai_gc_allreduce_mpi runs them (rai_gc_powersgd_p, sum of P, rai_gc_powersgd_q, sum of Q, every
worker decodes the sum and keeps the shared Q): one rank-r approximation of the summed gradient,
where the plain arm sums each worker's own rank-r approximation. Suffixes combine: "EF-SIGN MC AG". Reported per optimizer: held-out mean +- sample std over seeds, % vs uncompressed,
bits/param (rai's stats of worker 0's compressor), within 5 %; the acceptance check: EF-PowerSGD
r >= 2, EF-sign and EF-top-k 1 % within 5 % of uncompressed.

Runs are independent jobs in --jobs worker processes (spawn; --jobs 1: this process); a run that
raises is reported and the rest go on. JSON to --out (rewritten after every run); --merge.

  PYTHONPATH=build/bindings/python RAI_LIBRARY=build/src/librai.so \\
    python3 bench/compress_torch_bench.py --device cuda --steps 2400 --seeds 3 --opt both --jobs 6 --out c.json
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import torch_tasks as tt  # noqa: E402

# compress_bench's stream_methods(): name -> (GradientCompressor keywords, part of the acceptance check)
METHODS = {
    "POWERSGD r1": ({"method": "powersgd", "rank": 1}, False),
    "POWERSGD r2": ({"method": "powersgd", "rank": 2}, True),
    "POWERSGD r4": ({"method": "powersgd", "rank": 4}, True),
    "SIGN": ({"method": "sign"}, True),
    "TOPK 1%": ({"method": "topk", "ratio": 0.01}, True),
    "TOPK 0.1%": ({"method": "topk", "ratio": 0.001}, False),
    "TERNARY": ({"method": "ternary"}, False),
    "QSGD 7 levels": ({"method": "qsgd", "qsgd_levels": 7}, False),
}
DEFAULT_ARMS = "uncompressed,EF-POWERSGD r2,EF-POWERSGD r4,EF-SIGN,EF-TOPK 1%,EF-TERNARY,TOPK 1%"
LR = {"sgd": 0.4, "adamw": 5e-3}
GC_SEED = 1  # compress_bench's make(): every compressor has seed 1
STREAM_STRIDE = 64  # worker w of seed S reads stream S * 64 + w
TITLE = ("Streamed T2 (torch 2-layer GRU d 128 character LM, context 64, 32 symbols, fresh grammar-corpus "
         "windows every step, held-out 128 windows), gradients clipped to global norm 1 after averaging")


# Settings that must agree between files for --merge and --resume.
CONFIG_KEYS = ("device", "steps", "batch", "workers")


def run_key(r):
    return (r["opt"], r["arm"], int(r["warmup"]), int(r["seed"]), float(r["lr"]))


# Training recipes an arm name may end with (see the module docstring): suffix -> optimizers it runs with.
RECIPES = {"MC": ("sgd",), "LC": ("sgd", "adamw"), "FV": ("adamw",), "AG": ("sgd", "adamw"), "PQ": ("sgd", "adamw")}


def split_recipe(name):
    """(arm name without its recipe suffixes, the recipes joined by "+" or None): "EF-SIGN MC AG"
    -> ("EF-SIGN", "MC+AG")."""
    words = name.split(" ")
    tail = []
    while len(words) > 1 and words[-1] in RECIPES:
        tail.insert(0, words.pop())
    return " ".join(words), "+".join(tail) or None


def has(recipe, part):
    return recipe is not None and part in recipe.split("+")


def recipe_opts(recipe):
    """The optimizers every part of the recipe runs with."""
    opts = {"sgd", "adamw"}
    for part in recipe.split("+"):
        opts &= set(RECIPES[part])
    return sorted(opts)


def split_mc(name):
    """(arm name without a recipe suffix, momentum correction on: MC, and FV which builds on it)."""
    base, recipe = split_recipe(name)
    return base, has(recipe, "MC") or has(recipe, "FV")


def parse_arm(name):
    """(method or None for uncompressed, EF on); a recipe suffix is ignored here (split_recipe)."""
    name, _ = split_recipe(name)
    if name == "uncompressed":
        return None, False
    ef = name.startswith("EF-")
    method = name[3:] if ef else name
    if method not in METHODS:
        raise SystemExit(f"--arms: unknown arm {name!r} (uncompressed, [EF-]POWERSGD r1|r2|r4, [EF-]SIGN, "
                         f"[EF-]TOPK 1%|0.1%, [EF-]TERNARY, [EF-]QSGD 7 levels)")
    return method, ef


# ------------------------------------------------------------------ one run (in a worker)


class State(tt.WorkerState):
    def warm_up(self):
        """cuDNN, cuBLAS and rai's compressor kernels loaded before the first timed run."""
        import rai

        task = tt.LmTask(tt.build_model("gru", 0, self.device), self.heldout, self.device)
        gc = rai.GradientCompressor(self.ctx, "powersgd", rank=2, seed=GC_SEED)
        for name, _, g in task.pairs:
            gc.add_tensor(g, name)
        task.loss(self.heldout, 0, 8, True)
        for t, g in enumerate(task.grads):
            gc.decompress(t, gc.reduce(t, [gc.compress(t, g)]), out=g)
        tt.synchronize(self.device)
        gc.close()


BETA1, BETA2, ADAM_EPS, ADAM_WD = 0.9, 0.999, 1e-8, 0.01  # rai's AdamW defaults, wd as the baseline


def make_optimizer(ctx, opt_name, lr, recipe=None):
    import rai

    if has(recipe, "MC") or has(recipe, "FV"):  # the decoded tensor is already the momentum update; workers clipped locally
        if has(recipe, "FV"):  # p -= lr (1 - b1) u + lr wd p: Adam's m = (1 - b1) u, decoupled decay via L2 on plain SGD
            return rai.Optimizer(ctx, "sgd", lr=lr * (1.0 - BETA1), weight_decay=ADAM_WD / (1.0 - BETA1))
        return rai.Optimizer(ctx, "sgd", lr=lr)
    clip = None if has(recipe, "LC") else 1.0  # LC: the workers clipped before compressing
    if opt_name == "sgd":
        return rai.Optimizer(ctx, "momentum", lr=lr, momentum=0.9, max_grad_norm=clip)
    return rai.Optimizer(ctx, "adamw", lr=lr, weight_decay=ADAM_WD, max_grad_norm=clip)


def run_stream(state, job):
    """compress_bench's train_stream<T2Task>, plus the recipes MC, LC and FV."""
    import rai

    cfg, dev = state.cfg, state.device
    seed, steps, batch, workers = job["seed"], cfg["steps"], cfg["batch"], cfg["workers"]
    task = tt.LmTask(tt.build_model("gru", seed, dev), state.heldout, dev)
    tokens = [state.tokens(seed * STREAM_STRIDE + w) for w in range(workers)]
    grads = task.grads
    recipe = job.get("recipe") or ("MC" if job.get("mc") else None)
    if recipe is not None and job["opt"] not in recipe_opts(recipe):
        raise ValueError(f"recipe {recipe} runs with {'/'.join(recipe_opts(recipe)) or 'no optimizer'} only")
    fv_steps = job["warmup_steps"] if has(recipe, "FV") else 0  # FV: uncompressed AdamW, then frozen variance
    if has(recipe, "FV") and fv_steps <= 0:
        raise ValueError("recipe FV needs a warm-up (--warmup 5): the variance is frozen at its end")
    mc = has(recipe, "MC") or has(recipe, "FV")
    local = mc or has(recipe, "LC")
    two_rounds = has(recipe, "PQ")
    if two_rounds and (job["method"] is None or not job["method"].startswith("POWERSGD")):
        raise ValueError("recipe PQ is PowerSGD's two all-reduces: POWERSGD arms only")
    opt = make_optimizer(state.ctx, job["opt"], job["lr"], recipe)
    adam = rai.Optimizer(state.ctx, "adamw", lr=job["lr"], weight_decay=ADAM_WD) if fv_steps else None
    local_clip = math.sqrt(workers)
    gcs = []
    try:
        tt.register(opt, task.pairs)
        if adam is not None:
            tt.register(adam, task.pairs)
        if job["method"] is not None or mc:
            kw = dict(METHODS[job["method"]][0]) if job["method"] is not None else {"method": "none"}
            method = kw.pop("method")
            if mc:
                kw["momentum"] = BETA1
            for _ in range(workers):
                gc = rai.GradientCompressor(state.ctx, method, error_feedback=job["ef"] or mc,
                                            warmup_steps=0 if fv_steps else job["warmup_steps"], seed=GC_SEED, **kw)
                gcs.append(gc)
                for name, _, g in task.pairs:
                    gc.add_tensor(g, name)
        acc = [torch.empty_like(g) for g in grads]
        var = [torch.zeros_like(g) for g in grads] if fv_steps else None
        denom = None
        finite, stopped = True, None
        tt.synchronize(dev)
        t0 = time.perf_counter()
        for step in range(steps):
            compressing = bool(gcs) and step >= fv_steps
            if fv_steps and step == fv_steps:  # freeze Adam's bias-corrected variance
                bc2 = 1.0 - BETA2 ** fv_steps
                denom = [(v / bc2).sqrt_().add_(ADAM_EPS) for v in var]
                var = None
            losses = []
            msgs = []
            for w in range(workers):
                losses.append(task.loss(tokens[w], step, batch, True))
                if local and var is None:  # MC, LC, FV (after its warm-up): DGC's local clipping
                    torch.nn.utils.clip_grad_norm_(grads, local_clip)
                if compressing:
                    if denom is not None:  # FV: precondition, then compress the momentum of g / sqrt(v)
                        torch._foreach_div_(grads, denom)
                    if two_rounds:  # round 1: P_w = M_w Q (the compressor keeps M_w until round 2)
                        msgs.append([gcs[w].powersgd_p(t, g) for t, g in enumerate(grads)])
                    else:
                        msgs.append([gcs[w].compress(t, g) for t, g in enumerate(grads)])
                elif w == 0:
                    for a, g in zip(acc, grads):
                        a.copy_(g)
                else:
                    for a, g in zip(acc, grads):
                        a.add_(g)
            if compressing and two_rounds:  # sum P; round 2: Q_w = M_w^T orth(P); sum Q; every worker decodes
                for t, g in enumerate(grads):
                    p_sum = gcs[0].reduce(t, [msgs[w][t] for w in range(workers)])
                    q = [gcs[w].powersgd_q(t, p_sum) for w in range(workers)]
                    final = gcs[0].reduce(t, q) if q[0] else p_sum  # b"": the tensor went raw
                    for w in range(workers):  # each worker keeps the shared Q as its warm start
                        gcs[w].decompress(t, final, out=g if w == 0 else acc[t])
                    g.div_(float(workers))
            elif compressing and has(recipe, "AG"):  # all-gather: the mean of every worker's own decode
                for t, g in enumerate(grads):
                    for w in range(workers):
                        gcs[0].decompress(t, msgs[w][t], out=g if w == 0 else acc[t])
                        if w:
                            g.add_(acc[t])
                    g.div_(float(workers))
            elif compressing:
                for t, g in enumerate(grads):
                    reduced = gcs[0].reduce(t, [msgs[w][t] for w in range(workers)])
                    gcs[0].decompress(t, reduced, out=g)
                    g.div_(float(workers))
            else:
                for a, g in zip(acc, grads):
                    torch.div(a, float(workers), out=g)
            finite = bool(torch.isfinite(torch.stack(losses)).all())
            step_opt = opt
            if var is not None:  # FV's warm-up: AdamW on the exact mean, clipped to 1, its variance tracked
                adam.clip_grad_norm(1.0)
                for v, g in zip(var, grads):
                    v.mul_(BETA2).addcmul_(g, g, value=1.0 - BETA2)
                step_opt = adam
            try:
                step_opt.step()  # baseline and MC-less arms: clips the averaged gradient to norm 1
            except rai.InvalidArgumentError as exc:  # non-finite norm: nothing updated
                finite, stopped = False, f"step {step}: {exc}"
            if not finite:
                stopped = stopped or f"step {step}: non-finite training loss"
                break
        tt.synchronize(dev)
        seconds = time.perf_counter() - t0
        bits = gcs[0].stats().bits_per_param if gcs else 32.0
        if fv_steps and gcs:  # the compressors saw only the compressed steps; the warm-up sent 32 bits
            bits = (fv_steps * 32.0 + (steps - fv_steps) * bits) / steps
        heldout = task.heldout() if finite else float("nan")
    finally:
        tt.synchronize(dev)
        for gc in gcs:
            gc.close()
        opt.close()
        if adam is not None:
            adam.close()
    return {"heldout": heldout, "bits": float(bits), "seconds": seconds, "diverged": stopped, "pid": os.getpid()}


def worker_init(cfg):
    return State(cfg)


def worker_run(state, job):
    return run_stream(state, job)


# ------------------------------------------------------------------ report


def report(runs, cfg, out=print):
    """compress_bench's table per optimizer, its acceptance lines, and a compact table."""
    cells = {}
    order = []
    for r in sorted(runs, key=lambda r: r["id"]):
        key = (r["opt"], r["arm"], r["warmup"])
        if key not in cells:
            cells[key] = []
            order.append(key)
        if not r.get("error"):
            cells[key].append(r)
    summary, acceptance = [], []
    out(f"\n{cfg['title']}, W = {cfg['workers']} workers x batch {cfg['batch']}, {cfg['steps']} steps, seeds "
        f"{cfg['first_seed']}..{cfg['first_seed'] + cfg['seeds'] - 1}, device {cfg['device']}; "
        + ", ".join(f"{'SGD-momentum 0.9 lr' if o == 'sgd' else 'AdamW wd 0.01 lr'} {cfg['lr'][o]:g}" for o in cfg["opts"])
        + "; held-out cross-entropy mean +- std (sample std over seeds)")
    for opt in cfg["opts"]:
        out("| optimizer | method | EF | warm-up | held-out loss | vs uncompressed | bits/param | within 5 % |\n"
            "|---|---|---|---|---|---|---|---|")
        base = None
        verdicts = []
        for key in order:
            if key[0] != opt:
                continue
            rs = cells[key]
            method, ef = parse_arm(key[1])
            mc = split_mc(key[1])[1]
            recipe = split_recipe(key[1])[1]
            label = (method or "uncompressed") + (f" +{recipe}" if recipe else "")
            ef = ef or mc  # momentum correction runs with error feedback
            if not rs:
                out(f"| {opt} | {label} | {'on' if ef else 'off'} | {key[2]} | all runs failed | - | - | - |")
                continue
            mean, sd = tt.mean_std([r["heldout"] for r in rs])
            bits = rs[-1]["bits"]
            row = {"opt": opt, "arm": key[1], "method": method or "uncompressed", "ef": ef if method else None,
                   "mc": mc, "recipe": recipe, "warmup": key[2], "mean": mean, "std": sd, "bits": bits, "runs": len(rs),
                   "seconds": sum(r["seconds"] for r in rs) / len(rs)}
            if method is None and recipe is None:
                base = mean
                out(f"| {opt} | uncompressed | - | - | {tt.fmt(mean)} +- {tt.fmt(sd)} | - | 32 | - |")
                summary.append(row)
                continue
            known = base is not None and math.isfinite(base)
            rel = mean / base - 1.0 if known else float("nan")
            ok = math.isfinite(mean) and known and rel <= 0.05
            row.update(rel=rel, within_5=ok if known else None)
            summary.append(row)
            wu = f"{key[2]} %" if key[2] else "0"
            vs = f"{100 * rel:+.1f} %" if known and math.isfinite(rel) else "-"
            out(f"| {opt} | {label} | {'on' if ef else 'off'} | {wu} | {tt.fmt(mean)} +- {tt.fmt(sd)} | {vs} | {bits:.3f} | "
                f"{('yes' if ok else 'no') if known else '-'} |")
            if method and ef and METHODS[method][1] and known:
                verdicts.append(("PASS " if ok else "FAIL ") + f"{opt} EF-{label} warm-up {key[2]}{'%' if key[2] else ''}")
                acceptance.append({"opt": opt, "arm": key[1], "warmup": key[2], "pass": ok, "mean": mean,
                                   "uncompressed": base, "rel": rel})
        if verdicts:
            out(f"\nAcceptance ({opt}): EF-POWERSGD r>=2, EF-SIGN, EF-TOPK >= 1% within 5 % of uncompressed {tt.fmt(base)}")
            for v in verdicts:
                out("  " + v)
        out("")
    # Compact table (docs/compress.md's layout), one column per optimizer.
    if len(cfg["opts"]) > 1:
        rows = {}
        for s in summary:
            rows.setdefault((s["arm"], s["warmup"]), {})[s["opt"]] = s
        out("| method | EF | warm-up | " + " | ".join(f"{'SGD-momentum' if o == 'sgd' else 'AdamW'} held-out "
                                                      "(vs uncompressed)" for o in cfg["opts"]) + " | bits/param |")
        out("|---|---|---|" + "---|" * len(cfg["opts"]) + "---|")
        for (arm, wu), by_opt in rows.items():
            method, ef = parse_arm(arm)
            cols, bits = [], "32"
            for o in cfg["opts"]:
                s = by_opt.get(o)
                if s is None:
                    cols.append("-")
                    continue
                rel = s.get("rel")
                cols.append(f"{tt.fmt(s['mean'])} +- {tt.fmt(s['std'])}"
                            + (f" ({100 * rel:+.1f} %)" if rel is not None and math.isfinite(rel) else ""))
                if method:
                    bits = f"{s['bits']:.2f}"
            mc = split_mc(arm)[1]
            recipe = split_recipe(arm)[1]
            out(f"| {(method or 'uncompressed') + (f' +{recipe}' if recipe else '')} | {('on' if ef or mc else 'off') if method or mc else '-'} | "
                f"{(str(wu) + ' %') if wu else '0'} | " + " | ".join(cols) + f" | {bits} |")
    failed = [r for r in runs if r.get("error") and not r.get("not_run")]
    for r in failed:
        out(f"FAILED: {r['opt']} {r['arm']} warm-up {r['warmup']} seed {r['seed']}: {r['error']}")
    for r in runs:
        if not r.get("error") and r.get("diverged"):
            out(f"diverged (held-out nan): {r['opt']} {r['arm']} warm-up {r['warmup']} seed {r['seed']}: {r['diverged']}")
    not_run = sum(1 for r in runs if r.get("not_run"))
    if not_run:
        out(f"not run (time limit): {not_run} runs")
    return summary, acceptance


# ------------------------------------------------------------------ main


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--steps", type=int, help="default 2400 (2x section 6's 1200)")
    ap.add_argument("--batch", type=int, help="windows per worker per step (default 4, compress_bench t2's)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seeds", type=int, help="default 3")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--opt", choices=["sgd", "adamw", "both"], default="both")
    ap.add_argument("--lr", type=float, help="learning rate for every optimizer (default: sgd 0.4, adamw 5e-3)")
    ap.add_argument("--arms", help=f"comma-separated (default {DEFAULT_ARMS!r}; 'EF-' = error feedback on)".replace("%", "%%"))
    ap.add_argument("--warmup", default="0", help="warm-ups in percent of the steps, comma-separated (default 0)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (1: this process)")
    ap.add_argument("--threads", type=int, help="torch / rai CPU threads per worker (default: cores / jobs on "
                    "--device cpu, min(4, cores / jobs) on cuda)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 50 steps, 1 seed")
    tt.add_run_options(ap)
    return ap.parse_args(argv)


def make_config(args):
    cfg = {"title": TITLE, "device": args.device, "workers": args.workers, "first_seed": args.first_seed,
           "steps": args.steps or (50 if args.quick else 2400), "batch": args.batch or 4,
           "seeds": args.seeds or (1 if args.quick else 3), "jobs": max(1, args.jobs), "quick": args.quick,
           "opts": ["sgd", "adamw"] if args.opt == "both" else [args.opt]}
    cfg["lr"] = {o: (args.lr if args.lr else LR[o]) for o in cfg["opts"]}
    cfg["warmups"] = [int(x) for x in args.warmup.split(",") if x.strip()]
    arms = [a.strip() for a in (args.arms or DEFAULT_ARMS).split(",") if a.strip()]
    cfg["arms"] = sorted(dict.fromkeys(arms), key=lambda a: a != "uncompressed")  # the baseline first
    for a in cfg["arms"]:
        parse_arm(a)
        recipe = split_recipe(a)[1]
        if recipe is not None and any(o not in recipe_opts(recipe) for o in cfg["opts"]):
            raise SystemExit(f"--arms: {a!r} (recipe {recipe}) runs with --opt {'/'.join(recipe_opts(recipe)) or '(none)'} only")
        if has(recipe, "FV") and not all(cfg["warmups"]):
            raise SystemExit(f"--arms: {a!r} (recipe FV) needs a warm-up: --warmup 5")
    if cfg["steps"] <= 0 or cfg["batch"] <= 0 or cfg["seeds"] <= 0 or cfg["workers"] <= 0 or not cfg["warmups"]:
        raise SystemExit("steps, batch, seeds, workers must be positive and --warmup non-empty")
    cores = os.cpu_count() or 1
    if args.threads:
        cfg["threads"] = args.threads
    elif args.device == "cpu":
        cfg["threads"] = max(1, cores // cfg["jobs"])
    else:
        cfg["threads"] = max(1, min(4, cores // cfg["jobs"]))
    return cfg


def merge(paths):
    def widen(cfg, saved):  # each file may hold other optimizers (and their rates)
        cfg["lr"] = {**saved["config"]["lr"], **cfg["lr"]}
        cfg["opts"] = list(dict.fromkeys(cfg["opts"] + saved["config"]["opts"]))

    runs, cfg = tt.merge_files(paths, CONFIG_KEYS, lambda r: (r["opt"], r["arm"], r["warmup"], r["seed"]), widen)
    seeds = sorted({r["seed"] for r in runs})
    cfg.update(first_seed=seeds[0] if seeds else 0, seeds=len(seeds))
    print(f"# merged {len(runs)} runs from {', '.join(paths)}")
    report(runs, cfg)


def main(argv=None):
    args = parse_args(argv)
    if args.merge:
        merge([p for p in args.merge.split(",") if p])
        return 0
    cfg = make_config(args)
    tt.check_device(cfg["device"])
    env = tt.environment(cfg["device"])
    seeds = list(range(cfg["first_seed"], cfg["first_seed"] + cfg["seeds"]))
    warm = {wu: (cfg["steps"] * wu + 50) // 100 for wu in cfg["warmups"]}
    print(f"# rai gradient compression, PyTorch model: compress_bench t2's protocol; torch {env['torch']}, rai "
          f"{env['rai']} (CPU kernels {env['rai_cpu_dispatch']}), device {cfg['device']}"
          + (f" ({env.get('gpu')})" if cfg["device"] == "cuda" else "")
          + f"; {cfg['jobs']} worker process(es) x {cfg['threads']} thread(s), {env['cpus']} CPUs", flush=True)
    print(f"# model: {tt.parameter_count(tt.build_model('gru', 0, 'cpu')):,} parameters; warm-up "
          + ", ".join(f"{wu} % = {n} steps" for wu, n in warm.items()), flush=True)

    corpus = tt.CorpusFiles(args.dump_tool)
    try:
        cfg["heldout_path"] = corpus.heldout()
        count = cfg["steps"] * cfg["batch"]
        cfg["train_paths"] = {s * STREAM_STRIDE + w: corpus.train(s * STREAM_STRIDE + w, count)
                              for s in seeds for w in range(cfg["workers"])}
        jobs = []
        for opt in cfg["opts"]:
            for arm in cfg["arms"]:
                method, ef = parse_arm(arm)
                fv = has(split_recipe(arm)[1], "FV")
                for wu in ([0] if method is None and not fv else cfg["warmups"]):
                    for seed in seeds:
                        jobs.append({"id": len(jobs), "opt": opt, "lr": cfg["lr"][opt], "arm": arm, "method": method,
                                     "ef": ef, "mc": split_mc(arm)[1], "recipe": split_recipe(arm)[1], "warmup": wu,
                                     "warmup_steps": warm.get(wu, 0), "seed": seed})
        results = {"benchmark": "compress_torch_bench",
                   "config": {k: v for k, v in cfg.items() if k not in ("heldout_path", "train_paths")},
                   "env": env, "runs": [], "status": "running"}
        by_id = {}
        t_start = time.monotonic()
        previous, _ = tt.load_previous(args.resume, cfg, CONFIG_KEYS, run_key)

        def on_result(job, result):
            by_id[job["id"]] = dict(job, **result)
            results["runs"] = [by_id[k] for k in sorted(by_id)]
            head = f"[{len(by_id)}/{len(jobs)}] {job['opt']} {job['arm']} warm-up {job['warmup']}% seed {job['seed']}"
            if result.get("error"):
                if not result.get("not_run"):
                    tt.log(f"{head}: FAILED {result['error']}")
            else:
                tt.log(f"{head}: held-out {tt.fmt(result['heldout'])}, bits/param {result['bits']:.3f}, "
                       f"{result['seconds']:.1f} s" + (f"  DIVERGED {result['diverged']}" if result.get("diverged") else "")
                       + ("  (resumed)" if result.get("resumed") else ""))
            tt.write_json(args.out, results)
            return []

        deadline = t_start + args.time_limit if args.time_limit else None
        feed, on_result2 = tt.with_resume(previous, run_key, on_result)
        todo = feed(jobs)
        tt.log(f"{len(todo)} runs on {cfg['jobs']} worker(s)" + (f" ({len(by_id)} taken from --resume)" if by_id else ""))
        try:
            tt.run_jobs(todo, worker_init, worker_run, (cfg,), cfg["jobs"], on_result2, deadline=deadline)
        except KeyboardInterrupt:
            tt.log("interrupted: tables of the finished runs follow")
        summary, acceptance = report(results["runs"], cfg)
        results.update(summary=summary, acceptance=acceptance, status="done",
                       wall_seconds=time.monotonic() - t_start)
        tt.write_json(args.out, results)
        print(f"({len(results['runs'])} runs, {results['wall_seconds']:.0f} s of wall-clock"
              + (f"; JSON: {args.out}" if args.out else "") + ")")
        return 0
    finally:
        corpus.cleanup()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (FileNotFoundError, RuntimeError) as exc:  # setup errors (dump tool, device): one line
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
