// TestQuant.cs: NF4/FP4 (reference vectors, bitsandbytes goldens from tests/quant/golden, round
// trips) and BitNet (reference vectors, layouts, ternary GEMM and BitLinear against managed math).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Rai;

internal static partial class TestRai
{
    private static IEnumerable<KeyValuePair<string, Action>> QuantTests()
    {
        yield return new KeyValuePair<string, Action>("Q4Codebooks", Q4Codebooks);
        yield return new KeyValuePair<string, Action>("Q4ReferenceVectors", Q4ReferenceVectors);
        yield return new KeyValuePair<string, Action>("Q4RoundTripsAndState", Q4RoundTripsAndState);
        yield return new KeyValuePair<string, Action>("Q4BitsandbytesLinear4bitGolden", Q4BitsandbytesLinear4bitGolden);
        yield return new KeyValuePair<string, Action>("Q4Errors", Q4Errors);
        yield return new KeyValuePair<string, Action>("BitNetWeightQuantization", BitNetWeightQuantization);
        yield return new KeyValuePair<string, Action>("BitNetActivations", BitNetActivations);
        yield return new KeyValuePair<string, Action>("TernaryLayouts", TernaryLayouts);
        yield return new KeyValuePair<string, Action>("TernaryWeightAndBitLinear", TernaryWeightAndBitLinear);
    }

    internal static Context Cpu() { return new Context("cpu", ignoreEnv: true); }

    /// <summary>The source tree (RAI_SOURCE_ROOT, set by meson) for golden files.</summary>
    internal static string SourceRoot()
    {
        string root = Environment.GetEnvironmentVariable("RAI_SOURCE_ROOT");
        if (string.IsNullOrEmpty(root)) throw new SkipException("RAI_SOURCE_ROOT is not set (meson sets it)");
        return root;
    }

    private static string Hex(byte[] b) { return string.Concat(b.Select(x => x.ToString("x2"))); }

