// BitNet.cs: BitNet b1.58 ternary quantization (rai.h "quantization: BitNet b1.58 ternary",
// docs/bitnet.md): absmean weight / absmax activation quantization, the packed layouts others
// read (BYTE2, I2_S, TQ1_0, TQ2_0, ...), TernaryWeight (prepared for a device's kernels, ternary
// GEMM) and BitLinear layers. Weights are [out, in] row-major.
using System;
using N = Rai.Native;

namespace Rai
{
    public enum BitNetGranularity { Group = 0, Row = 1, Tensor = 2 }
    public enum BitNetEpsMode { Rust = 0, Clamp = 1 }
    public enum BitNetRoundMode { HalfAway = 0, HalfEven = 1 }
    public enum BitNetActScaleMode { Rust = 0, Official = 1 }

    /// <summary>rai_ternary_layout.</summary>
    public enum TernaryLayout { Planes = 1, Byte2 = 2, U32x16 = 3, I2S = 4, TQ1_0 = 5, TQ2_0 = 6 }

    /// <summary>rai_bitlinear_mode.</summary>
    public enum BitLinearMode { FullPrecision = 0, FakeQuant = 1, W2A8 = 2 }

    /// <summary>rai_bitnet_weight_params (absmean ternarization); zero fields mean librai's defaults.</summary>
    public sealed class BitNetWeightOptions
    {
        public BitNetGranularity Granularity = BitNetGranularity.Group;
        /// <summary>Columns per group (Group); 0 = 64.</summary>
        public long GroupSize;
        public BitNetEpsMode EpsMode = BitNetEpsMode.Rust;
        public BitNetRoundMode RoundMode = BitNetRoundMode.HalfAway;
        /// <summary>Clamp floor; 0 = 1e-5.</summary>
        public float Eps;

        internal N.rai_bitnet_weight_params Native()
        {
            var p = new N.rai_bitnet_weight_params();
            p.granularity = (int)Granularity;
            p.group_size = (ulong)GroupSize;
            p.eps_mode = (int)EpsMode;
            p.round_mode = (int)RoundMode;
            p.eps = Eps;
            return p;
        }

        /// <summary>Scales a [rows, cols] weight gets: 1, rows, or rows * cols / group size.</summary>
        internal long ScaleCount(long rows, long cols)
        {
            switch (Granularity)
            {
                case BitNetGranularity.Tensor: return 1;
                case BitNetGranularity.Row: return rows;
                default:
                    long g = GroupSize == 0 ? 64 : GroupSize;
                    return rows * (cols / g);
            }
        }

        internal long[] ScaleShape(long rows, long cols)
        {
            switch (Granularity)
            {
                case BitNetGranularity.Tensor: return new long[] { 1 };
                case BitNetGranularity.Row: return new long[] { rows };
                default: return new long[] { rows, cols / (GroupSize == 0 ? 64 : GroupSize) };
            }
        }
    }

    /// <summary>rai_bitnet_act_params (absmax activation quantization, per token by default).</summary>
    public sealed class BitNetActOptions
    {
        /// <summary>2..8; 0 = 8.</summary>
        public int Bits = 8;
        public BitNetActScaleMode ScaleMode = BitNetActScaleMode.Rust;
        public BitNetRoundMode RoundMode = BitNetRoundMode.HalfAway;
        public bool PerTensor;
        /// <summary>Official-mode floor on absmax; 0 = 1e-5.</summary>
        public float Eps;

        internal static N.rai_bitnet_act_params Native(BitNetActOptions o)
        {
            var p = new N.rai_bitnet_act_params();
            if (o == null) return p;
            p.bits = o.Bits;
            p.scale_mode = (int)o.ScaleMode;
            p.round_mode = (int)o.RoundMode;
            p.per_tensor = o.PerTensor ? 1 : 0;
            p.eps = o.Eps;
            return p;
        }
    }

