"""Shared pieces of the PyTorch benchmarks in which rai drives the training steps
(bench/hybrid_torch_bench.py, bench/compress_torch_bench.py).

* T2's data: the C++ benchmarks' grammar corpus, written by build/bench/t2_corpus_dump (the same
  windows train_bench and compress_bench use, byte for byte): CorpusFiles generates each stream's
  windows once into a temporary folder; load_windows() reads them onto the device.
* The models: CharGru (T2: embedding 32 x 128, 2-layer GRU d 128, linear 128 -> 32, PyTorch's
  default init, as bench/tasks/char_lm.h) and Gpt (T3: a pre-LN GPT, learned position
  embeddings, context 64, vocabulary 32; d 384, 6 layers, 6 heads by default).
* LmTask: one model with persistent gradient buffers, its training loss and held-out loss.
* make_context(): a rai.Context for "cpu" or "cuda", on CUDA sharing one stream with torch.
* run_jobs(): independent runs in J worker processes (spawn), robust to a run raising and to a
  worker process dying.

rai BORROWS parameters and gradients: it keeps their data pointers. So the parameters never move
after registration (the model is built, moved to the device, then registered) and every gradient
is a preallocated f32 contiguous buffer set as p.grad once; backward accumulates into it in place
after it is zeroed in place (LmTask checks that autograd kept the same tensor objects).
"""

import collections
import math
import multiprocessing
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 32  # symbols of the corpus (char_lm::kVocab)
CONTEXT = 64  # characters per window (char_lm::kContext); a window holds CONTEXT + 1 tokens
WINDOW = CONTEXT + 1
HELDOUT_WINDOWS = 128  # char_lm_stream.h: kHeldOutWindows, kHeldOutChunk
HELDOUT_CHUNK = 32
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DUMP_TOOL = os.path.join(REPO, "build", "bench", "t2_corpus_dump")


def log(msg):
    """A progress line on stderr, flushed at once."""
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ data


class CorpusFiles:
    """T2 windows written once by the dump tool into a temporary folder (removed by cleanup()).

    train(stream, count) -> path of windows 0 .. count-1 of training stream `stream` (the tool's
    SEED: it adds char_lm::kTrainStreamBase itself); heldout() -> path of the 128 held-out
    windows. Files are COUNT x 65 uint8 tokens."""

    def __init__(self, dump_tool=None, directory=None):
        tool = os.path.abspath(dump_tool or DEFAULT_DUMP_TOOL)
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            raise FileNotFoundError(
                f"the corpus dump tool {tool} is missing or not executable; build it "
                f"(ninja -C build bench/t2_corpus_dump) or pass --dump-tool PATH")
        self.tool = tool
        self.own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="rai_t2_corpus_")
        os.makedirs(self.dir, exist_ok=True)

    def _dump(self, args, path, count):
        if not os.path.exists(path):
            tmp = path + ".part"
            proc = subprocess.run([self.tool] + [str(a) for a in args] + [tmp], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{self.tool} {' '.join(map(str, args))} failed "
                                   f"(exit {proc.returncode}): {proc.stderr.strip()}")
            os.replace(tmp, path)
        size = os.path.getsize(path)
        if size != count * WINDOW:
            raise RuntimeError(f"{path}: {size} bytes, expected {count} windows x {WINDOW} = {count * WINDOW}")
        return path

    def train(self, stream, count):
        if count <= 0:
            raise ValueError(f"window count must be positive, got {count}")
        path = os.path.join(self.dir, f"train_s{stream}_n{count}.u8")
        return self._dump(["train", stream, 0, count], path, count)

    def heldout(self):
        return self._dump(["heldout"], os.path.join(self.dir, "heldout.u8"), HELDOUT_WINDOWS)

    def cleanup(self):
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def load_windows(path, device):
    """The windows of a dump file as a uint8 tensor [count, 65] on `device`."""
    a = np.fromfile(path, dtype=np.uint8)
    if a.size == 0 or a.size % WINDOW:
        raise RuntimeError(f"{path}: {a.size} bytes is not a positive multiple of {WINDOW}")
    if int(a.max()) >= VOCAB:
        raise RuntimeError(f"{path}: token {int(a.max())} outside the vocabulary of {VOCAB}")
    return torch.from_numpy(a.reshape(-1, WINDOW)).to(device)


