// TestTraining.cs: optimizers against their update rules, the hybrid step protocol with a
// rollback that restores parameters bit for bit after an injected loss spike, deterministic
// metrics JSON, checkpoints and protocol errors.
using System;
using System.Collections.Generic;
using System.Linq;
using Rai;

internal static partial class TestRai
{
    private static IEnumerable<KeyValuePair<string, Action>> TrainingTests()
    {
        yield return new KeyValuePair<string, Action>("OptimizerUpdateRules", OptimizerUpdateRules);
        yield return new KeyValuePair<string, Action>("HybridRollbackAfterLossSpike", HybridRollbackAfterLossSpike);
        yield return new KeyValuePair<string, Action>("HybridDeterministicMetricsAndState", HybridDeterministicMetricsAndState);
        yield return new KeyValuePair<string, Action>("HybridGetPredicted", HybridGetPredicted);
        yield return new KeyValuePair<string, Action>("HybridErrors", HybridErrors);
    }

    /// <summary>y = W* x + b* + noise, 16 fresh samples per step (a pure function of the step);
    /// loss = mean 0.5 |W x + b - y|^2. Parameters and gradients are the arrays rai borrows.</summary>
    private sealed class Regression
    {
        public const int Out = 4, In = 8, Batch = 16;
        public readonly float[] W = new float[Out * In], B = new float[Out], GW = new float[Out * In], GB = new float[Out];
        private readonly float[] trueW, trueB;

        public Regression()
        {
            var rng = new Random(1000);
            trueW = Enumerable.Range(0, Out * In).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            trueB = Enumerable.Range(0, Out).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        }

        public float LossAndGrad(long step, bool wantGrad = true)
        {
            if (wantGrad) { Array.Clear(GW, 0, GW.Length); Array.Clear(GB, 0, GB.Length); }
            var rng = new Random((int)step * 7919 + 1);
            double loss = 0;
            var x = new float[In];
            for (int s = 0; s < Batch; s++)
            {
                for (int i = 0; i < In; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                for (int o = 0; o < Out; o++)
                {
                    float y = trueB[o] + 0.1f * (float)(rng.NextDouble() * 2 - 1), pred = B[o];
                    for (int i = 0; i < In; i++) { y += trueW[o * In + i] * x[i]; pred += W[o * In + i] * x[i]; }
                    float e = pred - y;
                    loss += 0.5 * e * e;
                    if (!wantGrad) continue;
                    for (int i = 0; i < In; i++) GW[o * In + i] += e * x[i] / Batch;
                    GB[o] += e / Batch;
                }
            }
            return (float)(loss / Batch);
        }

        public float[] Params() { return W.Concat(B).ToArray(); }

        public void Register(Func<float[], float[], long[], string, uint> add)
        {
            add(W, GW, new long[] { Out, In }, "w");
            add(B, GB, new long[] { Out }, "b");
        }
    }

    /// <summary>One step of the protocol; <paramref name="lossOverride"/> may replace the loss.</summary>
    private static HybridStepResult ProtocolStep(HybridTrainer h, Regression r, Func<HybridStepInfo, float, float> lossOverride = null,
                                                 Action<HybridStepInfo> beforeApply = null)
    {
        HybridStepInfo info = h.BeginStep();
        if (info.NeedsBackward)
        {
            float loss = r.LossAndGrad(info.Step);
            h.RecordGradients(lossOverride == null ? loss : lossOverride(info, loss));
        }
        else
        {
            if (beforeApply != null) beforeApply(info);
            h.ApplyPredicted();
            if (info.NeedsForward)
            {
                float loss = r.LossAndGrad(info.Step, false);
                h.ReportLoss(lossOverride == null ? loss : lossOverride(info, loss));
            }
        }
        return h.EndStep();
    }

