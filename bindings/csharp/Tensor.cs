// Tensor.cs: DType and Tensor, the C# side of rai_dtype / rai_tensor. A Tensor is a managed array
// (or a Rai.Buffer) plus a dtype and a shape; TensorPin makes the rai_tensor descriptor of it for
// the duration of one call, with the array pinned (no copy). Every capability passes tensors
// through TensorPin, nowhere else.
using System;
using System.Runtime.InteropServices;
using N = Rai.Native;

namespace Rai
{
    /// <summary>rai_dtype (DLPack's DLDataType with lanes 1).</summary>
    public struct DType : IEquatable<DType>
    {
        public readonly byte Code;
        public readonly byte Bits;

        public DType(byte code, byte bits) { Code = code; Bits = bits; }

        public static readonly DType F32 = new DType(2, 32);
        public static readonly DType F16 = new DType(2, 16);
        public static readonly DType BF16 = new DType(4, 16);
        public static readonly DType F64 = new DType(2, 64);
        public static readonly DType I8 = new DType(0, 8);
        public static readonly DType I32 = new DType(0, 32);
        public static readonly DType I64 = new DType(0, 64);
        public static readonly DType U8 = new DType(1, 8);
        public static readonly DType U32 = new DType(1, 32);
        public static readonly DType U64 = new DType(1, 64);

        /// <summary>Bytes per element.</summary>
        public int Size { get { return Bits / 8; } }

        /// <summary>librai's short name ("f32", "bf16", ...), or "dtype(code,bits)" when it has none.</summary>
        public override string ToString()
        {
            using (var d = Native())
            {
                string name = N.rai.rai_dtype_name(d);
                return name ?? "dtype(" + Code + "," + Bits + ")";
            }
        }

        internal N.rai_dtype Native()
        {
            var d = new N.rai_dtype();
            d.code = Code;
            d.bits = Bits;
            d.lanes = 1;
            return d;
        }

        /// <summary>The dtype a C# array element type stands for (ushort: pass F16 or BF16 explicitly).</summary>
        public static DType Of(Type element)
        {
            if (element == typeof(float)) return F32;
            if (element == typeof(double)) return F64;
            if (element == typeof(sbyte)) return I8;
            if (element == typeof(byte)) return U8;
            if (element == typeof(int)) return I32;
            if (element == typeof(long)) return I64;
            if (element == typeof(uint)) return U32;
            if (element == typeof(ulong)) return U64;
            throw new RaiException(Status.DTypeMismatch,
                "no rai dtype for C# element type " + element.Name + " (ushort holds f16/bf16: pass the DType)");
        }

        public bool Equals(DType o) { return Code == o.Code && Bits == o.Bits; }
        public override bool Equals(object obj) { return obj is DType && Equals((DType)obj); }
        public override int GetHashCode() { return Code * 256 + Bits; }
        public static bool operator ==(DType a, DType b) { return a.Equals(b); }
        public static bool operator !=(DType a, DType b) { return !a.Equals(b); }
    }

    /// <summary>A host array (any primitive element type, any rank) or a Rai.Buffer viewed as an
    /// n-dimensional, contiguous, row-major tensor. The array is used in place: outputs are
    /// written into it.</summary>
    public sealed class Tensor
    {
        public Array Data { get; private set; }
        public Buffer Buffer { get; private set; }
        public DType DType { get; private set; }
        public long[] Shape { get; private set; }

        /// <summary>Views <paramref name="data"/> with the dtype of its element type and
        /// <paramref name="shape"/> (none: the array's own dimensions).</summary>
        public Tensor(Array data, params long[] shape)
            : this(data, data == null ? DType.F32 : DType.Of(data.GetType().GetElementType()), shape)
        {
        }

        /// <summary>Views <paramref name="data"/> as <paramref name="dtype"/> (e.g. ushort[] as BF16,
        /// byte[] as any dtype); the array must hold exactly the shape's bytes.</summary>
        public Tensor(Array data, DType dtype, params long[] shape)
        {
            if (data == null) throw new ArgumentNullException("data");
            Type element = data.GetType().GetElementType();
            if (!element.IsPrimitive)
                throw new RaiException(Status.DTypeMismatch, "tensor data must be an array of a primitive type, got " + element.Name + "[]");
            Data = data;
            DType = dtype;
            Shape = ShapeOf(data, shape);
            long bytes = System.Buffer.ByteLength(data);
            long needed = Numel * dtype.Size;
            if (bytes != needed)
                throw new RaiException(Status.ShapeMismatch,
                    "tensor data holds " + bytes + " bytes but shape " + ShapeText(Shape) + " of " + dtype + " needs " + needed);
        }

        /// <summary>Views <paramref name="buffer"/> (host or device memory) as a tensor.</summary>
        public Tensor(Buffer buffer, DType dtype, params long[] shape)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            if (shape == null || shape.Length == 0) throw new ArgumentException("a buffer tensor needs a shape", "shape");
            Buffer = buffer;
            DType = dtype;
            Shape = (long[])shape.Clone();
            CheckShape(Shape);
            if (Numel * dtype.Size > buffer.Size)
                throw new RaiException(Status.ShapeMismatch,
                    "buffer has " + buffer.Size + " bytes but shape " + ShapeText(Shape) + " of " + dtype + " needs " + Numel * dtype.Size);
        }