# ------------------------------------------------------------------ models


class CharGru(nn.Module):
    """T2's model (bench/tasks/char_lm.h): embedding [32, 128] (N(0, 1)), 2-layer GRU d 128,
    linear 128 -> 32; PyTorch's default init; state zero at every window start. 206,368
    parameters in 11 tensors, in char_lm's order (emb; per layer w_ih, w_hh, b_ih, b_hh; out)."""

    def __init__(self, d=128, layers=2):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.gru = nn.GRU(d, d, num_layers=layers, batch_first=True)
        self.out = nn.Linear(d, VOCAB)

    def forward(self, x):
        h, _ = self.gru(self.emb(x))
        return self.out(h)


class _Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.fc_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    """T3's model: a pre-LN GPT (GPT-2 layout: LayerNorm before attention and MLP, MLP 4d with
    GELU, final LayerNorm, untied output head), learned position embeddings, causal attention
    (F.scaled_dot_product_attention), context 64, vocabulary 32. Init as GPT-2: weights and
    embeddings N(0, 0.02), the residual projections N(0, 0.02 / sqrt(2 layers)), biases 0,
    LayerNorm 1/0. d 384, 6 layers, 6 heads: 10,696,736 parameters."""

    def __init__(self, d=384, layers=6, heads=6, context=CONTEXT):
        super().__init__()
        if d % heads:
            raise ValueError(f"d {d} is not a multiple of heads {heads}")
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(_Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "fc_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, x):
        h = self.tok(x) + self.pos.weight[: x.shape[1]]
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h))


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def build_model(kind, seed, device, gpt_dims=(384, 6, 6)):
    """A fresh model: torch.manual_seed(seed), built on the CPU (so the init does not depend on
    the device's RNG: the same seed gives identical weights in every arm), then moved."""
    torch.manual_seed(seed)
    if kind == "gru":
        model = CharGru()
    elif kind == "gpt":
        d, layers, heads = gpt_dims
        model = Gpt(d, layers, heads)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    return model.to(device)


def params_and_grads(model):
    """[(name, param, grad)] in named_parameters order, each grad a persistent f32 contiguous
    zero buffer set as p.grad (created once; rai borrows both pointers)."""
    out = []
    for name, p in model.named_parameters():
        if p.dtype != torch.float32 or not p.is_contiguous():
            raise RuntimeError(f"parameter {name}: rai needs f32 contiguous parameters "
                               f"(got {p.dtype}, contiguous {p.is_contiguous()})")
        if p.grad is None:
            p.grad = torch.zeros_like(p, memory_format=torch.contiguous_format)
        out.append((name, p, p.grad))
    return out


def register(obj, pairs):
    """add_param(param, grad, name) of a rai.Optimizer or rai.HybridTrainer for every pair (a
    detached view of the parameter: same storage; DLPack refuses tensors that require grad)."""
    for name, p, g in pairs:
        obj.add_param(p.detach(), g, name)


# ------------------------------------------------------------------ a model and its data


def _zero(tensors):
    try:
        torch._foreach_zero_(tensors)
    except (AttributeError, RuntimeError):
        for t in tensors:
            t.zero_()


