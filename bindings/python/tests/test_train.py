"""rai.Optimizer and rai.HybridTrainer: optimizer steps against numpy, state blobs, the hybrid
schedule counters, rollback after an injected loss spike (bitwise), determinism, checkpoints,
the callback driver and the error paths."""

import json
import math
import unittest

import rai

from rai_test_support import module_fixture, np, requires_numpy


setUpModule, tearDownModule = module_fixture(globals(), cpu_context=True)


class Regression:
    """Full-batch linear regression 0.5 |X Wᵀ + b - T|² / n with parameters and gradients updated
    in place (rai borrows their memory)."""

    def __init__(self, seed=0, n=48, k=7, m=3):
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((n, k)).astype(np.float32)
        self.T = (self.X @ rng.standard_normal((k, m)) + 0.3).astype(np.float32)
        self.W = np.zeros((m, k), np.float32)
        self.b = np.zeros(m, np.float32)
        self.gW = np.zeros_like(self.W)
        self.gb = np.zeros_like(self.b)

    def pairs(self):
        return [(self.W, self.gW, "W"), (self.b, self.gb, "b")]

    def loss(self, grad=False):
        e = self.X @ self.W.T + self.b - self.T
        if grad:
            self.gW[...] = e.T @ self.X / len(self.X)
            self.gb[...] = e.mean(axis=0)
        return float(0.5 * (e.astype(np.float64) ** 2).sum() / len(self.X))

    def params(self):
        return [self.W.copy(), self.b.copy()]


def _bitwise_equal(a, b):
    return all(x.tobytes() == y.tobytes() for x, y in zip(a, b))


def _build(problem, kind="momentum", lr=0.05, **hybrid):
    opt = rai.Optimizer(CTX, kind, lr=lr, **({"momentum": 0.9} if kind == "momentum" else {}))
    h = rai.HybridTrainer(CTX, **hybrid)
    for p, g, name in problem.pairs():
        opt.add_param(p, g, name)
        h.add_param(p, g, name)
    h.set_optimizer(opt)
    return h, opt


def _protocol_step(h, problem, loss_override=None, before_apply=None):
    info = h.begin()
    if info.needs_backward:
        loss = problem.loss(grad=True)
        h.record_gradients(loss_override(info, loss) if loss_override else loss)
    else:
        if before_apply:
            before_apply(info)
        h.apply_predicted()
        if info.needs_forward:
            loss = problem.loss()
            h.report_loss(loss_override(info, loss) if loss_override else loss)
    return info, h.end()