        public long Numel
        {
            get
            {
                long n = 1;
                foreach (long d in Shape) n *= d;
                return n;
            }
        }

        public int Rank { get { return Shape.Length; } }

        private static long[] ShapeOf(Array data, long[] shape)
        {
            long[] s;
            if (shape != null && shape.Length > 0) s = (long[])shape.Clone();
            else
            {
                s = new long[data.Rank];
                for (int i = 0; i < data.Rank; i++) s[i] = data.GetLongLength(i);
            }
            CheckShape(s);
            return s;
        }

        private static void CheckShape(long[] s)
        {
            if (s.Length > 32) throw new RaiException(Status.InvalidArgument, "shape has " + s.Length + " dimensions (at most 32)");
            for (int i = 0; i < s.Length; i++)
                if (s[i] < 0) throw new RaiException(Status.InvalidArgument, "shape[" + i + "] is negative: " + s[i]);
        }

        internal static string ShapeText(long[] s) { return "[" + string.Join(", ", s) + "]"; }
    }

    /// <summary>The rai_tensor descriptor of one Tensor for one call: the array pinned, the
    /// descriptor and its shape in unmanaged memory; both released on Dispose. A null tensor gives
    /// a NULL descriptor.</summary>
    internal sealed unsafe class TensorPin : IDisposable
    {
        // rai_tensor, field for field (rai.h): data, device, ndim, dtype, shape, strides, byte_offset.
        [StructLayout(LayoutKind.Sequential)]
        private struct RawTensor
        {
            public IntPtr Data;
            public int DeviceType;
            public int DeviceId;
            public int Ndim;
            public byte Code;
            public byte Bits;
            public ushort Lanes;
            public IntPtr Shape;
            public IntPtr Strides;
            public ulong ByteOffset;
        }

        private GCHandle pin;
        private HandleLease bufferLease;
        private bool leased;
        private IntPtr memory;
        public readonly N.rai_tensor Native;

        public TensorPin(Tensor t)
        {
            if (t == null) return;
            int ndim = t.Shape.Length;
            memory = Marshal.AllocHGlobal(sizeof(RawTensor) + 8 * Math.Max(ndim, 1));
            var raw = (RawTensor*)memory;
            long* shape = (long*)(memory + sizeof(RawTensor));
            for (int i = 0; i < ndim; i++) shape[i] = t.Shape[i];
            if (t.Buffer != null)
            {
                Device d = t.Buffer.Device;
                bufferLease = t.Buffer.Lease();
                leased = true;
                raw->Data = bufferLease.Pointer == IntPtr.Zero ? IntPtr.Zero : N.SWIGTYPE_p_void.getCPtr(
                    N.rai.rai_buffer_data(new N.SWIGTYPE_p_rai_buffer(bufferLease.Pointer, false))).Handle;
                raw->DeviceType = (int)d.Type;
                raw->DeviceId = d.Id;
            }
            else
            {
                pin = GCHandle.Alloc(t.Data, GCHandleType.Pinned);
                raw->Data = pin.AddrOfPinnedObject();
                raw->DeviceType = (int)DeviceType.Cpu;
                raw->DeviceId = 0;
            }
            raw->Ndim = ndim;
            raw->Code = t.DType.Code;
            raw->Bits = t.DType.Bits;
            raw->Lanes = 1;
            raw->Shape = (IntPtr)shape;
            raw->Strides = IntPtr.Zero;
            raw->ByteOffset = 0;
            Native = new N.rai_tensor(memory, false);
        }

        public void Dispose()
        {
            if (pin.IsAllocated) pin.Free();
            if (leased) { bufferLease.Dispose(); leased = false; }
            if (memory != IntPtr.Zero) { Marshal.FreeHGlobal(memory); memory = IntPtr.Zero; }
        }
    }

    /// <summary>Several TensorPins released together (one `using` per call).</summary>
    internal sealed class TensorPins : IDisposable
    {
        private readonly System.Collections.Generic.List<TensorPin> pins = new System.Collections.Generic.List<TensorPin>();

        public N.rai_tensor this[Tensor t]
        {
            get
            {
                var p = new TensorPin(t);
                pins.Add(p);
                return p.Native;
            }
        }

        /// <summary>A pinned array of rai_tensor* for `const rai_tensor *const *` arguments.</summary>
        public IntPtr Array(Tensor[] tensors, Pins holder)
        {
            var ptrs = new IntPtr[tensors.Length];
            for (int i = 0; i < tensors.Length; i++)
                ptrs[i] = N.rai_tensor.getCPtr(this[tensors[i]]).Handle;
            return holder.Pin(ptrs);
        }

        public void Dispose()
        {
            foreach (TensorPin p in pins) p.Dispose();
            pins.Clear();
        }
    }
}