    /// <summary>BitNet quantization functions and the packed ternary layouts.</summary>
    public static unsafe class BitNet
    {
        /// <summary>w f32/bf16/f16 [out, in] -> trits i8 [out, in] and f32 scales of the granularity's
        /// shape. CPU contexts only.</summary>
        public static void QuantizeWeights(Context context, Tensor w, Tensor trits, Tensor scales, BitNetWeightOptions options = null)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = (options ?? new BitNetWeightOptions()).Native())
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_quantize_weights(P.Ctx(c), p, t[w], t[trits], t[scales]));
        }

        /// <summary>f32 convenience: returns trits [rows * cols] and the scales (1, rows, or
        /// rows * cols / group size values).</summary>
        public static sbyte[] QuantizeWeights(Context context, float[] w, long rows, long cols, out float[] scales,
                                              BitNetWeightOptions options = null)
        {
            BitNetWeightOptions o = options ?? new BitNetWeightOptions();
            var trits = new sbyte[rows * cols];
            var s = new float[o.ScaleCount(rows, cols)];
            QuantizeWeights(context, new Tensor(w, rows, cols), new Tensor(trits, rows, cols), new Tensor(s, o.ScaleShape(rows, cols)), o);
            scales = s;
            return trits;
        }

        /// <summary>w[o, i] = trits[o, i] * scale(o, i), f32. CPU contexts only.</summary>
        public static void DequantizeWeights(Context context, Tensor trits, Tensor scales, Tensor w)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_dequantize_weights(P.Ctx(c), t[trits], t[scales], t[w]));
        }

        /// <summary>x f32/bf16 [..., hidden] -> q i8 of x's shape and one f32 scale per token (or [1]).</summary>
        public static void QuantizeActivations(Context context, Tensor x, Tensor q, Tensor scales, BitNetActOptions options = null)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = BitNetActOptions.Native(options))
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_quantize_activations(P.Ctx(c), p, t[x], t[q], t[scales]));
        }

        /// <summary>x = q * scale (Rust mode) or q / s (Official), f32 of q's shape.</summary>
        public static void DequantizeActivations(Context context, Tensor q, Tensor scales, Tensor x, BitNetActOptions options = null)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = BitNetActOptions.Native(options))
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_dequantize_activations(P.Ctx(c), p, t[q], t[scales], t[x]));
        }

        /// <summary>SubLN (x / rms(x) * gamma, gamma null = ones) then activation quantization.</summary>
        public static void RmsNormQuantize(Context context, Tensor x, Tensor gamma, float normEps, Tensor q, Tensor scales,
                                           BitNetActOptions options = null)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = BitNetActOptions.Native(options))
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_rmsnorm_quantize(P.Ctx(c), p, t[x], t[gamma], normEps, t[q], t[scales]));
        }

        /// <summary>Straight-through estimator forward: y = clamp(round(x / scale), lo, hi) * scale.</summary>
        public static void SteForward(Context context, Tensor x, float scale, float lo, float hi, BitNetRoundMode round, Tensor y)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_ste_forward(P.Ctx(c), t[x], scale, lo, hi, (int)round, t[y]));
        }

        /// <summary>Straight-through estimator backward: gradX = gradY.</summary>
        public static void SteBackward(Context context, Tensor gradY, Tensor gradX)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitnet_ste_backward(P.Ctx(c), t[gradY], t[gradX]));
        }

        /// <summary>Bytes a [rows, cols] trit matrix takes in <paramref name="layout"/>; a shape the
        /// layout cannot hold is RaiException(ShapeMismatch) naming the block size.</summary>
        public static long PackedSize(TernaryLayout layout, long rows, long cols)
        {
            if (rows < 0 || cols < 0) throw new RaiException(Status.InvalidArgument, "rows and cols must be >= 0");
            ulong b;
            Library.Check(N.rai.rai_ternary_packed_size((int)layout, (ulong)rows, (ulong)cols, P.Size(&b)));
            return (long)b;
        }

        /// <summary>trits i8 [rows, cols] -> packed bytes. scales: null for Planes, Byte2, U32x16;
        /// one scale for I2S; per row / per 256-block constant scales for TQ1_0 / TQ2_0.</summary>
        public static void Pack(TernaryLayout layout, Tensor trits, Tensor scales, Tensor packed)
        {
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_ternary_pack((int)layout, t[trits], t[scales], t[packed]));
        }

        public static byte[] Pack(TernaryLayout layout, sbyte[] trits, long rows, long cols, Tensor scales = null)
        {
            var packed = new byte[PackedSize(layout, rows, cols)];
            Pack(layout, new Tensor(trits, rows, cols), scales, new Tensor(packed));
            return packed;
        }

        /// <summary>packed (exactly PackedSize bytes) -> trits [rows, cols]; scales (null to skip) f32
        /// [1] for I2S, [rows, cols / 256] for TQ1_0 / TQ2_0. Invalid codes: RaiException(Format).</summary>
        public static void Unpack(TernaryLayout layout, Tensor packed, Tensor trits, Tensor scales)
        {
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_ternary_unpack((int)layout, t[packed], t[trits], t[scales]));
        }

        public static sbyte[] Unpack(TernaryLayout layout, byte[] packed, long rows, long cols)
        {
            var trits = new sbyte[rows * cols];
            Unpack(layout, new Tensor(packed), new Tensor(trits, rows, cols), null);
            return trits;
        }

        /// <summary>llama.cpp's reference TQ1_0 / TQ2_0 quantizer: x f32 [rows, cols], cols % 256 == 0.</summary>
        public static byte[] QuantizeTq(TernaryLayout layout, float[] x, long rows, long cols)
        {
            var packed = new byte[PackedSize(layout, rows, cols)];
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_ternary_quantize_tq((int)layout, t[new Tensor(x, rows, cols)], t[new Tensor(packed)]));
            return packed;
        }
    }

    /// <summary>rai_ternary_weight_info.</summary>
    public sealed class TernaryWeightInfo
    {
        public BitNetGranularity Granularity;
        public long OutFeatures;
        public long InFeatures;
        public long GroupSize;
        public long ScaleCount;
        public long PackedBytes;
        public long Nonzero;
        public double Sparsity;
        public double CompressionRatio;
        public Device Device;

        internal static TernaryWeightInfo Of(N.SWIGTYPE_p_rai_ternary_weight w)
        {
            using (var i = new N.rai_ternary_weight_info())
            {
                Library.Check(N.rai.rai_ternary_weight_get_info(w, i));
                N.rai_device d = i.device;
                return new TernaryWeightInfo
                {
                    Granularity = (BitNetGranularity)i.granularity,
                    OutFeatures = (long)i.out_features,
                    InFeatures = (long)i.in_features,
                    GroupSize = (long)i.group_size,
                    ScaleCount = (long)i.scale_count,
                    PackedBytes = (long)i.packed_bytes,
                    Nonzero = (long)i.nonzero,
                    Sparsity = i.sparsity,
                    CompressionRatio = i.compression_ratio,
                    Device = new Device((DeviceType)d.device_type, d.device_id),
                };
            }
        }
    }

    /// <summary>A ternary weight prepared for the fast kernels of a context's device.</summary>
    public sealed unsafe class TernaryWeight : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_ternary_weight_destroy(new N.SWIGTYPE_p_rai_ternary_weight(p, false));

        private readonly Context context;
        private IntPtr ctx; // borrowed (RaiHandle.Borrow): valid until this object is released

        /// <summary>From host trits i8 [out, in] and scales (copied).</summary>
        public TernaryWeight(Context context, Tensor trits, Tensor scales) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            this.context = context;
            using (var c = context.Lease())
            using (var t = new TensorPins())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_ternary_weight_create(P.Ctx(c), t[trits], t[scales],
                                                              new N.SWIGTYPE_p_p_rai_ternary_weight((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            ctx = Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        public Context Context { get { return context; } }

        private static N.SWIGTYPE_p_rai_ternary_weight T(HandleLease l) { return new N.SWIGTYPE_p_rai_ternary_weight(l.Pointer, false); }

        public TernaryWeightInfo Info { get { using (var l = Lease()) return TernaryWeightInfo.Of(T(l)); } }

        /// <summary>Back to host trits [out, in] and scales (either may be null).</summary>
        public void Unpack(Tensor trits, Tensor scales)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_ternary_weight_unpack(P.Ctx(ctx), T(l), t[trits], t[scales]));
        }

        /// <summary>y[..., out] = x[..., in] W^T (+ bias): x f32/bf16 with y f32; x i8 with xScales and
        /// y f32 (W2A8); x i8 without scales and y i32 (exact integer dot).</summary>
        public void Gemm(Tensor x, Tensor xScales, Tensor bias, Tensor y, BitNetActOptions act = null)
        {
            using (var p = BitNetActOptions.Native(act))
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_ternary_gemm(P.Ctx(ctx), T(l), t[x], t[xScales], p, t[bias], t[y]));
        }

        /// <summary>f32 convenience: x [rows, in] -> y [rows, out].</summary>
        public float[] Forward(float[] x, long rows, float[] bias = null)
        {
            TernaryWeightInfo i = Info;
            var y = new float[rows * i.OutFeatures];
            Gemm(new Tensor(x, rows, i.InFeatures), null, bias == null ? null : new Tensor(bias), new Tensor(y, rows, i.OutFeatures));
            return y;
        }
    }

    /// <summary>A BitLinear layer: a ternary weight, an optional bias and activation settings.</summary>
    public sealed unsafe class BitLinear : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_bitlinear_destroy(new N.SWIGTYPE_p_rai_bitlinear(p, false));

        private readonly Context context;
        private IntPtr ctx; // borrowed (RaiHandle.Borrow): valid until this object is released

        private BitLinear(Context context) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            this.context = context;
        }

        private void Create(Func<N.SWIGTYPE_p_rai_context, N.SWIGTYPE_p_p_rai_bitlinear, N.rai_status> create)
        {
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(create(P.Ctx(c), new N.SWIGTYPE_p_p_rai_bitlinear((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            ctx = Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        /// <summary>Quantizes a host weight f32/bf16/f16 [out, in]; bias host f32 [out] or null.</summary>
        public BitLinear(Context context, Tensor weight, Tensor bias, BitNetWeightOptions weightOptions = null,
                         BitNetActOptions actOptions = null)
            : this(context)
        {
            using (var wp = (weightOptions ?? new BitNetWeightOptions()).Native())
            using (var ap = BitNetActOptions.Native(actOptions))
            using (var t = new TensorPins())
            {
                N.rai_tensor w = t[weight], b = t[bias];
                Create((c, cell) => N.rai.rai_bitlinear_create(c, wp, ap, w, b, cell));
            }
        }

        /// <summary>From already ternary host trits i8 [out, in] and scales.</summary>
        public static BitLinear FromTrits(Context context, Tensor trits, Tensor scales, Tensor bias, BitNetActOptions actOptions = null)
        {
            var layer = new BitLinear(context);
            using (var ap = BitNetActOptions.Native(actOptions))
            using (var t = new TensorPins())
            {
                N.rai_tensor tr = t[trits], s = t[scales], b = t[bias];
                layer.Create((c, cell) => N.rai.rai_bitlinear_create_from_trits(c, ap, tr, s, b, cell));
            }
            return layer;
        }

        private static N.SWIGTYPE_p_rai_bitlinear B(HandleLease l) { return new N.SWIGTYPE_p_rai_bitlinear(l.Pointer, false); }

        /// <summary>The layer's weight.</summary>
        public TernaryWeightInfo WeightInfo
        {
            get
            {
                using (var l = Lease())
                {
                    IntPtr w = IntPtr.Zero;
                    Library.Check(N.rai.rai_bitlinear_weight(B(l), new N.SWIGTYPE_p_p_rai_ternary_weight((IntPtr)(&w), false)));
                    return TernaryWeightInfo.Of(new N.SWIGTYPE_p_rai_ternary_weight(w, false));
                }
            }
        }

        /// <summary>x f32/bf16 [..., in] -> y f32 [..., out].</summary>
        public void Forward(BitLinearMode mode, Tensor x, Tensor y)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_bitlinear_forward(P.Ctx(ctx), B(l), (int)mode, t[x], t[y]));
        }

        /// <summary>f32 convenience: x [rows, in] -> y [rows, out].</summary>
        public float[] Forward(BitLinearMode mode, float[] x, long rows)
        {
            TernaryWeightInfo i = WeightInfo;
            var y = new float[rows * i.OutFeatures];
            Forward(mode, new Tensor(x, rows, i.InFeatures), new Tensor(y, rows, i.OutFeatures));
            return y;
        }
    }
}
