// TestCompression.cs: gradient compressors: pass-through exactness, the error-feedback identity
// sum(decoded) + residual == sum(gradients), peer reduction, state checkpoints and bad messages.
using System;
using System.Collections.Generic;
using System.Linq;
using Rai;

internal static partial class TestRai
{
    private static IEnumerable<KeyValuePair<string, Action>> CompressionTests()
    {
        yield return new KeyValuePair<string, Action>("CompressionPassThroughAndReduce", CompressionPassThroughAndReduce);
        yield return new KeyValuePair<string, Action>("CompressionErrorFeedbackIdentity", CompressionErrorFeedbackIdentity);
        yield return new KeyValuePair<string, Action>("CompressionStateAndStats", CompressionStateAndStats);
        yield return new KeyValuePair<string, Action>("CompressionErrors", CompressionErrors);
        yield return new KeyValuePair<string, Action>("CompressionMomentumCorrection", CompressionMomentumCorrection);
    }

    // Exact transport (None, EF on) of the corrected velocity: each decoded message is
    // u = 0.9*u + g, so plain SGD on it is momentum SGD. Bad momenta are refused.
    private static void CompressionMomentumCorrection()
    {
        var rng = new Random(55);
        using (var ctx = Cpu())
        {
            var opts = new CompressorOptions { Method = CompressionMethod.None, ErrorFeedback = ErrorFeedback.On, Momentum = 0.9f };
            using (var gc = new Compressor(ctx, opts))
            {
                const int n = 77;
                uint id = gc.Register(new long[] { n });
                var u = new float[n];
                var back = new float[n];
                for (int step = 0; step < 4; step++)
                {
                    float[] g = RandomFloats(rng, n);
                    for (int i = 0; i < n; i++)
                    {
                        float p = 0.9f * u[i];
                        u[i] = p + g[i];
                    }
                    gc.Decompress(id, gc.Compress(id, g), back);
                    Check(back.SequenceEqual(u), "decoded message is the velocity at step " + step);
                }
            }
            Throws(Status.InvalidArgument, () => new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.TopK, Momentum = 1.0f }), "momentum");
            Throws(Status.InvalidArgument, () => new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.TopK, Momentum = 0.9f, ErrorFeedback = ErrorFeedback.Off }), "error feedback");
        }
    }

    private static void CompressionPassThroughAndReduce()
    {
        var rng = new Random(51);
        using (var ctx = Cpu())
        using (var gc = new Compressor(ctx))
        using (var peer = new Compressor(ctx))
            foreach (int n in AwkwardSizes)
            {
                uint id = gc.Register(new long[] { n });
                Equal(id, peer.Register(new long[] { n }), "peers register the same ids");
                float[] g1 = RandomFloats(rng, n), g2 = RandomFloats(rng, n);
                byte[] m1 = gc.Compress(id, g1), m2 = peer.Compress(id, g2);
                Check(m1.Length <= gc.MaxMessageSize(id), "message within MaxMessageSize");
                var back = new float[n];
                gc.Decompress(id, m1, back);
                Check(back.SequenceEqual(g1), "NONE is exact at " + n);
                byte[] sum = gc.Reduce(id, new[] { m1, m2 });
                gc.Decompress(id, sum, back);
                for (int i = 0; i < n; i++) Equal(g1[i] + g2[i], back[i], "reduced message decodes to the sum");
                var inPlace = (float[])g2.Clone();
                gc.Apply(id, inPlace);
                Check(inPlace.SequenceEqual(g2), "apply of NONE changes nothing");
            }
    }

    private static void CompressionErrorFeedbackIdentity()
    {
        var rng = new Random(52);
        foreach (CompressionMethod method in new[] { CompressionMethod.TopK, CompressionMethod.Sign, CompressionMethod.Ternary })
            using (var ctx = Cpu())
            using (var gc = new Compressor(ctx, new CompressorOptions { Method = method, Ratio = 0.05f, Seed = 7 }))
            {
                const int n = 4099;
                uint id = gc.Register(new long[] { n });
                var sumIn = new double[n];
                var sumOut = new double[n];
                for (int step = 0; step < 6; step++)
                {
                    float[] g = RandomFloats(rng, n);
                    for (int i = 0; i < n; i++) sumIn[i] += g[i];
                    byte[] msg = gc.Compress(id, g);
                    Check(msg.Length < n * 4, method + " compresses (" + msg.Length + " bytes)");
                    var d = new float[n];
                    gc.Decompress(id, msg, d);
                    for (int i = 0; i < n; i++) sumOut[i] += d[i];
                }
                // EF: r_T = sum(g) - sum(decoded), so ||sum(g) - sum(decoded)|| is the residual norm.
                double diff = Math.Sqrt(Enumerable.Range(0, n).Sum(i => (sumIn[i] - sumOut[i]) * (sumIn[i] - sumOut[i])));
                double ef = gc.Stats(id).EfNorm;
                Check(Math.Abs(diff - ef) <= 1e-3 * Math.Max(1, ef), method + ": EF identity, |sum g - sum d| = " + diff + ", residual " + ef);
                Check(ef > 0, method + " keeps a residual");
            }
    }

    private static void CompressionStateAndStats()
    {
        var rng = new Random(53);
        using (var ctx = Cpu())
        {
            var opts = new CompressorOptions { Method = CompressionMethod.TopK, Ratio = 0.1f, MeasureQuality = true, Seed = 9 };
            using (var a = new Compressor(ctx, opts))
            using (var b = new Compressor(ctx, opts))
            {
                uint id = a.Register(new long[] { 33, 31 });
                b.Register(new long[] { 33, 31 });
                a.Compress(id, RandomFloats(rng, 33 * 31));
                byte[] state = a.SaveState();
                b.LoadState(state);
                float[] g = RandomFloats(rng, 33 * 31);
                Check(a.Compress(id, g).SequenceEqual(b.Compress(id, g)), "restored state gives the same next message");
                CompressionStats s = a.Stats();
                Equal(2L, s.Steps, "steps");
                Equal(2L * 33 * 31, s.Params, "params");
                Equal(2L, s.QualitySamples, "quality samples");
                Check(s.BitsPerParam > 0 && s.BitsPerParam < 32, "bits per param " + s.BitsPerParam);
                Check(s.LastCosine > 0 && s.LastCosine <= 1, "cosine " + s.LastCosine);
                a.ResetStats();
                Equal(0L, a.Stats().Steps, "reset");
                Equal(1, a.TensorCount, "tensor count");
                using (var other = new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.Sign }))
                {
                    other.Register(new long[] { 33, 31 });
                    Throws(Status.Format, () => other.LoadState(state));
                }
                Throws(Status.Format, () => b.LoadState(state.Take(state.Length / 2).ToArray()));
            }
            using (var p = new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.PowerSgd, Rank = 2 }))
            {
                uint id = p.Register(new long[] { 33, 31 });
                float[] g = RandomFloats(rng, 33 * 31);
                byte[] pm = p.PowerSgdP(id, new Tensor(g, 33, 31));
                byte[] qm = p.PowerSgdQ(id, pm);
                var d = new float[33 * 31];
                p.Decompress(id, qm.Length > 0 ? qm : pm, d);
                double dot = 0, ng = 0, nd = 0;
                for (int i = 0; i < d.Length; i++) { dot += g[i] * d[i]; ng += g[i] * g[i]; nd += d[i] * d[i]; }
                Check(dot / Math.Sqrt(ng * nd) > 0.2, "rank-2 PowerSGD keeps part of the gradient");
            }
        }
    }

    private static void CompressionErrors()
    {
        using (var ctx = Cpu())
        {
            Throws(Status.InvalidArgument, () => new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.TopK, Ratio = 2 }), "ratio");
            using (var topk = new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.TopK }))
            using (var sign = new Compressor(ctx, new CompressorOptions { Method = CompressionMethod.Sign }))
            {
                uint id = topk.Register(new long[] { 100 });
                sign.Register(new long[] { 100 });
                byte[] msg = topk.Compress(id, new float[100]);
                Throws(Status.InvalidArgument, () => sign.Decompress(id, msg, new float[100]), "method");
                Throws(Status.Format, () => topk.Decompress(id, msg.Take(msg.Length - 1).ToArray(), new float[100]));
                Throws(Status.InvalidArgument, () => topk.Compress(5, new Tensor(new float[100])), "5");
                Throws(Status.ShapeMismatch, () => topk.Compress(id, new Tensor(new float[99])));
                Throws(Status.InvalidArgument, () => topk.PowerSgdP(id, new Tensor(new float[100])), "POWERSGD");
                Throws(Status.InvalidArgument, () => topk.Reduce(id, new byte[0][]));
            }
        }
    }
}
