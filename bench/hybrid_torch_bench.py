#!/usr/bin/env python3
"""Hybrid predictive training measured honestly, with PyTorch models and rai driving the steps:
bench/train_bench.cpp's protocol (reference: compression-and-hybrid-training.md section 5) on
  --task t2: T2, the character LM (2-layer GRU d 128, context 64, 32 symbols; torch's nn.GRU),
             SGD momentum 0.9, base lr 0.2, clipped to global norm 1, batch 32, 3000 steps;
  --task t3: T3, a GPT (pre-LN, d 384, 6 layers, 6 heads, context 64; 10,696,736 parameters in
             78 tensors) on the same corpus, rai AdamW (betas 0.9 / 0.999, eps 1e-8, weight decay
             0.01 on every tensor), base lr 1e-3, clipped to global norm 1, batch 64, 2000 steps;
             bf16 autocast on CUDA by default (--amp none: f32); plus a wall-clock section.
No learning-rate schedule (constant rate, as train_bench).
Data: the corpus windows of train_bench (bench/t2_corpus_dump): step s of seed S trains on
windows [s*B, (s+1)*B) of training stream S; held-out = mean cross-entropy over the 128 held-out
windows (chunks of 32, f32). The model is torch's; the optimizer (rai.Optimizer, max_grad_norm)
and the hybrid trainer (rai.HybridTrainer) are rai's, over the torch tensors (borrowed).

Arms, each run for every lr multiplier of --lr-grid and every seed:
  full              full training, N steps
  hybrid/<pred>     rai.HybridTrainer, FIXED 10/5/20/5 schedule, rai's optimizer attached
                    (predictions in update space); default skip, hold, ema, wls_linear
  full-bwd          full training for round(N * b) steps (b = the hybrid arms' mean backward
                    fraction at lr x1)
  full-compute      full training for round(N * (1 + 2b) / 3) steps (forward = 1, backward = 2)
The report is train_bench's: per arm the best lr (mean +- sample std over seeds), the lr x1
column, backward fraction, compute vs full, wall s, guard events, rollbacks; then the two
acceptance tests: (1) held-out <= 1.02 x full at the same steps with b <= 0.70; (2) the lr-tuned
hybrid below the lr-tuned compute-matched baseline by more than 2 std.
T3 also times full, hybrid/skip and hybrid/hold at lr x1, seed 0, alone (no other job running),
before the parallel grid (seconds of the training loop, torch.cuda.synchronize() around it).

Runs are independent jobs in --jobs worker processes (spawn; each its own torch and rai
context; --jobs 1 runs in this process). A run that raises is reported and the rest go on; a
worker that dies is replaced. Results go to --out (JSON, rewritten after every run), progress
lines to stderr. --merge a.json,b.json prints the tables of runs saved by earlier invocations.

  PYTHONPATH=build/bindings/python RAI_LIBRARY=build/src/librai.so \\
    python3 bench/hybrid_torch_bench.py --task t2 --device cuda --jobs 6 --out t2.json
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import torch_tasks as tt  # noqa: E402

TASKS = {
    "t2": {"title": "T2: char-level LM, 2-layer GRU d 128, context 64, 32 symbols, grammar corpus, "
                    "SGD momentum 0.9, clip 1 (torch nn.GRU; rai optimizer and hybrid)",
           "model": "gru", "optimizer": "momentum", "base_lr": 0.2, "weight_decay": 0.0, "clip": 1.0,
           "steps": 3000, "batch": 32, "timing": False, "amp_cuda": False,
           "quick": {"steps": 100, "batch": 8, "seeds": 2, "lr_grid": [1.0, 2.0]}},
    "t3": {"title": "T3: GPT (pre-LN, learned positions) context 64, 32 symbols, grammar corpus, rai AdamW "
                    "betas 0.9/0.999 wd 0.01, clip 1",
           "model": "gpt", "optimizer": "adamw", "base_lr": 1e-3, "weight_decay": 0.01, "clip": 1.0,
           "steps": 2000, "batch": 64, "timing": True, "amp_cuda": True,
           "quick": {"steps": 60, "batch": 16, "seeds": 1, "lr_grid": [1.0, 2.0]}},
}

# name -> HybridTrainer settings (None: full training). The default set is DEFAULT_HYBRID; --only
# picks any of them (train_bench's arms).
ARMS = {
    "full": None,
    "hybrid/skip": {"predictor": "skip"},
    "hybrid/hold": {"predictor": "hold"},
    "hybrid/momentum_coast": {"predictor": "momentum_coast"},
    "hybrid/ema": {"predictor": "ema"},
    "hybrid/wls_linear": {"predictor": "wls_linear"},
    "hybrid/low_rank_trend": {"predictor": "low_rank_trend"},
    "hybrid/wls_linear grad-space": {"predictor": "wls_linear", "update_space": False},
    "hybrid/hold grad-space": {"predictor": "hold", "update_space": False},
    "hybrid/hold adaptive": {"predictor": "hold", "schedule": "adaptive"},
    "hybrid/hold no-forecast-signal": {"predictor": "hold", "guard_forecast_caution": 1e30,
                                       "guard_forecast_warning": 1e30},
}
DEFAULT_HYBRID = ["hybrid/skip", "hybrid/hold", "hybrid/ema", "hybrid/wls_linear"]
TIMING_ARMS = ["full", "hybrid/skip", "hybrid/hold"]
# Settings that must agree between files for --merge and --resume.
CONFIG_KEYS = ("task", "device", "steps", "batch", "model", "gpt_dims", "amp", "optimizer", "base_lr", "weight_decay",
               "clip")


def run_key(r):
    return (r["arm"], float(r["lr_mult"]), int(r["seed"]), int(r["steps"]))


# ------------------------------------------------------------------ one run (in a worker)


class State(tt.WorkerState):
    """Per process: the rai context (CUDA: on torch's stream), the data on the device."""

    def task(self, seed):
        cfg = self.cfg
        model = tt.build_model(cfg["model"], seed, self.device, tuple(cfg["gpt_dims"]))
        return tt.LmTask(model, self.heldout, self.device, amp=cfg["amp"])

    def warm_up(self):
        """cuDNN / cuBLAS / rai kernels loaded before any timed run."""
        import rai

        task = self.task(0)
        opt = make_optimizer(self.ctx, self.cfg, 1e-9)
        tt.register(opt, task.pairs)
        for s in range(3):
            task.loss(self.heldout, s, 8, True)
            opt.step()
        task.heldout()
        h = rai.HybridTrainer(self.ctx, predictor="hold")
        tt.register(h, task.pairs)
        h.close()
        tt.synchronize(self.device)
        opt.close()


def make_optimizer(ctx, cfg, lr):
    import rai

    if cfg["optimizer"] == "momentum":
        return rai.Optimizer(ctx, "momentum", lr=lr, momentum=0.9, max_grad_norm=cfg["clip"])
    return rai.Optimizer(ctx, "adamw", lr=lr, weight_decay=cfg["weight_decay"], max_grad_norm=cfg["clip"])


def run_full(state, job):
    import rai

    cfg, dev = state.cfg, state.device
    task = state.task(job["seed"])
    tokens = state.tokens(job["seed"])
    opt = make_optimizer(state.ctx, cfg, job["lr"])
    tt.register(opt, task.pairs)
    steps, diverged = job["steps"], None
    tt.synchronize(dev)
    t0 = time.perf_counter()
    try:
        for s in range(steps):
            task.loss(tokens, s, cfg["batch"], True)
            try:
                opt.step()
            except rai.InvalidArgumentError as exc:  # non-finite gradient norm: nothing updated
                diverged = f"step {s}: {exc}"
                break
        tt.synchronize(dev)
        seconds = time.perf_counter() - t0
        heldout = float("nan") if diverged else task.heldout()
    finally:
        tt.synchronize(dev)
        opt.close()
    return {"heldout": heldout, "steps": steps, "forward": steps, "backward": steps, "rollbacks": 0,
            "caution": 0, "warning": 0, "critical": 0, "seconds": seconds, "diverged": diverged}


def run_hybrid(state, job):
    import rai

    cfg, dev = state.cfg, state.device
    spec = dict(ARMS[job["base"]])
    update_space = spec.pop("update_space", True)
    schedule = spec.pop("schedule", "fixed")
    task = state.task(job["seed"])
    tokens = state.tokens(job["seed"])
    batch = cfg["batch"]
    h = rai.HybridTrainer(state.ctx, schedule=schedule, **spec)
    opt = None
    try:
        tt.register(h, task.pairs)
        opt = make_optimizer(state.ctx, cfg, job["lr"])
        tt.register(opt, task.pairs)
        if update_space:
            h.set_optimizer(opt)
        tt.synchronize(dev)
        t0 = time.perf_counter()
        for _ in range(job["steps"]):
            info = h.begin()
            if info.needs_backward:
                loss = float(task.loss(tokens, info.step, batch, True))
                try:
                    h.record_gradients(loss)
                    recorded = True
                except rai.RaiError:
                    if math.isfinite(loss):
                        raise
                    recorded = False  # non-finite: the step is Critical, end() rolls back
                if recorded and not update_space:
                    opt.step()
            else:
                h.apply_predicted()
                if not update_space and info.has_prediction:
                    opt.step()
                if info.needs_forward:
                    loss = float(task.loss(tokens, info.step, batch, False))
                    try:
                        h.report_loss(loss)
                    except rai.RaiError:
                        if math.isfinite(loss):
                            raise
            h.end()
        tt.synchronize(dev)
        seconds = time.perf_counter() - t0
        st = h.stats()
        heldout = task.heldout()
    finally:
        tt.synchronize(dev)
        h.close()  # before the optimizer it borrows
        if opt is not None:
            opt.close()
    return {"heldout": heldout, "steps": int(st.steps), "forward": int(st.forward_passes),
            "backward": int(st.backward_passes), "rollbacks": int(st.rollbacks),
            "caution": int(st.caution_events), "warning": int(st.warning_events),
            "critical": int(st.critical_events), "seconds": seconds, "diverged": None}


def worker_init(cfg):
    return State(cfg)


def worker_run(state, job):
    out = run_full(state, job) if job["base"] == "full" else run_hybrid(state, job)
    out["pid"] = os.getpid()
    return out


# ------------------------------------------------------------------ report


def summarise(runs, full_steps):
    """train_bench's Summary over the runs of one (arm, lr) cell."""
    n = len(runs)
    mean, std = tt.mean_std([r["heldout"] for r in runs])
    avg = lambda key: sum(r[key] for r in runs) / n  # noqa: E731
    return {"mean": mean, "std": std, "n": n,
            "backward_fraction": sum(r["backward"] / r["steps"] for r in runs) / n,
            "compute": sum((r["forward"] + 2 * r["backward"]) / (3.0 * full_steps) for r in runs) / n,
            "seconds": avg("seconds"), "rollbacks": avg("rollbacks"), "caution": avg("caution"),
            "warning": avg("warning"), "critical": avg("critical")}


def cells(runs, full_steps):
    """{arm: {lr_mult: summary}}, {arm: best summary (lr_mult added)}, arm order."""
    groups, first = {}, {}
    for r in runs:
        if r.get("error"):
            continue
        groups.setdefault(r["arm"], {}).setdefault(r["lr_mult"], []).append(r)
        first[r["arm"]] = min(first.get(r["arm"], r["id"]), r["id"])
    table, best = {}, {}
    for arm, by_lr in groups.items():
        table[arm] = {m: dict(summarise(rs, full_steps), lr_mult=m) for m, rs in by_lr.items()}
        best[arm] = min(table[arm].values(), key=lambda s: (tt.nan_last(s["mean"]), s["lr_mult"]))
    order = sorted(groups, key=lambda a: first[a])
    return table, best, order


def matched_b(runs, cfg, hybrid_arms):
    """b of each schedule, as train_bench: per arm its b at lr x1 (else at its best lr), averaged
    over the arms of the schedule. {"fixed": b or None, "adaptive": b or None}."""
    table, best, _ = cells([r for r in runs if r["arm"] in hybrid_arms], cfg["steps"])
    out = {}
    for schedule in ("fixed", "adaptive"):
        bs = []
        for arm in hybrid_arms:
            if (ARMS[arm].get("schedule", "fixed") != schedule) or arm not in table:
                continue
            s = table[arm].get(1.0, best[arm])
            bs.append(s["backward_fraction"])
        out[schedule] = sum(bs) / len(bs) if bs else None
    return out


def matched_arms(b):
    """[(name, steps)] of the matched baselines for {"fixed": b, "adaptive": b}."""
    out = []
    for schedule in ("fixed", "adaptive"):
        if b.get(schedule) is None:
            continue
        out.append((f"full-bwd ({schedule} b)", b[schedule], "bwd"))
        out.append((f"full-compute ({schedule} b)", b[schedule], "compute"))
    return out


def matched_steps(steps, b, kind):
    return int(round(steps * b)) if kind == "bwd" else int(round(steps * (1 + 2 * b) / 3))


def report(runs, cfg, out=print):
    """Prints train_bench's tables; returns them as data for the JSON."""
    table, best, order = cells(runs, cfg["steps"])
    rows = []
    out("\n| arm | best lr x | held-out loss (mean +- std) | at lr x1 | backward fraction b | compute vs full | "
        "wall s | guard caution / warning / critical | rollbacks |")
    out("|---|---|---|---|---|---|---|---|---|")
    for name in order:
        s = best[name]
        one = table[name].get(1.0, s)
        out(f"| {name} | {s['lr_mult']:g} | {tt.fmt(s['mean'])} +- {tt.fmt(s['std'])} | {tt.fmt(one['mean'])} | "
            f"{s['backward_fraction']:.3f} | {s['compute']:.3f} | {s['seconds']:.2f} | {s['caution']:.1f} / "
            f"{s['warning']:.1f} / {s['critical']:.1f} | {s['rollbacks']:.1f} |")
        rows.append({"arm": name, "best": s, "lr_x1": table[name].get(1.0), "by_lr": list(table[name].values())})
    acceptance = []
    if "full" in best and any(n.startswith("hybrid/") for n in order):
        full = table["full"].get(1.0, best["full"])
        out(f"\nAcceptance per hybrid arm: (1) held-out <= 1.02 x full training (lr x1: {tt.fmt(full['mean'])}) at "
            "the same steps with\nb <= 0.70; (2) lr-tuned held-out below the lr-tuned compute-matched baseline by "
            "more than 2 std.\n")
        out("| arm | (1) same-step quality | (2) beats compute-matched (lr-tuned) |\n|---|---|---|")
        for name in order:
            if not name.startswith("hybrid/"):
                continue
            h = best[name]
            h1 = table[name].get(1.0, h)
            q = h1["mean"] <= 1.02 * full["mean"] and h1["backward_fraction"] <= 0.70
            adaptive = ARMS.get(name, {}).get("schedule") == "adaptive"
            prefix = "full-compute (adaptive b)" if adaptive else "full-compute (fixed b)"
            cm_name = ([n for n in order if n.startswith(prefix)] or [None])[-1]
            if cm_name is None:
                out(f"| {name} | {'PASS' if q else 'FAIL'} ({tt.fmt(h1['mean'])} vs {tt.fmt(1.02 * full['mean'])}, "
                    f"b {h1['backward_fraction']:.2f}) | - (no compute-matched baseline) |")
                acceptance.append({"arm": name, "same_step": q, "compute_matched": None})
                continue
            cm = best[cm_name]
            margin = 2.0 * max(h["std"], cm["std"])
            win = h["mean"] < cm["mean"] - margin
            out(f"| {name} | {'PASS' if q else 'FAIL'} ({tt.fmt(h1['mean'])} vs {tt.fmt(1.02 * full['mean'])}, "
                f"b {h1['backward_fraction']:.2f}) | {'PASS' if win else 'FAIL'} ({tt.fmt(h['mean'])} vs "
                f"{tt.fmt(cm['mean'])}, 2 std {tt.fmt(margin)}) |")
            acceptance.append({"arm": name, "same_step": q, "same_step_loss": h1["mean"],
                               "same_step_limit": 1.02 * full["mean"], "b": h1["backward_fraction"],
                               "compute_matched": win, "hybrid_best": h["mean"], "baseline": cm_name,
                               "baseline_best": cm["mean"], "margin": margin})
    else:
        out("\n(acceptance needs full-training and hybrid runs: not evaluated)")
    failed = [r for r in runs if r.get("error") and not r.get("not_run")]
    not_run = [r for r in runs if r.get("not_run")]
    diverged = [r for r in runs if not r.get("error") and r.get("diverged")]
    if failed or diverged or not_run:
        out("")
    for r in failed:
        out(f"FAILED: {r['arm']} lr x{r['lr_mult']:g} seed {r['seed']}: {r['error']}")
    for r in diverged:
        out(f"diverged (held-out nan): {r['arm']} lr x{r['lr_mult']:g} seed {r['seed']}: {r['diverged']}")
    if not_run:
        out(f"not run (time limit): {len(not_run)} runs")
    return {"rows": rows, "acceptance": acceptance, "failed": len(failed), "not_run": len(not_run)}


def timing_table(timing, out=print):
    if not timing:
        return
    out(f"\nWall-clock (lr x1, seed {timing[0]['seed']}, each run alone, training loop only (held-out evaluation "
        "excluded); device synchronised before and after):")
    out("| arm | steps | forward | backward | wall s | s per step | vs full | held-out |\n|---|---|---|---|---|---|---|---|")
    full = next((t for t in timing if t["arm"] == "full" and not t.get("error")), None)
    for t in timing:
        if t.get("error"):
            out(f"| {t['arm']} | FAILED: {t['error']} | | | | | | |")
            continue
        ratio = f"{t['seconds'] / full['seconds']:.3f}" if full else "-"
        out(f"| {t['arm']} | {t['steps']} | {t['forward']} | {t['backward']} | {t['seconds']:.2f} | "
            f"{t['seconds'] / t['steps']:.5f} | {ratio} | {tt.fmt(t['heldout'])} |")


# ------------------------------------------------------------------ main


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(TASKS), default="t2")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--steps", type=int, help="default: t2 3000, t3 2000")
    ap.add_argument("--seeds", type=int, help="number of seeds (default 3)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--batch", type=int, help="default: t2 32, t3 64")
    ap.add_argument("--lr-grid", help="lr multipliers of the base rate, default 0.5,1,2,4")
    ap.add_argument("--only", help="hybrid arms to run, comma-separated; 'full' alone: none (default: "
                    + ",".join(DEFAULT_HYBRID) + "; known: " + ", ".join(a for a in ARMS if a != "full") + ")")
    ap.add_argument("--no-full", action="store_true", help="do not run the full-training arm")
    ap.add_argument("--no-matched", action="store_true", help="do not run the matched baselines")
    ap.add_argument("--matched-b", type=float,
                    help="run the fixed-schedule matched baselines for this b now (instead of after the hybrid arms)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (1: this process)")
    ap.add_argument("--threads", type=int, help="torch / rai CPU threads per worker "
                    "(default: CPU cores / jobs on --device cpu, min(4, cores / jobs) on cuda)")
    ap.add_argument("--amp", choices=["bf16", "none"], help="autocast on CUDA (default: t3 bf16, t2 none)")
    ap.add_argument("--gpt", default="384,6,6", help="T3 model d,layers,heads (default 384,6,6)")
    ap.add_argument("--timing", dest="timing", action="store_true", default=None,
                    help="run the wall-clock section (default: t3 yes, t2 no)")
    ap.add_argument("--no-timing", dest="timing", action="store_false")
    ap.add_argument("--timing-only", action="store_true", help="only the wall-clock section")
    ap.add_argument("--quick", action="store_true", help="smoke test: few steps, small batch, 1-2 seeds, lr x1,2")
    tt.add_run_options(ap, "its finished runs (and wall-clock section) are kept")
    return ap.parse_args(argv)


