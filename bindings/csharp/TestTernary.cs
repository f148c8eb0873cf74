// TestTernary.cs: balanced-ternary scalars, packed vectors, VSA algebra, random golden vectors and
// item memory, against known values (docs/ternary.md) and managed reference computations.
using System;
using System.Collections.Generic;
using System.Linq;
using Rai;
using N = Rai.Native;

internal static partial class TestRai
{
    private static readonly int[] AwkwardSizes = { 1, 31, 33, 65537 };

    private static IEnumerable<KeyValuePair<string, Action>> TernaryTests()
    {
        yield return new KeyValuePair<string, Action>("TritScalars", TritScalars);
        yield return new KeyValuePair<string, Action>("Tryte3KnownValues", Tryte3KnownValues);
        yield return new KeyValuePair<string, Action>("Word6RoundTrips", Word6RoundTrips);
        yield return new KeyValuePair<string, Action>("TernaryDigitArrays", TernaryDigitArrays);
        yield return new KeyValuePair<string, Action>("TritVectorRoundTrips", TritVectorRoundTrips);
        yield return new KeyValuePair<string, Action>("VsaAlgebra", VsaAlgebra);
        yield return new KeyValuePair<string, Action>("VsaSimilarities", VsaSimilarities);
        yield return new KeyValuePair<string, Action>("VsaRandomGolden", VsaRandomGolden);
        yield return new KeyValuePair<string, Action>("VsaBundleCountsThreshold", VsaBundleCountsThreshold);
        yield return new KeyValuePair<string, Action>("SparseTritVectors", SparseTritVectors);
        yield return new KeyValuePair<string, Action>("ItemMemory", ItemMemory);
        yield return new KeyValuePair<string, Action>("ItemMemoryBufferTensorsCpu", () => ItemMemoryBufferTensors("cpu"));
        yield return new KeyValuePair<string, Action>("ItemMemoryBufferTensorsCuda", () => ItemMemoryBufferTensors("cuda"));
        yield return new KeyValuePair<string, Action>("TernaryErrors", TernaryErrors);
    }

    internal static sbyte[] RandomTrits(Random rng, int n)
    {
        var t = new sbyte[n];
        for (int i = 0; i < n; i++) t[i] = (sbyte)(rng.Next(3) - 1);
        return t;
    }

