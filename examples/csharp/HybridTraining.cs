// HybridTraining.cs: a small MLP (1 -> 16 tanh -> 1) fitting y = sin(3x) with rai's hybrid
// predictive trainer over the step protocol: on FULL/WARMUP/CORRECT steps it runs forward and
// backward and records the gradients (rai steps AdamW); on PREDICT steps rai applies a predicted
// update and the example only runs a forward pass for the loss. Prints the phase counters and
// the loss; exits 1 if training did not reduce the loss.
//
//   mcs -r:Rai.dll HybridTraining.cs && LD_LIBRARY_PATH=... mono HybridTraining.exe
using System;
using Rai;

internal static class HybridTraining
{
    private const int Hidden = 16, Batch = 64;

    // Parameters and gradients: plain arrays that rai borrows (pinned by the binding).
    private static readonly float[] W1 = new float[Hidden], B1 = new float[Hidden], W2 = new float[Hidden], B2 = new float[1];
    private static readonly float[] GW1 = new float[Hidden], GB1 = new float[Hidden], GW2 = new float[Hidden], GB2 = new float[1];

    /// <summary>Mean squared error on batch <paramref name="step"/> (fresh samples each step); with
    /// <paramref name="backward"/> also the gradients.</summary>
    private static float Loss(long step, bool backward)
    {
        var rng = new Random((int)(step % int.MaxValue) + 17);
        if (backward)
            foreach (var g in new[] { GW1, GB1, GW2, GB2 }) Array.Clear(g, 0, g.Length);
        double loss = 0;
        var h = new float[Hidden];
        for (int s = 0; s < Batch; s++)
        {
            float x = (float)(rng.NextDouble() * 2 - 1), y = (float)Math.Sin(3 * x);
            float pred = B2[0];
            for (int j = 0; j < Hidden; j++)
            {
                h[j] = (float)Math.Tanh(W1[j] * x + B1[j]);
                pred += W2[j] * h[j];
            }
            float e = pred - y;
            loss += e * e;
            if (!backward) continue;
            float d = 2 * e / Batch;
            GB2[0] += d;
            for (int j = 0; j < Hidden; j++)
            {
                GW2[j] += d * h[j];
                float dz = d * W2[j] * (1 - h[j] * h[j]);
                GW1[j] += dz * x;
                GB1[j] += dz;
            }
        }
        return (float)(loss / Batch);
    }

    private static int Main()
    {
        var init = new Random(3);
        for (int j = 0; j < Hidden; j++)
        {
            W1[j] = (float)(init.NextDouble() * 4 - 2);
            B1[j] = (float)(init.NextDouble() * 2 - 1);
            W2[j] = (float)(init.NextDouble() - 0.5) * 0.5f;
        }
        using (var ctx = new Context("cpu"))
        using (var opt = new Optimizer(ctx, new OptimizerOptions { Kind = OptimizerKind.AdamW, LearningRate = 0.02f }))
        using (var trainer = new HybridTrainer(ctx, new HybridOptions { WarmupSteps = 20, FullSteps = 5, PredictSteps = 10, Predictor = HybridPredictor.Ema }))
        {
            foreach (var pair in new[] { new[] { W1, GW1 }, new[] { B1, GB1 }, new[] { W2, GW2 }, new[] { B2, GB2 } })
            {
                opt.AddParam(pair[0], pair[1]);
                trainer.AddParam(pair[0], pair[1]);
            }
            trainer.SetOptimizer(opt);
            float initial = Loss(-1, false), last = initial;
            for (int step = 0; step < 600; step++)
            {
                HybridStepInfo info = trainer.BeginStep();
                if (info.NeedsBackward)
                {
                    trainer.RecordGradients(Loss(info.Step, true));
                }
                else
                {
                    trainer.ApplyPredicted();
                    if (info.NeedsForward) trainer.ReportLoss(Loss(info.Step, false));
                }
                HybridStepResult r = trainer.EndStep();
                if ((r.Events & HybridEvents.RolledBack) != 0)
                    Console.WriteLine("step " + r.Step + ": divergence " + r.Divergence + ", rolled back to step " + r.RollbackStep);
                if (step % 100 == 99) Console.WriteLine("step " + (step + 1) + ": loss " + r.Loss.ToString("F4") + " (" + HybridTrainer.PhaseName(r.Phase) + ")");
            }
            last = Loss(-1, false);
            HybridStats s = trainer.Stats;
            Console.WriteLine("forward passes:  " + s.ForwardPasses);
            Console.WriteLine("backward passes: " + s.BackwardPasses + " of " + s.Steps + " steps (" + (100 * s.BackwardFraction).ToString("F0") + "%)");
            Console.WriteLine("predicted steps: " + s.PredictedSteps + ", rollbacks: " + s.Rollbacks);
            Console.WriteLine("held-out loss:   " + initial.ToString("F4") + " -> " + last.ToString("F4"));
            bool ok = last < 0.25f * initial && s.PredictedSteps > 0 && s.BackwardPasses < s.Steps;
            Console.WriteLine(ok ? "OK" : "FAILED: the loss did not drop or no step was predicted");
            return ok ? 0 : 1;
        }
    }
}