    private static void OptimizerUpdateRules()
    {
        using (var ctx = Cpu())
        {
            float[] p = { 1, 2, 3 }, g = { 0.5f, -1, 2 };
            using (var sgd = new Optimizer(ctx, new OptimizerOptions { LearningRate = 0.1f }))
            {
                Equal(0u, sgd.AddParam(p, g), "first id");
                float norm = sgd.Step();
                Check(Math.Abs(norm - Math.Sqrt(0.25 + 1 + 4)) < 1e-6, "step returns the gradient norm");
                Check(p.SequenceEqual(new[] { 1 - 0.1f * 0.5f, 2 - 0.1f * -1f, 3 - 0.1f * 2f }), "SGD p -= lr g: " + string.Join(",", p));
                Equal(1L, sgd.StepCount, "step count");
                Equal(0.1f, sgd.LearningRate, "lr");
                sgd.LearningRate = 0.5f;
                Equal(0.5f, sgd.LearningRate, "set lr");
                float before = sgd.ClipGradNorm(1.0f);
                Check(Math.Abs(before - 2.2913) < 1e-3, "clip returns the norm before");
                Check(Math.Abs(sgd.GradNorm() - 1.0) < 1e-5, "clipped to 1");
            }
            float[] q = { 1, -2, 0.5f }, gq = { 0.3f, -0.2f, 4 };
            using (var adam = new Optimizer(ctx, new OptimizerOptions { Kind = OptimizerKind.AdamW, LearningRate = 0.01f, WeightDecay = 0.1f }))
            {
                adam.AddParam(q, gq);
                float[] start = (float[])q.Clone();
                adam.Step();
                // First AdamW step: m_hat = g, v_hat = g^2, so p = p (1 - lr wd) - lr g / (|g| + eps).
                for (int i = 0; i < 3; i++)
                {
                    double expected = start[i] * (1 - 0.01 * 0.1) - 0.01 * gq[i] / (Math.Abs(gq[i]) + 1e-8);
                    Check(Math.Abs(q[i] - expected) < 1e-6, "AdamW first step " + i + ": " + q[i] + " vs " + expected);
                }
                byte[] state = adam.SaveState();
                float[] q1 = (float[])q.Clone();
                adam.Step();
                float[] q2 = (float[])q.Clone();
                Array.Copy(q1, q, 3);
                adam.LoadState(state);
                adam.Step();
                Check(q.SequenceEqual(q2), "state round trip reproduces the step bit for bit");
            }
            using (var bad = new Optimizer(ctx))
            {
                bad.AddParam(new float[2], new[] { float.NaN, 0 });
                Throws(Status.InvalidArgument, () => bad.Step());
            }
            Throws(Status.InvalidArgument, () => new Optimizer(ctx, new OptimizerOptions { Kind = OptimizerKind.AdamW, Beta1 = 1.5f }), "beta1");
        }
    }

    private static void HybridRollbackAfterLossSpike()
    {
        var r = new Regression();
        using (var ctx = Cpu())
        using (var opt = new Optimizer(ctx, new OptimizerOptions { Kind = OptimizerKind.AdamW, LearningRate = 0.01f }))
        using (var h = new HybridTrainer(ctx, new HybridOptions { WarmupSteps = 5, FullSteps = 20, PredictSteps = 10, CorrectEvery = 100 }))
        {
            r.Register((p, g, sh, n) => opt.AddParam(p, g, sh, n));
            r.Register((p, g, sh, n) => h.AddParam(p, g, sh, n));
            h.SetOptimizer(opt);
            float[] atEntry = null;
            byte[] optAtEntry = null;
            long entryStep = -1;
            HybridStepResult res = null;
            for (int i = 0; i < 5 + 20 + 4; i++)
                res = ProtocolStep(h, r,
                    (info, loss) => info.Phase == HybridPhase.Predict && info.PhaseStep == 3 ? 1e6f : loss,
                    info =>
                    {
                        if (!info.PhaseChanged) return;
                        atEntry = r.Params();
                        optAtEntry = opt.SaveState();
                        entryStep = info.Step;
                    });
            Equal(HybridPhase.Predict, res.Phase, "spike on a PREDICT step");
            Equal(DivergenceLevel.Critical, res.Divergence, "critical divergence");
            Check((res.Signals & DivergenceSignals.LossZScore) != 0, "loss z-score signal");
            Check((res.Events & HybridEvents.RolledBack) != 0, "rolled back");
            Check((res.Events & HybridEvents.ForcedFull) != 0, "forced full");
            Equal(25L, entryStep, "predict phase entered at step 25");
            Equal(entryStep, res.RollbackStep, "rollback step");
            float[] now = r.Params();
            for (int i = 0; i < now.Length; i++)
                Equal(BitConverter.SingleToInt32Bits(atEntry[i]), BitConverter.SingleToInt32Bits(now[i]), "parameter " + i + " restored bit for bit");
            Check(opt.SaveState().SequenceEqual(optAtEntry), "optimizer state restored");
            HybridStats s = h.Stats;
            Equal(1L, s.Rollbacks, "one rollback");
            Equal(1L, s.CriticalEvents, "one critical event");
            Equal(29L, s.Steps, "steps");
            Check(s.BackwardPasses == 25 && s.PredictedSteps == 4, "25 backward, 4 predicted: " + s.BackwardPasses + ", " + s.PredictedSteps);
            Equal("predict", HybridTrainer.PhaseName(HybridPhase.Predict), "phase name");
        }
    }

    /// <summary>Trains 60 steps with a fresh model and returns the metrics JSON and the parameters.</summary>
    private static string TrainForMetrics(out float[] parameters, out byte[] state)
    {
        var r = new Regression();
        using (var ctx = Cpu())
        using (var opt = new Optimizer(ctx, new OptimizerOptions { Kind = OptimizerKind.Momentum, LearningRate = 0.05f }))
        using (var h = new HybridTrainer(ctx, new HybridOptions { WarmupSteps = 5, FullSteps = 5, PredictSteps = 10, Predictor = HybridPredictor.Ema }))
        {
            r.Register((p, g, sh, n) => opt.AddParam(p, g, sh, n));
            r.Register((p, g, sh, n) => h.AddParam(p, g, sh, n));
            h.SetOptimizer(opt);
            float initial = r.LossAndGrad(1000, false);
            for (int i = 0; i < 60; i++) ProtocolStep(h, r);
            float final = r.LossAndGrad(1000, false);
            Check(final < 0.5f * initial, "training reduces the held-out loss: " + initial + " -> " + final);
            parameters = r.Params();
            state = h.SaveState(HybridStateParts.Params | HybridStateParts.Optimizer);
            HybridStats s = h.Stats;
            Check(s.BackwardPasses < 60 && s.PredictedSteps > 0, "some backward passes were skipped");
            return h.MetricsJson();
        }
    }