    internal static float[] RandomFloats(Random rng, int n, double scale = 1.0)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            // Box-Muller: roughly normal weights, like the C tests.
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = (float)(scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    private static void Q4Codebooks()
    {
        float[] nf4 = Quant4.Codebook(Q4Type.Nf4);
        Equal(-1.0f, nf4[0], "nf4[0]");
        Equal(0.0f, nf4[7], "nf4[7]");
        Equal(1.0f, nf4[15], "nf4[15]");
        for (int i = 1; i < 16; i++) Check(nf4[i] > nf4[i - 1], "nf4 codebook is increasing");
        float[] fp4 = Quant4.Codebook(Q4Type.Fp4);
        Equal(0.0f, fp4[0], "fp4[0]");
        Equal(1.0f, fp4[3], "fp4 code 3 is the maximum (bit-pattern order)");
        Equal(1.0f, fp4.Max(), "fp4 max");
        Equal(-1.0f, fp4[11], "fp4 code 11 is the minimum");
        Check(float.IsNegative(fp4[8]) && fp4[8] == 0, "fp4 code 8 is -0");
        Equal(1L, Quant4.CodesSize(1), "codes of 1");
        Equal(16L, Quant4.CodesSize(31), "codes of 31");
        Throws(Status.InvalidArgument, () => Quant4.Codebook((Q4Type)3));
    }

    private static void Q4ReferenceVectors()
    {
        using (var ctx = Cpu())
        {
            // NF4: a zero block, then a ramp of absmax 3.5 (tests/quant/test_q4_vectors.cpp).
            var x = new float[128];
            for (int i = 0; i < 64; i++) x[64 + i] = 3.5f * (i - 32) / 32.0f;
            byte[] codes;
            using (var st = QuantState.Quantize(ctx, new Tensor(x), out codes))
            {
                Equal(new string('0', 64) + "000001111111122222333344455566677788999aaabbbccccddddeeeeeeeffff", Hex(codes), "NF4 codes");
                float[] absmax = st.ReadFloats(Q4Field.Absmax);
                Equal(0.0f, absmax[0], "absmax of the zero block");
                Equal(3.5f, absmax[1], "absmax of the ramp");
                float[] y = st.Dequantize(codes);
                for (int i = 0; i < 64; i++) Equal(0.0f, y[i], "zero block dequantises to 0");
                float maxErr = 0;
                for (int i = 64; i < 128; i++) maxErr = Math.Max(maxErr, Math.Abs(y[i] - x[i]));
                Check(Math.Abs(maxErr - 0.516f) < 0.0005f, "NF4 ramp max error 0.516, got " + maxErr);
            }
            // FP4 exact-codes vector for both block sizes 32 and 64.
            float[] mags = { 0.0f, .0052083333f, .16666667f, .25f, .33333333f, .5f, .66666667f, 1.0f };
            var v = new List<float>(mags);
            for (int i = 1; i < 8; i++) v.Add(-mags[i]);
            v.Add(-0.0f);
            // The codebook values themselves: the first 16 codes of the C test's FP4 vector.
            foreach (int bs in new[] { 32, 64 })
            {
                byte[] c;
                var input = v.ToArray();
                using (QuantState.Quantize(ctx, new Tensor(input), out c, new Q4Options { Type = Q4Type.Fp4, BlockSize = bs }))
                    Equal("016745239efcdab0", Hex(c), "FP4 codes of the codebook values, block " + bs);
            }
        }
    }

    private static void Q4RoundTripsAndState()
    {
        var rng = new Random(21);
        using (var ctx = Cpu())
            foreach (int n in AwkwardSizes)
                foreach (Q4Type type in new[] { Q4Type.Nf4, Q4Type.Fp4 })
                    foreach (bool dq in new[] { false, true })
                    {
                        float[] x = RandomFloats(rng, n);
                        byte[] codes;
                        var opts = new Q4Options { Type = type, BlockSize = 64, DoubleQuant = dq };
                        using (var st = QuantState.Quantize(ctx, new Tensor(x), out codes, opts))
                        {
                            Q4StateInfo info = st.Info;
                            Equal((long)n, info.Numel, "numel");
                            Equal((long)(n + 1) / 2, info.CodesBytes, "codes bytes");
                            Equal((long)(n + 63) / 64, info.Blocks, "blocks");
                            Equal(dq, info.DoubleQuant, "double quant");
                            Equal(DType.F32, info.DType, "source dtype");
                            Equal(Device.Cpu, info.Device, "device");
                            float[] decoded = st.ReadFloats(Q4Field.AbsmaxDecoded);
                            float[] y = st.Dequantize(codes);
                            float[] book = Quant4.Codebook(type);
                            var trueAbsmax = new float[info.Blocks];
                            for (int i = 0; i < n; i++) trueAbsmax[i / 64] = Math.Max(trueAbsmax[i / 64], Math.Abs(x[i]));
                            // Every element is a codebook value times its block's scale; the error is
                            // bounded by half the largest codebook gap times the scale.
                            for (int i = 0; i < n; i++)
                            {
                                float scale = decoded[i / 64];
                                int code = (codes[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xf;
                                Equal(book[code] * scale, y[i], "element " + i + " = code * absmax");
                                // Half the widest codebook gap, plus what 8-bit absmax storage loses.
                                float bound = 0.34f * Math.Max(scale, trueAbsmax[i / 64]) + Math.Abs(scale - trueAbsmax[i / 64]) + 1e-6f;
                                Check(Math.Abs(y[i] - x[i]) <= bound, "round trip error at " + i);
                            }
                            using (var copy = st.CopyTo(ctx))
                                Check(copy.Dequantize(codes).SequenceEqual(y), "copied state dequantises identically");
                            if (!dq)
                                using (var rebuilt = QuantState.Create(ctx, type, 64, new long[] { n }, DType.F32,
                                                                       new Tensor(st.ReadFloats(Q4Field.Absmax))))
                                    Check(rebuilt.Dequantize(codes).SequenceEqual(y), "state rebuilt from its arrays");
                        }
                    }
    }

    private static void Q4BitsandbytesLinear4bitGolden()
    {
        string dir = Path.Combine(SourceRoot(), "tests", "quant", "golden");
        var mods = new[]
        {
            new { Prefix = "model.layers.0.mlp.down_proj", Short = "down_proj", Type = Q4Type.Nf4, Dq = true, N = 48L, K = 64L },
            new { Prefix = "model.layers.0.self_attn.q_proj", Short = "q_proj", Type = Q4Type.Fp4, Dq = false, N = 40L, K = 96L },
        };
        using (var ctx = Cpu())
        using (var ck = SafetensorsFile.Open(Path.Combine(dir, "bnb_linear4bit.safetensors")))
        using (var io = SafetensorsFile.Open(Path.Combine(dir, "bnb_linear4bit_io.safetensors")))
        using (var writer = new SafetensorsWriter())
        {
            Equal("pt", ck.GetMetadata("format"), "checkpoint metadata");
            writer.SetMetadata("format", "pt");
            foreach (var m in mods)
                using (var st = QuantState.LoadBnb(ctx, ck, m.Prefix))
                {
                    Q4StateInfo info = st.Info;
                    Equal(m.Type, info.Type, "type");
                    Equal(64, info.BlockSize, "block size");
                    Equal(m.Dq, info.DoubleQuant, "double quant");
                    Check(info.Shape.SequenceEqual(new[] { m.N, m.K }), "shape");
                    Equal(DType.BF16, info.DType, "bf16 weight");
                    Tensor codes = ck.ReadTensor(m.Prefix + ".weight");
                    float[] x = io.ReadFloats(m.Short + ".x");
                    float[] yb = io.ReadFloats(m.Short + ".y");
                    Tensor biasBf16 = ck.ReadTensor(m.Prefix + ".bias");
                    float[] bias = ((ushort[])biasBf16.Data).Select(h => BitConverter.ToSingle(BitConverter.GetBytes((uint)h << 16), 0)).ToArray();
                    var y = new float[3 * m.N];
                    st.LinearForward(codes, new Tensor(x, 3, m.K), new Tensor(bias), new Tensor(y, 3, m.N));
                    var w = new float[m.N * m.K];
                    st.Dequantize(codes, new Tensor(w));
                    for (int r = 0; r < 3; r++)
                        for (int j = 0; j < m.N; j++)
                        {
                            double mag = Math.Abs(bias[j]);
                            for (int k = 0; k < m.K; k++) mag += Math.Abs((double)x[r * m.K + k] * w[j * m.K + k]);
                            Check(Math.Abs(y[r * m.N + j] - yb[r * m.N + j]) <= 8e-3 * mag,
                                  m.Short + " y[" + r + "," + j + "] = " + y[r * m.N + j] + ", bitsandbytes " + yb[r * m.N + j]);
                        }
                    st.SaveBnb(writer, m.Prefix, codes);
                    writer.Add(m.Prefix + ".bias", biasBf16);
                }
            // Saved back: every key byte-identical to the file bitsandbytes wrote.
            using (var mine = SafetensorsFile.FromBytes(writer.ToBytes()))
            {
                Equal(ck.Count, mine.Count, "same number of keys");
                foreach (string name in ck.Names)
                    Check(ck.ReadBytes(name).SequenceEqual(mine.ReadBytes(name)), "key " + name + " is byte-identical");
            }
        }
    }

    private static void Q4Errors()
    {
        using (var ctx = Cpu())
        {
            var x = new float[100];
            Throws(Status.InvalidArgument, () => QuantState.Quantize(ctx, new Tensor(x), new Tensor(new byte[50]), new Q4Options { BlockSize = 48 }), "blocksize");
            Throws(Status.ShapeMismatch, () => QuantState.Quantize(ctx, new Tensor(x), new Tensor(new byte[49])), "codes");
            Throws(Status.DTypeMismatch, () => QuantState.Quantize(ctx, new Tensor(new int[4]), new Tensor(new byte[2])));
            byte[] codes;
            using (var st = QuantState.Quantize(ctx, new Tensor(x), out codes))
            {
                Throws(Status.ShapeMismatch, () => st.Dequantize(new Tensor(codes), new Tensor(new float[99])));
                Throws(Status.ShapeMismatch, () => st.LinearForward(codes, new float[10], 1), "2-D");
                st.Dispose();
                ThrowsDisposed(() => st.Dequantize(codes), "Rai.QuantState");
            }
            Throws(Status.ShapeMismatch, () => new Tensor(new float[5], 2, 3), "shape [2, 3]");
        }
    }

    private static void BitNetWeightQuantization()
    {
        using (var ctx = Cpu())
        {
            float[] scales;
            sbyte[] t = BitNet.QuantizeWeights(ctx, new[] { 1.0f, -1.0f, 0.5f, -0.5f }, 1, 4, out scales,
                                               new BitNetWeightOptions { GroupSize = 4 });
            Equal(0.75f, scales[0], "group-4 absmean scale");
            SameTrits(new sbyte[] { 1, -1, 1, -1 }, t, "group-4 trits");
            // Every granularity against the absmean rule computed here, at awkward row counts.
            var rng = new Random(22);
            foreach (int rows in new[] { 1, 31, 33 })
                foreach (BitNetGranularity g in new[] { BitNetGranularity.Tensor, BitNetGranularity.Row, BitNetGranularity.Group })
                {
                    const int cols = 128;
                    float[] w = RandomFloats(rng, rows * cols, 0.05);
                    var o = new BitNetWeightOptions { Granularity = g };
                    sbyte[] q = BitNet.QuantizeWeights(ctx, w, rows, cols, out scales, o);
                    int group = g == BitNetGranularity.Tensor ? rows * cols : g == BitNetGranularity.Row ? cols : 64;
                    for (int s = 0; s < scales.Length; s++)
                    {
                        double sum = 0;
                        for (int i = s * group; i < (s + 1) * group; i++) sum += Math.Abs(w[i]);
                        Check(Math.Abs(scales[s] - sum / group) <= 1e-6 * Math.Max(1, sum / group), g + " scale " + s);
                        for (int i = s * group; i < (s + 1) * group; i++)
                        {
                            double r = w[i] / scales[s];
                            int expected = (int)Math.Max(-1, Math.Min(1, Math.Round(r, MidpointRounding.AwayFromZero)));
                            if (Math.Abs(Math.Abs(r) - 0.5) > 1e-5) Equal((sbyte)expected, q[i], g + " trit " + i);
                        }
                    }
                    var back = new float[rows * cols];
                    BitNet.DequantizeWeights(ctx, new Tensor(q, rows, cols), new Tensor(scales, o.ScaleShapeForTest(rows, cols)), new Tensor(back, rows, cols));
                    for (int i = 0; i < back.Length; i++) Equal(q[i] * scales[i / group], back[i], "dequantized " + i);
                }
            Throws(Status.InvalidArgument, () => BitNet.QuantizeWeights(ctx, new float[100], 1, 100, out scales), "group_size");
            Throws(Status.InvalidArgument, () => BitNet.QuantizeWeights(ctx, new[] { float.NaN, 0, 0, 0 }, 1, 4, out scales, new BitNetWeightOptions { GroupSize = 4 }));
        }
    }

    private static void BitNetActivations()
    {
        using (var ctx = Cpu())
        {
            var rng = new Random(23);
            foreach (int tokens in new[] { 1, 31, 33 })
            {
                const int hidden = 40;
                float[] x = RandomFloats(rng, tokens * hidden);
                var q = new sbyte[tokens * hidden];
                var s = new float[tokens];
                BitNet.QuantizeActivations(ctx, new Tensor(x, tokens, hidden), new Tensor(q, tokens, hidden), new Tensor(s));
                for (int t = 0; t < tokens; t++)
                {
                    float absmax = 0;
                    for (int i = 0; i < hidden; i++) absmax = Math.Max(absmax, Math.Abs(x[t * hidden + i]));
                    Equal(absmax / 127f, s[t], "absmax / 127 of token " + t);
                    for (int i = 0; i < hidden; i++)
                        Check(Math.Abs(q[t * hidden + i] * s[t] - x[t * hidden + i]) <= 0.5f * s[t] + 1e-7f, "activation error");
                }
                var back = new float[tokens * hidden];
                BitNet.DequantizeActivations(ctx, new Tensor(q, tokens, hidden), new Tensor(s), new Tensor(back, tokens, hidden));
                for (int i = 0; i < back.Length; i++) Equal(q[i] * s[i / hidden], back[i], "dequantized activation");
                var y = new float[x.Length];
                BitNet.SteForward(ctx, new Tensor(x), 0.5f, -1, 1, BitNetRoundMode.HalfAway, new Tensor(y));
                for (int i = 0; i < y.Length; i++)
                    Equal((float)Math.Max(-1, Math.Min(1, Math.Round(x[i] / 0.5f, MidpointRounding.AwayFromZero))) * 0.5f, y[i], "ste");
                var gx = new float[x.Length];
                BitNet.SteBackward(ctx, new Tensor(x), new Tensor(gx));
                Check(gx.SequenceEqual(x), "ste backward passes the gradient through");
            }
        }
    }

    private static void TernaryLayouts()
    {
        Equal(4L, BitNet.PackedSize(TernaryLayout.Byte2, 2, 5), "BYTE2 2x5");
        Equal(96L, BitNet.PackedSize(TernaryLayout.I2S, 4, 64), "I2_S 4x64");
        Throws(Status.ShapeMismatch, () => BitNet.PackedSize(TernaryLayout.I2S, 1, 100), "128");
        byte[] one = BitNet.Pack(TernaryLayout.Byte2, new sbyte[] { 1, 0, -1, 1 }, 1, 4);
        Equal((byte)0x61, one[0], "BYTE2 byte");
        var rng = new Random(24);
        foreach (TernaryLayout layout in Enum.GetValues(typeof(TernaryLayout)))
        {
            bool tq = layout == TernaryLayout.TQ1_0 || layout == TernaryLayout.TQ2_0;
            long rows = 3, cols = tq || layout == TernaryLayout.I2S ? 256 : 65;
            sbyte[] t = RandomTrits(rng, (int)(rows * cols));
            Tensor scales = layout == TernaryLayout.I2S ? new Tensor(new[] { 0.25f })
                          : tq ? new Tensor(new[] { 0.5f, 0.25f, 2.0f }) : null;
            byte[] packed = BitNet.Pack(layout, t, rows, cols, scales);
            Equal(BitNet.PackedSize(layout, rows, cols), (long)packed.Length, layout + " size");
            SameTrits(t, BitNet.Unpack(layout, packed, rows, cols), layout + " round trip");
            if (tq)
            {
                var back = new float[rows];
                BitNet.Unpack(layout, new Tensor(packed), new Tensor(new sbyte[rows * cols], rows, cols), new Tensor(back, rows, 1));
                Check(back.SequenceEqual(new[] { 0.5f, 0.25f, 2.0f }), layout + " scales survive as f16");
            }
        }
        byte[] i2s = BitNet.Pack(TernaryLayout.I2S, new sbyte[128], 1, 128, new Tensor(new[] { 1.0f }));
        Equal((byte)0x55, i2s[5], "I2_S zeros are code 1");
        i2s[3] = 0xc0;
        Throws(Status.Format, () => BitNet.Unpack(TernaryLayout.I2S, i2s, 1, 128), "code 3");
        float[] x = RandomFloats(rng, 512);
        byte[] tq2 = BitNet.QuantizeTq(TernaryLayout.TQ2_0, x, 2, 256);
        Equal(BitNet.PackedSize(TernaryLayout.TQ2_0, 2, 256), (long)tq2.Length, "TQ2_0 size");
        Throws(Status.InvalidArgument, () => BitNet.Pack(TernaryLayout.Byte2, new sbyte[] { 2, 0, 0, 0 }, 1, 4));
    }

    private static void TernaryWeightAndBitLinear()
    {
        var rng = new Random(25);
        using (var ctx = Cpu())
            foreach (int batch in new[] { 1, 31, 33 })
            {
                const int outF = 17, inF = 128;
                sbyte[] trits = RandomTrits(rng, outF * inF);
                float[] scales = Enumerable.Range(0, outF).Select(i => 0.01f * (i + 1)).ToArray();
                float[] bias = RandomFloats(rng, outF);
                float[] x = RandomFloats(rng, batch * inF);
                using (var w = new TernaryWeight(ctx, new Tensor(trits, outF, inF), new Tensor(scales)))
                {
                    TernaryWeightInfo info = w.Info;
                    Equal((long)outF, info.OutFeatures, "out");
                    Equal((long)inF, info.InFeatures, "in");
                    Equal(BitNetGranularity.Row, info.Granularity, "row scales");
                    Equal((long)trits.Count(v => v != 0), info.Nonzero, "nonzero");
                    float[] y = w.Forward(x, batch, bias);
                    for (int b = 0; b < batch; b++)
                        for (int o = 0; o < outF; o++)
                        {
                            double acc = 0;
                            for (int i = 0; i < inF; i++) acc += trits[o * inF + i] * (double)x[b * inF + i];
                            double expected = acc * scales[o] + bias[o];
                            Check(Math.Abs(y[b * outF + o] - expected) <= 1e-4 * (1 + Math.Abs(expected)), "gemm y[" + b + "," + o + "]");
                        }
                    // Exact integer path: i8 activations, no scales, i32 output.
                    var xi = new sbyte[batch * inF];
                    for (int i = 0; i < xi.Length; i++) xi[i] = (sbyte)rng.Next(-127, 128);
                    var yi = new int[batch * outF];
                    w.Gemm(new Tensor(xi, batch, inF), null, null, new Tensor(yi, batch, outF));
                    for (int b = 0; b < batch; b++)
                        for (int o = 0; o < outF; o++)
                        {
                            int acc = 0;
                            for (int i = 0; i < inF; i++) acc += trits[o * inF + i] * xi[b * inF + i];
                            Equal(acc, yi[b * outF + o], "integer dot");
                        }
                    var back = new sbyte[outF * inF];
                    var sb = new float[outF];
                    w.Unpack(new Tensor(back, outF, inF), new Tensor(sb));
                    SameTrits(trits, back, "unpacked trits");
                    Check(sb.SequenceEqual(scales), "unpacked scales");
                }
                using (var layer = BitLinear.FromTrits(ctx, new Tensor(trits, outF, inF), new Tensor(scales), new Tensor(bias)))
                using (var w = new TernaryWeight(ctx, new Tensor(trits, outF, inF), new Tensor(scales)))
                {
                    Check(layer.Forward(BitLinearMode.FullPrecision, x, batch).SequenceEqual(w.Forward(x, batch, bias)),
                          "BitLinear full precision == ternary gemm");
                    float[] w8 = layer.Forward(BitLinearMode.W2A8, x, batch);
                    float[] fq = layer.Forward(BitLinearMode.FakeQuant, x, batch);
                    for (int i = 0; i < w8.Length; i++)
                        Check(Math.Abs(w8[i] - fq[i]) <= 1e-3 * (1 + Math.Abs(fq[i])), "W2A8 ~ fake-quant at " + i);
                }
                float[] dense = RandomFloats(rng, outF * inF, 0.05);
                using (var layer = new BitLinear(ctx, new Tensor(dense, outF, inF), null))
                    Equal(2L * outF, layer.WeightInfo.ScaleCount, "group-64 scales of a 17x128 weight");
            }
    }
}

internal static class BitNetTestExtensions
{
    /// <summary>The scale tensor shape of a granularity (the test's own copy of the rule).</summary>
    internal static long[] ScaleShapeForTest(this BitNetWeightOptions o, long rows, long cols)
    {
        switch (o.Granularity)
        {
            case BitNetGranularity.Tensor: return new long[] { 1 };
            case BitNetGranularity.Row: return new long[] { rows };
            default: return new long[] { rows, cols / (o.GroupSize == 0 ? 64 : o.GroupSize) };
        }
    }
}