    private static void SameTrits(sbyte[] expected, sbyte[] actual, string what)
    {
        Equal(expected.Length, actual.Length, what + " length");
        for (int i = 0; i < expected.Length; i++)
            if (expected[i] != actual[i]) throw new Exception(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
    }

    private static void TritScalars()
    {
        Equal((sbyte)-1, Trit.FromInt(-1), "from_int(-1)");
        Throws(Status.InvalidArgument, () => Trit.FromInt(2), "2");
        sbyte carry;
        Equal((sbyte)-1, Trit.Add(1, 1, out carry), "1 + 1 digit");
        Equal((sbyte)1, carry, "1 + 1 carry");
        for (sbyte a = -1; a <= 1; a++)
            for (sbyte b = -1; b <= 1; b++)
            {
                Equal((sbyte)(a * b), Trit.Mul(a, b), "mul");
                sbyte d = Trit.Add(a, b, out carry);
                Equal(a + b, d + 3 * carry, "add identity");
            }
        byte plus, minus;
        Trit.ToBits(-1, out plus, out minus);
        Equal((byte)0, plus, "-1 plus bit");
        Equal((byte)1, minus, "-1 minus bit");
        Equal((sbyte)1, Trit.FromBits(1, 0), "from_bits(1,0)");
        Throws(Status.InvalidArgument, () => Trit.FromBits(1, 1));
        Throws(Status.InvalidArgument, () => Trit.Neg(3));
    }

    private static void Tryte3KnownValues()
    {
        Equal((byte)21, Tryte3.Zero.Raw, "zero raw");
        Equal((byte)42, Tryte3.FromInt(13).Raw, "13 raw (+++)");
        Equal((byte)0, Tryte3.FromInt(-13).Raw, "-13 raw (---)");
        SameTrits(new sbyte[] { -1, -1, 1 }, Tryte3.FromInt(5).Trits, "trits of 5");
        Equal(5, Tryte3.FromTrits(new sbyte[] { -1, -1, 1 }).Value, "from_trits");
        Equal((sbyte)1, Tryte3.FromInt(5)[2], "trit 2 of 5");
        for (int a = -13; a <= 13; a++)
        {
            Tryte3 ta = Tryte3.FromInt(a);
            Equal(a, ta.Value, "round trip");
            Equal(-a, (-ta).Value, "neg");
            for (int b = -13; b <= 13; b += 3)
            {
                Tryte3 tb = Tryte3.FromInt(b);
                sbyte carry;
                Equal(a + b, Tryte3.Add(ta, tb, out carry).Value + 27 * carry, "add " + a + "+" + b);
                Tryte3 high;
                Equal(a * b, Tryte3.Mul(ta, tb, out high).Value + 27 * high.Value, "mul " + a + "*" + b);
            }
        }
        Throws(Status.OutOfRange, () => Tryte3.FromInt(14));
        Throws(Status.OutOfRange, () => Tryte3.FromInt(-14));
        Throws(Status.InvalidArgument, () => Tryte3.FromRaw(0xC0));
        Throws(Status.OutOfRange, () => { var unused = Tryte3.Zero[3]; });
        Throws(Status.ShapeMismatch, () => Tryte3.FromTrits(new sbyte[2]), "trits");
        Throws(Status.InvalidArgument, () => Tryte3.FromTrits(new sbyte[] { 0, 2, 0 }));
    }

    private static void Word6RoundTrips()
    {
        Equal((ushort)1365, Word6.Zero.Raw, "zero raw");
        for (int v = -364; v <= 364; v++)
        {
            Word6 w = Word6.FromInt(v);
            Equal(v, w.Value, "round trip");
            Tryte3 lo, hi;
            w.ToTrytes(out lo, out hi);
            Equal(v, lo.Value + 27 * hi.Value, "trytes of " + v);
            Equal(w.Raw, Word6.FromTrytes(lo, hi).Raw, "from trytes");
            Equal(v, Word6.FromTrits(w.Trits).Value, "trits");
        }
        sbyte carry;
        Equal(728 - 729, Word6.Add(Word6.FromInt(364), Word6.FromInt(364), out carry).Value, "364 + 364");
        Equal((sbyte)1, carry, "carry");
        Word6 high;
        Equal(364 * 364, Word6.Mul(Word6.FromInt(364), Word6.FromInt(364), out high).Value + 729 * high.Value, "364^2");
        Throws(Status.OutOfRange, () => Word6.FromInt(365));
    }

    private static void TernaryDigitArrays()
    {
        SameTrits(new sbyte[] { 0 }, TernaryDigits.FromInt(0), "0");
        SameTrits(new sbyte[] { -1, -1, 1, 0 }, TernaryDigits.FromInt(5, 4), "5 with 4 digits");
        Equal(0L, TernaryDigits.ToInt(new sbyte[0]), "empty");
        foreach (long v in new[] { 1L, -1L, 12345678901L, long.MaxValue, long.MinValue, -40L })
            Equal(v, TernaryDigits.ToInt(TernaryDigits.FromInt(v)), "round trip " + v);
        var rng = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            long a = rng.Next(-1000000, 1000000), b = rng.Next(-1000000, 1000000);
            sbyte[] da = TernaryDigits.FromInt(a), db = TernaryDigits.FromInt(b);
            Equal(a + b, TernaryDigits.ToInt(TernaryDigits.Add(da, db)), "add");
            Equal(a * b, TernaryDigits.ToInt(TernaryDigits.Mul(da, db)), "mul");
            Equal(-a, TernaryDigits.ToInt(TernaryDigits.Neg(da)), "neg");
            Equal(Math.Sign(a.CompareTo(b)), TernaryDigits.Compare(da, db), "compare");
        }
        // 3^40 does not fit in int64.
        var big = new sbyte[41];
        big[40] = 1;
        Throws(Status.OutOfRange, () => TernaryDigits.ToInt(big));
        Throws(Status.InvalidArgument, () => TernaryDigits.ToInt(new sbyte[] { 0, 5 }));
    }

