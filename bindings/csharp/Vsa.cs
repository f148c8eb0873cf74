// Vsa.cs: packed trit vectors (TritVector, SparseTritVector) and the VSA operations over them
// (bind, bundle, permute, similarities, random hypervectors): rai.h "ternary and VSA",
// docs/ternary.md. Vectors live in host memory; outputs are new vectors of the inputs' dimension.
using System;
using System.Collections.Generic;
using N = Rai.Native;

namespace Rai
{
    /// <summary>rai_vsa_bind_mode.</summary>
    public enum BindMode { Mod3 = 0, Mul = 1 }

    /// <summary>rai_vsa_tie_break.</summary>
    public enum TieBreak { Zero = 0, Random = 1 }

    /// <summary>rai_vsa_rng. TritterChaCha8: bit-exact with tritter-accel's VsaOps::random
    /// (ChaCha8Rng::seed_from_u64(Seed), all 64 bits; Dense only).</summary>
    public enum VsaGenerator { TritVsaXs64 = 0, Counter = 1, TritterChaCha8 = 2 }

    /// <summary>rai_vsa_distribution.</summary>
    public enum VsaDistribution { Dense = 0, Bipolar = 1, Sparse = 2 }

    /// <summary>rai_random_params: defaults are trit-vsa's generator, dense trits, seed 0.</summary>
    public sealed class RandomOptions
    {
        public VsaGenerator Generator = VsaGenerator.TritVsaXs64;
        public VsaDistribution Distribution = VsaDistribution.Dense;
        public ulong Seed;
        /// <summary>Sparse only: in (0, 1].</summary>
        public double Density;

        internal N.rai_random_params Native()
        {
            var p = new N.rai_random_params();
            p.generator = (int)Generator;
            p.distribution = (int)Distribution;
            p.seed = Seed;
            p.density = Density;
            return p;
        }
    }

    /// <summary>A dense vector of Dim trits, bit-sliced into plus and minus planes (rai_tvec).</summary>
    public sealed unsafe class TritVector : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_tvec_destroy(new N.SWIGTYPE_p_rai_tvec(p, false));

        /// <summary>All trits zero; dim may be 0.</summary>
        public TritVector(long dim) : base(destroy)
        {
            if (dim < 0) throw new RaiException(Status.InvalidArgument, "dim must be >= 0, got " + dim);
            IntPtr raw = IntPtr.Zero;
            Library.Check(N.rai.rai_tvec_create((ulong)dim, new N.SWIGTYPE_p_p_rai_tvec((IntPtr)(&raw), false)));
            Handle.Adopt(raw);
        }

        private TritVector(IntPtr adopted) : base(destroy) { Handle.Adopt(adopted); }

        internal static N.SWIGTYPE_p_rai_tvec V(HandleLease l) { return new N.SWIGTYPE_p_rai_tvec(l.Pointer, false); }

        /// <summary>A vector holding <paramref name="trits"/> (each -1, 0 or +1, else RaiException(InvalidArgument) naming the index).</summary>
        public static TritVector FromArray(sbyte[] trits)
        {
            if (trits == null) throw new ArgumentNullException("trits");
            var v = new TritVector(trits.Length);
            try
            {
                v.Import(trits);
                return v;
            }
            catch
            {
                v.Dispose();
                throw;
            }
        }

        /// <summary>A vector of <paramref name="dim"/> trits from rai's u64 planes (ceil(dim/64) words each).</summary>
        public static TritVector FromPlanes(long dim, ulong[] plus, ulong[] minus)
        {
            return FromPlanesOf(dim, plus, minus, false);
        }

        /// <summary>The same from trit-vsa's PackedTritVec u32 planes (ceil(dim/32) words each).</summary>
        public static TritVector FromPlanesU32(long dim, uint[] plus, uint[] minus)
        {
            return FromPlanesOf(dim, plus, minus, true);
        }