    private static void HybridDeterministicMetricsAndState()
    {
        float[] p1, p2;
        byte[] s1, s2;
        string j1 = TrainForMetrics(out p1, out s1), j2 = TrainForMetrics(out p2, out s2);
        Check(j1.Length > 20 && j1.TrimStart().StartsWith("{"), "metrics JSON");
        Equal(j1, j2, "metrics JSON is identical for identical runs");
        Check(p1.SequenceEqual(p2), "identical runs give identical parameters");
        // (The state blobs themselves differ: they carry the measured wall times of the metrics.)
        Equal(s1.Length, s2.Length, "identical runs give checkpoints of one size");
        // A checkpoint with parameters restores them into a fresh trainer.
        var r = new Regression();
        using (var ctx = Cpu())
        using (var opt = new Optimizer(ctx, new OptimizerOptions { Kind = OptimizerKind.Momentum, LearningRate = 0.05f }))
        using (var h = new HybridTrainer(ctx, new HybridOptions { WarmupSteps = 5, FullSteps = 5, PredictSteps = 10, Predictor = HybridPredictor.Ema }))
        {
            r.Register((p, g, sh, n) => opt.AddParam(p, g, sh, n));
            r.Register((p, g, sh, n) => h.AddParam(p, g, sh, n));
            h.SetOptimizer(opt);
            h.LoadState(s1);
            Check(r.Params().SequenceEqual(p1), "LoadState restores the parameters");
            Equal(60L, h.Stats.Steps, "LoadState restores the counters");
            Throws(Status.Format, () => h.LoadState(s1.Take(s1.Length - 3).ToArray()));
        }
    }

    private static void HybridGetPredicted()
    {
        var r = new Regression();
        using (var ctx = Cpu())
        using (var opt = new Optimizer(ctx, new OptimizerOptions { LearningRate = 0.1f }))
        using (var h = new HybridTrainer(ctx, new HybridOptions { WarmupSteps = 1, FullSteps = 1 }))
        {
            r.Register((p, g, sh, n) => opt.AddParam(p, g, sh, n));
            r.Register((p, g, sh, n) => h.AddParam(p, g, sh, n));
            h.SetOptimizer(opt);
            ProtocolStep(h, r);
            float[] before = r.Params();
            ProtocolStep(h, r);
            float[] after = r.Params();
            HybridStepInfo info = h.BeginStep();
            Equal(HybridPhase.Predict, info.Phase, "third step predicts");
            Check(!info.NeedsBackward, "no backward on a predict step");
            var ow = new float[Regression.Out * Regression.In];
            var ob = new float[Regression.Out];
            h.GetPredicted(new[] { ow, ob });
            Check(r.Params().SequenceEqual(after), "GetPredicted leaves the parameters alone");
            // HOLD (the default predictor) repeats the last real update.
            float[] predicted = ow.Concat(ob).ToArray();
            for (int i = 0; i < predicted.Length; i++) Equal(after[i] - before[i], predicted[i], "predicted update " + i);
            if (info.NeedsForward) h.ReportLoss(r.LossAndGrad(info.Step, false));
            HybridStepResult res = h.EndStep();
            Equal(HybridPhase.Predict, res.Phase, "result phase");
        }
    }

    private static void HybridErrors()
    {
        var r = new Regression();
        using (var ctx = Cpu())
        {
            var h = new HybridTrainer(ctx);
            r.Register((p, g, sh, n) => h.AddParam(p, g, sh, n));
            Throws(Status.InvalidArgument, () => h.RecordGradients(1.0f), "protocol");
            Throws(Status.InvalidArgument, () => h.EndStep(), "protocol");
            HybridStepInfo info = h.BeginStep();
            Check(info.NeedsBackward && info.Phase == HybridPhase.Warmup, "first step is a warm-up step with a backward");
            Throws(Status.InvalidArgument, () => h.BeginStep(), "protocol");
            r.LossAndGrad(0);
            Throws(Status.InvalidArgument, () => h.RecordGradients(float.NaN), "nan");
            Check(h.EndStep().Divergence == DivergenceLevel.Critical, "a refused non-finite loss marks the step critical");
            Throws(Status.InvalidArgument, () => h.AddParam(new float[2], new float[2]), "step");
            Throws(Status.ShapeMismatch, () => h.GetPredicted(new[] { new float[3] }));
            Throws(Status.InvalidArgument, () => new HybridTrainer(ctx, new HybridOptions { PredictScale = 9 }), "predict_scale");
            h.Dispose();
            ThrowsDisposed(() => h.BeginStep(), "Rai.HybridTrainer");
        }
    }
}
