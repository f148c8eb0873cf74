// TestAdapters.cs: AdapterModel against HF PEFT's own outputs (tests/adapters/golden), LoRA math
// computed here, merge/unmerge, PEFT save/load, mixed batches, LoraLinear, and errors.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Rai;
using N = Rai.Native;

internal static partial class TestRai
{
    private static IEnumerable<KeyValuePair<string, Action>> AdapterTests()
    {
        yield return new KeyValuePair<string, Action>("AdaptersMatchPeftGolden", AdaptersMatchPeftGolden);
        yield return new KeyValuePair<string, Action>("LoraNumericVector", LoraNumericVector);
        yield return new KeyValuePair<string, Action>("AdapterMergeSaveLoadMixed", AdapterMergeSaveLoadMixed);
        yield return new KeyValuePair<string, Action>("LoraLinearLayer", LoraLinearLayer);
        yield return new KeyValuePair<string, Action>("AdapterErrors", AdapterErrors);
        yield return new KeyValuePair<string, Action>("AdaLoraAllocator", AdaLoraAllocator);
        yield return new KeyValuePair<string, Action>("NativeStringMembers", NativeStringMembers);
        yield return new KeyValuePair<string, Action>("AdapterModelBufferTensors", AdapterModelBufferTensors);
    }

    private static float MaxDiff(float[] a, float[] b)
    {
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    /// <summary>y[m, n] = x[m, k] w[n, k]^T in double, rounded to float.</summary>
    private static float[] MatMulT(float[] x, float[] w, int m, int k, int n)
    {
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int t = 0; t < k; t++) acc += (double)x[i * k + t] * w[j * k + t];
                y[i * n + j] = (float)acc;
            }
        return y;
    }

    private static void AdaptersMatchPeftGolden()
    {
        string golden = Path.Combine(SourceRoot(), "tests", "adapters", "golden");
        foreach (string tuner in new[] { "lora", "dora", "ia3", "adalora" })
            using (var ctx = Cpu())
            using (var model = new AdapterModel(ctx))
            using (var basef = SafetensorsFile.Open(Path.Combine(golden, "base", "model.safetensors")))
            using (var io = SafetensorsFile.Open(Path.Combine(golden, tuner, "io.safetensors")))
            {
                foreach (string name in basef.Names)
                {
                    SafetensorsTensorInfo info = basef.GetInfo(basef.Find(name));
                    if (info.Shape.Length != 2 || name == "model.embed_tokens.weight") continue;
                    model.AddLinear(name.Substring(0, name.Length - ".weight".Length), basef.ReadTensor(name));
                }
                model.LoadPeft(Path.Combine(golden, tuner), tuner);
                int checkedModules = 0;
                foreach (string xn in io.Names.Where(n => n.EndsWith(".x")))
                {
                    string mod = xn.Substring(0, xn.Length - 2);
                    Tensor x = io.ReadTensor(xn);
                    Tensor yPeft = io.ReadTensor(mod + ".y");
                    var y = new float[yPeft.Numel];
                    model.Forward(mod, x, new Tensor(y, yPeft.Shape));
                    float[] yp = (float[])yPeft.Data;
                    float tol = 1e-5f * Math.Max(1f, yp.Max(v => Math.Abs(v)));
                    Check(MaxDiff(y, yp) <= tol, tuner + " " + mod + ": max diff " + MaxDiff(y, yp));
                    checkedModules++;
                }
                Check(checkedModules >= 3, tuner + ": modules checked " + checkedModules);
                Check(model.InfoJson.Contains("\"" + tuner + "\""), "info JSON lists the adapter");
            }
    }

    /// <summary>The model on Buffer tensors (host memory on a CPU context; device memory on a
    /// CUDA context, when there is a device) equals the same model on arrays.</summary>
    private static void AdapterModelBufferTensors()
    {
        var rng = new Random(5);
        Func<int, float[]> rnd = n => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        const int outF = 10, inF = 12, m = 5;
        float[] w = rnd(outF * inF), x = rnd(m * inF), dy = rnd(m * outF), lambdaB = rnd(outF);
        var devices = Library.CudaDeviceCount > 0 ? new[] { "cpu", "cuda" } : new[] { "cpu" };
        foreach (string device in devices)
        {
            var results = new List<float[][]>();
            foreach (bool buffers in new[] { false, true })
            {
                using (var ctx = new Context(buffers ? device : "cpu"))
                using (var model = new AdapterModel(ctx))
                {
                    model.AddLinear("l.q_proj", new Tensor(w, outF, inF));
                    model.AddAdapter("vera", new AdapterConfig { PeftType = PeftType.Vera, R = 4, TargetModules = "[\"q_proj\"]", Seed = 2 });
                    model.SetTensor("vera", "base_model.model.l.q_proj.vera_lambda_b", new Tensor(lambdaB, outF));
                    float[] y = new float[m * outF], dx = new float[m * inF];
                    if (!buffers)
                    {
                        model.Forward("l.q_proj", new Tensor(x, m, inF), new Tensor(y, m, outF));
                        model.Backward("l.q_proj", new Tensor(x, m, inF), new Tensor(dy, m, outF), new Tensor(dx, m, inF));
                    }
                    else
                    {
                        using (var bx = new Rai.Buffer(ctx, 4 * m * inF))
                        using (var by = new Rai.Buffer(ctx, 4 * m * outF))
                        using (var bdy = new Rai.Buffer(ctx, 4 * m * outF))
                        using (var bdx = new Rai.Buffer(ctx, 4 * m * inF))
                        {
                            bx.Write(0, FloatBytes(x));
                            bdy.Write(0, FloatBytes(dy));
                            model.Forward("l.q_proj", new Tensor(bx, DType.F32, m, inF), new Tensor(by, DType.F32, m, outF));
                            model.Backward("l.q_proj", new Tensor(bx, DType.F32, m, inF), new Tensor(bdy, DType.F32, m, outF),
                                           new Tensor(bdx, DType.F32, m, inF));
                            y = BytesFloat(by.Read(0, 4 * m * outF));
                            dx = BytesFloat(bdx.Read(0, 4 * m * inF));
                        }
                    }
                    var g = new float[4];
                    model.GetGrad("vera", "base_model.model.l.q_proj.vera_lambda_d", new Tensor(g, 4));
                    results.Add(new[] { y, dx, g });
                }
            }
            string[] names = { "y", "dx", "grad lambda_d" };
            for (int i = 0; i < 3; i++)
                Check(MaxDiff(results[1][i], results[0][i]) <= 1e-4f * (1 + results[0][i].Max(v => Math.Abs(v))),
                      device + " buffers " + names[i] + ": max diff " + MaxDiff(results[1][i], results[0][i]));
        }
    }

    private static byte[] FloatBytes(float[] v)
    {
        var b = new byte[4 * v.Length];
        System.Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    private static float[] BytesFloat(byte[] b)
    {
        var v = new float[b.Length / 4];
        System.Buffer.BlockCopy(b, 0, v, 0, b.Length);
        return v;
    }

    private static void LoraNumericVector()
    {
        // y = x W^T + s B A x with W [3, 4], A [2, 4], B [3, 2], alpha 4, r 2 -> s = 2.
        float[] w = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1 };
        float[] a = { 1, 1, 0, 0, 0, 0, 1, -1 };
        float[] b = { 1, 0, 0, 1, 0.5f, 0.5f };
        float[] x = { 1, 2, 3, 4 };
        float[] expected = { 1 + 2 * 3, 2 + 2 * (-1), 7 + 2 * (0.5f * 3 + 0.5f * -1) };
        using (var ctx = Cpu())
        using (var model = new AdapterModel(ctx))
        {
            model.AddLinear("proj", new Tensor(w, 3, 4));
            model.AddAdapter("l", new AdapterConfig { R = 2, Alpha = 4, TargetModules = "[\"proj\"]", Init = AdapterInit.None });
            model.SetTensor("l", "base_model.model.proj.lora_A.weight", new Tensor(a, 2, 4));
            model.SetTensor("l", "base_model.model.proj.lora_B.weight", new Tensor(b, 3, 2));
            var y = new float[3];
            model.Forward("proj", new Tensor(x, 1, 4), new Tensor(y, 1, 3));
            Check(y.SequenceEqual(expected), "LoRA output " + string.Join(",", y));
            // Gradients of sum(y): dB = s (A x)^T per row, dA = s B^T 1 x^T.
            var dy = new float[] { 1, 1, 1 };
            var dx = new float[4];
            model.Backward("proj", new Tensor(x, 1, 4), new Tensor(dy, 1, 3), new Tensor(dx, 1, 4));
            var gb = new float[6];
            model.GetGrad("l", "base_model.model.proj.lora_B.weight", new Tensor(gb, 3, 2));
            Check(gb.SequenceEqual(new float[] { 6, -2, 6, -2, 6, -2 }), "dB " + string.Join(",", gb));
            var ga = new float[8];
            model.GetGrad("l", "base_model.model.proj.lora_A.weight", new Tensor(ga, 2, 4));
            Check(ga.SequenceEqual(new float[] { 3, 6, 9, 12, 3, 6, 9, 12 }), "dA " + string.Join(",", ga));
            // dx = W^T dy + s A^T B^T dy.
            Check(dx.SequenceEqual(new float[] { 1 + 3, 1 + 3, 1 + 3, 1 - 3 }), "dx " + string.Join(",", dx));
            float norm = model.ClipGradNorm(null, 1.0f);
            Check(Math.Abs(norm - Math.Sqrt(3 * 36 + 3 * 4 + 2 * (9 + 36 + 81 + 144))) < 1e-3, "grad norm " + norm);
            model.ZeroGrad();
            model.GetGrad("l", "base_model.model.proj.lora_B.weight", new Tensor(gb, 3, 2));
            Check(gb.All(v => v == 0), "zero grad");
            Check(model.TensorsJson("l").Contains("lora_A"), "tensors JSON");
            Check(model.ConfigJson("l").Contains("\"r\": 2"), "config JSON: " + model.ConfigJson("l"));
        }
    }

    private static void AdapterMergeSaveLoadMixed()
    {
        var rng = new Random(41);
        const int outF = 33, inF = 31;
        float[] w = RandomFloats(rng, outF * inF);
        float[] x = RandomFloats(rng, 5 * inF);
        string dir = TempDir();
        try
        {
            using (var ctx = Cpu())
            using (var model = new AdapterModel(ctx))
            {
                model.AddLinear("m.proj", new Tensor(w, outF, inF));
                var cfg = new AdapterConfig { R = 4, Alpha = 8, TargetModules = "[\"proj\"]", Init = AdapterInit.Random, Seed = 3 };
                model.AddAdapter("one", cfg);
                cfg.Seed = 4;
                model.AddAdapter("two", cfg);
                var yBase = new float[5 * outF];
                var yOne = new float[5 * outF];
                var yTwo = new float[5 * outF];
                model.SetActive(new string[0]);
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(yBase, 5, outF));
                Check(MaxDiff(yBase, MatMulT(x, w, 5, inF, outF)) < 1e-4f, "no active adapter = the base");
                model.SetActive(new[] { "one" });
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(yOne, 5, outF));
                model.SetActive(new[] { "two" });
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(yTwo, 5, outF));
                Check(MaxDiff(yOne, yBase) > 1e-3f, "random adapter changes the output");
                // Mixed batch: rows 0..4 use one, base, two, one, base.
                var rows = new[] { 0, -1, 1, 0, -1 };
                var yMixed = new float[5 * outF];
                model.ForwardMixed("m.proj", new Tensor(x, 5, inF), new[] { "one", "two" }, rows, new Tensor(yMixed, 5, outF));
                for (int r = 0; r < 5; r++)
                {
                    float[] src = rows[r] == 0 ? yOne : rows[r] == 1 ? yTwo : yBase;
                    for (int j = 0; j < outF; j++)
                        Check(Math.Abs(yMixed[r * outF + j] - src[r * outF + j]) <= 1e-5f, "mixed row " + r);
                }
                // Merge: forward unchanged, weight changed; unmerge with KeepOriginal is bit-exact.
                model.SetActive(new[] { "one" });
                var merged = new float[outF * inF];
                model.MergedWeight("m.proj", null, null, new Tensor(merged, outF, inF));
                model.Merge(null, MergeFlags.Safe | MergeFlags.KeepOriginal);
                var wNow = new float[outF * inF];
                model.GetWeight("m.proj", new Tensor(wNow, outF, inF));
                Check(MaxDiff(wNow, merged) <= 1e-6f, "merge applies the merged weight");
                var yMerged = new float[5 * outF];
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(yMerged, 5, outF));
                Check(MaxDiff(yMerged, yOne) <= 1e-4f, "merged forward == adapter forward");
                Throws(Status.InvalidArgument, () => model.DeleteAdapter("one"), "merged");
                model.Unmerge();
                model.GetWeight("m.proj", new Tensor(wNow, outF, inF));
                Check(wNow.SequenceEqual(w), "unmerge restores the weight bit for bit");
                // PEFT directory round trip.
                model.SavePeft("one", dir);
                Check(File.Exists(Path.Combine(dir, "adapter_config.json")), "adapter_config.json written");
                model.LoadPeft(dir, "again");
                model.SetActive(new[] { "again" });
                var yAgain = new float[5 * outF];
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(yAgain, 5, outF));
                Check(yAgain.SequenceEqual(yOne), "saved and reloaded adapter gives the same output");
                model.AddWeighted("sum", new[] { "one", "two" }, new[] { 1f, 1f }, AdapterCombination.Cat);
                model.SetActive(new[] { "sum" });
                var ySum = new float[5 * outF];
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(ySum, 5, outF));
                for (int i = 0; i < ySum.Length; i++)
                    Check(Math.Abs(ySum[i] - (yOne[i] + yTwo[i] - yBase[i])) <= 1e-4f, "cat combination is the sum of deltas");
                model.SetActive(new[] { "one", "two" }, new[] { 1f, 1f });
                var yBoth = new float[5 * outF];
                model.Forward("m.proj", new Tensor(x, 5, inF), new Tensor(yBoth, 5, outF));
                Check(MaxDiff(yBoth, ySum) <= 1e-4f, "two active adapters == their cat combination");
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void LoraLinearLayer()
    {
        var rng = new Random(42);
        const int m = 3, k = 31, n = 33, r = 4;
        float[] x = RandomFloats(rng, m * k), w = RandomFloats(rng, n * k), a = RandomFloats(rng, r * k), b = RandomFloats(rng, n * r);
        float[] bias = RandomFloats(rng, n);
        using (var ctx = Cpu())
        {
            var y = new float[m * n];
            var opts = new LoraOptions { Scaling = 0.5f };
            LoraLinear.Forward(ctx, opts, new Tensor(x, m, k), new Tensor(w, n, k), new Tensor(bias), new Tensor(a, r, k),
                               new Tensor(b, n, r), null, new Tensor(y, m, n));
            float[] baseY = MatMulT(x, w, m, k, n);
            float[] ax = MatMulT(x, a, m, k, r);
            float[] bax = MatMulT(ax, b, m, r, n);
            for (int i = 0; i < m * n; i++)
            {
                float expected = baseY[i] + bias[i % n] + 0.5f * bax[i];
                Check(Math.Abs(y[i] - expected) <= 1e-4f * (1 + Math.Abs(expected)), "lora linear y[" + i + "]");
            }
            var dy = RandomFloats(rng, m * n);
            var dA = new float[r * k];
            var dB = new float[n * r];
            LoraLinear.Backward(ctx, opts, new Tensor(x, m, k), new Tensor(w, n, k), new Tensor(a, r, k), new Tensor(b, n, r), null,
                                new Tensor(dy, m, n), null, new Tensor(dA, r, k), new Tensor(dB, n, r), null);
            // dB[j, q] = s * sum_i dy[i, j] * (A x_i)[q].
            for (int j = 0; j < n; j++)
                for (int q = 0; q < r; q++)
                {
                    double g = 0;
                    for (int i = 0; i < m; i++) g += dy[i * n + j] * (double)ax[i * r + q];
                    Check(Math.Abs(dB[j * r + q] - 0.5 * g) <= 1e-4 * (1 + Math.Abs(g)), "dB");
                }
            // Mixed batch with adapter 0 on rows 0 and 2 and the base on row 1.
            var ym = new float[m * n];
            LoraLinear.ForwardMixed(ctx, new Tensor(x, m, k), new Tensor(w, n, k), new Tensor(bias), new[] { new Tensor(a, r, k) },
                                    new[] { new Tensor(b, n, r) }, new[] { 0.5f }, new[] { 0, -1, 0 }, new Tensor(ym, m, n));
            for (int j = 0; j < n; j++)
            {
                Check(Math.Abs(ym[j] - y[j]) <= 1e-4f * (1 + Math.Abs(y[j])), "mixed row 0 uses the adapter");
                Check(Math.Abs(ym[n + j] - (baseY[n + j] + bias[j])) <= 1e-4f * (1 + Math.Abs(ym[n + j])), "mixed row 1 is the base");
            }
            // QLoRA: the same layer over a 4-bit base equals the dense layer over its dequantized weight.
            byte[] codes;
            using (var st = QuantState.Quantize(ctx, new Tensor(w, n, k), out codes))
            using (var model = new AdapterModel(ctx))
            {
                float[] wq = st.Dequantize(codes);
                var yDense = new float[m * n];
                var yQ = new float[m * n];
                LoraLinear.Forward(ctx, opts, new Tensor(x, m, k), new Tensor(wq, n, k), new Tensor(bias), new Tensor(a, r, k),
                                   new Tensor(b, n, r), null, new Tensor(yDense, m, n));
                LoraLinear.QloraForward(ctx, opts, new Tensor(x, m, k), st, new Tensor(codes), new Tensor(bias), new Tensor(a, r, k),
                                        new Tensor(b, n, r), null, new Tensor(yQ, m, n));
                Check(MaxDiff(yDense, yQ) <= 1e-4f, "QLoRA forward == LoRA over the dequantized weight: " + MaxDiff(yDense, yQ));
                var dx = new float[m * k];
                var dxDense = new float[m * k];
                LoraLinear.QloraBackward(ctx, opts, new Tensor(x, m, k), st, new Tensor(codes), new Tensor(a, r, k), new Tensor(b, n, r),
                                         null, new Tensor(dy, m, n), new Tensor(dx, m, k), null, null, null);
                LoraLinear.Backward(ctx, opts, new Tensor(x, m, k), new Tensor(wq, n, k), new Tensor(a, r, k), new Tensor(b, n, r), null,
                                    new Tensor(dy, m, n), new Tensor(dxDense, m, k), null, null, null);
                Check(MaxDiff(dx, dxDense) <= 1e-4f, "QLoRA dx == dense dx");
                model.AddLinear("q", st, new Tensor(codes));
                var yBase = new float[m * n];
                model.Forward("q", new Tensor(x, m, k), new Tensor(yBase, m, n));
                float[] expected = MatMulT(x, wq, m, k, n);
                Check(MaxDiff(yBase, expected) <= 1e-4f, "4-bit base module forward");
            }
            Throws(Status.ShapeMismatch, () => LoraLinear.Forward(ctx, opts, new Tensor(x, m, k), new Tensor(w, n, k), null,
                                                                  new Tensor(a, r, k), new Tensor(b, r, n), null, new Tensor(y, m, n)));
        }
    }

    // AdaLoRA's allocator masks the singular values down to target_r; the orthogonal regulariser
    // is positive for a random init.
    private static void AdaLoraAllocator()
    {
        var rng = new Random(43);
        const int outF = 5, inF = 7;
        using (var ctx = Cpu())
        using (var model = new AdapterModel(ctx))
        {
            model.AddLinear("m.proj", new Tensor(RandomFloats(rng, outF * inF), outF, inF));
            model.AddAdapterJson("ada", "{\"peft_type\": \"ADALORA\", \"init_r\": 3, \"target_r\": 1, \"lora_alpha\": 3, " +
                "\"tinit\": 0, \"tfinal\": 1, \"deltaT\": 1, \"total_step\": 4, \"target_modules\": [\"proj\"]}", 1);
            const string keyE = "base_model.model.m.proj.lora_E";
            model.SetTensor("ada", keyE, new Tensor(new float[] { 1, 2, 3 }, 3, 1));
            var budgets = new List<long>();
            for (int step = 0; step < 5; step++)
            {
                float[] x = RandomFloats(rng, 6 * inF);
                model.Forward("m.proj", new Tensor(x, 6, inF), new Tensor(new float[6 * outF], 6, outF));
                model.Backward("m.proj", new Tensor(x, 6, inF), new Tensor(RandomFloats(rng, 6 * outF), 6, outF));
                Check(model.AdaLoraOrthReg("ada", true) > 0, "orthogonal regulariser of a random init is positive");
                budgets.Add(model.AdaLoraUpdate("ada", step));
                model.ZeroGrad();
            }
            Check(budgets.SequenceEqual(new long[] { 3, 1, 1, 1, 1 }), "budgets " + string.Join(",", budgets));
            var e = new float[3];
            model.GetTensor("ada", keyE, new Tensor(e, 3, 1));
            Equal(1, e.Count(v => v != 0), "one singular value kept");
            Throws(Status.InvalidArgument, () => model.AdaLoraUpdate("ada", -1), "global_step");
        }
    }

    private static void AdapterErrors()
    {
        using (var ctx = Cpu())
        using (var model = new AdapterModel(ctx))
        {
            model.AddLinear("proj", new Tensor(new float[12], 3, 4));
            Throws(Status.InvalidArgument, () => model.AddAdapter("bad", new AdapterConfig { R = 2, TargetModules = "[\"nope\"]" }), "nope");
            Throws(Status.InvalidArgument, () => model.AddAdapter("bad", new AdapterConfig { R = 2, Dropout = 1.5f, TargetModules = "[\"proj\"]" }), "dropout");
            Throws(Status.InvalidArgument, () => model.AddAdapter("bad", new AdapterConfig { R = 2 }), "target_modules");
            Check(!model.InfoJson.Contains("\"bad\""), "nothing added on error");
            Throws(Status.ShapeMismatch, () => model.Forward("proj", new Tensor(new float[5], 1, 5), new Tensor(new float[3], 1, 3)));
            Throws(Status.InvalidArgument, () => model.Forward("missing", new Tensor(new float[4], 1, 4), new Tensor(new float[3], 1, 3)), "missing");
            Throws(Status.Format, () => model.AddAdapterJson("j", "{not json"));
            Throws(Status.IO, () => model.LoadPeft("/nonexistent/dir", "x"));
            Throws(Status.InvalidArgument, () => model.SetActive(new[] { "ghost" }), "ghost");
        }
        var ctx2 = Cpu();
        var m2 = new AdapterModel(ctx2);
        ctx2.Dispose();
        m2.AddLinear("p", new Tensor(new float[4], 2, 2));
        m2.Dispose();
        ThrowsDisposed(() => m2.AddLinear("q", new Tensor(new float[4], 2, 2)), "Rai.AdapterModel");
    }

    /// <summary>SWIG's setter of a <c>const char *</c> member keeps one copy per member in the
    /// wrapper (bindings/swig/rai.i; SWIG warning 451 was a leak): set twice, read back, set null,
    /// and rai_adapter_add reads the value last set.</summary>
    private static void NativeStringMembers()
    {
        using (var p = new N.rai_adapter_params())
        {
            Equal<string>(null, p.target_modules, "target_modules by default");
            p.target_modules = "[\"nope\"]";
            p.rank_pattern = "{\"proj\": 2}";
            p.target_modules = "[\"proj\"]";
            Equal("[\"proj\"]", p.target_modules, "target_modules set again");
            Equal("{\"proj\": 2}", p.rank_pattern, "rank_pattern, kept apart");
            p.rank_pattern = null;
            Equal<string>(null, p.rank_pattern, "rank_pattern set to null");
        }
        using (var ctx = Cpu())
        using (var model = new AdapterModel(ctx))
        {
            model.AddLinear("proj", new Tensor(new float[12], 3, 4));
            var config = new AdapterConfig { R = 2, TargetModules = "[\"proj\"]", RankPattern = "{\"proj\": 1}" };
            model.AddAdapter("native", config);
            // rank_pattern {"proj": 1} overrides R = 2: lora_A is [1, 4].
            string json = string.Concat(model.TensorsJson("native").Where(c => !char.IsWhiteSpace(c)));
            Check(json.Contains("\"shape\":[1,4]") && !json.Contains("\"shape\":[2,4]"), "rank 1 from rank_pattern: " + json);
        }
    }
}