    private static void TritVectorRoundTrips()
    {
        var rng = new Random(11);
        foreach (int n in AwkwardSizes)
        {
            sbyte[] t = RandomTrits(rng, n);
            using (var v = TritVector.FromArray(t))
            {
                Equal((long)n, v.Dim, "dim");
                SameTrits(t, v.ToArray(), "int8 round trip " + n);
                ulong[] p64, m64;
                v.ToPlanes(out p64, out m64);
                Equal((n + 63) / 64, p64.Length, "u64 words");
                using (var w = TritVector.FromPlanes(n, p64, m64))
                    Check(w.ContentEquals(v), "u64 planes round trip " + n);
                uint[] p32, m32;
                v.ToPlanesU32(out p32, out m32);
                for (int i = 0; i < n; i++)
                {
                    bool plus = (p32[i / 32] >> (i % 32) & 1) != 0, minus = (m32[i / 32] >> (i % 32) & 1) != 0;
                    Equal(t[i] > 0, plus, "plus bit " + i);
                    Equal(t[i] < 0, minus, "minus bit " + i);
                }
                using (var w = TritVector.FromPlanesU32(n, p32, m32))
                    Check(w.ContentEquals(v), "u32 planes round trip " + n);
                long pos = t.Count(x => x > 0), neg = t.Count(x => x < 0);
                Equal(pos, v.CountPositive, "positive");
                Equal(neg, v.CountNegative, "negative");
                Equal(pos + neg, v.CountNonzero, "nonzero");
                Equal(pos - neg, v.Sum, "sum");
                Equal(1.0 - (double)(pos + neg) / n, v.Sparsity, "sparsity");
                using (var neg1 = v.Negate())
                    SameTrits(t.Select(x => (sbyte)-x).ToArray(), neg1.ToArray(), "negate");
                using (var c = v.Clone())
                {
                    c[n - 1] = (sbyte)(t[n - 1] == 1 ? -1 : 1);
                    Equal(t[n - 1], v[n - 1], "clone is independent");
                    Check(!c.ContentEquals(v), "changed clone differs");
                }
            }
        }
        using (var empty = new TritVector(0))
        {
            Equal(0, empty.ToArray().Length, "dim 0");
            Equal(1.0, empty.Sparsity, "dim 0 sparsity");
        }
    }

    private static void VsaAlgebra()
    {
        var rng = new Random(12);
        foreach (int n in AwkwardSizes)
        {
            sbyte[] ta = RandomTrits(rng, n), tb = RandomTrits(rng, n);
            using (var a = TritVector.FromArray(ta))
            using (var b = TritVector.FromArray(tb))
            using (var c = Vsa.Bind(a, b))
            using (var back = Vsa.Unbind(c, b))
            using (var self = Vsa.Bind(a, a))
            using (var ba = Vsa.Bind(b, a))
            using (var negc = c.Negate())
            using (var rolled = Vsa.Permute(a, 5))
            using (var unrolled = Vsa.Permute(rolled, -5))
            using (var full = Vsa.Permute(a, n))
            {
                Check(back.ContentEquals(a), "unbind(bind(a, b), b) == a at " + n);
                Equal(0L, self.CountNonzero, "bind(a, a) == 0 at " + n);
                Check(ba.ContentEquals(negc), "bind(b, a) == -bind(a, b) at " + n);
                Check(unrolled.ContentEquals(a), "permute round trip at " + n);
                Check(full.ContentEquals(a), "permute by dim is the identity at " + n);
                Equal(ta[0], rolled[5 % n], "element 0 moves to 5 mod n");
                // Mod3 bind table (docs/ternary.md): bind = (a - b) mod 3 in balanced form.
                sbyte[] bound = c.ToArray();
                for (int i = 0; i < n; i++)
                {
                    int d = ((ta[i] - tb[i]) % 3 + 3) % 3;
                    Equal((sbyte)(d == 2 ? -1 : d), bound[i], "bind table at " + i);
                }
            }
            // MAP binding is self-inverse for keys without zeros.
            using (var key = Vsa.Random(n, new RandomOptions { Distribution = VsaDistribution.Bipolar, Seed = 3 }))
            using (var a = TritVector.FromArray(ta))
            using (var c = Vsa.Bind(a, key, BindMode.Mul))
            using (var back = Vsa.Bind(c, key, BindMode.Mul))
            {
                Equal((long)n, key.CountNonzero, "bipolar key has no zeros");
                Check(back.ContentEquals(a), "MUL bind is self-inverse at " + n);
            }
            // bind_many is the left fold.
            sbyte[] tc = RandomTrits(rng, n);
            using (var a = TritVector.FromArray(ta))
            using (var b = TritVector.FromArray(tb))
            using (var c = TritVector.FromArray(tc))
            using (var ab = Vsa.Bind(a, b))
            using (var fold = Vsa.Bind(ab, c))
            using (var many = Vsa.BindMany(new[] { a, b, c }))
                Check(many.ContentEquals(fold), "bind_many == fold at " + n);
        }
    }

