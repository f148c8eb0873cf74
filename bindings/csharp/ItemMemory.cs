// ItemMemory.cs: VsaMatrix, rows of packed trit vectors on a context's device (rai_vsa_matrix),
// with row-wise bind/unbind/permute, bundling, similarity matrices and top-k search
// (docs/ternary.md, "Item memory"). The matrix keeps its context alive until it is disposed.
using System;
using N = Rai.Native;

namespace Rai
{
    /// <summary>rai_vsa_metric.</summary>
    public enum VsaMetric { Cosine = 0, Dot = 1, HammingDistance = 2, HammingSimilarity = 3, EqualCount = 4 }

    /// <summary>Rows of packed trit vectors of one dimension on a context's device.</summary>
    public sealed unsafe class VsaMatrix : NativeObject
    {
        private static readonly Action<IntPtr> destroy =
            p => N.rai.rai_vsa_matrix_destroy(new N.SWIGTYPE_p_rai_vsa_matrix(p, false));

        private readonly Context context;
        private readonly IntPtr ctx; // borrowed (RaiHandle.Borrow): valid until this object is released

        /// <summary><paramref name="rows"/> all-zero vectors of <paramref name="dim"/> trits on
        /// <paramref name="context"/>'s device.</summary>
        public VsaMatrix(Context context, long rows, long dim) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            if (rows < 0) throw new RaiException(Status.InvalidArgument, "rows must be >= 0, got " + rows);
            if (dim < 0) throw new RaiException(Status.InvalidArgument, "dim must be >= 0, got " + dim);
            this.context = context;
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_vsa_matrix_create(P.Ctx(c), (ulong)rows, (ulong)dim,
                                                          new N.SWIGTYPE_p_p_rai_vsa_matrix((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            ctx = Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        /// <summary>A matrix holding <paramref name="trits"/> [rows, dim] (host int8, each -1/0/+1).</summary>
        public static VsaMatrix FromArray(Context context, sbyte[,] trits)
        {
            if (trits == null) throw new ArgumentNullException("trits");
            var m = new VsaMatrix(context, trits.GetLength(0), trits.GetLength(1));
            try
            {
                m.Write(0, trits);
                return m;
            }
            catch
            {
                m.Dispose();
                throw;
            }
        }

        public Context Context { get { return context; } }

        internal static N.SWIGTYPE_p_rai_vsa_matrix M(HandleLease l) { return new N.SWIGTYPE_p_rai_vsa_matrix(l.Pointer, false); }

        private void Shape(out long rows, out long dim)
        {
            using (var l = Lease())
            {
                ulong r, d;
                Library.Check(N.rai.rai_vsa_matrix_shape(M(l), P.Size(&r), P.Size(&d)));
                rows = (long)r;
                dim = (long)d;
            }
        }

        public long Rows { get { long r, d; Shape(out r, out d); return r; } }
        public long Dim { get { long r, d; Shape(out r, out d); return d; } }

        public void SetRow(long row, TritVector v)
        {
            if (v == null) throw new ArgumentNullException("v");
            using (var l = Lease())
            using (var lv = v.Lease())
                Library.Check(N.rai.rai_vsa_matrix_set_row(P.Ctx(ctx), M(l), Ternary.Index(row), TritVector.V(lv)));
        }

        public TritVector GetRow(long row)
        {
            return Vsa.Produce(Dim, o =>
            {
                using (var l = Lease())
                    return N.rai.rai_vsa_matrix_get_row(P.Ctx(ctx), M(l), Ternary.Index(row), o);
            });
        }

        /// <summary>Rows [rowOffset, rowOffset + n) from host int8 [n, dim]; strict (one invalid trit
        /// and nothing is written).</summary>
        public void Write(long rowOffset, sbyte[,] trits)
        {
            if (trits == null) throw new ArgumentNullException("trits");
            Write(rowOffset, new Tensor(trits));
        }

        /// <summary>The same from any int8 tensor [n, dim] on the context's device (e.g. a Buffer).</summary>
        public void Write(long rowOffset, Tensor trits)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_vsa_matrix_write_int8(P.Ctx(ctx), M(l), Ternary.Index(rowOffset), t[trits]));
        }

        /// <summary>Rows [rowOffset, rowOffset + count) as host int8 [count, dim].</summary>
        public sbyte[,] Read(long rowOffset, long count)
        {
            var result = new sbyte[count, Dim];
            Read(rowOffset, new Tensor(result));
            return result;
        }

        /// <summary>All rows as host int8 [rows, dim].</summary>
        public sbyte[,] ToArray() { return Read(0, Rows); }

        public void Read(long rowOffset, Tensor destination)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_vsa_matrix_read_int8(P.Ctx(ctx), M(l), Ternary.Index(rowOffset), t[destination]));
        }