class LmTask:
    """One model with persistent gradient buffers over T2 windows.

    loss(tokens, step, batch, grad) trains on rows [step*batch, (step+1)*batch) of `tokens`
    (uint8 [N, 65] on the device): inputs [0, 64), targets [1, 64]; mean cross-entropy over
    batch x 64 predictions. With grad, zeroes the grad buffers in place and backpropagates into
    them. Returns the loss as a 0-d tensor (no synchronisation). amp: bf16 autocast (CUDA only).
    heldout() is the mean cross-entropy over the held-out windows in chunks of 32, in f32."""

    def __init__(self, model, heldout_tokens, device, amp=False):
        self.model = model
        self.pairs = params_and_grads(model)
        self.grads = [g for _, _, g in self.pairs]
        self.heldout_tokens = heldout_tokens
        self.device = device
        self.amp = bool(amp) and device.startswith("cuda")

    def _loss(self, rows, amp):
        x = rows[:, :CONTEXT].long()
        y = rows[:, 1:].long()
        if amp:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = self.model(x)
        else:
            logits = self.model(x)
        return F.cross_entropy(logits.float().reshape(-1, VOCAB), y.reshape(-1))

    def loss(self, tokens, step, batch, grad):
        first = step * batch
        if first + batch > tokens.shape[0]:
            raise IndexError(f"step {step} x batch {batch} needs windows up to {first + batch}, "
                             f"the data holds {tokens.shape[0]}")
        rows = tokens[first:first + batch]
        if not grad:
            with torch.no_grad():
                return self._loss(rows, self.amp)
        _zero(self.grads)
        loss = self._loss(rows, self.amp)
        loss.backward()
        for _, p, g in self.pairs:
            if p.grad is not g:
                raise RuntimeError("autograd replaced a gradient buffer that rai borrows")
        return loss.detach()

    def heldout(self):
        total = 0.0
        with torch.no_grad():
            for start in range(0, HELDOUT_WINDOWS, HELDOUT_CHUNK):
                rows = self.heldout_tokens[start:start + HELDOUT_CHUNK]
                total += float(self._loss(rows, False)) * rows.shape[0]
        return total / HELDOUT_WINDOWS


# ------------------------------------------------------------------ devices and rai


def check_device(device):
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda, got {device!r}")