    private static void VsaSimilarities()
    {
        var rng = new Random(13);
        foreach (int n in AwkwardSizes)
        {
            sbyte[] ta = RandomTrits(rng, n), tb = RandomTrits(rng, n);
            long dot = 0, dist = 0, nza = 0, nzb = 0;
            for (int i = 0; i < n; i++)
            {
                dot += ta[i] * tb[i];
                if (ta[i] != tb[i]) dist++;
                if (ta[i] != 0) nza++;
                if (tb[i] != 0) nzb++;
            }
            using (var a = TritVector.FromArray(ta))
            using (var b = TritVector.FromArray(tb))
            {
                Equal(dot, Vsa.Dot(a, b), "dot at " + n);
                Equal(dist, Vsa.HammingDistance(a, b), "hamming at " + n);
                Equal(n - dist, Vsa.EqualCount(a, b), "equal count at " + n);
                float cos = nza == 0 || nzb == 0 ? 0f : (float)(dot / Math.Sqrt((double)nza * nzb));
                Equal(cos, Vsa.Cosine(a, b), "cosine at " + n);
                Equal((float)(1.0 - (double)dist / n), Vsa.HammingSimilarity(a, b), "hamming similarity at " + n);
                Equal(1f, Vsa.Cosine(a, a) == 0 ? 1f : Vsa.Cosine(a, a), "cos(a, a)");
            }
        }
        // The docs' statistics at D = 10 000.
        using (var a = Vsa.Random(10000, new RandomOptions { Seed = 1 }))
        using (var b = Vsa.Random(10000, new RandomOptions { Seed = 2 }))
        using (var ab = Vsa.Bundle(new[] { a, b }))
        using (var sum = a.AddClamped(b))
        {
            Check(Math.Abs(Vsa.Cosine(a, b)) < 0.05f, "random vectors are quasi-orthogonal");
            Check(Math.Abs(Vsa.Cosine(ab, a) - 0.66f) < 0.03f, "cos(bundle(a, b), a) = 0.66 +- 0.03, got " + Vsa.Cosine(ab, a));
            Check(ab.ContentEquals(sum), "bundle of two == add_clamped");
        }
    }

    private static void VsaRandomGolden()
    {
        using (var v = Vsa.Random(1000, new RandomOptions { Seed = 42 }))
        {
            Equal("0+-++0+-0-0---+00++0-+0++-+-+-+0", v.ToString().Substring(0, 32), "seed 42 prefix");
            Equal(335L, v.CountNegative, "seed 42: -1 count");
            Equal(332L, v.CountPositive, "seed 42: +1 count");
        }
        using (var v = Vsa.Random(32, new RandomOptions { Seed = 12345 }))
            Equal("-00+0+0--0--+00++0-0+++0+++0+0--", v.ToString(), "seed 12345");
        using (var a = Vsa.Random(4096, new RandomOptions { Generator = VsaGenerator.Counter, Distribution = VsaDistribution.Sparse, Density = 0.1, Seed = 9 }))
        using (var b = Vsa.Random(4096, new RandomOptions { Generator = VsaGenerator.Counter, Distribution = VsaDistribution.Sparse, Density = 0.1, Seed = 9 }))
        {
            Check(a.ContentEquals(b), "same params, same vector");
            Check(Math.Abs(a.CountNonzero - 409.6) < 80, "sparse density ~0.1: " + a.CountNonzero);
        }
        Throws(Status.InvalidArgument, () => Vsa.Random(10, new RandomOptions { Distribution = VsaDistribution.Sparse }), "density");

        // tritter-accel's ChaCha8 stream: "trits 42 100 ..." of
        // tests/ternary/golden/tritter_chacha/golden.txt (rand_chacha 0.3.1, tritter's mapping).
        Equal((int)N.rai_vsa_rng.RAI_VSA_RNG_TRITTER_CHACHA8, (int)VsaGenerator.TritterChaCha8, "enum value from rai.h");
        using (var v = Vsa.Random(100, new RandomOptions { Generator = VsaGenerator.TritterChaCha8, Seed = 42 }))
            Equal("-+-++000+-0----+0++-000+0++0++--+0---0--+-0--+0-0-0--+0+0+++0++---+--+-++0--0+-00++++--+++0++00++00+",
                  v.ToString(), "tritter ChaCha8 seed 42");
        Throws(Status.InvalidArgument, () => Vsa.Random(10, new RandomOptions { Generator = VsaGenerator.TritterChaCha8, Distribution = VsaDistribution.Bipolar }),
               "params->distribution 1");
    }