        /// <summary>Row r becomes Vsa.Random(Dim, options with seed + r).</summary>
        public void Randomize(RandomOptions options = null)
        {
            using (var p = (options ?? new RandomOptions()).Native())
            using (var l = Lease())
                Library.Check(N.rai.rai_vsa_matrix_random(P.Ctx(ctx), M(l), p));
        }

        /// <summary>Row-wise bind with <paramref name="b"/> (its rows, or one row for every row).</summary>
        public VsaMatrix Bind(VsaMatrix b, BindMode mode = BindMode.Mod3) { return RowWise(b, mode, true); }

        /// <summary>Row-wise unbind: what is bound to <paramref name="b"/> in each row.</summary>
        public VsaMatrix Unbind(VsaMatrix b, BindMode mode = BindMode.Mod3) { return RowWise(b, mode, false); }

        private VsaMatrix RowWise(VsaMatrix b, BindMode mode, bool bind)
        {
            if (b == null) throw new ArgumentNullException("b");
            return Produce(Rows, (c, o) =>
            {
                using (var la = Lease())
                using (var lb = b.Lease())
                    return bind ? N.rai.rai_vsa_matrix_bind(c, M(la), M(lb), (int)mode, o)
                                : N.rai.rai_vsa_matrix_unbind(c, M(la), M(lb), (int)mode, o);
            });
        }

        /// <summary>Every row rolled by <paramref name="shift"/>.</summary>
        public VsaMatrix Permute(long shift)
        {
            return Produce(Rows, (c, o) =>
            {
                using (var l = Lease())
                    return N.rai.rai_vsa_matrix_permute(c, M(l), shift, o);
            });
        }

        /// <summary>The bundle of all rows (weights: null or one per row) as a vector.</summary>
        public TritVector Bundle(int[] weights = null, TieBreak tieBreak = TieBreak.Zero, ulong seed = 0)
        {
            if (weights != null && weights.Length != Rows)
                throw new RaiException(Status.ShapeMismatch, "weights has " + weights.Length + " values for " + Rows + " rows");
            using (var p = new N.rai_bundle_params())
            {
                p.tie_break = (int)tieBreak;
                p.seed = seed;
                using (var one = Produce(1, (c, o) =>
                {
                    using (var l = Lease())
                    using (var pins = new Pins())
                        return N.rai.rai_vsa_matrix_bundle(c, M(l), P.I32(pins.Ptr(weights)), p, o);
                }))
                    return one.GetRow(0);
            }
        }

        /// <summary>out[i, j] = metric(queries row i, items row j) as f32 [queries, items].</summary>
        public static float[,] Similarity(VsaMatrix queries, VsaMatrix items, VsaMetric metric)
        {
            if (queries == null) throw new ArgumentNullException("queries");
            if (items == null) throw new ArgumentNullException("items");
            var result = new float[queries.Rows, items.Rows];
            Similarity(queries, items, metric, new Tensor(result));
            return result;
        }

        /// <summary>The same into a tensor [q, m]: f32, or i32 for Dot, HammingDistance, EqualCount.</summary>
        public static void Similarity(VsaMatrix queries, VsaMatrix items, VsaMetric metric, Tensor destination)
        {
            if (queries == null) throw new ArgumentNullException("queries");
            if (items == null) throw new ArgumentNullException("items");
            using (var lq = queries.Lease())
            using (var li = items.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_vsa_similarity_matrix(P.Ctx(queries.ctx), M(lq), M(li), (int)metric, t[destination]));
        }

        /// <summary>The k best items per query, best first (largest value; smallest for
        /// HammingDistance; ties by increasing item index): indices [q, k] and their scores.</summary>
        public static long[,] TopK(VsaMatrix queries, VsaMatrix items, int k, VsaMetric metric, out float[,] scores)
        {
            if (queries == null) throw new ArgumentNullException("queries");
            if (items == null) throw new ArgumentNullException("items");
            if (k < 1) throw new RaiException(Status.InvalidArgument, "k must be >= 1, got " + k);
            var index = new long[queries.Rows, k];
            var score = new float[queries.Rows, k];
            using (var lq = queries.Lease())
            using (var li = items.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_vsa_topk(P.Ctx(queries.ctx), M(lq), M(li), (ulong)k, (int)metric, t[new Tensor(index)], t[new Tensor(score)]));
            scores = score;
            return index;
        }

        private VsaMatrix Produce(long rows, Func<N.SWIGTYPE_p_rai_context, N.SWIGTYPE_p_rai_vsa_matrix, N.rai_status> call)
        {
            var o = new VsaMatrix(context, rows, Dim);
            try
            {
                using (var l = o.Lease())
                    Library.Check(call(P.Ctx(o.ctx), M(l)));
                return o;
            }
            catch
            {
                o.Dispose();
                throw;
            }
        }
    }
}
