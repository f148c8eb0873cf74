"""rai.torch_hooks: the DDP communication hook in a 2-process gloo group on the CPU. With a
lossless setting the hooked gradient equals the uncompressed all-reduce average; with SIGN and
PowerSGD (error feedback on) DDP training still reduces the loss. Skipped without torch (it is
not in the CI venv; see bindings/python/README.md for running it by hand)."""

import importlib.util
import json
import os
import tempfile
import unittest

import rai

from rai_test_support import environ, run_python_json

HAS_TORCH = importlib.util.find_spec("torch") is not None
WORLD = 2
STEPS = 30


def _model(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(12, 24), torch.nn.Tanh(), torch.nn.Linear(24, 3))


def _batch(torch, rank):
    g = torch.Generator().manual_seed(100 + rank)
    x = torch.randn(32, 12, generator=g)
    w = torch.linspace(-1, 1, 36).reshape(12, 3)
    return x, x @ w


def _hooked(torch, method, options):
    from torch.nn.parallel import DistributedDataParallel
    from rai.torch_hooks import RaiCompressionState, rai_compression_hook

    ddp = DistributedDataParallel(_model(torch), bucket_cap_mb=0.001)  # several buckets
    state = RaiCompressionState(rai.Context("cpu"), method, seed=5, **options)
    ddp.register_comm_hook(state, rai_compression_hook)
    return ddp


def _backward(torch, modules, x, y, step):
    """Step `step`'s loss (inputs scaled by step + 1) backpropagated through each module."""
    for module in modules:
        module.zero_grad()
        torch.nn.functional.mse_loss(module(x * (step + 1)), y).backward()


def _rank_mean(dist, tensor):
    """The uncompressed all-reduce average of `tensor` (a copy)."""
    out = tensor.clone()
    dist.all_reduce(out)
    return out / WORLD


def _gradient_gap(torch, dist, rank, method, options):
    """max |hooked DDP gradient - uncompressed all-reduce average| over 3 steps."""
    ddp = _hooked(torch, method, options)
    ref = _model(torch)
    x, y = _batch(torch, rank)
    gap = 0.0
    for step in range(3):
        _backward(torch, (ddp, ref), x, y, step)
        for p_hooked, p_ref in zip(ddp.module.parameters(), ref.parameters()):
            expected = _rank_mean(dist, p_ref.grad)
            gap = max(gap, float((p_hooked.grad - expected).abs().max()))
    return gap


def _sum_decoded_gap(torch, dist, rank):
    """SIGN with sum_decoded over 3 steps of a one-bucket model: max |hooked gradient - the
    average of every rank's own decode| (a twin compressor's apply gives this rank's decode)."""
    from torch.nn.parallel import DistributedDataParallel
    from rai.torch_hooks import RaiCompressionState, rai_compression_hook

    torch.manual_seed(0)
    model = torch.nn.Linear(12, 3, bias=False)  # one parameter: the bucket is its gradient
    ref = torch.nn.Linear(12, 3, bias=False)
    ref.load_state_dict(model.state_dict())
    ddp = DistributedDataParallel(model)
    ctx = rai.Context("cpu")
    ddp.register_comm_hook(RaiCompressionState(ctx, "sign", seed=5, sum_decoded=True), rai_compression_hook)
    twin = rai.GradientCompressor(ctx, "sign", seed=5)
    flat = torch.zeros(36)
    twin.add_tensor(flat)
    x, y = _batch(torch, rank)
    gap = 0.0
    for step in range(3):
        _backward(torch, (ddp, ref), x, y, step)
        flat.copy_(ref.weight.grad.reshape(-1))
        twin.apply(0, flat)
        expected = _rank_mean(dist, flat)
        gap = max(gap, float((ddp.module.weight.grad.reshape(-1) - expected).abs().max()))
    twin.close()
    return gap


def _training(torch, rank, method, options):
    """(first, last) loss of STEPS hooked DDP SGD steps on this rank's batch."""
    ddp = _hooked(torch, method, options)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    x, y = _batch(torch, rank)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def _worker(rank, directory):
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method="file://" + os.path.join(directory, "store"),
                            rank=rank, world_size=WORLD)
    try:
        result = {
            "gap_topk_full": _gradient_gap(torch, dist, rank, "topk", {"ratio": 1.0}),
            "gap_powersgd_warmup": _gradient_gap(torch, dist, rank, "powersgd", {"warmup_steps": 100}),
            "gap_sign_sum_decoded": _sum_decoded_gap(torch, dist, rank),
            "train_sign": _training(torch, rank, "sign", {}),
            "train_powersgd": _training(torch, rank, "powersgd", {"rank": 2}),
        }
        with open(os.path.join(directory, f"rank{rank}.json"), "w") as f:
            json.dump(result, f)
    finally:
        dist.destroy_process_group()


@unittest.skipUnless(HAS_TORCH, "torch is not installed")
class DdpHook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import torch.multiprocessing as mp

        cls._env = environ(RAI_DEVICE=None)
        cls._env.__enter__()
        cls.tmp = tempfile.TemporaryDirectory()
        mp.spawn(_worker, args=(cls.tmp.name,), nprocs=WORLD, join=True)
        cls.results = []
        for rank in range(WORLD):
            with open(os.path.join(cls.tmp.name, f"rank{rank}.json")) as f:
                cls.results.append(json.load(f))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        cls._env.__exit__(None, None, None)

    def test_lossless_settings_match_the_uncompressed_allreduce(self):
        for r in self.results:
            self.assertLess(r["gap_topk_full"], 1e-6)
            self.assertLess(r["gap_powersgd_warmup"], 1e-6)

    def test_sum_decoded_averages_every_ranks_own_decode(self):
        for r in self.results:
            self.assertLess(r["gap_sign_sum_decoded"], 1e-6)

    def test_compressed_training_reduces_the_loss(self):
        for r in self.results:
            for key in ("train_sign", "train_powersgd"):
                first, last = r[key]
                self.assertLess(last, 0.3 * first, key)


@unittest.skipUnless(HAS_TORCH, "torch is not installed")
class HookArguments(unittest.TestCase):
    def test_bad_state_and_options(self):
        from rai.torch_hooks import RaiCompressionState, rai_compression_hook

        with rai.Context("cpu") as ctx:
            with self.assertRaises(rai.InvalidArgumentError):
                RaiCompressionState(ctx, "topk", ratio=2.0)  # refused at construction, not in backward
            with self.assertRaises(rai.InvalidArgumentError):
                RaiCompressionState(ctx, "gzip")
            with self.assertRaises(TypeError):
                rai_compression_hook(object(), None)


class ImportWithoutTorch(unittest.TestCase):
    def test_importing_rai_and_the_hook_module_does_not_import_torch(self):
        out, _ = run_python_json(self, "import json, sys, rai, rai.torch_hooks; "
                                       "print(json.dumps('torch' in sys.modules))")
        self.assertIs(out, False)


if __name__ == "__main__":
    unittest.main()
