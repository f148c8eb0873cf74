// Quant4.cs: bitsandbytes-compatible NF4/FP4 4-bit weights (rai.h "quantization: NF4 / FP4
// 4-bit", docs/quant.md): QuantState (rai_q4_state) with quantize/dequantize, its arrays, the
// 4-bit linear forward/backward and bitsandbytes checkpoint keys. Codes are caller tensors
// ((n + 1) / 2 bytes, first element of a pair in the high nibble).
using System;
using N = Rai.Native;

namespace Rai
{
    /// <summary>rai_q4_type.</summary>
    public enum Q4Type { Fp4 = 1, Nf4 = 2 }

    /// <summary>rai_q4_field: the arrays of a state, named as in bitsandbytes checkpoints.</summary>
    public enum Q4Field { Absmax = 1, QuantMap = 2, NestedAbsmax = 3, NestedQuantMap = 4, AbsmaxDecoded = 5 }

    /// <summary>rai_q4_params: NF4, block size 64, no double quantisation by default.</summary>
    public sealed class Q4Options
    {
        public Q4Type Type = Q4Type.Nf4;
        /// <summary>32, 64, 128, ..., 4096.</summary>
        public int BlockSize = 64;
        /// <summary>absmax stored as 8 bits (bitsandbytes' compress_statistics).</summary>
        public bool DoubleQuant;
    }

    /// <summary>rai_q4_state_info.</summary>
    public sealed class Q4StateInfo
    {
        public Q4Type Type;
        public int BlockSize;
        public bool DoubleQuant;
        public int NestedBlockSize;
        public long[] Shape;
        public DType DType;
        public float Offset;
        public long Numel;
        public long Blocks;
        public long NestedBlocks;
        public long CodesBytes;
        public long StateBytes;
        public Device Device;
    }

    /// <summary>4-bit helpers that need no state.</summary>
    public static unsafe class Quant4
    {
        /// <summary>The 16 dequantisation values of a codebook in code order.</summary>
        public static float[] Codebook(Q4Type type)
        {
            var v = new float[16];
            fixed (float* p = v)
                Library.Check(N.rai.rai_q4_codebook((int)type, P.F32(p)));
            return v;
        }

        /// <summary>Bytes of packed codes for n elements: (n + 1) / 2.</summary>
        public static long CodesSize(long n)
        {
            ulong b;
            Library.Check(N.rai.rai_q4_codes_size(n, P.U64(&b)));
            return (long)b;
        }
    }

    /// <summary>The statistics (absmax, maps) of one 4-bit weight, on one device (rai_q4_state).
    /// Keeps its context alive; operations run on it.</summary>
    public sealed unsafe class QuantState : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_q4_state_destroy(new N.SWIGTYPE_p_rai_q4_state(p, false));

        private readonly Context context;
        private IntPtr ctx; // borrowed (RaiHandle.Borrow): valid until this object is released