    private static void VsaBundleCountsThreshold()
    {
        var rng = new Random(14);
        foreach (int n in AwkwardSizes)
        {
            var trits = Enumerable.Range(0, 5).Select(_ => RandomTrits(rng, n)).ToArray();
            int[] weights = { 3, -1, 2, 1, 1 };
            var vectors = trits.Select(TritVector.FromArray).ToArray();
            try
            {
                var expected = new int[n];
                for (int k = 0; k < 5; k++)
                    for (int i = 0; i < n; i++) expected[i] += weights[k] * trits[k][i];
                int[] counts = Vsa.BundleCounts(vectors, weights);
                Check(expected.SequenceEqual(counts), "bundle counts at " + n);
                var acc = new int[n];
                for (int k = 0; k < 5; k++) Vsa.Accumulate(vectors[k], weights[k], acc);
                Check(expected.SequenceEqual(acc), "accumulate at " + n);
                using (var bundled = Vsa.Bundle(vectors, weights))
                using (var signs = Vsa.Threshold(counts))
                using (var thr = Vsa.Threshold(counts, 2))
                {
                    SameTrits(expected.Select(x => (sbyte)Math.Sign(x)).ToArray(), bundled.ToArray(), "weighted bundle at " + n);
                    Check(signs.ContentEquals(bundled), "threshold 0 == bundle");
                    SameTrits(expected.Select(x => (sbyte)(x > 2 ? 1 : x < -2 ? -1 : 0)).ToArray(), thr.ToArray(), "threshold 2");
                }
                Throws(Status.ShapeMismatch, () => Vsa.Bundle(vectors, new[] { 1, 2 }), "weights");
            }
            finally
            {
                foreach (var v in vectors) v.Dispose();
            }
        }
        var big = new int[1] { int.MaxValue };
        using (var one = TritVector.FromArray(new sbyte[] { 1 }))
        {
            Throws(Status.OutOfRange, () => Vsa.Accumulate(one, 1, big));
            Equal(int.MaxValue, big[0], "nothing added on overflow");
        }
    }

    private static void SparseTritVectors()
    {
        var rng = new Random(15);
        foreach (int n in AwkwardSizes)
        {
            sbyte[] t = RandomTrits(rng, n);
            using (var dense = TritVector.FromArray(t))
            using (var s = SparseTritVector.FromDense(dense))
            using (var other = TritVector.FromArray(RandomTrits(rng, n)))
            using (var so = SparseTritVector.FromDense(other))
            using (var back = s.ToDense())
            {
                ulong[] pos, neg;
                s.GetIndices(out pos, out neg);
                Check(pos.SequenceEqual(Enumerable.Range(0, n).Where(i => t[i] > 0).Select(i => (ulong)i)), "positive indices");
                Check(neg.SequenceEqual(Enumerable.Range(0, n).Where(i => t[i] < 0).Select(i => (ulong)i)), "negative indices");
                Equal(dense.CountNonzero, s.Nnz, "nnz");
                Check(back.ContentEquals(dense), "sparse -> dense round trip");
                Equal(Vsa.Dot(dense, other), s.Dot(other), "dot with dense");
                Equal(Vsa.Dot(dense, other), s.Dot(so), "dot sparse");
                Equal(Vsa.Cosine(dense, other), s.Cosine(so), "cosine sparse");
                Equal(Vsa.Cosine(dense, other), s.Cosine(other), "cosine with dense");
                Equal(t[n / 2], s[n / 2], "get");
            }
        }
        using (var s = SparseTritVector.FromIndices(10, new ulong[] { 7, 1 }, new ulong[] { 3 }))
        {
            Equal((sbyte)1, s[1], "from indices +1");
            Equal((sbyte)-1, s[3], "from indices -1");
            s[3] = 0;
            Equal(2L, s.Nnz, "set 0 removes");
            Throws(Status.OutOfRange, () => s.SetIndices(new ulong[] { 10 }, new ulong[0]));
            Throws(Status.InvalidArgument, () => s.SetIndices(new ulong[] { 2 }, new ulong[] { 2 }));
            Equal(2L, s.Nnz, "unchanged after a failed import");
        }
    }

