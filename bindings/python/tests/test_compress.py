"""rai.GradientCompressor: round trips, apply == decompress(compress), the error-feedback
identity, peer reduction (TOPK union, SIGN vote, PowerSGD two-round protocol), warm-up, stats,
state save/load, the MPI entry point and the error paths."""

import unittest

import rai

from rai_test_support import module_fixture, np, requires_numpy

METHODS = ["none", "topk", "sign", "ternary", "ternary_stoch", "qsgd", "powersgd", "vsa_compat"]


setUpModule, tearDownModule = module_fixture(globals(), cpu_context=True)


def _gc(method, **options):
    options.setdefault("seed", 11)
    if method == "vsa_compat":
        options.setdefault("vsa_dimension", 256)  # the default 8192 is slow and adds nothing here
    return rai.GradientCompressor(CTX, method, **options)


def _grads(shape, steps, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(steps)]


@requires_numpy
class RoundTrips(unittest.TestCase):
    def test_lossless_settings_are_exact(self):
        for shape in [(1,), (31,), (33, 5)]:
            g = _grads(shape, 1)[0]
            for method, options in (("none", {}), ("topk", {"ratio": 1.0})):
                with self.subTest(method=method, shape=shape), _gc(method, **options) as gc:
                    gid = gc.add_tensor(g, name="w")
                    self.assertEqual(gid, 0)
                    message = gc.compress(gid, g)
                    self.assertIsInstance(message, bytes)
                    self.assertEqual(message[:4], b"RGCM")
                    self.assertLessEqual(len(message), gc.max_message_size(gid))
                    out = gc.decompress(gid, message)
                    self.assertEqual(out.shape, shape)
                    np.testing.assert_array_equal(out, g)

    def test_apply_equals_compress_then_decompress_for_every_method(self):
        for method in METHODS:
            for shape in [(31,), (65, 33)]:
                with self.subTest(method=method, shape=shape):
                    a, b = _gc(method), _gc(method)
                    grads = _grads(shape, 3, seed=len(method))
                    ia, ib = a.add_tensor(grads[0]), b.add_tensor(grads[0])
                    for g in grads:
                        applied = a.apply(ia, g.copy())
                        decoded = b.decompress(ib, b.compress(ib, g))
                        np.testing.assert_array_equal(applied, decoded)
                    a.close()
                    b.close()

    def test_error_feedback_identity(self):
        # sum of what receivers decoded + the final residual == sum of the gradients
        for method in ["topk", "sign", "ternary", "powersgd"]:
            with self.subTest(method=method), _gc(method, ratio=0.1 if method == "topk" else None) as gc:
                grads = _grads((40, 24), 6, seed=3)
                gid = gc.add_tensor(grads[0])
                sent = np.zeros((40, 24), np.float64)
                for g in grads:
                    sent += gc.decompress(gid, gc.compress(gid, g))
                residual = np.sum(grads, axis=0, dtype=np.float64) - sent
                self.assertGreater(np.linalg.norm(residual), 1e-3)  # lossy: something is delayed
                self.assertAlmostEqual(gc.stats(gid).ef_norm, float(np.linalg.norm(residual)),
                                       delta=1e-4 * np.linalg.norm(residual) + 1e-5)

    def test_momentum_correction_sends_the_velocity(self):
        # exact transport of the corrected velocity: each decoded message is u = 0.9 u + g
        # (float32, a product then a sum), so plain SGD on it is momentum SGD
        with _gc("none", error_feedback=True, momentum=0.9) as gc:
            grads = _grads((33, 7), 5, seed=4)
            gid = gc.add_tensor(grads[0])
            u = np.zeros((33, 7), np.float32)
            for g in grads:
                u = np.float32(0.9) * u + g
                np.testing.assert_array_equal(gc.decompress(gid, gc.compress(gid, g)), u)
        with _gc("topk", ratio=0.125, momentum=0.9) as gc:  # masking: sent coordinates restart
            grads = _grads((48,), 2, seed=5)
            gid = gc.add_tensor(grads[0])
            first = gc.decompress(gid, gc.compress(gid, grads[0]))
            sent = first != 0
            self.assertEqual(int(sent.sum()), 6)
            np.testing.assert_array_equal(first[sent], grads[0][sent])  # u = g at the first step
            # second step: v = u + r = 0.9 g0 + g1 where unsent (u and r both hold g0 there),
            # and g1 alone where the first message sent (u was masked, r is zero)
            v = np.where(sent, grads[1], np.float32(0.9) * grads[0] + grads[1] + grads[0])
            second = gc.decompress(gid, gc.compress(gid, grads[1]))
            top = np.argsort(-np.abs(v), kind="stable")[:6]
            np.testing.assert_array_equal(np.flatnonzero(second), np.sort(top))

    def test_momentum_correction_checks_its_arguments(self):
        for bad in (-0.5, 1.0, float("nan")):
            with self.subTest(momentum=bad), self.assertRaisesRegex(rai.InvalidArgumentError, "momentum"):
                _gc("sign", momentum=bad)
        with self.assertRaisesRegex(rai.InvalidArgumentError, "error feedback"):
            _gc("topk", momentum=0.9, error_feedback=False)

    def test_error_feedback_off_leaves_no_residual(self):
        with _gc("sign", error_feedback=False) as gc:
            g = _grads((64,), 1)[0]
            gid = gc.add_tensor(g)
            gc.compress(gid, g)
            self.assertEqual(gc.stats(gid).ef_norm, 0.0)

    def test_warmup_steps_are_sent_raw(self):
        with _gc("sign", warmup_steps=2) as gc:
            grads = _grads((50,), 3)
            gid = gc.add_tensor(grads[0])
            for g in grads[:2]:
                np.testing.assert_array_equal(gc.decompress(gid, gc.compress(gid, g)), g)
            self.assertFalse(np.array_equal(gc.decompress(gid, gc.compress(gid, grads[2])), grads[2]))

    def test_sign_message_size_and_stats(self):
        with _gc("sign", measure_quality=True) as gc:
            g = _grads((1024,), 1)[0]
            gid = gc.add_tensor(g)
            message = gc.compress(gid, g)
            self.assertEqual(len(message), 40 + 4 + 1024 // 8)
            s = gc.stats()
            self.assertEqual((s.steps, s.params, s.bits_in, s.bits_out), (1, 1024, 1024 * 32, len(message) * 8))
            self.assertAlmostEqual(s.bits_per_param, len(message) * 8 / 1024)
            self.assertEqual(s.quality_samples, 1)
            self.assertTrue(0.5 < s.last_cosine <= 1.0)
            gc.reset_stats()
            self.assertEqual(gc.stats(gid).steps, 0)
            self.assertEqual(len(gc), 1)


@requires_numpy
class Peers(unittest.TestCase):
    def test_topk_reduce_is_the_exact_sum(self):
        g1, g2 = _grads((37,), 2, seed=5)
        p1, p2 = _gc("topk", ratio=1.0), _gc("topk", ratio=1.0)
        i1, i2 = p1.add_tensor(g1), p2.add_tensor(g2)
        reduced = p1.reduce(i1, [p1.compress(i1, g1), p2.compress(i2, g2)])
        np.testing.assert_allclose(p2.decompress(i2, reduced), g1 + g2, rtol=1e-6)

    def test_sign_vote_of_unanimous_peers_is_the_sum(self):
        g = _grads((29,), 1, seed=6)[0]
        p1, p2 = _gc("sign"), _gc("sign")
        i1, i2 = p1.add_tensor(g), p2.add_tensor(g)
        m1, m2 = p1.compress(i1, g), p2.compress(i2, g)
        self.assertEqual(m1, m2)  # same seed, same gradient: bit-identical messages
        np.testing.assert_allclose(p1.decompress(i1, p1.reduce(i1, [m1, m2])),
                                   2 * p1.decompress(i1, m1), rtol=1e-6)

    def test_powersgd_two_rounds_recover_a_rank_two_sum(self):
        rng = np.random.default_rng(8)
        u, v = rng.standard_normal((2, 48)).astype(np.float32), rng.standard_normal((2, 20)).astype(np.float32)
        g1, g2 = np.outer(u[0], v[0]), np.outer(u[1], v[1])
        peers = [_gc("powersgd", rank=2), _gc("powersgd", rank=2)]
        ids = [p.add_tensor(g1) for p in peers]
        p_sum = peers[0].reduce(ids[0], [p.powersgd_p(i, g) for p, i, g in zip(peers, ids, (g1, g2))])
        q_msgs = [p.powersgd_q(i, p_sum) for p, i in zip(peers, ids)]
        self.assertTrue(all(q_msgs))
        q_sum = peers[0].reduce(ids[0], q_msgs)
        for p, i in zip(peers, ids):
            np.testing.assert_allclose(p.decompress(i, q_sum), g1 + g2, rtol=1e-4, atol=1e-4)

    def test_powersgd_raw_tensor_needs_no_q_round(self):
        with _gc("powersgd") as gc:
            g = _grads((16,), 1)[0]  # 1-D: sent raw
            gid = gc.add_tensor(g)
            p = gc.powersgd_p(gid, g)
            self.assertEqual(gc.powersgd_q(gid, p), b"")
            np.testing.assert_array_equal(gc.decompress(gid, p), g)


@requires_numpy
class State(unittest.TestCase):
    def test_save_load_resumes_bit_identically(self):
        grads = _grads((33, 9), 5, seed=9)
        a = _gc("powersgd", rank=1)
        ia = a.add_tensor(grads[0])
        for g in grads[:3]:
            a.compress(ia, g)
        blob = a.save_state()
        self.assertEqual(len(blob), a.state_size())
        b = _gc("powersgd", rank=1)
        ib = b.add_tensor(grads[0])
        b.load_state(blob)
        for g in grads[3:]:
            self.assertEqual(a.compress(ia, g), b.compress(ib, g))

    def test_load_refuses_other_configurations_and_damage(self):
        g = _grads((20,), 1)[0]
        a = _gc("sign")
        a.add_tensor(g)
        a.compress(0, g)
        blob = a.save_state()
        other = _gc("sign", seed=12)
        other.add_tensor(g)
        with self.assertRaises(rai.FormatError):
            other.load_state(blob)
        bigger = _gc("sign")
        bigger.add_tensor(np.zeros(21, np.float32))
        with self.assertRaises(rai.ShapeMismatchError):
            bigger.load_state(blob)
        with self.assertRaises(rai.FormatError):
            a.load_state(blob[:10])
        # the failed loads changed nothing
        self.assertEqual(a.stats(0).ef_norm, _gc_ef_norm_after_one_step(g))


def _gc_ef_norm_after_one_step(g):
    with _gc("sign") as gc:
        gc.add_tensor(g)
        gc.compress(0, g)
        return gc.stats(0).ef_norm


@requires_numpy
class Errors(unittest.TestCase):
    def test_bad_parameters(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            _gc("topk", ratio=1.5)
        self.assertIn("ratio", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            _gc("qsgd", qsgd_levels=40000)
        self.assertIn("levels", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            _gc("zip")
        self.assertIn("method", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            _gc("topk", rank=-1)
        with self.assertRaises(TypeError):
            rai.GradientCompressor("cpu", "sign")

    def test_bad_messages_and_tensors(self):
        g = _grads((30,), 1)[0]
        gc = _gc("sign")
        gid = gc.add_tensor(g)
        message = gc.compress(gid, g)
        with self.assertRaises(rai.FormatError):
            gc.decompress(gid, message[:-3])
        with self.assertRaises(rai.FormatError):
            gc.decompress(gid, b"XXXX" + message[4:])
        peer = _gc("sign", seed=99)
        peer.add_tensor(g)
        with self.assertRaises(rai.InvalidArgumentError):
            peer.decompress(0, message)  # another seed
        with self.assertRaises(rai.ShapeMismatchError):
            gc.decompress(gid, message, out=np.zeros(31, np.float32))
        with self.assertRaises(rai.InvalidArgumentError):
            gc.compress(5, g)  # unknown id
        with self.assertRaises(rai.ShapeMismatchError):
            gc.compress(gid, np.zeros(29, np.float32))
        with self.assertRaises(rai.DTypeMismatchError):
            gc.add_tensor(np.zeros(4, np.int32))
        with self.assertRaises(rai.InvalidArgumentError):
            gc.powersgd_p(gid, g)  # not POWERSGD
        with self.assertRaises(rai.InvalidArgumentError):
            gc.apply(gid, _readonly(np.zeros(30, np.float32)))
        with self.assertRaises(TypeError):
            gc.decompress(gid, 12345)
        gc.close()
        with self.assertRaises(ValueError):
            gc.compress(gid, g)


def _readonly(a):
    a.setflags(write=False)
    return a


@requires_numpy
class Mpi(unittest.TestCase):
    def test_without_mpi_the_call_is_unsupported(self):
        if rai.has_mpi():
            self.skipTest("librai was built with MPI (tests/compress covers it with mpirun)")
        gc = _gc("sign")
        g = _grads((8,), 1)[0]
        gid = gc.add_tensor(g)
        dummy = np.zeros(16, np.uint8)  # stands for an MPI_Comm; never read
        with self.assertRaises(rai.UnsupportedError):
            gc.allreduce_mpi(gid, g, dummy.ctypes.data)

    def test_single_rank_allreduce_with_mpi4py(self):
        if not rai.has_mpi():
            self.skipTest("librai was built without MPI")
        try:
            from mpi4py import MPI
        except ImportError:
            self.skipTest("mpi4py is not installed")
        comm = MPI.COMM_WORLD
        if comm.Get_size() != 1:
            self.skipTest("run without mpirun: the test expects one rank")
        g = _grads((64,), 1, seed=2)[0]
        a, b = _gc("sign"), _gc("sign")
        ia, ib = a.add_tensor(g), b.add_tensor(g)
        reduced = a.allreduce_mpi(ia, g.copy(), comm, average=True)
        np.testing.assert_array_equal(reduced, b.apply(ib, g.copy()))

    def test_comm_must_be_a_communicator(self):
        gc = _gc("sign")
        g = _grads((8,), 1)[0]
        gid = gc.add_tensor(g)
        with self.assertRaises(TypeError):
            gc.allreduce_mpi(gid, g, "MPI_COMM_WORLD")

    def test_nccl_needs_a_cuda_context(self):
        gc = _gc("sign")
        g = _grads((8,), 1)[0]
        gid = gc.add_tensor(g)
        with self.assertRaises(rai.UnsupportedError):
            gc.allreduce_nccl(gid, g, 0x1000)


if __name__ == "__main__":
    unittest.main()