def make_config(args):
    t = TASKS[args.task]
    q = t["quick"] if args.quick else {}
    cfg = {"task": args.task, "title": t["title"], "model": t["model"], "optimizer": t["optimizer"],
           "base_lr": t["base_lr"], "weight_decay": t["weight_decay"], "clip": t["clip"],
           "steps": args.steps or q.get("steps", t["steps"]), "batch": args.batch or q.get("batch", t["batch"]),
           "seeds": args.seeds or q.get("seeds", 3), "first_seed": args.first_seed, "device": args.device,
           "jobs": max(1, args.jobs), "quick": args.quick}
    if args.lr_grid:
        cfg["lr_grid"] = [float(x) for x in args.lr_grid.split(",") if x.strip()]
    else:
        cfg["lr_grid"] = q.get("lr_grid", [0.5, 1.0, 2.0, 4.0])
    cfg["gpt_dims"] = [int(x) for x in args.gpt.split(",")]
    if len(cfg["gpt_dims"]) != 3:
        raise SystemExit("--gpt: expected d,layers,heads")
    amp = args.amp if args.amp else ("bf16" if t["amp_cuda"] else "none")
    cfg["amp"] = amp == "bf16" and args.device == "cuda"
    cores = os.cpu_count() or 1
    if args.threads:
        cfg["threads"] = args.threads
    elif args.device == "cpu":
        cfg["threads"] = max(1, cores // cfg["jobs"])
    else:
        cfg["threads"] = max(1, min(4, cores // cfg["jobs"]))
    cfg["timing"] = t["timing"] if args.timing is None else args.timing
    if args.timing_only:
        cfg["timing"] = True
    if cfg["steps"] <= 0 or cfg["batch"] <= 0 or cfg["seeds"] <= 0 or not cfg["lr_grid"]:
        raise SystemExit("steps, batch, seeds must be positive and the lr grid non-empty")
    if args.only:
        # "full" is accepted (and ignored: full runs unless --no-full), so --only full runs no hybrid arm.
        hybrid = [a.strip() for a in args.only.split(",") if a.strip() and a.strip() != "full"]
        unknown = [a for a in hybrid if a not in ARMS]
        if unknown:
            raise SystemExit(f"--only: unknown hybrid arm(s) {unknown}; known: {[a for a in ARMS if a != 'full']}")
    else:
        hybrid = list(DEFAULT_HYBRID)
    cfg["hybrid_arms"] = hybrid
    cfg["run_full"] = not args.no_full
    cfg["run_matched"] = not args.no_matched
    cfg["matched_b_given"] = args.matched_b
    return cfg


def model_text(cfg):
    m = tt.build_model(cfg["model"], 0, "cpu", tuple(cfg["gpt_dims"]))
    n, tensors = tt.parameter_count(m), len(list(m.parameters()))
    if cfg["model"] == "gpt":
        d, layers, heads = cfg["gpt_dims"]
        return f"GPT d {d}, {layers} layers, {heads} heads: {n:,} parameters in {tensors} tensors"
    return f"2-layer GRU d 128: {n:,} parameters in {tensors} tensors"


def header(cfg, env):
    grid = ", ".join(f"{m:g}" for m in cfg["lr_grid"])
    lines = [f"# rai hybrid training benchmark, PyTorch models ({cfg['title']})",
             f"# model: {model_text(cfg)}",
             f"# steps {cfg['steps']}, batch {cfg['batch']}, seeds {cfg['first_seed']}..{cfg['first_seed'] + cfg['seeds'] - 1}, "
             f"lr grid {{{grid}}} x {cfg['base_lr']:g}; held-out: {tt.HELDOUT_WINDOWS} windows x {tt.CONTEXT} chars; "
             "cost model forward = 1, backward = 2",
             f"# device {cfg['device']}" + (f" ({env.get('gpu')}, CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')})"
                                           if cfg["device"] == "cuda" else "")
             + f", autocast {'bf16' if cfg['amp'] else 'off (f32)'}; torch {env['torch']}, rai {env['rai']} "
               f"(CPU kernels {env['rai_cpu_dispatch']}); {cfg['jobs']} worker process(es) x {cfg['threads']} "
               f"thread(s), {env['cpus']} CPUs"]
    return "\n".join(lines)


def merge(paths):
    def show_timing(cfg, saved):
        if saved.get("timing"):
            timing_table(saved["timing"])

    runs, cfg = tt.merge_files(paths, CONFIG_KEYS, lambda r: (r["arm"], r["lr_mult"], r["seed"]), show_timing)
    print(f"# merged {len(runs)} runs from {', '.join(paths)}: {cfg['title']}; steps {cfg['steps']}, "
          f"batch {cfg['batch']}")
    report(runs, cfg)


def main(argv=None):
    args = parse_args(argv)
    if args.merge:
        merge([p for p in args.merge.split(",") if p])
        return 0
    cfg = make_config(args)
    tt.check_device(cfg["device"])
    env = tt.environment(cfg["device"])
    print(header(cfg, env), flush=True)

    corpus = tt.CorpusFiles(args.dump_tool)
    try:
        seeds = list(range(cfg["first_seed"], cfg["first_seed"] + cfg["seeds"]))
        count = cfg["steps"] * cfg["batch"]
        cfg["heldout_path"] = corpus.heldout()
        cfg["train_paths"] = {s: corpus.train(s, count) for s in seeds}
        return bench(cfg, env, args, seeds)
    finally:
        corpus.cleanup()


def bench(cfg, env, args, seeds):
    results = {"benchmark": "hybrid_torch_bench", "config": {k: v for k, v in cfg.items() if k not in
                                                            ("heldout_path", "train_paths")},
               "env": env, "timing": [], "runs": [], "status": "running"}
    t_start = time.monotonic()
    previous, saved = tt.load_previous(args.resume, cfg, CONFIG_KEYS, run_key)
    if cfg["timing"] and saved.get("timing") and not any(t.get("error") for t in saved["timing"]):
        results["timing"] = saved["timing"]
        tt.log(f"--resume: wall-clock section taken from {args.resume}")
        timing_table(results["timing"])
        if args.timing_only:
            results["status"] = "done"
            tt.write_json(args.out, results)
            return 0

    # -- wall-clock section, alone, before the grid
    if cfg["timing"] and not results["timing"]:
        alone = State(dict(cfg, threads=os.cpu_count() or 1) if cfg["device"] == "cpu" and not args.threads else cfg)
        for arm in TIMING_ARMS:
            job = {"id": -1, "arm": arm, "base": arm, "lr_mult": 1.0, "lr": cfg["base_lr"], "seed": seeds[0],
                   "steps": cfg["steps"]}
            try:
                r = worker_run(alone, job)
            except Exception as exc:  # noqa: BLE001
                r = {"error": f"{type(exc).__name__}: {exc}"}
            r.update(arm=arm, seed=seeds[0], lr_mult=1.0)
            results["timing"].append(r)
            tt.log(f"timing {arm}: " + (r["error"] if r.get("error") else
                                        f"{r['seconds']:.2f} s, {r['seconds'] / r['steps'] * 1e3:.2f} ms/step, "
                                        f"held-out {tt.fmt(r['heldout'])}"))
            tt.write_json(args.out, results)
        del alone
        if cfg["device"] == "cuda":
            torch.cuda.empty_cache()
        timing_table(results["timing"])
        if args.timing_only:
            results["status"] = "done"
            tt.write_json(args.out, results)
            return 0

    # -- the grid: lr x1 first (the matched baselines need the hybrid arms' b at lr x1)
    arms = (["full"] if cfg["run_full"] else []) + cfg["hybrid_arms"]
    mults = sorted(cfg["lr_grid"], key=lambda m: (m != 1.0, cfg["lr_grid"].index(m)))
    jobs = []

    def add(arm, base, steps, mult, seed):
        jobs.append({"id": len(jobs), "arm": arm, "base": base, "steps": steps, "lr_mult": mult,
                     "lr": cfg["base_lr"] * mult, "seed": seed})
        return jobs[-1]

    for mult in mults:
        for arm in arms:
            for seed in seeds:
                add(arm, arm, cfg["steps"], mult, seed)
    def schedule_matched(b):
        """Jobs of the matched baselines for {schedule: b} (None: not this schedule)."""
        new = []
        for name, bb, kind in matched_arms(b):
            steps = matched_steps(cfg["steps"], bb, kind)
            if steps <= 0:
                tt.log(f"{name}: b {bb:.4f} gives {steps} steps; skipped")
                continue
            for mult in mults:
                for seed in seeds:
                    new.append(add(f"{name} {steps} steps", "full", steps, mult, seed))
        results.setdefault("matched_b", {}).update({k: v for k, v in b.items() if v is not None})
        tt.log("matched baselines: " + ", ".join(f"{k} b {v:.4f}" for k, v in b.items() if v is not None)
               + f" ({len(new)} runs)")
        return new

    # Schedules whose b still has to come from this invocation's hybrid runs.
    schedules = {ARMS[a].get("schedule", "fixed") for a in cfg["hybrid_arms"]} if cfg["run_matched"] else set()
    initial = list(jobs)
    if cfg["run_matched"] and cfg["matched_b_given"] is not None:
        initial += schedule_matched({"fixed": cfg["matched_b_given"]})
        schedules.discard("fixed")
    b_ids = {j["id"] for j in jobs if j["base"] in cfg["hybrid_arms"]
             and ARMS[j["base"]].get("schedule", "fixed") in schedules
             and (j["lr_mult"] == 1.0 or 1.0 not in mults)}
    done_ids = set()
    total = [len(initial)]
    by_id = {}

    def on_result(job, result):
        rec = dict(job)
        rec.update(result)
        by_id[job["id"]] = rec
        results["runs"] = [by_id[k] for k in sorted(by_id)]
        done_ids.add(job["id"])
        if result.get("error"):
            if not result.get("not_run"):
                tt.log(f"[{len(done_ids)}/{total[0]}] {job['arm']} lr x{job['lr_mult']:g} seed {job['seed']}: "
                       f"FAILED {result['error']}")
        else:
            tt.log(f"[{len(done_ids)}/{total[0]}] {job['arm']} lr x{job['lr_mult']:g} seed {job['seed']}: held-out "
                   f"{tt.fmt(result['heldout'])}  b {result['backward'] / max(1, result['steps']):.3f}  "
                   f"{result['seconds']:.1f}s" + (f"  DIVERGED {result['diverged']}" if result.get("diverged") else "")
                   + ("  (resumed)" if result.get("resumed") else ""))
        tt.write_json(args.out, results)
        if schedules and b_ids <= done_ids:
            b = matched_b(results["runs"], cfg, cfg["hybrid_arms"])
            b = {k: v for k, v in b.items() if k in schedules}
            schedules.clear()
            if all(v is None for v in b.values()):
                tt.log("matched baselines: no successful hybrid run to take b from; skipped")
                return []
            new = schedule_matched(b)
            total[0] += len(new)
            return new
        return []

    deadline = t_start + args.time_limit if args.time_limit else None
    feed, on_result2 = tt.with_resume(previous, run_key, on_result)
    todo = feed(initial)
    tt.log(f"{len(todo)} runs on {cfg['jobs']} worker(s)" + (f" ({len(done_ids)} taken from --resume)" if done_ids else "")
           + (" (+ matched baselines once b is known)" if schedules else ""))
    try:
        tt.run_jobs(todo, worker_init, worker_run, (cfg,), cfg["jobs"], on_result2, deadline=deadline)
    except KeyboardInterrupt:
        tt.log("interrupted: tables of the finished runs follow")
    results["wall_seconds"] = time.monotonic() - t_start
    summary = report(results["runs"], cfg)
    results.update(summary=summary["rows"], acceptance=summary["acceptance"], status="done")
    tt.write_json(args.out, results)
    print(f"\n({len(results['runs'])} runs, {results['wall_seconds']:.0f} s of wall-clock"
          + (f"; JSON: {args.out}" if args.out else "") + ")")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (FileNotFoundError, RuntimeError) as exc:  # setup errors (dump tool, device): one line
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