        private QuantState(Context context) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            this.context = context;
        }

        public Context Context { get { return context; } }

        internal static N.SWIGTYPE_p_rai_q4_state S(HandleLease l) { return new N.SWIGTYPE_p_rai_q4_state(l.Pointer, false); }

        /// <summary>Creates a state with <paramref name="create"/> (given the context and the out cell)
        /// and ties it to the context.</summary>
        internal static QuantState Make(Context context, Func<N.SWIGTYPE_p_rai_context, N.SWIGTYPE_p_p_rai_q4_state, N.rai_status> create)
        {
            var s = new QuantState(context);
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(create(P.Ctx(c), new N.SWIGTYPE_p_p_rai_q4_state((IntPtr)(&raw), false)));
                s.Handle.Adopt(raw);
            }
            s.ctx = s.Handle.Borrow(context.SafeHandle, "Rai.Context");
            return s;
        }

        /// <summary>Quantises <paramref name="source"/> (f32, f16 or bf16, any shape) into
        /// <paramref name="codes"/> (exactly (n + 1) / 2 bytes) and returns the new state.</summary>
        public static QuantState Quantize(Context context, Tensor source, Tensor codes, Q4Options options = null)
        {
            Q4Options o = options ?? new Q4Options();
            using (var p = new N.rai_q4_params())
            using (var t = new TensorPins())
            {
                p.type = (int)o.Type;
                p.blocksize = o.BlockSize;
                p.double_quant = o.DoubleQuant ? 1 : 0;
                N.rai_tensor src = t[source], dst = t[codes];
                return Make(context, (c, cell) => N.rai.rai_q4_quantize(c, p, src, dst, cell));
            }
        }

        /// <summary>The same with a new byte[] for the codes.</summary>
        public static QuantState Quantize(Context context, Tensor source, out byte[] codes, Q4Options options = null)
        {
            if (source == null) throw new ArgumentNullException("source");
            codes = new byte[Quant4.CodesSize(source.Numel)];
            return Quantize(context, source, new Tensor(codes), options);
        }

        /// <summary>A state from its arrays (e.g. a bitsandbytes QuantState): absmax f32 [blocks];
        /// with double quantisation absmax u8 [blocks], nestedAbsmax f32 and nestedQuantMap f32 [256]
        /// (null: the standard dynamic map).</summary>
        public static QuantState Create(Context context, Q4Type type, int blockSize, long[] shape, DType dtype,
                                        Tensor absmax, Tensor nestedAbsmax = null, Tensor nestedQuantMap = null,
                                        float offset = 0)
        {
            if (shape == null) throw new ArgumentNullException("shape");
            if (shape.Length < 1 || shape.Length > N.rai.RAI_Q4_MAX_DIMS)
                throw new RaiException(Status.InvalidArgument, "shape has " + shape.Length + " dimensions (1.." + N.rai.RAI_Q4_MAX_DIMS + ")");
            using (var p = new N.rai_q4_state_params())
            using (var d = dtype.Native())
            using (var t = new TensorPins())
            {
                p.type = (int)type;
                p.blocksize = blockSize;
                p.ndim = shape.Length;
                long* dims = (long*)N.SWIGTYPE_p_long.getCPtr(p.shape).Handle;
                for (int i = 0; i < shape.Length; i++) dims[i] = shape[i];
                p.dtype = d;
                p.offset = offset;
                N.rai_tensor a = t[absmax], na = t[nestedAbsmax], nm = t[nestedQuantMap];
                return Make(context, (c, cell) => N.rai.rai_q4_state_create(c, p, a, na, nm, cell));
            }
        }

        /// <summary>Reads module <paramref name="prefix"/> of a bitsandbytes Linear4bit checkpoint;
        /// its codes are the tensor prefix + ".weight".</summary>
        public static QuantState LoadBnb(Context context, SafetensorsFile file, string prefix)
        {
            if (file == null) throw new ArgumentNullException("file");
            if (prefix == null) throw new ArgumentNullException("prefix");
            using (var f = file.Lease())
                return Make(context, (c, cell) => N.rai.rai_q4_state_load_bnb(c, SafetensorsFile.F(f), prefix, cell));
        }

        /// <summary>Adds this state's bitsandbytes keys for module <paramref name="prefix"/> to a writer.</summary>
        public void SaveBnb(SafetensorsWriter writer, string prefix, Tensor codes)
        {
            if (writer == null) throw new ArgumentNullException("writer");
            if (prefix == null) throw new ArgumentNullException("prefix");
            using (var l = Lease())
            using (var w = writer.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_q4_state_save_bnb(P.Ctx(ctx), SafetensorsWriter.W(w), prefix, S(l), t[codes]));
        }

        /// <summary>A copy of this state on <paramref name="target"/>'s device.</summary>
        public QuantState CopyTo(Context target)
        {
            using (var l = Lease())
                return Make(target, (c, cell) => N.rai.rai_q4_state_copy(c, S(l), cell));
        }

        public Q4StateInfo Info
        {
            get
            {
                using (var l = Lease())
                using (var i = new N.rai_q4_state_info())
                {
                    Library.Check(N.rai.rai_q4_state_get_info(S(l), i));
                    var shape = new long[i.ndim];
                    long* dims = (long*)N.SWIGTYPE_p_long.getCPtr(i.shape).Handle;
                    for (int k = 0; k < shape.Length; k++) shape[k] = dims[k];
                    N.rai_dtype dt = i.dtype;
                    N.rai_device dev = i.device;
                    return new Q4StateInfo
                    {
                        Type = (Q4Type)i.type,
                        BlockSize = i.blocksize,
                        DoubleQuant = i.double_quant != 0,
                        NestedBlockSize = i.nested_blocksize,
                        Shape = shape,
                        DType = new DType(dt.code, dt.bits),
                        Offset = i.offset,
                        Numel = i.numel,
                        Blocks = i.blocks,
                        NestedBlocks = i.nested_blocks,
                        CodesBytes = (long)i.codes_bytes,
                        StateBytes = (long)i.state_bytes,
                        Device = new Device((DeviceType)dev.device_type, dev.device_id),
                    };
                }
            }
        }

        /// <summary>destination = code[q] * absmax, rounded to its dtype (f32, f16 or bf16).</summary>
        public void Dequantize(Tensor codes, Tensor destination)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_q4_dequantize(P.Ctx(ctx), S(l), t[codes], t[destination]));
        }

        /// <summary>The dequantised weight as f32 with the state's element count (host contexts).</summary>
        public float[] Dequantize(byte[] codes)
        {
            if (codes == null) throw new ArgumentNullException("codes");
            var result = new float[Info.Numel];
            Dequantize(new Tensor(codes), new Tensor(result));
            return result;
        }

        /// <summary>Copies one array of the state into <paramref name="destination"/>.</summary>
        public void Read(Q4Field field, Tensor destination)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_q4_state_read(P.Ctx(ctx), S(l), (int)field, t[destination]));
        }

        /// <summary>An f32 array of the state (QuantMap, NestedAbsmax, NestedQuantMap, AbsmaxDecoded,
        /// or Absmax without double quantisation) into a new host array.</summary>
        public float[] ReadFloats(Q4Field field)
        {
            Q4StateInfo i = Info;
            long n = field == Q4Field.QuantMap ? 16 : field == Q4Field.NestedQuantMap ? 256
                   : field == Q4Field.NestedAbsmax ? i.NestedBlocks : i.Blocks;
            var result = new float[n];
            Read(field, new Tensor(result));
            return result;
        }

        /// <summary>y[M, N] = x[M, K] W^T (+ bias[N]) with this 2-D [N, K] state; x, y, bias of one
        /// dtype (f32, f16 or bf16).</summary>
        public void LinearForward(Tensor codes, Tensor x, Tensor bias, Tensor y)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_q4_linear_forward(P.Ctx(ctx), S(l), t[codes], t[x], t[bias], t[y]));
        }

        /// <summary>f32 convenience: x [rows, K] row-major -> y [rows, N].</summary>
        public float[] LinearForward(byte[] codes, float[] x, int rows, float[] bias = null)
        {
            Q4StateInfo i = Info;
            if (i.Shape.Length != 2) throw new RaiException(Status.ShapeMismatch, "the state is not a 2-D weight");
            var y = new float[rows * i.Shape[0]];
            LinearForward(new Tensor(codes), new Tensor(x, rows, i.Shape[1]),
                          bias == null ? null : new Tensor(bias), new Tensor(y, rows, i.Shape[0]));
            return y;
        }

        /// <summary>dx[M, K] = dy[M, N] W: the input gradient through the frozen 4-bit weight.</summary>
        public void LinearBackwardInput(Tensor codes, Tensor dy, Tensor dx)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_q4_linear_backward_input(P.Ctx(ctx), S(l), t[codes], t[dy], t[dx]));
        }
    }
}
