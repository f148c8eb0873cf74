"""Hybrid predictive training from Python: a small numpy MLP (8 -> 32 -> 1, tanh) fitting a
smooth function, trained with rai's AdamW through the hybrid step protocol. Steps that the
schedule predicts skip the backward pass; the guard rolls back if a prediction goes wrong.

    PYTHONPATH=<build>/bindings/python python examples/python/hybrid_training.py

(The C version is examples/c/hybrid_training.c.) Exits non-zero if training did not work.
"""

import sys

import numpy as np

import rai

STEPS = 300
rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (256, 8)).astype(np.float32)
Y = (np.sin(X @ np.linspace(-1, 1, 8))[:, None] + 0.5 * X[:, :1] ** 2).astype(np.float32)

# Parameters and gradients: rai borrows this memory, so both are only ever updated in place.
params = {
    "w1": (rng.standard_normal((8, 32)) / np.sqrt(8)).astype(np.float32),
    "b1": np.zeros(32, np.float32),
    "w2": (rng.standard_normal((32, 1)) / np.sqrt(32)).astype(np.float32),
    "b2": np.zeros(1, np.float32),
}
grads = {name: np.zeros_like(p) for name, p in params.items()}


def loss(backward):
    """Mean squared error over the data set; with backward, the gradients into `grads`."""
    h = np.tanh(X @ params["w1"] + params["b1"])
    err = h @ params["w2"] + params["b2"] - Y
    if backward:
        d_out = 2 * err / len(X)
        d_h = (d_out @ params["w2"].T) * (1 - h * h)
        grads["w2"][...] = h.T @ d_out
        grads["b2"][...] = d_out.sum(axis=0)
        grads["w1"][...] = X.T @ d_h
        grads["b1"][...] = d_h.sum(axis=0)
    return float(np.mean(err * err))


def main():
    with rai.Context("cpu") as ctx:
        opt = rai.Optimizer(ctx, "adamw", lr=0.01)
        trainer = rai.HybridTrainer(ctx)  # FIXED schedule: 10 warm-up, then 5 full / 20 predict
        for name in params:
            opt.add_param(params[name], grads[name], name)
            trainer.add_param(params[name], grads[name], name)
        trainer.set_optimizer(opt)  # predictions live in update space

        first = loss(backward=False)
        for _ in range(STEPS):
            info = trainer.begin()
            if info.needs_backward:
                trainer.record_gradients(loss(backward=True))
            else:
                trainer.apply_predicted()
                if info.needs_forward:
                    trainer.report_loss(loss(backward=False))
            result = trainer.end()
            if result.rolled_back:
                print(f"step {result.step}: rolled back to step {result.rollback_step}")

        s = trainer.stats()
        last = loss(backward=False)
        print(f"loss {first:.4f} -> {last:.4f} in {s.steps} steps")
        print(f"forward passes {s.forward_passes}, backward passes {s.backward_passes} "
              f"(fraction {s.backward_fraction:.2f}), predicted steps {s.predicted_steps}, "
              f"rollbacks {s.rollbacks}")
        trainer.close()  # before the optimizer it borrows
        opt.close()
    if not (last < 0.25 * first and s.backward_passes < s.steps and s.predicted_steps > 0):
        print("hybrid training did not reduce the loss as expected", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