    private static void ItemMemory()
    {
        using (var ctx = new Context("cpu", ignoreEnv: true))
        {
            var opts = new RandomOptions { Seed = 100 };
            using (var items = new VsaMatrix(ctx, 8, 1031))
            {
                items.Randomize(opts);
                Equal(8L, items.Rows, "rows");
                Equal(1031L, items.Dim, "dim");
                for (int r = 0; r < 8; r++)
                    using (var row = items.GetRow(r))
                    using (var expected = Vsa.Random(1031, new RandomOptions { Seed = 100 + (ulong)r }))
                        Check(row.ContentEquals(expected), "row " + r + " is random(seed + r)");
                sbyte[,] all = items.ToArray();
                using (var copy = VsaMatrix.FromArray(ctx, all))
                using (var queries = new VsaMatrix(ctx, 3, 1031))
                {
                    Check(copy.ToArray().Cast<sbyte>().SequenceEqual(all.Cast<sbyte>()), "int8 write/read round trip");
                    for (int q = 0; q < 3; q++)
                        using (var row = items.GetRow(q * 3))
                        using (var noisy = row.Clone())
                        {
                            for (int i = 0; i < 200; i++) noisy[i * 5] = 0;
                            queries.SetRow(q, noisy);
                        }
                    float[,] sim = VsaMatrix.Similarity(queries, items, VsaMetric.Cosine);
                    for (int q = 0; q < 3; q++)
                        for (int j = 0; j < 8; j++)
                            using (var a = queries.GetRow(q))
                            using (var b = items.GetRow(j))
                                Equal(Vsa.Cosine(a, b), sim[q, j], "similarity[" + q + "," + j + "]");
                    float[,] scores;
                    long[,] top = VsaMatrix.TopK(queries, items, 2, VsaMetric.Cosine, out scores);
                    for (int q = 0; q < 3; q++)
                    {
                        Equal((long)(q * 3), top[q, 0], "top-1 of query " + q);
                        Equal(sim[q, q * 3], scores[q, 0], "top-1 score");
                        Check(scores[q, 0] >= scores[q, 1], "best first");
                    }
                    long[,] near = VsaMatrix.TopK(queries, items, 1, VsaMetric.HammingDistance, out scores);
                    Equal(0L, near[0, 0], "hamming distance: smallest is best");
                    Throws(Status.InvalidArgument, () => VsaMatrix.TopK(queries, items, 9, VsaMetric.Cosine, out scores), "k");
                }
                using (var key = new VsaMatrix(ctx, 1, 1031))
                {
                    key.Randomize(new RandomOptions { Seed = 5 });
                    using (var bound = items.Bind(key))
                    using (var back = bound.Unbind(key))
                    using (var k = key.GetRow(0))
                    using (var r2 = items.GetRow(2))
                    using (var b2 = bound.GetRow(2))
                    using (var expected = Vsa.Bind(r2, k))
                    {
                        Check(b2.ContentEquals(expected), "row-wise bind with a broadcast key");
                        Check(back.ToArray().Cast<sbyte>().SequenceEqual(all.Cast<sbyte>()), "row-wise unbind restores");
                    }
                    using (var rolled = items.Permute(3))
                    using (var r0 = items.GetRow(0))
                    using (var p0 = rolled.GetRow(0))
                    using (var expected = Vsa.Permute(r0, 3))
                        Check(p0.ContentEquals(expected), "row-wise permute");
                }
                var rows = Enumerable.Range(0, 8).Select(r => items.GetRow(r)).ToArray();
                try
                {
                    using (var bundle = items.Bundle())
                    using (var expected = Vsa.Bundle(rows))
                        Check(bundle.ContentEquals(expected), "matrix bundle == bundle of rows");
                }
                finally
                {
                    foreach (var r in rows) r.Dispose();
                }
                var bad = new sbyte[1, 1031];
                bad[0, 500] = 2;
                Throws(Status.InvalidArgument, () => items.Write(0, bad));
                Throws(Status.ShapeMismatch, () => items.Write(0, new sbyte[,] { { 1 } }), "src");
                Check(items.ToArray().Cast<sbyte>().SequenceEqual(all.Cast<sbyte>()), "a failed write changes nothing");
                Throws(Status.OutOfRange, () => { using (items.GetRow(8)) { } });
            }
        }
    }

