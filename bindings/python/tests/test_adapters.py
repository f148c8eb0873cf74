"""rai.adapters: the LoRA/rsLoRA/DoRA vectors of the reference, the functional layer against
numpy, the adapter model (init, weights, mixed batches, merge/unmerge, PEFT golden fixtures,
save/load) and the error paths."""

import json
import os
import struct
import tempfile
import unittest

import rai
from rai import adapters

from rai_test_support import SOURCE_ROOT, module_fixture, np, requires_numpy

GOLDEN = os.path.join(SOURCE_ROOT, "tests", "adapters", "golden")
Q_PROJ = "model.layers.0.self_attn.q_proj"


setUpModule, tearDownModule = module_fixture(globals(), cpu_context=True)


def read_safetensors(path):
    """{name: numpy array} of an F32 safetensors file (the test's own reader, independent of rai)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + start:8 + n + end], dtype=np.float32).reshape(entry["shape"]).copy()
    return out


# The reference's LoRA vector (in 4, out 3, r 2, alpha 4: s = 2).
def _vectors():
    W = np.array([[.5, -1, .25, 2], [1.5, 0, -.5, 1], [-2, .75, 1, 0]], np.float32)
    A = np.array([[1, 0, -1, 2], [.5, 1, 0, -1]], np.float32)
    B = np.array([[1, 0], [0, 1], [1, -1]], np.float32)
    x = np.array([[1, 2, 3, 4]], np.float32)
    return W, A, B, x


def _set_lora(model, adapter, module, A, B):
    model.set_tensor(adapter, f"base_model.model.{module}.lora_A.weight", A)
    model.set_tensor(adapter, f"base_model.model.{module}.lora_B.weight", B)


def _check(status):
    if status != 0:
        raise rai.error_class(status)(status, rai.last_error_message())


def _nf4(W):
    """(rai_q4_state *, codes) of W through the raw quantization API (the Pythonic quantization
    module is another part of the binding)."""
    ffi, lib = rai.ffi, rai.lib
    codes = np.zeros((W.size + 1) // 2, np.uint8)
    out = ffi.new("rai_q4_state **")
    tw, tc = rai.as_tensor(W), rai.as_tensor(codes)  # kept: the descriptors must outlive the call
    _check(lib.rai_q4_quantize(CTX._handle(), ffi.NULL, tw.cdata, tc.cdata, out))
    return ffi.gc(out[0], lib.rai_q4_state_destroy), codes


@requires_numpy
class FunctionalLayer(unittest.TestCase):
    def test_lora_vector(self):
        W, A, B, x = _vectors()
        y = adapters.lora_linear_forward(CTX, x, W, A, B, scaling=2.0)
        np.testing.assert_allclose(y, [[19.25, 1.0, 17.5]], rtol=0, atol=1e-5)
        self.assertEqual(y.dtype, np.float32)

    def test_rslora_vector(self):
        W, A, B, x = _vectors()
        y = adapters.lora_linear_forward(CTX, x, W, A, B, scaling=4 / np.sqrt(2))
        np.testing.assert_allclose(y, [[24.2206, -0.2426, 23.7132]], atol=1e-4)

    def test_dora_vector(self):
        W, A, B, x = _vectors()
        m = np.array([3, 2, 1], np.float32)
        y = adapters.lora_linear_forward(CTX, x, W, A, B, scaling=2.0, magnitude=m)
        np.testing.assert_allclose(y, [[8.48600, 0.58977, 2.78225]], atol=1e-4)

    def test_bias_and_out_array(self):
        W, A, B, x = _vectors()
        bias = np.array([1, -2, 0.5], np.float32)
        out = np.full((1, 3), np.nan, np.float32)
        result = adapters.lora_linear_forward(CTX, x, W, A, B, bias=bias, scaling=2.0, out=out)
        self.assertIs(result, out)
        np.testing.assert_allclose(out, [[20.25, -1.0, 18.0]], atol=1e-5)

    def test_backward_matches_numpy_on_awkward_sizes(self):
        rng = np.random.default_rng(7)
        M, K, N, r, s = 33, 31, 17, 3, 0.75
        x = rng.standard_normal((M, K)).astype(np.float32)
        W = rng.standard_normal((N, K)).astype(np.float32)
        A = rng.standard_normal((r, K)).astype(np.float32)
        B = rng.standard_normal((N, r)).astype(np.float32)
        dy = rng.standard_normal((M, N)).astype(np.float32)
        y = adapters.lora_linear_forward(CTX, x, W, A, B, scaling=s)
        np.testing.assert_allclose(y, x @ W.T + s * (x @ A.T) @ B.T, rtol=1e-4, atol=1e-4)
        g = adapters.lora_linear_backward(CTX, x, W, A, B, dy, scaling=s)
        np.testing.assert_allclose(g.d_b, s * dy.T @ (x @ A.T), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(g.d_a, s * (dy @ B).T @ x, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(g.dx, dy @ W + s * (dy @ B) @ A, rtol=1e-4, atol=1e-3)
        self.assertIsNone(g.d_magnitude)
        # accumulate adds into the given buffers
        d_a, d_b = g.d_a.copy(), g.d_b.copy()
        g2 = adapters.lora_linear_backward(CTX, x, W, A, B, dy, scaling=s, accumulate=True,
                                           need_dx=False, d_a=d_a, d_b=d_b)
        self.assertIsNone(g2.dx)
        np.testing.assert_allclose(d_a, 2 * g.d_a, rtol=1e-6)
        np.testing.assert_allclose(d_b, 2 * g.d_b, rtol=1e-6)

    def test_dora_backward_gives_a_magnitude_gradient(self):
        W, A, B, x = _vectors()
        m = np.array([3, 2, 1], np.float32)
        dy = np.ones((1, 3), np.float32)
        g = adapters.lora_linear_backward(CTX, x, W, A, B, dy, scaling=2.0, magnitude=m)
        # y_dora = (m / n) * y_lora(without base scaling detail) -> dy/dm = y_lora_direction / n,
        # checked by finite differences on the forward
        eps = 1e-2
        for i in range(3):
            mp, mm = m.copy(), m.copy()
            mp[i] += eps
            mm[i] -= eps
            fd = (adapters.lora_linear_forward(CTX, x, W, A, B, scaling=2.0, magnitude=mp).sum()
                  - adapters.lora_linear_forward(CTX, x, W, A, B, scaling=2.0, magnitude=mm).sum()) / (2 * eps)
            self.assertAlmostEqual(float(g.d_magnitude[i]), float(fd), places=3)

    def test_mixed_batch_rows_equal_single_adapter_runs(self):
        W, A, B, x1 = _vectors()
        rng = np.random.default_rng(1)
        A2 = rng.standard_normal((3, 4)).astype(np.float32)
        B2 = rng.standard_normal((3, 3)).astype(np.float32)
        x = rng.standard_normal((5, 4)).astype(np.float32)
        rows = [0, -1, 1, 0, 1]
        y = adapters.lora_linear_forward_mixed(CTX, x, W, [(A, B, 2.0), (A2, B2, 0.5)], rows)
        y0 = adapters.lora_linear_forward(CTX, x, W, A, B, scaling=2.0)
        y1 = adapters.lora_linear_forward(CTX, x, W, A2, B2, scaling=0.5)
        expected = np.stack([y0[0], x[1] @ W.T, y1[2], y0[3], y1[4]])
        np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)

    def test_qlora_equals_lora_on_the_dequantized_weight(self):
        rng = np.random.default_rng(12)
        M, K, N, r = 5, 64, 6, 2
        W = rng.standard_normal((N, K)).astype(np.float32)
        A = rng.standard_normal((r, K)).astype(np.float32)
        B = rng.standard_normal((N, r)).astype(np.float32)
        x = rng.standard_normal((M, K)).astype(np.float32)
        state, codes = _nf4(W)
        w_deq = np.empty_like(W)
        tc, tw = rai.as_tensor(codes), rai.as_tensor(w_deq)  # kept alive across the call
        _check(rai.lib.rai_q4_dequantize(CTX._handle(), state, tc.cdata, tw.cdata))
        self.assertLess(np.abs(w_deq - W).max(), 0.5)  # really 4-bit
        y = adapters.qlora_linear_forward(CTX, x, state, codes, A, B, out_features=N, scaling=0.5)
        np.testing.assert_allclose(y, adapters.lora_linear_forward(CTX, x, w_deq, A, B, scaling=0.5),
                                   rtol=1e-4, atol=1e-4)
        dy = rng.standard_normal((M, N)).astype(np.float32)
        g = adapters.qlora_linear_backward(CTX, x, state, codes, A, B, dy, scaling=0.5)
        ref = adapters.lora_linear_backward(CTX, x, w_deq, A, B, dy, scaling=0.5)
        for got, want in zip(g[:3], ref[:3]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        # the adapter model over the same 4-bit base
        m = rai.AdapterModel(CTX)
        m.add_linear_q4("q", state, codes)
        np.testing.assert_allclose(m.get_weight("q"), w_deq, rtol=0, atol=0)
        m.add("a", r=r, lora_alpha=1, target_modules=["q"])
        _set_lora(m, "a", "q", A, B)
        np.testing.assert_allclose(m.forward("q", x), y, rtol=1e-4, atol=1e-4)
        with self.assertRaises(rai.InvalidArgumentError):
            m.merge()  # lossy without lossy=True
        m.merge(lossy=True)
        self.assertEqual(m.merged, ["a"])

    def test_errors_name_the_argument(self):
        W, A, B, x = _vectors()
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            adapters.lora_linear_forward(CTX, x, W, A, B[:, :1])
        self.assertIn("lora_b", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            adapters.lora_linear_forward(CTX, x, W, A, B, dropout=1.5)
        self.assertIn("dropout", cm.exception.message)
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            adapters.lora_linear_forward(CTX, x, W, A, B, out=np.zeros((2, 3), np.float32))
        self.assertIn("out", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            adapters.lora_linear_forward_mixed(CTX, x, W, [(A, B, 2.0)], [0, 1])
        self.assertIn("row_adapter", cm.exception.message)
        with self.assertRaises(rai.OutOfRangeError):
            adapters.lora_linear_forward_mixed(CTX, x, W, [(A, B, 2.0)], [3])
        with self.assertRaises(TypeError):
            adapters.lora_linear_forward("cpu", x, W, A, B)
        with self.assertRaises(TypeError):
            adapters.qlora_linear_forward(CTX, x, object(), np.zeros(8, np.uint8), A, B, out_features=3)


@requires_numpy
class Model(unittest.TestCase):
    def setUp(self):
        self.W, self.A, self.B, self.x = _vectors()
        self.m = rai.AdapterModel(CTX)
        self.m.add_linear("layer.q_proj", self.W)
        self.addCleanup(self.m.close)

    def test_default_init_leaves_the_output_equal_to_the_base(self):
        rng = np.random.default_rng(3)
        x = rng.standard_normal((7, 4)).astype(np.float32)
        for options in ({}, {"use_rslora": True}, {"use_dora": True}, {"init_lora_weights": "gaussian"}):
            with self.subTest(**options):
                name = "a%d" % len(self.m.adapters)
                self.m.add(name, r=2, lora_alpha=4, target_modules=["q_proj"], seed=5, **options)
                self.m.set_active(name)
                np.testing.assert_allclose(self.m.forward("layer.q_proj", x), x @ self.W.T, rtol=1e-6, atol=1e-6)
        # the default init really is Kaiming-uniform A (not zero) with B = 0
        a = self.m.get_tensor("a0", "base_model.model.layer.q_proj.lora_A.weight")
        self.assertTrue(np.all(np.abs(a) <= 1 / np.sqrt(4) + 1e-7) and np.any(a != 0))
        self.assertFalse(np.any(self.m.get_tensor("a0", "base_model.model.layer.q_proj.lora_B.weight")))

    def test_peft_style_options_reach_the_config(self):
        self.m.add("cfg", r=2, lora_alpha=4, lora_dropout=0.25, use_rslora=True, bias="none",
                   target_modules=["q_proj"], rank_pattern={"q_proj": 2})
        cfg = self.m.config("cfg")
        self.assertEqual((cfg["peft_type"], cfg["r"], cfg["lora_alpha"]), ("LORA", 2, 4))
        self.assertAlmostEqual(cfg["lora_dropout"], 0.25)
        self.assertTrue(cfg["use_rslora"])
        self.assertEqual(cfg["target_modules"], ["q_proj"])
        info = self.m.info()
        self.assertEqual(info["modules"][0]["name"], "layer.q_proj")
        self.assertEqual(info["adapters"], [{"name": "cfg", "peft_type": "LORA", "modules": ["layer.q_proj"],
                                             "parameters": 2 * 4 + 3 * 2}])
        keys = [t["key"] for t in self.m.tensors("cfg")]
        self.assertEqual(keys, ["base_model.model.layer.q_proj.lora_A.weight",
                                "base_model.model.layer.q_proj.lora_B.weight"])

    def test_reference_vector_through_the_model_and_merge_round_trip(self):
        self.m.add("v", r=2, lora_alpha=4, target_modules=["q_proj"])
        _set_lora(self.m, "v", "layer.q_proj", self.A, self.B)
        y = self.m.forward("layer.q_proj", self.x)
        np.testing.assert_allclose(y, [[19.25, 1.0, 17.5]], atol=1e-5)
        expected_merged = [[2.5, -1, -1.75, 6], [2.5, 2, -.5, -1], [-1, -1.25, -1, 6]]
        np.testing.assert_allclose(self.m.merged_weight("layer.q_proj"), expected_merged, atol=1e-6)
        self.m.merge()
        self.assertEqual(self.m.merged, ["v"])
        np.testing.assert_allclose(self.m.get_weight("layer.q_proj"), expected_merged, atol=1e-6)
        np.testing.assert_allclose(self.m.forward("layer.q_proj", self.x), y, atol=1e-5)
        self.m.unmerge()
        self.assertEqual(self.m.merged, [])
        w = self.m.get_weight("layer.q_proj")
        np.testing.assert_array_max_ulp(w, self.W, maxulp=2 * 8)  # 2 ulp of max(|W|, |W'|)
        # keep_original: bit-exact
        self.m.merge(["v"], safe=True, keep_original=True)
        self.m.unmerge(1)
        np.testing.assert_array_equal(self.m.get_weight("layer.q_proj"), self.W)
        # a merge of a B = 0 LoRA leaves W bit-identical
        self.m.add("zero", r=2, lora_alpha=4, target_modules=["q_proj"])
        self.m.merge("zero")
        np.testing.assert_array_equal(self.m.get_weight("layer.q_proj"), self.W)
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.delete("zero")  # merged
        self.m.unmerge()
        self.m.delete("zero")
        self.assertEqual(self.m.adapters, ["v"])

    def test_merged_weight_on_a_master(self):
        self.m.add("v", r=2, lora_alpha=4, target_modules=["q_proj"])
        _set_lora(self.m, "v", "layer.q_proj", self.A, self.B)
        master = np.zeros_like(self.W)
        np.testing.assert_allclose(self.m.merged_weight("layer.q_proj", ["v"], master=master),
                                   2.0 * self.B @ self.A, atol=1e-6)

    def test_safe_merge_rejects_non_finite_and_changes_nothing(self):
        self.m.add("big", r=2, lora_alpha=4, target_modules=["q_proj"])
        _set_lora(self.m, "big", "layer.q_proj", np.full((2, 4), 1e30, np.float32), np.full((3, 2), 1e30, np.float32))
        with self.assertRaises(rai.OutOfRangeError):
            self.m.merge(safe=True)
        self.assertEqual(self.m.merged, [])
        np.testing.assert_array_equal(self.m.get_weight("layer.q_proj"), self.W)

    def test_weights_disable_and_mixed_batches(self):
        rng = np.random.default_rng(4)
        self.m.add("a", r=2, lora_alpha=4, target_modules=["q_proj"])
        self.m.add("b", r=2, lora_alpha=2, target_modules=["q_proj"], init_lora_weights=False, seed=9)
        _set_lora(self.m, "a", "layer.q_proj", self.A, self.B)
        x = rng.standard_normal((4, 4)).astype(np.float32)
        base = x @ self.W.T
        self.m.set_active("a")
        da = self.m.forward("layer.q_proj", x) - base
        self.m.set_active("b")
        db = self.m.forward("layer.q_proj", x) - base
        self.assertGreater(np.abs(db).max(), 1e-3)  # init=False is not the identity
        self.m.set_active(["a", "b"], [0.5, 2.0])
        self.assertEqual(self.m.active, [("a", 0.5), ("b", 2.0)])
        np.testing.assert_allclose(self.m.forward("layer.q_proj", x), base + 0.5 * da + 2 * db, rtol=1e-5, atol=1e-5)
        self.assertTrue(self.m.enabled)
        self.m.disable()
        self.assertFalse(self.m.enabled)
        np.testing.assert_allclose(self.m.forward("layer.q_proj", x), base, rtol=1e-6, atol=1e-6)
        self.m.enable()
        self.m.set_active([])
        self.assertEqual(self.m.active, [])
        np.testing.assert_allclose(self.m.forward("layer.q_proj", x), base, rtol=1e-6, atol=1e-6)
        y = self.m.forward_mixed("layer.q_proj", x, ["b", None, "a", "b"])
        np.testing.assert_allclose(y, base + np.stack([db[0], 0 * db[1], da[2], db[3]]), rtol=1e-5, atol=1e-5)
        # add_weighted "cat" is exact: 1*a + 1*b
        self.m.add_weighted("ab", ["a", "b"], [1.0, 1.0], combination="cat")
        self.m.set_active("ab")
        np.testing.assert_allclose(self.m.forward("layer.q_proj", x), base + da + db, rtol=1e-5, atol=1e-5)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            self.m.set_active(["a", "nope"])
        self.assertIn("nope", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.set_active(["a"], [1.0, 2.0])
        self.m.train()
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.forward_mixed("layer.q_proj", x, ["a"] * 4)  # eval only
        self.m.eval()
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.add_weighted("bad", ["a"], [1.0], combination="svd")

    def test_backward_gradients_accumulate_and_clip(self):
        self.m.add("v", r=2, lora_alpha=4, target_modules=["q_proj"])
        _set_lora(self.m, "v", "layer.q_proj", self.A, self.B)
        dy = np.array([[1.0, -2.0, 0.5]], np.float32)
        self.m.forward("layer.q_proj", self.x)
        dx = self.m.backward("layer.q_proj", self.x, dy)
        g = adapters.lora_linear_backward(CTX, self.x, self.W, self.A, self.B, dy, scaling=2.0)
        np.testing.assert_allclose(dx, g.dx, rtol=1e-6)
        key_a = "base_model.model.layer.q_proj.lora_A.weight"
        np.testing.assert_allclose(self.m.get_grad("v", key_a), g.d_a, rtol=1e-6)
        self.m.forward("layer.q_proj", self.x)
        self.assertIsNone(self.m.backward("layer.q_proj", self.x, dy, need_dx=False))
        np.testing.assert_allclose(self.m.get_grad("v", key_a), 2 * g.d_a, rtol=1e-6)
        norm = self.m.clip_grad_norm(0.3, "v")
        expected = np.sqrt(((2 * g.d_a) ** 2).sum() + ((2 * g.d_b) ** 2).sum())
        self.assertAlmostEqual(norm, float(expected), delta=1e-3 * expected)
        clipped = self.m.get_grad("v", key_a)
        np.testing.assert_allclose(clipped, 2 * g.d_a * 0.3 / expected, rtol=1e-4)
        self.m.zero_grad()
        self.assertFalse(np.any(self.m.get_grad("v", key_a)))

    def test_adalora_allocator_masks_to_the_target_budget(self):
        # init_r 3 -> target_r 1 over one module: budget 3 at tinit, then int(2 (1 - s/3)^3 + 1) = 1
        self.m.add_json("ada", {"peft_type": "ADALORA", "init_r": 3, "target_r": 1, "lora_alpha": 3,
                                "tinit": 0, "tfinal": 1, "deltaT": 1, "total_step": 4,
                                "target_modules": ["q_proj"]})
        key_e = "base_model.model.layer.q_proj.lora_E"
        self.m.set_tensor("ada", key_e, np.array([[1.0], [2.0], [3.0]], np.float32))
        rng = np.random.default_rng(5)
        budgets = []
        for step in range(5):
            x = rng.standard_normal((6, 4)).astype(np.float32)
            self.m.forward("layer.q_proj", x)
            self.m.backward("layer.q_proj", x, rng.standard_normal((6, 3)).astype(np.float32), need_dx=False)
            reg = self.m.adalora_orth_reg("ada")
            self.assertGreater(reg, 0.0)
            budgets.append(self.m.adalora_update("ada", step))
            self.m.zero_grad()
        self.assertEqual(budgets, [3, 1, 1, 1, 1])
        e = self.m.get_tensor("ada", key_e)
        self.assertEqual(int(np.count_nonzero(e)), 1)
        pattern = self.m.config("ada")["rank_pattern"]["layer.q_proj.lora_E"]
        self.assertEqual(pattern, [bool(v) for v in e.reshape(-1) != 0])
        with self.assertRaisesRegex(rai.InvalidArgumentError, "global_step"):
            self.m.adalora_update("ada", -1)

    def test_errors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            self.m.add("x", r=2, lora_alpha=4, target_modules=["k_proj"])
        self.assertIn("k_proj", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            self.m.add("x", r=2, lora_alpha=-1, target_modules=["q_proj"])
        self.assertIn("alpha", cm.exception.message)
        with self.assertRaises(TypeError) as cm:
            self.m.add("x", rank=2, target_modules=["q_proj"])
        self.assertIn("rank", str(cm.exception))
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.add("x", peft_type="oft", target_modules=["q_proj"])
        with self.assertRaises(rai.UnsupportedError):
            self.m.add_json("x", {"peft_type": "OFT", "target_modules": ["q_proj"]})
        with self.assertRaises(rai.FormatError) as cm:  # PEFT refuses AdaLoRA without total_step
            self.m.add_json("x", {"peft_type": "ADALORA", "target_modules": ["q_proj"]})
        self.assertIn("total_step", cm.exception.message)
        with self.assertRaises(rai.FormatError) as cm:
            self.m.add_json("x", {"r": 2, "target_modules": ["q_proj"]})
        self.assertIn("peft_type", cm.exception.message)
        with self.assertRaises(rai.ShapeMismatchError):
            self.m.add_linear("bad", np.zeros((3, 4), np.float32), bias=np.zeros(5, np.float32))
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            self.m.forward("nope", self.x)
        self.assertIn("nope", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            self.m.get_tensor("missing", "base_model.model.layer.q_proj.lora_A.weight")
        with self.assertRaises(rai.InputOutputError):
            self.m.load(os.path.join(tempfile.gettempdir(), "rai-no-such-adapter-dir"), "x")
        self.assertEqual(self.m.adapters, [])
        self.m.close()
        with self.assertRaises(ValueError):
            self.m.info()

    @requires_numpy
    def test_cuda_context_matches_cpu(self):
        """On a CUDA context: host weights and parameters, device activations (out= given)."""
        if rai.cuda_device_count() == 0:
            self.skipTest("no CUDA device")
        rng = np.random.default_rng(3)
        W = rng.standard_normal((10, 12)).astype(np.float32)
        x = rng.standard_normal((5, 12)).astype(np.float32)
        dy = rng.standard_normal((5, 10)).astype(np.float32)
        with rai.Context("cuda", strict=True) as gpu, rai.Buffer(gpu, 4096) as buf:
            results = []
            for ctx in (CTX, gpu):
                m = rai.AdapterModel(ctx)
                m.add_linear("l.q_proj", W)
                m.add("loha", peft_type="loha", r=2, lora_alpha=4, target_modules=["q_proj"],
                      init_lora_weights=False, seed=4)
                m.add("vera", peft_type="vera", r=4, target_modules=["q_proj"], seed=5)
                m.set_active(["loha", "vera"], [1.0, 0.5])
                if ctx is CTX:
                    y, dx = m.forward("l.q_proj", x), m.backward("l.q_proj", x, dy)
                else:
                    X, Y = buf.tensor("f32", (5, 12)), buf.tensor("f32", (5, 10), offset=1024)
                    DY, DX = buf.tensor("f32", (5, 10), offset=2048), buf.tensor("f32", (5, 12), offset=3072)
                    rai.tensor_copy(gpu, x, X)
                    rai.tensor_copy(gpu, dy, DY)
                    m.forward("l.q_proj", X, out=Y)
                    m.backward("l.q_proj", X, DY, dx=DX)
                    y, dx = np.zeros((5, 10), np.float32), np.zeros((5, 12), np.float32)
                    rai.tensor_copy(gpu, Y, y)
                    rai.tensor_copy(gpu, DX, dx)
                    with self.assertRaises(rai.DeviceMismatchError):
                        m.forward("l.q_proj", x)  # host x on a CUDA context
                g = m.get_grad("loha", "base_model.model.l.q_proj.hada_w1_a")
                results.append((y, dx, g))
                m.close()
            for ref, dev in zip(results[0], results[1]):
                np.testing.assert_allclose(dev, ref, rtol=1e-4, atol=1e-4)


@requires_numpy
class PeftGolden(unittest.TestCase):
    """Fixtures written by peft 0.21.2 (tests/adapters/golden): rai's outputs within 1e-5."""

    EXPECTED_MODULES = {"lora": 7, "dora": 3, "ia3": 3, "vera": 2, "loha": 2, "lokr": 2, "adalora": 3}

    @classmethod
    def setUpClass(cls):
        cls.base = read_safetensors(os.path.join(GOLDEN, "base", "model.safetensors"))

    def model(self):
        m = rai.AdapterModel(CTX)
        for name, w in self.base.items():
            if w.ndim == 2 and name != "model.embed_tokens.weight":
                m.add_linear(name[:-len(".weight")], w)
        self.addCleanup(m.close)
        return m

    def match(self, m, tuner):
        io = read_safetensors(os.path.join(GOLDEN, tuner, "io.safetensors"))
        checked = 0
        for key, x in io.items():
            if not key.endswith(".x"):
                continue
            module = key[:-2]
            y = io[module + ".y"]
            out = m.forward(module, x)
            tol = 1e-5 * max(1.0, float(np.abs(y).max()))
            self.assertLessEqual(float(np.abs(out - y).max()), tol, f"{tuner} {module}")
            checked += 1
        return checked

    def test_every_tuner_matches_peft(self):
        for tuner, count in self.EXPECTED_MODULES.items():
            with self.subTest(tuner=tuner):
                m = self.model()
                m.load(os.path.join(GOLDEN, tuner), tuner)
                self.assertEqual(self.match(m, tuner), count)

    def test_save_and_reload_reproduce_the_outputs(self):
        m = self.model()
        m.load(os.path.join(GOLDEN, "dora"), "dora")
        with tempfile.TemporaryDirectory() as tmp:
            m.save("dora", tmp)
            self.assertEqual(sorted(os.listdir(tmp)), ["adapter_config.json", "adapter_model.safetensors"])
            saved = read_safetensors(os.path.join(tmp, "adapter_model.safetensors"))
            self.assertTrue(all(".default." not in k for k in saved))
            m2 = self.model()
            m2.load(tmp, "again")
            self.assertEqual(self.match(m2, "dora"), 3)
            with open(os.path.join(tmp, "adapter_config.json")) as f:
                self.assertTrue(json.load(f)["use_dora"])
            m.save("dora", os.path.join(tmp, "bf16"), dtype="bf16")
            with open(os.path.join(tmp, "bf16", "adapter_model.safetensors"), "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            self.assertEqual({v["dtype"] for k, v in header.items() if k != "__metadata__"}, {"BF16"})

    def test_missing_tensors_fail_loudly(self):
        m = self.model()
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(GOLDEN, "lora", "adapter_config.json")) as f:
                cfg = json.load(f)
            cfg["target_modules"] = ["q_proj", "k_proj"]
            m.add_json("tmp", cfg)
            m.save("tmp", tmp)
            cfg["target_modules"] = ["q_proj", "k_proj", "v_proj"]
            with open(os.path.join(tmp, "adapter_config.json"), "w") as f:
                json.dump(cfg, f)
            with self.assertRaises(rai.FormatError) as cm:
                m.load(tmp, "broken")
            self.assertIn("v_proj", cm.exception.message)
        self.assertEqual(m.adapters, ["tmp"])


if __name__ == "__main__":
    unittest.main()