        private static TritVector FromPlanesOf(long dim, Array plus, Array minus, bool u32)
        {
            if (plus == null) throw new ArgumentNullException("plus");
            if (minus == null) throw new ArgumentNullException("minus");
            if (plus.Length != minus.Length)
                throw new RaiException(Status.ShapeMismatch, "minus has " + minus.Length + " words, plus has " + plus.Length);
            var v = new TritVector(dim);
            try
            {
                using (var l = v.Lease())
                using (var pins = new Pins())
                {
                    void* pp = pins.Ptr(plus), pm = pins.Ptr(minus);
                    Library.Check(u32
                        ? N.rai.rai_tvec_import_planes_u32(V(l), P.U32(pp), P.U32(pm), (ulong)plus.Length)
                        : N.rai.rai_tvec_import_planes_u64(V(l), P.U64(pp), P.U64(pm), (ulong)plus.Length));
                }
                return v;
            }
            catch
            {
                v.Dispose();
                throw;
            }
        }

        /// <summary>Replaces every trit; trits.Length must equal Dim. Strict: on error v is unchanged.</summary>
        public void Import(sbyte[] trits)
        {
            if (trits == null) throw new ArgumentNullException("trits");
            using (var l = Lease())
            fixed (sbyte* t = trits)
                Library.Check(N.rai.rai_tvec_import_int8(V(l), P.I8(t), (ulong)trits.Length));
        }