def make_context(device):
    """(rai.Context, torch stream or None). CUDA: a dedicated torch stream is made torch's current
    stream and adopted by the context, so torch's kernels and rai's parameter updates are ordered
    on one stream (the legacy default stream's handle, 0, would mean rai's own stream instead)."""
    import rai

    check_device(device)
    if device == "cpu":
        return rai.Context("cpu", strict=True, ignore_env=True), None
    stream = torch.cuda.Stream()
    torch.cuda.set_stream(stream)
    ctx = rai.Context(f"cuda:{torch.cuda.current_device()}", strict=True, ignore_env=True, stream=stream)
    if ctx.stream != stream.cuda_stream or torch.cuda.current_stream().cuda_stream != stream.cuda_stream:
        raise RuntimeError(f"rai context stream {ctx.stream:#x} is not torch's current stream "
                           f"{torch.cuda.current_stream().cuda_stream:#x}")
    return ctx, stream


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def set_threads(threads):
    """torch's intra-op threads and rai's CPU worker pool (RAI_NUM_THREADS, read per call)."""
    threads = max(1, int(threads))
    os.environ["RAI_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first parallel work
        pass


def environment(device):
    """What ran: versions, device, CPU count (for the report and the JSON)."""
    import platform

    import rai

    env = {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
           "rai": rai.version(), "rai_cpu_dispatch": rai.cpu_dispatch_level(), "cpus": os.cpu_count(),
           "device": device, "host": platform.node()}
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
        env["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        env["tf32_cudnn"] = torch.backends.cudnn.allow_tf32
    return env


# ------------------------------------------------------------------ statistics


def mean_std(values):
    """Mean and sample std (0 for one value); NaN mean if any value is NaN."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, s


def fmt(x, digits=4):
    """A loss for a table: "nan" for a diverged (None or NaN) value."""
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def nan_last(x):
    """A sort key that puts NaN (diverged) after every number."""
    return (1, 0.0) if x is None or math.isnan(x) else (0, x)


def write_json(path, obj):
    """Atomic write (a killed run leaves the previous complete file)."""
    if not path:
        return
    import json

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(clean_floats(obj), f, indent=1, default=str)
    os.replace(tmp, path)


def clean_floats(obj):
    """NaN/inf floats as None, recursively (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_floats(v) for v in obj]
    return obj


# ------------------------------------------------------------------ resuming and merging


def add_run_options(ap, resume_keeps="its finished runs are kept"):
    """The options both benchmarks share: where data and results go, resuming, merging, time."""
    ap.add_argument("--time-limit", type=float, help="seconds after which no new run starts")
    ap.add_argument("--dump-tool", default=DEFAULT_DUMP_TOOL)
    ap.add_argument("--out", help="JSON results (rewritten after every run)")
    ap.add_argument("--merge", help="comma-separated JSON files of earlier runs: print their tables, train nothing")
    ap.add_argument("--resume", help="an --out file of an earlier, interrupted invocation with the same settings: "
                    f"{resume_keeps}, not rerun (may be the --out file itself)")


def merge_files(paths, config_keys, key, on_file=None):
    """(runs, config) of several --out files for --merge: their configurations must agree on
    `config_keys`; run ids are renumbered; when two files hold the same run (key(run)), a
    successful later one replaces the earlier. on_file(config, saved) sees each file after the
    first (to widen the configuration) and the first too, with config None."""
    import json

    runs, cfg, seen = [], None, {}
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        if cfg is None:
            cfg = dict(d["config"])
        else:
            diff = {k: (cfg.get(k), d["config"].get(k)) for k in config_keys if d["config"].get(k) != cfg.get(k)}
            if diff:
                raise SystemExit(f"--merge: {p} was run with another configuration than {paths[0]}: {diff}")
        if on_file:
            on_file(cfg, d)
        base = 1 + max((r["id"] for r in runs), default=-1)
        for r in d["runs"]:
            r = dict(r, id=base + r["id"])
            if r.get("heldout") is None:
                r["heldout"] = float("nan")
            k = key(r)
            if k in seen and not r.get("error"):
                log(f"--merge: {k} appears twice; the run from {p} replaces the earlier one")
                runs.remove(seen[k])
            if not r.get("error") or k not in seen:
                seen[k] = r
                runs.append(r)
    return runs, cfg


def load_previous(path, cfg, config_keys, key):
    """{key(run): run} of the successful runs saved in `path` (an --out file of an earlier
    invocation with the same configuration), plus that file's whole content."""
    import json

    if not path or not os.path.exists(path):
        if path:
            log(f"--resume: {path} does not exist yet; starting from nothing")
        return {}, {}
    with open(path) as f:
        saved = json.load(f)
    diff = {k: (saved["config"].get(k), cfg.get(k)) for k in config_keys if saved["config"].get(k) != cfg.get(k)}
    if diff:
        raise RuntimeError(f"--resume: {path} was run with another configuration (saved, now): {diff}")
    runs = {}
    for r in saved.get("runs", []):
        if r.get("error"):
            continue
        r = dict(r)
        if r.get("heldout") is None:
            r["heldout"] = float("nan")
        runs[key(r)] = r
    log(f"--resume: {len(runs)} finished runs in {path}")
    return runs, saved


def with_resume(previous, key, on_result):
    """(feed, on_result2) for run_jobs: feed(jobs) hands every job whose key(job) is in `previous`
    to on_result with the saved result (as if it had just run) and returns the others; on_result2
    does the same for the jobs on_result returns."""

    def feed(jobs):
        todo, pending = [], collections.deque(jobs)
        while pending:
            job = pending.popleft()
            prev = previous.pop(key(job), None)
            if prev is None:
                todo.append(job)
                continue
            result = {k: v for k, v in prev.items() if k != "id"}
            result["resumed"] = True
            pending.extend(on_result(job, result) or [])
        return todo

    def on_result2(job, result):
        return feed(on_result(job, result) or [])

    return feed, on_result2


# ------------------------------------------------------------------ parallel runs


class WorkerState:
    """What one worker process keeps between its runs: the rai context (on CUDA, on torch's
    stream), the held-out windows and each training stream's windows on the device. Subclasses
    load their kernels in warm_up() (called on CUDA, before any timed run)."""

    def __init__(self, cfg):
        set_threads(cfg["threads"])
        self.cfg = cfg
        self.device = cfg["device"]
        self.ctx, self.stream = make_context(self.device)
        self.heldout = load_windows(cfg["heldout_path"], self.device)
        self.train = {}
        if self.device == "cuda":
            self.warm_up()

    def tokens(self, stream):
        """The training windows of `stream` (a key of cfg["train_paths"]), loaded once."""
        if stream not in self.train:
            self.train[stream] = load_windows(self.cfg["train_paths"][stream], self.device)
        return self.train[stream]

    def warm_up(self):
        pass


def _child_main(wid, inq, outq, init, run, init_args):
    """A worker process: init(*init_args) once, then run(state, job) per job until None."""
    try:
        state = init(*init_args)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        outq.put(("init_error", wid, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        return
    while True:
        job = inq.get()
        if job is None:
            break
        try:
            result = run(state, job)
        except BaseException as exc:  # noqa: BLE001 - one run failing must not stop the others
            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        outq.put(("done", wid, (job["id"], result)))


def run_jobs(jobs, init, run, init_args, n_jobs, on_result, deadline=None):
    """Runs every job (a dict with a unique "id") as run(state, job) -> result dict, with
    state = init(*init_args) made once per worker. n_jobs == 1: in this process; otherwise in
    n_jobs spawned processes (each its own torch and rai context). on_result(job, result) is
    called in this process as each finishes and may return more jobs to run. A run that raises
    gives {"error": ...}; a worker process that dies fails its current job and is replaced.
    deadline: time.monotonic() after which no new job starts (they get {"error": "not run"})."""
    pending = collections.deque(jobs)

    def expired():
        return deadline is not None and time.monotonic() > deadline

    def skip_rest():
        while pending:
            job = pending.popleft()
            pending.extend(on_result(job, {"error": "not run: --time-limit reached", "not_run": True}) or [])

    if n_jobs <= 1:
        state = init(*init_args)
        while pending:
            if expired():
                skip_rest()
                break
            job = pending.popleft()
            try:
                result = run(state, job)
            except Exception as exc:  # noqa: BLE001
                result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            pending.extend(on_result(job, result) or [])
        return

    mp = multiprocessing.get_context("spawn")
    outq = mp.Queue()
    procs, inqs, busy = {}, {}, {}
    restarts = [0]
    init_errors = []

    def start(wid):
        inq = mp.Queue()
        p = mp.Process(target=_child_main, args=(wid, inq, outq, init, run, init_args), daemon=True)
        p.start()
        procs[wid], inqs[wid] = p, inq

    def finish(job, result):
        pending.extend(on_result(job, result) or [])

    for wid in range(n_jobs):
        start(wid)
    try:
        while pending or busy:
            if not procs:  # every worker failed to start
                first = init_errors[-1].splitlines()[0] if init_errors else "?"
                msg = f"no worker process could start: {first} (the traceback is on stderr)"
                while pending:
                    finish(pending.popleft(), {"error": msg})
                break
            for wid in list(procs):
                if wid in busy or not pending:
                    continue
                if expired():
                    skip_rest()
                    break
                job = pending.popleft()
                busy[wid] = job
                inqs[wid].put(job)
            try:
                kind, wid, payload = outq.get(timeout=1.0)
            except queue.Empty:
                for wid, p in list(procs.items()):
                    if p.is_alive():
                        continue
                    code = p.exitcode
                    del procs[wid], inqs[wid]
                    job = busy.pop(wid, None)
                    if job is not None:
                        log(f"worker {wid} died (exit code {code}) during job {job['id']}")
                        finish(job, {"error": f"worker process died (exit code {code})"})
                    if restarts[0] < 2 * n_jobs:
                        restarts[0] += 1
                        start(wid)
                continue
            if kind == "init_error":
                init_errors.append(payload)
                log(f"worker {wid} failed to start: {payload}")
                job = busy.pop(wid, None)
                procs.pop(wid).join(timeout=5)
                inqs.pop(wid, None)
                if job is not None:
                    pending.appendleft(job)  # another worker may still run it
                continue
            job_id, result = payload
            job = busy.pop(wid, None)
            if job is None or job["id"] != job_id:
                log(f"worker {wid}: result for job {job_id} that was not assigned to it (ignored)")
                continue
            finish(job, result)
    finally:
        for wid, inq in inqs.items():
            try:
                inq.put(None)
            except (OSError, ValueError):
                pass
        for p in procs.values():
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