    /// <summary>Item memory with device tensors (Rai.Buffer): random rows read into a buffer equal
    /// the CPU matrix's rows, and the similarity matrix equals the CPU one.</summary>
    private static void ItemMemoryBufferTensors(string device)
    {
        if (device == "cuda" && Library.CudaDeviceCount == 0) throw new SkipException("no CUDA device");
        const int rows = 5, dim = 333;
        var opts = new RandomOptions { Generator = VsaGenerator.Counter, Seed = 77 };
        using (var cpu = Cpu())
        using (var ctx = new Context(device, strict: true, ignoreEnv: true))
        using (var reference = new VsaMatrix(cpu, rows, dim))
        using (var m = new VsaMatrix(ctx, rows, dim))
        using (var trits = new Rai.Buffer(ctx, rows * dim))
        using (var sim = new Rai.Buffer(ctx, rows * rows * 4))
        {
            reference.Randomize(opts);
            m.Randomize(opts);
            m.Read(0, new Tensor(trits, DType.I8, rows, dim));
            VsaMatrix.Similarity(m, m, VsaMetric.Dot, new Tensor(sim, DType.I32, rows, rows));
            ctx.Synchronize();
            byte[] got = trits.Read(0, rows * dim);
            sbyte[,] expected = reference.ToArray();
            Check(expected.Cast<sbyte>().Select(v => (byte)v).SequenceEqual(got), device + ": rows read into a buffer tensor");
            byte[] dots = sim.Read(0, rows * rows * 4);
            var cpuSim = new int[rows, rows];
            VsaMatrix.Similarity(reference, reference, VsaMetric.Dot, new Tensor(cpuSim));
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < rows; j++)
                    Equal(cpuSim[i, j], BitConverter.ToInt32(dots, 4 * (i * rows + j)), device + ": dot[" + i + "," + j + "]");
            using (var again = new VsaMatrix(ctx, rows, dim))
            {
                again.Write(0, new Tensor(trits, DType.I8, rows, dim));
                using (var z = again.Bind(m))
                {
                    // bind(a, a) == 0: the matrix written from the buffer equals m.
                    z.Read(0, new Tensor(trits, DType.I8, rows, dim));
                    ctx.Synchronize();
                    Check(trits.Read(0, rows * dim).All(b => b == 0), device + ": written from a buffer tensor");
                }
            }
        }
    }

    private static void TernaryErrors()
    {
        var t = new sbyte[40];
        t[33] = 2;
        Throws(Status.InvalidArgument, () => TritVector.FromArray(t), "33");
        using (var a = new TritVector(5))
        using (var b = new TritVector(6))
        {
            Throws(Status.ShapeMismatch, () => Vsa.Bind(a, b), "dimension");
            Throws(Status.ShapeMismatch, () => a.Import(new sbyte[4]));
            Throws(Status.OutOfRange, () => a[5] = 1);
            Throws(Status.OutOfRange, () => { var unused = a[-1]; });
            Throws(Status.InvalidArgument, () => a[0] = 3);
            Throws(Status.InvalidArgument, () => Vsa.BindMany(new TritVector[0]), "count");
            Throws(Status.ShapeMismatch, () => TritVector.FromPlanes(70, new ulong[1], new ulong[1]));
            Throws(Status.InvalidArgument, () => TritVector.FromPlanes(64, new ulong[] { 1 }, new ulong[] { 1 }));
        }
        var v = new TritVector(3);
        v.Dispose();
        v.Dispose();
        Check(v.IsDisposed, "IsDisposed");
        ThrowsDisposed(() => { var unused = v.Dim; }, "Rai.TritVector");
        using (var w = new TritVector(3))
            ThrowsDisposed(() => Vsa.Bind(w, v), "Rai.TritVector");
        var ctx = new Context("cpu", ignoreEnv: true);
        var m = new VsaMatrix(ctx, 2, 8);
        ctx.Dispose();
        // The matrix keeps its context alive: it still works after the caller disposed the context.
        m.Randomize();
        Equal(2L, m.Rows, "matrix outlives the disposed context");
        m.Dispose();
        ThrowsDisposed(() => m.Randomize(), "Rai.VsaMatrix");
    }
}