@requires_numpy
class OptimizerTests(unittest.TestCase):
    def test_sgd_with_weight_decay_matches_numpy(self):
        p = np.array([1.0, -2.0, 0.5], np.float32)
        g = np.array([0.1, 0.2, -0.3], np.float32)
        opt = rai.Optimizer(CTX, "sgd", lr=0.1, weight_decay=0.01)
        self.assertEqual(opt.add_param(p, g, "p"), 0)
        expected = p - np.float32(0.1) * (g + np.float32(0.01) * p)
        norm = opt.step()
        self.assertAlmostEqual(norm, float(np.linalg.norm(g)), places=6)
        np.testing.assert_allclose(p, expected, rtol=1e-6)
        self.assertEqual(opt.step_count, 1)
        self.assertEqual(opt.kind, rai.OptimizerKind.SGD)

    def test_adamw_matches_pytorch_formula(self):
        rng = np.random.default_rng(2)
        p = rng.standard_normal(33).astype(np.float32)
        g = np.zeros_like(p)
        ref = p.astype(np.float64)
        m = np.zeros_like(ref)
        v = np.zeros_like(ref)
        lr, b1, b2, eps, wd = 0.01, 0.9, 0.99, 1e-8, 0.1
        opt = rai.Optimizer(CTX, "adamw", lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        opt.add_param(p, g)
        for t in range(1, 4):
            g[...] = rng.standard_normal(33).astype(np.float32)
            opt.step()
            ref *= 1 - lr * wd
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g.astype(np.float64) ** 2
            ref -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(p, ref, rtol=1e-5, atol=1e-6)

    def test_norm_clip_lr_and_state(self):
        p = np.zeros(4, np.float32)
        g = np.array([3.0, 4.0, 0.0, 0.0], np.float32)
        opt = rai.Optimizer(CTX, "momentum", lr=0.5, momentum=0.5, nesterov=True)
        opt.add_param(p, g)
        self.assertAlmostEqual(opt.grad_norm(), 5.0, places=5)
        self.assertAlmostEqual(opt.clip_grad_norm(1.0), 5.0, places=5)
        np.testing.assert_allclose(g, [0.6, 0.8, 0, 0], rtol=1e-5)
        opt.lr = 0.25
        self.assertEqual(opt.lr, 0.25)
        opt.step()
        blob = opt.save_state()
        twin_p, twin_g = p.copy(), g.copy()
        twin = rai.Optimizer(CTX, "momentum", lr=0.5, momentum=0.5, nesterov=True)
        twin.add_param(twin_p, twin_g)
        twin.load_state(blob)
        self.assertEqual((twin.lr, twin.step_count), (0.25, 1))
        opt.step()
        twin.step()
        self.assertEqual(p.tobytes(), twin_p.tobytes())
        with self.assertRaises(rai.FormatError):
            twin.load_state(blob[:-5])

    def test_errors(self):
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Optimizer(CTX, "sgd", lr=-1)
        self.assertIn("lr", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.Optimizer(CTX, "adamw", betas=(1.5, 0.9))
        self.assertIn("beta1", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.Optimizer(CTX, "lion")
        opt = rai.Optimizer(CTX, "sgd", lr=0.1)
        with self.assertRaises(rai.ShapeMismatchError):
            opt.add_param(np.zeros(3, np.float32), np.zeros(4, np.float32))
        with self.assertRaises(rai.DTypeMismatchError):
            opt.add_param(np.zeros(3, np.float64), np.zeros(3, np.float64))
        readonly = np.zeros(3, np.float32)
        readonly.setflags(write=False)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            opt.add_param(readonly, np.zeros(3, np.float32))
        self.assertIn("param", cm.exception.message)
        p, g = np.ones(3, np.float32), np.array([1, np.nan, 0], np.float32)
        opt.add_param(p, g)
        with self.assertRaises(rai.InvalidArgumentError):
            opt.step()
        np.testing.assert_array_equal(p, 1)  # nothing updated
        fresh = rai.Optimizer(CTX, "sgd", lr=0.1)
        fresh.add_param(p, g)
        with self.assertRaises(rai.InvalidArgumentError):
            fresh.add_param(p, np.zeros(3, np.float32))  # overlaps an earlier registration


@requires_numpy
class HybridTests(unittest.TestCase):
    def test_default_cycle_counters(self):
        r = Regression()
        h, opt = _build(r, guard=False)  # pure schedule arithmetic
        for _ in range(10 + 26 * 4):
            _protocol_step(h, r)
        s = h.stats()
        self.assertEqual((s.steps, s.warmup_steps, s.full_steps, s.predict_steps, s.correct_steps),
                         (114, 10, 20, 68, 16))
        self.assertEqual((s.backward_passes, s.forward_passes, s.predicted_steps, s.cycles),
                         (46, 114, 68, 3))
        self.assertAlmostEqual(s.backward_fraction, 46 / 114, places=6)
        self.assertEqual(opt.step_count, 46)  # HOLD never steps the optimizer on predicted steps
        counters = h.metrics()["counters"]
        self.assertEqual(counters["backward_passes"], 46)

    def test_step_info_describes_each_step(self):
        r = Regression()
        h, _ = _build(r, guard=False)
        infos = [_protocol_step(h, r)[0] for _ in range(17)]
        self.assertEqual(infos[0].phase, rai.Phase.WARMUP)
        self.assertTrue(infos[0].needs_backward)
        self.assertEqual(infos[10].phase, rai.Phase.FULL)
        self.assertTrue(infos[10].phase_changed)
        self.assertEqual(infos[10].horizon_remaining, 5)
        predict = infos[15]
        self.assertEqual(predict.phase, rai.Phase.PREDICT)
        self.assertFalse(predict.needs_backward)
        self.assertTrue(predict.needs_forward and predict.has_prediction)
        self.assertEqual((predict.step, predict.phase_step), (15, 0))
        self.assertEqual(rai.phase_name(rai.Phase.CORRECT), "correct")
        self.assertIsNone(rai.phase_name(42))

    def test_loss_spike_on_a_predicted_step_rolls_back_bitwise(self):
        r = Regression(seed=1)
        h, opt = _build(r, kind="adamw", lr=0.01, warmup_steps=5, full_steps=20, predict_steps=10,
                        correct_every=100)
        entry = {}

        def before_apply(info):
            if info.phase_changed:
                entry.update(step=info.step, params=r.params(), opt=opt.save_state())

        def spike(info, loss):
            return 1e6 if info.phase == rai.Phase.PREDICT and info.phase_step == 3 else loss

        for _ in range(5 + 20 + 4):
            _, res = _protocol_step(h, r, spike, before_apply)
        self.assertEqual(res.phase, rai.Phase.PREDICT)
        self.assertEqual(res.divergence, rai.Divergence.CRITICAL)
        self.assertTrue(res.signals & rai.HybridSignal.LOSS_ZSCORE)
        self.assertTrue(res.rolled_back and res.events & rai.HybridEvent.FORCED_FULL)
        self.assertEqual(res.loss, 1e6)
        self.assertEqual((res.rollback_step, entry["step"]), (25, 25))
        self.assertTrue(_bitwise_equal(r.params(), entry["params"]))  # restored bit for bit
        self.assertEqual(opt.save_state(), entry["opt"])
        s = h.stats()
        self.assertEqual((s.rollbacks, s.critical_events), (1, 1))
        info, _ = _protocol_step(h, r)
        self.assertEqual((info.phase, info.horizon_remaining), (rai.Phase.FULL, 40))

    def test_two_runs_give_identical_metrics_json(self):
        texts = []
        for _ in range(2):
            r = Regression(seed=4)
            h, _ = _build(r, predictor="wls_linear", seed=7)
            for _ in range(80):
                _protocol_step(h, r)
            texts.append(h.metrics_json())
            self.assertNotIn("seconds", texts[-1])
            self.assertIn("seconds", json.dumps(h.metrics(timings=True)))
        self.assertEqual(texts[0], texts[1])

    def test_state_save_load_resumes_identically(self):
        a = Regression(seed=5)
        ha, _ = _build(a)
        for _ in range(40):
            _protocol_step(ha, a)
        blob = ha.save_state(params=True, optimizer=True)
        b = Regression(seed=5)  # fresh parameters: the blob carries them
        hb, _ = _build(b)
        hb.load_state(blob)
        self.assertTrue(_bitwise_equal(a.params(), b.params()))
        for _ in range(30):
            _protocol_step(ha, a)
            _protocol_step(hb, b)
        self.assertTrue(_bitwise_equal(a.params(), b.params()))
        self.assertEqual(ha.metrics_json(), hb.metrics_json())
        with self.assertRaises(rai.FormatError):
            hb.load_state(blob[:-7])
        other = Regression(seed=5, k=8)
        ho, _ = _build(other)
        with self.assertRaises(rai.ShapeMismatchError):
            ho.load_state(blob)

    def test_get_predicted_leaves_parameters_alone(self):
        r = Regression()
        h, _ = _build(r, guard=False, warmup_steps=2, full_steps=2)
        for _ in range(4):
            _protocol_step(h, r)
        info = h.begin()
        self.assertEqual(info.phase, rai.Phase.PREDICT)
        before = r.params()
        predicted = h.get_predicted()
        self.assertEqual([p.shape for p in predicted], [(3, 7), (3,)])
        self.assertTrue(any(np.any(p) for p in predicted))
        self.assertTrue(_bitwise_equal(before, r.params()))
        h.report_loss(r.loss())
        h.end()
        with self.assertRaises(rai.InvalidArgumentError):
            h.get_predicted([np.zeros((3, 7), np.float32)])

    def test_gradient_space_without_an_optimizer(self):
        r = Regression()
        h = rai.HybridTrainer(CTX, guard=False, warmup_steps=2, full_steps=2)
        for p, g, name in r.pairs():
            h.add_param(p, g, name)
        for _ in range(4):
            info = h.begin()
            h.record_gradients(r.loss(grad=True))  # our own "optimizer": plain SGD
            for p, g, _ in r.pairs():
                p -= 0.1 * g
            h.end()
        last_grad = r.gW.copy()
        info = h.begin()
        self.assertEqual(info.phase, rai.Phase.PREDICT)
        r.gW[...] = 0
        h.apply_predicted()  # HOLD: the last real gradient, written into the grad buffers
        np.testing.assert_array_equal(r.gW, last_grad)
        h.report_loss(r.loss())
        h.end()

    def test_non_finite_loss_is_refused_and_critical(self):
        r = Regression()
        h, _ = _build(r)
        h.begin()
        r.loss(grad=True)
        before = r.params()
        with self.assertRaises(rai.InvalidArgumentError):
            h.record_gradients(math.nan)
        self.assertTrue(_bitwise_equal(before, r.params()))
        res = h.end()
        self.assertEqual(res.divergence, rai.Divergence.CRITICAL)
        self.assertTrue(res.signals & rai.HybridSignal.NONFINITE)

    def test_protocol_and_argument_errors(self):
        r = Regression()
        h, opt = _build(r)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            h.record_gradients(1.0)
        self.assertIn("protocol", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            h.end()
        h.begin()
        with self.assertRaises(rai.InvalidArgumentError):
            h.begin()
        h.abort()
        self.assertEqual(h.stats().steps, 0)
        with self.assertRaises(TypeError) as cm:
            rai.HybridTrainer(CTX, warmup=3)
        self.assertIn("warmup", str(cm.exception))
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            rai.HybridTrainer(CTX, predict_scale=9.0)
        self.assertIn("predict_scale", cm.exception.message)
        with self.assertRaises(rai.InvalidArgumentError):
            rai.HybridTrainer(CTX, predictor="oracle")
        with self.assertRaises(TypeError):
            h.set_optimizer("adamw")
        self.assertIs(h.optimizer, opt)
        h.close()
        with self.assertRaises(ValueError):
            h.begin()


@requires_numpy
class CallbackDriver(unittest.TestCase):
    def test_matches_the_manual_protocol(self):
        manual = Regression(seed=6)
        hm, _ = _build(manual)
        for _ in range(60):
            _protocol_step(hm, manual)
        driven = Regression(seed=6)
        hd, _ = _build(driven)
        results = []
        done = hd.run_steps(60, backward=lambda step: driven.loss(grad=True), forward=lambda step: driven.loss(),
                            on_step=results.append)
        self.assertEqual(done, 60)
        self.assertEqual([r.step for r in results], list(range(60)))
        self.assertTrue(_bitwise_equal(manual.params(), driven.params()))
        self.assertEqual(hm.metrics_json(), hd.metrics_json())

    def test_stop_exceptions_and_apply_update(self):
        r = Regression()
        h, _ = _build(r)
        done = h.run_steps(50, lambda s: r.loss(grad=True), lambda s: r.loss(), on_step=lambda res: res.step < 6)
        self.assertEqual(done, 7)

        def failing(step):
            raise KeyError("forward failed")

        with self.assertRaises(KeyError):
            h.run_steps(5, failing, failing)
        self.assertEqual(h.stats().steps, 7)  # closed as never happened: nothing was recorded
        h.begin()  # the protocol is usable afterwards
        h.abort()

        plain = rai.HybridTrainer(CTX, guard=False)
        for p, g, name in r.pairs():
            plain.add_param(p, g, name)
        with self.assertRaises(rai.InvalidArgumentError) as cm:
            plain.run_steps(1, lambda s: r.loss(grad=True), lambda s: r.loss())
        self.assertIn("apply_update", cm.exception.message)
        seen = []

        def apply_update(step, grads):
            seen.append(step)
            for (p, _, _), g in zip(r.pairs(), grads):
                p -= 0.05 * g

        first = r.loss()
        self.assertEqual(plain.run_steps(30, lambda s: r.loss(grad=True), lambda s: r.loss(), apply_update), 30)
        self.assertLess(r.loss(), first)
        self.assertGreater(len(seen), 10)


if __name__ == "__main__":
    unittest.main()