        public TritVector Clone()
        {
            using (var l = Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_tvec_clone(V(l), new N.SWIGTYPE_p_p_rai_tvec((IntPtr)(&raw), false)));
                return new TritVector(raw);
            }
        }

        public long Dim
        {
            get
            {
                using (var l = Lease())
                {
                    ulong d;
                    Library.Check(N.rai.rai_tvec_dim(V(l), P.Size(&d)));
                    return (long)d;
                }
            }
        }

        public sbyte[] ToArray()
        {
            using (var l = Lease())
                return SizedOutput.Fill<sbyte>((o, cap, n) => N.rai.rai_tvec_export_int8(V(l), P.I8((void*)o), cap, n));
        }

        /// <summary>rai's u64 planes, ceil(Dim/64) words each.</summary>
        public void ToPlanes(out ulong[] plus, out ulong[] minus)
        {
            long words = (Dim + 63) / 64;
            plus = new ulong[words];
            minus = new ulong[words];
            using (var l = Lease())
            fixed (ulong* pp = plus, pm = minus)
            {
                ulong written;
                Library.Check(N.rai.rai_tvec_export_planes_u64(V(l), P.U64(pp), P.U64(pm), (ulong)words, P.Size(&written)));
            }
        }

        /// <summary>trit-vsa's u32 planes, ceil(Dim/32) words each.</summary>
        public void ToPlanesU32(out uint[] plus, out uint[] minus)
        {
            long words = (Dim + 31) / 32;
            plus = new uint[words];
            minus = new uint[words];
            using (var l = Lease())
            fixed (uint* pp = plus, pm = minus)
            {
                ulong written;
                Library.Check(N.rai.rai_tvec_export_planes_u32(V(l), P.U32(pp), P.U32(pm), (ulong)words, P.Size(&written)));
            }
        }

        /// <summary>Trit <paramref name="index"/>; outside [0, Dim): RaiException(OutOfRange).</summary>
        public sbyte this[long index]
        {
            get
            {
                using (var l = Lease())
                {
                    sbyte t;
                    Library.Check(N.rai.rai_tvec_get(V(l), Ternary.Index(index), P.I8(&t)));
                    return t;
                }
            }
            set
            {
                using (var l = Lease())
                    Library.Check(N.rai.rai_tvec_set(V(l), Ternary.Index(index), value));
            }
        }

        public long CountNonzero { get { return Count(0); } }
        public long CountPositive { get { return Count(1); } }
        public long CountNegative { get { return Count(2); } }

        private long Count(int which)
        {
            using (var l = Lease())
            {
                ulong n;
                Library.Check(which == 0 ? N.rai.rai_tvec_count_nonzero(V(l), P.Size(&n))
                            : which == 1 ? N.rai.rai_tvec_count_positive(V(l), P.Size(&n))
                                         : N.rai.rai_tvec_count_negative(V(l), P.Size(&n)));
                return (long)n;
            }
        }

        /// <summary>1 - nonzero / Dim (1.0 for Dim 0).</summary>
        public double Sparsity
        {
            get
            {
                using (var l = Lease())
                {
                    double s;
                    Library.Check(N.rai.rai_tvec_sparsity(V(l), P.F64(&s)));
                    return s;
                }
            }
        }

        /// <summary>#(+1) - #(-1).</summary>
        public long Sum
        {
            get
            {
                using (var l = Lease())
                {
                    long s;
                    Library.Check(N.rai.rai_tvec_sum(V(l), P.I64(&s)));
                    return s;
                }
            }
        }

        public TritVector Negate()
        {
            return Vsa.Produce(Dim, o => { using (var l = Lease()) return N.rai.rai_tvec_negate(V(l), o); });
        }

        /// <summary>Element-wise sign(this + other) (the bundle of two vectors).</summary>
        public TritVector AddClamped(TritVector other)
        {
            if (other == null) throw new ArgumentNullException("other");
            return Vsa.Produce(Dim, o =>
            {
                using (var l = Lease())
                using (var r = other.Lease())
                    return N.rai.rai_tvec_add_clamped(V(l), V(r), o);
            });
        }

        /// <summary>Same dimension and trits.</summary>
        public bool ContentEquals(TritVector other)
        {
            if (other == null) return false;
            using (var l = Lease())
            using (var r = other.Lease())
            {
                int eq;
                Library.Check(N.rai.rai_tvec_equal(V(l), V(r), P.I32(&eq)));
                return eq != 0;
            }
        }

        /// <summary>"+-0..." (one character per trit).</summary>
        public override string ToString() { return IsDisposed ? "TritVector(disposed)" : Ternary.TritText(ToArray()); }
    }

    /// <summary>A sparse trit vector: sorted index lists of the +1 and -1 positions (rai_svec).</summary>
    public sealed unsafe class SparseTritVector : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_svec_destroy(new N.SWIGTYPE_p_rai_svec(p, false));

        public SparseTritVector(long dim) : base(destroy)
        {
            if (dim < 0) throw new RaiException(Status.InvalidArgument, "dim must be >= 0, got " + dim);
            IntPtr raw = IntPtr.Zero;
            Library.Check(N.rai.rai_svec_create((ulong)dim, new N.SWIGTYPE_p_p_rai_svec((IntPtr)(&raw), false)));
            Handle.Adopt(raw);
        }

        internal static N.SWIGTYPE_p_rai_svec S(HandleLease l) { return new N.SWIGTYPE_p_rai_svec(l.Pointer, false); }

        /// <summary>Index lists need not be sorted; an index >= dim is RaiException(OutOfRange), a
        /// repeated index RaiException(InvalidArgument).</summary>
        public static SparseTritVector FromIndices(long dim, ulong[] positive, ulong[] negative)
        {
            var s = new SparseTritVector(dim);
            try
            {
                s.SetIndices(positive ?? new ulong[0], negative ?? new ulong[0]);
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        }

        public static SparseTritVector FromDense(TritVector v)
        {
            if (v == null) throw new ArgumentNullException("v");
            var s = new SparseTritVector(v.Dim);
            try
            {
                using (var ls = s.Lease())
                using (var lv = v.Lease())
                    Library.Check(N.rai.rai_svec_from_tvec(TritVector.V(lv), S(ls)));
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        }

        public void SetIndices(ulong[] positive, ulong[] negative)
        {
            if (positive == null) throw new ArgumentNullException("positive");
            if (negative == null) throw new ArgumentNullException("negative");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_svec_import_indices(S(l), P.U64(pins.Ptr(positive)), (ulong)positive.Length,
                                                            P.U64(pins.Ptr(negative)), (ulong)negative.Length));
        }

        public TritVector ToDense()
        {
            return Vsa.Produce(Dim, o => { using (var l = Lease()) return N.rai.rai_svec_to_tvec(S(l), o); });
        }

        public long Dim
        {
            get
            {
                using (var l = Lease())
                {
                    ulong d;
                    Library.Check(N.rai.rai_svec_dim(S(l), P.Size(&d)));
                    return (long)d;
                }
            }
        }

        /// <summary>The sorted +1 and -1 index lists.</summary>
        public void GetIndices(out ulong[] positive, out ulong[] negative)
        {
            using (var l = Lease())
            {
                ulong np, nn;
                N.rai_status st = N.rai.rai_svec_export_indices(S(l), P.U64(null), 0, P.U64(null), 0, P.Size(&np), P.Size(&nn));
                if (st != N.rai_status.RAI_OK && st != N.rai_status.RAI_ERROR_BUFFER_TOO_SMALL) Library.Check(st);
                positive = new ulong[np];
                negative = new ulong[nn];
                using (var pins = new Pins())
                    Library.Check(N.rai.rai_svec_export_indices(S(l), P.U64(pins.Ptr(positive)), np, P.U64(pins.Ptr(negative)), nn,
                                                                P.Size(&np), P.Size(&nn)));
            }
        }

        public sbyte this[long index]
        {
            get
            {
                using (var l = Lease())
                {
                    sbyte t;
                    Library.Check(N.rai.rai_svec_get(S(l), Ternary.Index(index), P.I8(&t)));
                    return t;
                }
            }
            set
            {
                using (var l = Lease())
                    Library.Check(N.rai.rai_svec_set(S(l), Ternary.Index(index), value));
            }
        }

        /// <summary>Number of non-zero trits.</summary>
        public long Nnz
        {
            get
            {
                using (var l = Lease())
                {
                    ulong n;
                    Library.Check(N.rai.rai_svec_nnz(S(l), P.Size(&n)));
                    return (long)n;
                }
            }
        }

        /// <summary>Bytes the vector occupies, counted as trit-vsa does.</summary>
        public long MemoryBytes
        {
            get
            {
                using (var l = Lease())
                {
                    ulong n;
                    Library.Check(N.rai.rai_svec_memory_bytes(S(l), P.Size(&n)));
                    return (long)n;
                }
            }
        }

        public long Dot(SparseTritVector other)
        {
            return WithOther(other, (a, b) => Out.I64(r => N.rai.rai_svec_dot(S(a), S(b), r)));
        }

        public long Dot(TritVector other)
        {
            return WithOther(other, (a, b) => Out.I64(r => N.rai.rai_svec_dot_tvec(S(a), TritVector.V(b), r)));
        }

        public float Cosine(SparseTritVector other)
        {
            return WithOther(other, (a, b) => Out.F32(r => N.rai.rai_svec_cosine(S(a), S(b), r)));
        }

        public float Cosine(TritVector other)
        {
            return WithOther(other, (a, b) => Out.F32(r => N.rai.rai_svec_cosine_tvec(S(a), TritVector.V(b), r)));
        }
    }

    /// <summary>VSA operations on TritVectors. Each returns a new vector (dispose it).</summary>
    public static unsafe class Vsa
    {
        /// <summary>Creates an output vector of <paramref name="dim"/>, runs the call into it, and
        /// disposes it again when the call fails.</summary>
        internal static TritVector Produce(long dim, Func<N.SWIGTYPE_p_rai_tvec, N.rai_status> call)
        {
            var o = new TritVector(dim);
            try
            {
                using (var l = o.Lease())
                    Library.Check(call(TritVector.V(l)));
                return o;
            }
            catch
            {
                o.Dispose();
                throw;
            }
        }

        private static void NotNull(object o, string name) { if (o == null) throw new ArgumentNullException(name); }

        /// <summary>unbind(bind(a, b), b) == a; Mod3 bind(a, a) == 0 and bind(b, a) == -bind(a, b).</summary>
        public static TritVector Bind(TritVector a, TritVector b, BindMode mode = BindMode.Mod3)
        {
            NotNull(a, "a"); NotNull(b, "b");
            return Produce(a.Dim, o =>
            {
                using (var la = a.Lease())
                using (var lb = b.Lease())
                    return N.rai.rai_vsa_bind(TritVector.V(la), TritVector.V(lb), (int)mode, o);
            });
        }

        /// <summary>What is bound to b in c: unbind(c, b).</summary>
        public static TritVector Unbind(TritVector c, TritVector b, BindMode mode = BindMode.Mod3)
        {
            NotNull(c, "c"); NotNull(b, "b");
            return Produce(c.Dim, o =>
            {
                using (var lc = c.Lease())
                using (var lb = b.Lease())
                    return N.rai.rai_vsa_unbind(TritVector.V(lc), TritVector.V(lb), (int)mode, o);
            });
        }

        /// <summary>Left fold bind(bind(v0, v1), v2)...; an empty list is RaiException(InvalidArgument).</summary>
        public static TritVector BindMany(IList<TritVector> vectors, BindMode mode = BindMode.Mod3)
        {
            NotNull(vectors, "vectors");
            long dim = vectors.Count > 0 && vectors[0] != null ? vectors[0].Dim : 0;
            return Produce(dim, o =>
            {
                using (var ls = new Leases())
                    return N.rai.rai_vsa_bind_many(new N.SWIGTYPE_p_p_rai_tvec(ls.Array(vectors, "vectors"), false),
                                                   (ulong)vectors.Count, (int)mode, o);
            });
        }

        /// <summary>Majority: sign(sum_k weights[k] vectors[k]); zeros abstain; ties per tieBreak.
        /// weights: null (all 1) or one per vector.</summary>
        public static TritVector Bundle(IList<TritVector> vectors, int[] weights = null, TieBreak tieBreak = TieBreak.Zero,
                                        ulong seed = 0)
        {
            NotNull(vectors, "vectors");
            CheckWeights(weights, vectors.Count);
            long dim = vectors.Count > 0 && vectors[0] != null ? vectors[0].Dim : 0;
            using (var p = new N.rai_bundle_params())
            {
                p.tie_break = (int)tieBreak;
                p.seed = seed;
                return Produce(dim, o =>
                {
                    using (var ls = new Leases())
                    using (var pins = new Pins())
                        return N.rai.rai_vsa_bundle(new N.SWIGTYPE_p_p_rai_tvec(ls.Array(vectors, "vectors"), false),
                                                    P.I32(pins.Ptr(weights)), (ulong)vectors.Count, p, o);
                });
            }
        }

        /// <summary>The integer sums sum_k weights[k] vectors[k][i], without thresholding.</summary>
        public static int[] BundleCounts(IList<TritVector> vectors, int[] weights = null)
        {
            NotNull(vectors, "vectors");
            CheckWeights(weights, vectors.Count);
            using (var ls = new Leases())
            using (var pins = new Pins())
            {
                var list = new N.SWIGTYPE_p_p_rai_tvec(ls.Array(vectors, "vectors"), false);
                IntPtr w = pins.Pin(weights);
                return SizedOutput.Fill<int>((o, cap, n) =>
                    N.rai.rai_vsa_bundle_counts(list, P.I32((void*)w), (ulong)vectors.Count, P.I32((void*)o), cap, n));
            }
        }

        /// <summary>counts[i] += weight * v[i]; a sum leaving int32 is RaiException(OutOfRange), nothing added.</summary>
        public static void Accumulate(TritVector v, int weight, int[] counts)
        {
            NotNull(v, "v"); NotNull(counts, "counts");
            using (var l = v.Lease())
            fixed (int* c = counts)
                Library.Check(N.rai.rai_vsa_accumulate(TritVector.V(l), weight, P.I32(c), (ulong)counts.Length));
        }

        /// <summary>+1 above threshold, -1 below -threshold, else 0 (threshold >= 0).</summary>
        public static TritVector Threshold(int[] counts, int threshold = 0)
        {
            NotNull(counts, "counts");
            return Produce(counts.Length, o =>
            {
                fixed (int* c = counts)
                    return N.rai.rai_vsa_threshold(P.I32(c), (ulong)counts.Length, threshold, o);
            });
        }

        /// <summary>Cyclic roll: element i moves to (i + shift) mod Dim.</summary>
        public static TritVector Permute(TritVector v, long shift)
        {
            NotNull(v, "v");
            return Produce(v.Dim, o => { using (var l = v.Lease()) return N.rai.rai_vsa_permute(TritVector.V(l), shift, o); });
        }

        public static long Dot(TritVector a, TritVector b)
        {
            using (var t = new Two(a, b))
            {
                long r;
                Library.Check(N.rai.rai_vsa_dot(t.A, t.B, P.I64(&r)));
                return r;
            }
        }

        /// <summary>dot / sqrt(nnz(a) nnz(b)), exactly 0 when either is zero.</summary>
        public static float Cosine(TritVector a, TritVector b)
        {
            using (var t = new Two(a, b))
            {
                float r;
                Library.Check(N.rai.rai_vsa_cosine(t.A, t.B, P.F32(&r)));
                return r;
            }
        }

        public static long HammingDistance(TritVector a, TritVector b)
        {
            using (var t = new Two(a, b))
            {
                ulong r;
                Library.Check(N.rai.rai_vsa_hamming_distance(t.A, t.B, P.Size(&r)));
                return (long)r;
            }
        }

        /// <summary>1 - distance / Dim (1.0 for Dim 0).</summary>
        public static float HammingSimilarity(TritVector a, TritVector b)
        {
            using (var t = new Two(a, b))
            {
                float r;
                Library.Check(N.rai.rai_vsa_hamming_similarity(t.A, t.B, P.F32(&r)));
                return r;
            }
        }

        /// <summary>Number of equal positions.</summary>
        public static long EqualCount(TritVector a, TritVector b)
        {
            using (var t = new Two(a, b))
            {
                ulong r;
                Library.Check(N.rai.rai_vsa_equal_count(t.A, t.B, P.Size(&r)));
                return (long)r;
            }
        }

        /// <summary>Two vectors leased for one call.</summary>
        private sealed class Two : IDisposable
        {
            private HandleLease la, lb;
            public readonly N.SWIGTYPE_p_rai_tvec A, B;

            public Two(TritVector a, TritVector b)
            {
                NotNull(a, "a");
                NotNull(b, "b");
                la = a.Lease();
                try { lb = b.Lease(); }
                catch { la.Dispose(); throw; }
                A = TritVector.V(la);
                B = TritVector.V(lb);
            }

            public void Dispose() { lb.Dispose(); la.Dispose(); }
        }

        /// <summary>A random hypervector of <paramref name="dim"/> trits (null options: trit-vsa's
        /// generator, dense, seed 0); the same options give the same vector on every backend.</summary>
        public static TritVector Random(long dim, RandomOptions options = null)
        {
            using (var p = (options ?? new RandomOptions()).Native())
                return Produce(dim, o => N.rai.rai_vsa_random(p, o));
        }

        /// <summary>"scalar", "avx2" or "avx512": the packed-trit kernels the CPU features select.</summary>
        public static string CpuBackend { get { return N.rai.rai_vsa_cpu_backend(); } }

        private static void CheckWeights(int[] weights, int count)
        {
            if (weights != null && weights.Length != count)
                throw new RaiException(Status.ShapeMismatch, "weights has " + weights.Length + " values for " + count + " vectors");
        }
    }
}
