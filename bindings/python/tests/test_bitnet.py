"""rai.bitnet: weight and activation quantization against numpy re-implementations of the
documented formulas (docs/bitnet.md), the reference's vectors, every packed layout, prepared
weights, GEMM and BitLinear in its three modes, and the error paths."""

import gc
import unittest

import rai
from rai import bitnet

from rai_test_support import module_fixture, np, requires_gpu, requires_numpy


setUpModule, tearDownModule = module_fixture(globals())


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))


def absmean_reference(w, group):
    """bitnet-quantize (Rust) parity: scale = mean|w| per group (1.0 if exactly 0),
    q = clamp(round_half_away(w / scale), -1, 1)."""
    rows, cols = w.shape
    g = w.reshape(rows, cols // group, group)
    scale = np.abs(g).astype(np.float64).mean(-1).astype(np.float32)
    scale = np.where(scale == 0, np.float32(1), scale).astype(np.float32)
    q = np.clip(round_half_away(g / scale[..., None]), -1, 1).astype(np.int8)
    return q.reshape(rows, cols), scale


@requires_numpy
class Weights(unittest.TestCase):
    def test_reference_vector(self):
        trits, scales = bitnet.quantize_weights(np.array([[1, -1, 0.5, -0.5]], np.float32), group_size=4)
        self.assertEqual(trits.tolist(), [[1, -1, 1, -1]])
        self.assertEqual(scales.tolist(), [[0.75]])
        trits, _ = bitnet.quantize_weights(np.array([[1, 0, 0, 0], [0, -1, 0, 0]], np.float32), "row")
        self.assertEqual(float((trits == 0).mean()), 0.75)

    def test_granularities_match_the_formula(self):
        rng = np.random.default_rng(21)
        w = rng.standard_normal((64, 128)).astype(np.float32)
        w[3] = 0  # an all-zero row: scale 1.0
        for granularity, group, shape in (("group", 64, (64, 2)), ("group", 32, (64, 4)), ("row", 128, (64,)),
                                          ("tensor", None, (1,))):
            trits, scales = bitnet.quantize_weights(w, granularity, group_size=group or 64)
            self.assertEqual(scales.shape, shape)
            self.assertEqual(trits.dtype, np.int8)
            if group is not None:
                q, s = absmean_reference(w, group)
                np.testing.assert_allclose(scales.reshape(s.shape), s, rtol=1e-6)
                # q may differ only where w / scale is within rounding of a .5 tie
                diff = trits != q
                self.assertLessEqual(int(diff.sum()), 2, granularity)
            np.testing.assert_array_equal(
                bitnet.dequantize_weights(trits, scales),
                trits * (scales.reshape(64, -1).repeat(128 // scales.reshape(64, -1).shape[1], 1)
                         if scales.size > 1 else scales[0]))
        self.assertEqual(bitnet.quantize_weights(w, "row")[1][3], 1.0)

    def test_eps_and_round_modes(self):
        w = np.array([[2.0, 1.0, 0.5, -0.5]], np.float32)  # mean |w| = 1: w / scale hits +-0.5
        t_away, s = bitnet.quantize_weights(w, "tensor")
        t_even, _ = bitnet.quantize_weights(w, "tensor", round_mode="half_even")
        self.assertEqual(s.tolist(), [1.0])
        self.assertEqual(t_away.tolist(), [[1, 1, 1, -1]])
        self.assertEqual(t_even.tolist(), [[1, 1, 0, 0]])  # 0.5 -> 0 under half-even
        tiny = np.full((1, 4), 1e-7, np.float32)
        _, s_rust = bitnet.quantize_weights(tiny, "tensor")
        _, s_clamp = bitnet.quantize_weights(tiny, "tensor", eps_mode="clamp")
        self.assertAlmostEqual(float(s_rust[0]), 1e-7, delta=1e-12)
        self.assertAlmostEqual(float(s_clamp[0]), 1e-5, delta=1e-12)
        _, s_zero = bitnet.quantize_weights(np.zeros((1, 4), np.float32), "tensor")
        self.assertEqual(s_zero.tolist(), [1.0])

    def test_input_dtypes(self):
        w = np.random.default_rng(22).standard_normal((4, 64)).astype(np.float32)
        t32, s32 = bitnet.quantize_weights(w)
        t16, _ = bitnet.quantize_weights(w.astype(np.float16))
        self.assertLessEqual(int((t16 != t32).sum()), 2)
        bf16 = (w.view(np.uint32) >> 16).astype(np.uint16)  # truncated bf16 bit patterns
        w_bf = (bf16.astype(np.uint32) << 16).view(np.float32)
        tb, sb = bitnet.quantize_weights(rai.as_tensor(bf16, dtype="bf16"))
        tref, sref = bitnet.quantize_weights(w_bf)
        np.testing.assert_array_equal(tb, tref)
        np.testing.assert_array_equal(sb, sref)

    def test_errors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.quantize_weights(np.zeros((2, 100), np.float32))  # group 64 does not divide 100
        self.assertIn("group", cm.exception.message)
        for bad in (np.zeros(64, np.float32), np.zeros((2, 2, 64), np.float32)):
            with self.assertRaises(rai.ShapeMismatchError) as cm:
                bitnet.quantize_weights(bad)
            self.assertIn("w", cm.exception.message)
        with self.assertRaises(rai.DTypeMismatchError) as cm:
            bitnet.quantize_weights(np.zeros((2, 64), np.int32))
        self.assertIn("w", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.quantize_weights(np.array([[np.inf] + [0] * 63], np.float32))
        self.assertIn("w", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.quantize_weights(np.zeros((2, 64), np.float32), granularity="column")
        self.assertIn("granularity", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            bitnet.dequantize_weights(np.array([[2, 0]], np.int8), np.ones(1, np.float32))
        with self.assertRaises(rai.ShapeMismatchError):
            bitnet.dequantize_weights(np.zeros((2, 4), np.int8), np.ones(3, np.float32))


@requires_numpy
class Activations(unittest.TestCase):
    def test_rust_convention_matches_the_formula(self):
        rng = np.random.default_rng(23)
        x = rng.standard_normal((2, 16, 128)).astype(np.float32)
        q, s = bitnet.quantize_activations(x)
        self.assertEqual((q.shape, q.dtype, s.shape), ((2, 16, 128), np.int8, (2, 16)))
        absmax = np.abs(x).max(-1)
        np.testing.assert_array_equal(s, (absmax / np.float32(127)).astype(np.float32))
        expect = np.clip(round_half_away(x / s[..., None]), -127, 127)
        self.assertLessEqual(int((q != expect).sum()), 2)
        self.assertLessEqual(int(np.abs(q.astype(np.int32)).max()), 127)
        deq = bitnet.dequantize_activations(q, s)
        np.testing.assert_array_equal(deq, q * s[..., None])
        self.assertLess(float(np.abs(deq - x).max()), 0.1)
        q2, s2 = bitnet.quantize_activations(x.reshape(32, 128))
        self.assertEqual(s2.shape, (32,))
        np.testing.assert_array_equal(q2.reshape(q.shape), q)

    def test_zero_official_per_tensor_and_bits(self):
        q, s = bitnet.quantize_activations(np.zeros((4, 128), np.float32))
        self.assertEqual((int(np.abs(q).max()), s.tolist()), (0, [1.0] * 4))
        x = np.array([[0.5, -2.0, 1.0, 0.25]], np.float32)
        q, s = bitnet.quantize_activations(x, scale_mode="official")
        self.assertAlmostEqual(float(s[0]), 127 / 2.0, places=5)  # the divisor
        np.testing.assert_array_equal(q[0], [32, -127, 64, 16])  # round(x * 63.5), half away
        np.testing.assert_allclose(bitnet.dequantize_activations(q, s, scale_mode="official"), q / s[:, None])
        q, s = bitnet.quantize_activations(np.array([[1.0, -7.0], [2.0, 3.5]], np.float32), bits=4, per_tensor=True)
        self.assertEqual(s.shape, (1,))
        self.assertEqual(float(s[0]), 1.0)  # absmax 7 / Qmax 7
        self.assertEqual(q.tolist(), [[1, -7], [2, 4]])
        q1, s1 = bitnet.quantize_activations(np.array([3.0, -1.5], np.float32))  # 1-D: one scale
        self.assertEqual((s1.shape, q1.tolist()), ((1,), [127, -64]))

    def test_rmsnorm_quantize(self):
        rng = np.random.default_rng(24)
        x = rng.standard_normal((5, 96)).astype(np.float32)
        gamma = rng.uniform(0.5, 1.5, 96).astype(np.float32)
        q, s = bitnet.rmsnorm_quantize(x, gamma, norm_eps=1e-6)
        y = (x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + 1e-6) * gamma).astype(np.float32)
        qr, sr = bitnet.quantize_activations(y)
        np.testing.assert_allclose(s, sr, rtol=1e-5)
        self.assertLessEqual(int(np.abs(q.astype(np.int32) - qr).max()), 1)
        q0, _ = bitnet.rmsnorm_quantize(x)  # gamma None = ones
        q1, _ = bitnet.rmsnorm_quantize(x, np.ones(96, np.float32))
        np.testing.assert_array_equal(q0, q1)
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            bitnet.rmsnorm_quantize(x, np.ones(95, np.float32))
        self.assertIn("gamma", cm.exception.message)

    def test_ste(self):
        x = np.array([-2, -0.5, 0, 0.5, 2], np.float32)
        self.assertEqual(bitnet.ste_forward(x).tolist(), [-1, -1, 0, 1, 1])
        self.assertEqual(bitnet.ste_forward(x, round_mode="half_even").tolist(), [-1, 0, 0, 0, 1])
        self.assertEqual(bitnet.ste_forward(np.array([-200, -50, 0, 50, 200], np.float32), 1.0, -127, 127).tolist(),
                         [-127, -50, 0, 50, 127])
        self.assertEqual(bitnet.ste_forward(np.array([0.5, 1, 1.5, 2], np.float32), 2.0).tolist(), [0, 2, 2, 2])
        g = np.arange(6, dtype=np.float32).reshape(2, 3)
        np.testing.assert_array_equal(bitnet.ste_backward(g), g)
        out = np.empty(5, np.float32)
        self.assertIs(bitnet.ste_forward(x, out=out), out)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.ste_forward(x, scale=0.0)
        self.assertIn("scale", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            bitnet.ste_forward(x, lo=1, hi=-1)

    def test_errors(self):
        with self.assertRaises(rai.DTypeMismatchError) as cm:
            bitnet.quantize_activations(np.zeros((2, 4), np.float64))
        self.assertIn("x", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.quantize_activations(np.zeros((2, 4), np.float32), bits=9)
        self.assertIn("bits", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            bitnet.quantize_activations(np.array([[np.nan, 1]], np.float32))
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            bitnet.dequantize_activations(np.zeros((2, 4), np.int8), np.ones(3, np.float32))
        self.assertIn("scales", cm.exception.message)
        with self.assertRaises(rai.LayoutError):
            bitnet.quantize_activations(np.zeros((4, 8), np.float32)[:, ::2])


@requires_numpy
class Layouts(unittest.TestCase):
    def test_sizes(self):
        self.assertEqual(bitnet.packed_size("byte2", 3, 5), 6)
        self.assertEqual(bitnet.packed_size("planes", 2, 65), 2 * 2 * 16)
        self.assertEqual(bitnet.packed_size("u32_16", 2, 17), 16)
        self.assertEqual(bitnet.packed_size("i2_s", 2, 128), 64 + 32)
        self.assertEqual(bitnet.packed_size("tq1_0", 2, 512), 2 * 2 * 54)
        self.assertEqual(bitnet.packed_size("TQ2_0", 1, 256), 66)
        with self.assertRaises(rai.ShapeMismatchError) as cm:
            bitnet.packed_size("tq2_0", 1, 255)
        self.assertIn("256", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            bitnet.packed_size("q4_0", 1, 1)

    def test_round_trip_every_layout_at_awkward_sizes(self):
        rng = np.random.default_rng(25)
        cases = {"planes": [(1, 1), (3, 31), (2, 33), (1, 65537)], "byte2": [(1, 1), (3, 31), (2, 33), (1, 65537)],
                 "u32_16": [(1, 1), (3, 31), (2, 33), (1, 65537)], "i2_s": [(1, 128), (3, 256), (1, 384)],
                 "tq1_0": [(1, 256), (3, 512)], "tq2_0": [(1, 256), (3, 512)]}
        for layout, shapes in cases.items():
            for rows, cols in shapes:
                t = rng.integers(-1, 2, (rows, cols)).astype(np.int8)
                scales = None
                if layout == "i2_s":
                    scales = np.array([0.75], np.float32)
                elif layout.startswith("tq"):
                    scales = np.full(rows, 0.5, np.float32)
                packed = bitnet.pack(t, layout, scales)
                self.assertEqual(packed.size, bitnet.packed_size(layout, rows, cols), layout)
                if scales is None:
                    np.testing.assert_array_equal(bitnet.unpack(packed, layout, (rows, cols)), t)
                else:
                    t2, s2 = bitnet.unpack(packed, layout, (rows, cols), with_scales=True)
                    np.testing.assert_array_equal(t2, t)
                    self.assertEqual(float(s2.reshape(-1)[0]), float(scales[0]))

    def test_exact_bytes(self):
        self.assertEqual(bitnet.pack([[1, 0, -1, 1]], "byte2").tolist(), [0x61])
        u32 = bitnet.pack([[1, 0, -1, 1, 0, -1, 0, 1, -1, 0, 1, -1, 0, 0, 1, -1]], "u32_16")
        codes = {1: 1, -1: 2, 0: 0}
        word = sum(codes[t] << (2 * i) for i, t in enumerate([1, 0, -1, 1, 0, -1, 0, 1, -1, 0, 1, -1, 0, 0, 1, -1]))
        self.assertEqual(int(u32.view(np.uint32)[0]), word)
        t = np.zeros((1, 128), np.int8)
        t[0, 0] = 1
        i2s = bitnet.pack(t, "i2_s", np.array([2.0], np.float32))
        self.assertEqual(i2s[0] >> 6, 2)  # element 0 in bits 7:6, code = trit + 1
        self.assertEqual(i2s[0] & 0x3F, 0b010101)
        self.assertEqual(float(i2s[32:36].view(np.float32)[0]), 2.0)
        self.assertEqual(i2s[36:].tolist(), [0] * 28)

    def test_quantize_tq_matches_packing_ternary_input(self):
        rng = np.random.default_rng(26)
        t = rng.integers(-1, 2, (3, 512)).astype(np.int8)
        scales = np.array([0.25, 1.5, 3.0], np.float32)  # exact in f16
        x = (t * scales[:, None]).astype(np.float32)
        for layout in ("tq1_0", "tq2_0"):
            packed = bitnet.quantize_tq(x, layout)
            np.testing.assert_array_equal(packed, bitnet.pack(t, layout, scales))
            t2, s2 = bitnet.unpack(packed, layout, (3, 512), with_scales=True)
            np.testing.assert_array_equal(t2, t)
            np.testing.assert_array_equal(s2, np.repeat(scales[:, None], 2, 1))

    def test_errors(self):
        t = np.zeros((1, 256), np.int8)
        with self.assertRaises(rai.BufferTooSmallError):
            bitnet.pack(t, "byte2", out=np.zeros(10, np.uint8))
        with self.assertRaises(rai.FormatError):
            bitnet.unpack(np.full(32 + 32, 0xFF, np.uint8), "i2_s", (1, 128))  # code 3
        self.assertEqual(bitnet.unpack(np.array([0xFF], np.uint8), "byte2", (1, 4)).tolist(), [[0, 0, 0, 0]])
        with self.assertRaises(rai.UnsupportedError) as cm:
            bitnet.pack(t, "tq2_0", np.array([[1.0, 2.0, 1.0, 1.0]], np.float32))  # group 64, unequal
        self.assertIn("256", cm.exception.message)
        with self.assertRaises(rai.OutOfRangeError):
            bitnet.pack(t, "tq2_0", np.array([1e6], np.float32))  # overflows f16
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.pack([[0, 3]], "byte2")
        self.assertIn("trits", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            bitnet.unpack(np.zeros(1, np.uint8), "byte2", (1, 4), with_scales=True)
        with self.assertRaises(rai.ShapeMismatchError):
            bitnet.quantize_tq(np.zeros((1, 100), np.float32), "tq1_0")


@requires_numpy
class PreparedWeightsAndGemm(unittest.TestCase):
    def test_info_unpack_and_ratio(self):
        rng = np.random.default_rng(27)
        w = rng.standard_normal((8, 4096)).astype(np.float32)
        with bitnet.TernaryWeight.from_float(w) as tw:
            info = tw.info()
            self.assertEqual((info.out_features, info.in_features, info.group_size, info.scale_count),
                             (8, 4096, 64, 8 * 64))
            self.assertEqual(info.granularity, "group")
            self.assertAlmostEqual(info.compression_ratio, 12.8, places=6)
            self.assertEqual(str(info.device), "cpu")
            trits, scales = bitnet.quantize_weights(w)
            t2, s2 = tw.unpack()
            np.testing.assert_array_equal(t2, trits)
            np.testing.assert_array_equal(s2, scales)
            self.assertEqual(info.nonzero, int((trits != 0).sum()))
            self.assertAlmostEqual(tw.sparsity, float((trits == 0).mean()))

    def test_reference_matmul(self):
        w = np.array([[1, -1, 1, -1], [1, 1, 0, 0]], np.int8)
        with bitnet.TernaryWeight(w, np.ones(2, np.float32)) as tw:
            self.assertEqual(tw.gemm(np.array([[1, 2, 3, 4]], np.float32)).tolist(), [[-2.0, 3.0]])
            raw = tw.gemm(np.array([[1, 2, 3, 4]], np.int8))
            self.assertEqual((raw.dtype, raw.tolist()), (np.int32, [[-2, 3]]))
            self.assertEqual(tw.gemm([[1.0, 2.0, 3.0, 4.0]], bias=[0.5, -1.0]).tolist(), [[-1.5, 2.0]])

    def test_gemm_paths_against_numpy(self):
        rng = np.random.default_rng(28)
        w = rng.standard_normal((33, 192)).astype(np.float32)
        trits, scales = bitnet.quantize_weights(w)
        deq = bitnet.dequantize_weights(trits, scales)
        x = rng.standard_normal((2, 3, 192)).astype(np.float32)
        bias = rng.standard_normal(33).astype(np.float32)
        with bitnet.TernaryWeight(trits, scales) as tw:
            y = tw.gemm(x, bias=bias)
            self.assertEqual(y.shape, (2, 3, 33))
            np.testing.assert_allclose(y, x @ deq.T + bias, atol=1e-4)
            xq = rng.integers(-127, 128, (5, 192)).astype(np.int8)
            np.testing.assert_array_equal(tw.gemm(xq), xq.astype(np.int64) @ trits.T.astype(np.int64))
            xs = rng.uniform(0.01, 0.1, 5).astype(np.float32)
            y8 = tw.gemm(xq, x_scales=xs)
            expect = (xq.astype(np.float64) @ deq.T.astype(np.float64)) * xs[:, None]
            np.testing.assert_allclose(y8, expect, rtol=1e-5, atol=1e-5)
            y8o = tw.gemm(xq, x_scales=1 / xs, act={"scale_mode": "official"})
            np.testing.assert_allclose(y8o, expect, rtol=1e-4, atol=1e-5)
            with self.assertRaises(rai.ShapeMismatchError):
                tw.gemm(np.zeros((1, 191), np.float32))
            with self.assertRaises(rai.DTypeMismatchError):
                tw.gemm(np.zeros((1, 192), np.float64))

    def test_errors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            bitnet.TernaryWeight(np.array([[2, 0]], np.int8), np.ones(1, np.float32))
        self.assertIn("trits", cm.exception.message)
        with self.assertRaises(rai.ShapeMismatchError):
            bitnet.TernaryWeight(np.zeros((2, 4), np.int8), np.ones(3, np.float32))


@requires_numpy
class BitLinearLayer(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(29)
        self.w = rng.standard_normal((64, 128)).astype(np.float32)
        self.b = rng.standard_normal(64).astype(np.float32)
        self.layer = bitnet.BitLinear(self.w, self.b)
        self.trits, self.scales = bitnet.quantize_weights(self.w)
        self.deq = bitnet.dequantize_weights(self.trits, self.scales)

    def tearDown(self):
        self.layer.close()

    def test_shapes_and_modes(self):
        rng = np.random.default_rng(30)
        self.assertEqual((self.layer.in_features, self.layer.out_features), (128, 64))
        for shape in ((4, 128), (2, 16, 128), (1, 128)):
            x = rng.standard_normal(shape).astype(np.float32)
            wfp = self.layer(x)
            self.assertEqual(wfp.shape, shape[:-1] + (64,))
            np.testing.assert_allclose(wfp, x @ self.deq.T + self.b, atol=1e-4)
            q, s = bitnet.quantize_activations(x)
            xq = bitnet.dequantize_activations(q, s)
            fakeq = self.layer.forward(x, mode="fakeq")
            np.testing.assert_allclose(fakeq, xq @ self.deq.T + self.b, atol=1e-4)
            w2a8 = self.layer.forward(x, mode="W2A8")
            bound = 1e-5 * np.abs(x).sum(-1, keepdims=True) * np.abs(self.scales).max()
            self.assertTrue(np.all(np.abs(w2a8 - fakeq) <= bound + 1e-5))

    def test_from_trits_and_borrowed_weight(self):
        layer = bitnet.BitLinear.from_trits(self.trits, self.scales, self.b)
        x = np.random.default_rng(31).standard_normal((3, 128)).astype(np.float32)
        np.testing.assert_array_equal(layer(x), self.layer(x))
        weight = layer.weight
        del layer
        gc.collect()  # the borrowed weight keeps the layer alive
        t, s = weight.unpack()
        np.testing.assert_array_equal(t, self.trits)
        weight.close()  # forgets the borrowed pointer only
        np.testing.assert_array_equal(self.layer.weight.unpack()[0], self.trits)

    def test_act_settings_and_errors(self):
        layer = bitnet.BitLinear(self.w, act={"bits": 4})
        x = np.random.default_rng(32).standard_normal((2, 128)).astype(np.float32)
        q, s = bitnet.quantize_activations(x, bits=4)
        np.testing.assert_allclose(layer(x, "fakeq"), bitnet.dequantize_activations(q, s) @ self.deq.T, atol=1e-4)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            layer(x, mode="int4")
        self.assertIn("mode", cm.exception.message)
        with self.assertRaises(rai.ShapeMismatchError):
            layer(np.zeros((2, 127), np.float32))
        with self.assertRaises(rai.ShapeMismatchError):
            bitnet.BitLinear(self.w, np.zeros(63, np.float32))
        layer.close()
        with self.assertRaises(ValueError):
            layer(x)


@requires_numpy
@requires_gpu
class Cuda(unittest.TestCase):
    def test_activations_and_bitlinear_match_the_cpu(self):
        rng = np.random.default_rng(33)
        x = rng.standard_normal((4, 256)).astype(np.float32)
        w = rng.standard_normal((32, 256)).astype(np.float32)
        with rai.Context("cuda", strict=True) as gpu:
            dx = gpu.buffer(x.nbytes).tensor("f32", x.shape)
            rai.tensor_copy(gpu, x, dx)
            q, s = bitnet.quantize_activations(dx, ctx=gpu)
            qh, sh = np.empty(x.shape, np.int8), np.empty(4, np.float32)
            rai.tensor_copy(gpu, q, qh)
            rai.tensor_copy(gpu, s, sh)
            q_cpu, s_cpu = bitnet.quantize_activations(x)
            np.testing.assert_array_equal(qh, q_cpu)
            np.testing.assert_array_equal(sh, s_cpu)
            with bitnet.BitLinear(w, ctx=gpu) as layer, bitnet.BitLinear(w) as cpu_layer:
                y = layer(dx, mode="w2a8")
                yh = np.empty((4, 32), np.float32)
                gpu.synchronize()
                rai.tensor_copy(gpu, y, yh)
                np.testing.assert_allclose(yh, cpu_layer(x, mode="w2a8"), rtol=1e-5, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
