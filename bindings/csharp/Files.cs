// Files.cs: safetensors and GGUF readers and writers (rai.h "files: safetensors, GGUF").
// Readers validate the whole header on open; views and strings they hand out are copied into
// managed memory here, so nothing dangles after Dispose. Writers save atomically.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using N = Rai.Native;

namespace Rai
{
    /// <summary>One tensor of a safetensors file.</summary>
    public sealed class SafetensorsTensorInfo
    {
        public string Name;
        /// <summary>The safetensors dtype name ("F32", "BF16", "BOOL", ...).</summary>
        public string DTypeName;
        /// <summary>The rai dtype; Bits == 0 when rai has none.</summary>
        public DType DType;
        public long[] Shape;
        public long NBytes;
        public long DataOffset;
    }

    /// <summary>A validated, immutable safetensors file (memory-mapped) or in-memory image.</summary>
    public sealed unsafe class SafetensorsFile : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_safetensors_destroy(new N.SWIGTYPE_p_rai_safetensors(p, false));

        private SafetensorsFile() : base(destroy) { }

        internal static N.SWIGTYPE_p_rai_safetensors F(HandleLease l) { return new N.SWIGTYPE_p_rai_safetensors(l.Pointer, false); }

        /// <summary>Malformed: RaiException(Format) naming the tensor and field; unreadable: IO.</summary>
        public static SafetensorsFile Open(string path)
        {
            if (path == null) throw new ArgumentNullException("path");
            var f = new SafetensorsFile();
            IntPtr raw = IntPtr.Zero;
            Library.Check(N.rai.rai_safetensors_open(path, new N.SWIGTYPE_p_p_rai_safetensors((IntPtr)(&raw), false)));
            f.Handle.Adopt(raw);
            return f;
        }

        /// <summary>Parses <paramref name="bytes"/> (copied).</summary>
        public static SafetensorsFile FromBytes(byte[] bytes)
        {
            if (bytes == null) throw new ArgumentNullException("bytes");
            var f = new SafetensorsFile();
            IntPtr raw = IntPtr.Zero;
            fixed (byte* b = bytes)
                Library.Check(N.rai.rai_safetensors_open_memory(P.Void(b), (ulong)bytes.Length,
                                                                 new N.SWIGTYPE_p_p_rai_safetensors((IntPtr)(&raw), false)));
            f.Handle.Adopt(raw);
            return f;
        }

        public int Count
        {
            get
            {
                using (var l = Lease())
                {
                    ulong n;
                    Library.Check(N.rai.rai_safetensors_count(F(l), P.Size(&n)));
                    return (int)n;
                }
            }
        }

        /// <summary>Tensor <paramref name="index"/> in file order.</summary>
        public SafetensorsTensorInfo GetInfo(int index)
        {
            using (var l = Lease())
            using (var i = new N.rai_safetensors_tensor_info())
            {
                Library.Check(N.rai.rai_safetensors_get_info(F(l), Ternary.Index(index), i));
                var shape = new long[i.ndim];
                long* dims = (long*)N.SWIGTYPE_p_long.getCPtr(i.shape).Handle;
                for (int k = 0; k < shape.Length; k++) shape[k] = dims[k];
                N.rai_dtype dt = i.dtype;
                return new SafetensorsTensorInfo
                {
                    Name = i.name,
                    DTypeName = i.dtype_name,
                    DType = new DType(dt.code, dt.bits),
                    Shape = shape,
                    NBytes = (long)i.nbytes,
                    DataOffset = (long)i.data_offset,
                };
            }
        }

        /// <summary>Every tensor's name, in file order.</summary>
        public string[] Names
        {
            get
            {
                var names = new string[Count];
                for (int i = 0; i < names.Length; i++) names[i] = GetInfo(i).Name;
                return names;
            }
        }

        /// <summary>The index of tensor <paramref name="name"/>, or -1.</summary>
        public int Find(string name)
        {
            if (name == null) throw new ArgumentNullException("name");
            using (var l = Lease())
            {
                long index;
                Library.Check(N.rai.rai_safetensors_find(F(l), name, P.I64(&index)));
                return (int)index;
            }
        }

        private int Require(string name)
        {
            int i = Find(name);
            if (i < 0) throw new RaiException(Status.InvalidArgument, "name: no tensor \"" + name + "\" in the file");
            return i;
        }

        /// <summary>A copy of the tensor's raw little-endian bytes.</summary>
        public byte[] ReadBytes(string name)
        {
            int index = Require(name);
            using (var l = Lease())
            using (var i = new N.rai_safetensors_tensor_info())
            {
                Library.Check(N.rai.rai_safetensors_get_info(F(l), (ulong)index, i));
                var bytes = new byte[i.nbytes];
                if (bytes.Length > 0)
                    Marshal.Copy(N.SWIGTYPE_p_void.getCPtr(i.data).Handle, bytes, 0, bytes.Length);
                return bytes;
            }
        }

        /// <summary>A copy of the tensor as a host Tensor of its rai dtype and shape (f32 as float[],
        /// i8 as sbyte[], f16/bf16 as ushort[], ...). Dtypes rai has none for: RaiException(DTypeMismatch).</summary>
        public Tensor ReadTensor(string name)
        {
            SafetensorsTensorInfo info = GetInfo(Require(name));
            if (info.DType.Bits == 0)
                throw new RaiException(Status.DTypeMismatch, "tensor \"" + name + "\" has dtype " + info.DTypeName + ", which rai has no dtype for");
            byte[] bytes = ReadBytes(name);
            Array data = Tensors.NewArray(info.DType, bytes.Length / info.DType.Size);
            System.Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
            return new Tensor(data, info.DType, info.Shape);
        }

        /// <summary>An f32 tensor's values.</summary>
        public float[] ReadFloats(string name)
        {
            Tensor t = ReadTensor(name);
            if (t.DType != DType.F32) throw new RaiException(Status.DTypeMismatch, "tensor \"" + name + "\" is " + t.DType + ", not f32");
            return (float[])t.Data;
        }

        /// <summary>The "__metadata__" entries, in file order.</summary>
        public KeyValuePair<string, string>[] Metadata
        {
            get
            {
                using (var l = Lease())
                {
                    ulong n;
                    Library.Check(N.rai.rai_safetensors_metadata_count(F(l), P.Size(&n)));
                    var result = new KeyValuePair<string, string>[n];
                    for (ulong i = 0; i < n; i++)
                    {
                        IntPtr k = IntPtr.Zero, v = IntPtr.Zero;
                        Library.Check(N.rai.rai_safetensors_metadata_get(F(l), i, P.CharPP(&k), P.CharPP(&v)));
                        result[i] = new KeyValuePair<string, string>(OwnedText.Borrowed(k), OwnedText.Borrowed(v));
                    }
                    return result;
                }
            }
        }

        /// <summary>The metadata value of <paramref name="key"/>, or null.</summary>
        public string GetMetadata(string key)
        {
            if (key == null) throw new ArgumentNullException("key");
            using (var l = Lease())
            {
                IntPtr v = IntPtr.Zero;
                Library.Check(N.rai.rai_safetensors_metadata_find(F(l), key, P.CharPP(&v)));
                return OwnedText.Borrowed(v);
            }
        }
    }

    /// <summary>Collects tensors (copied when added) and metadata, then serialises a safetensors file.</summary>
    public sealed unsafe class SafetensorsWriter : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_safetensors_writer_destroy(new N.SWIGTYPE_p_rai_safetensors_writer(p, false));

        public SafetensorsWriter() : base(destroy)
        {
            IntPtr raw = IntPtr.Zero;
            Library.Check(N.rai.rai_safetensors_writer_create(new N.SWIGTYPE_p_p_rai_safetensors_writer((IntPtr)(&raw), false)));
            Handle.Adopt(raw);
        }

        internal static N.SWIGTYPE_p_rai_safetensors_writer W(HandleLease l) { return new N.SWIGTYPE_p_rai_safetensors_writer(l.Pointer, false); }

        /// <summary>Adds a host tensor; names are unique, non-empty, not "__metadata__".</summary>
        public void Add(string name, Tensor tensor)
        {
            if (name == null) throw new ArgumentNullException("name");
            if (tensor == null) throw new ArgumentNullException("tensor");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_safetensors_writer_add(W(l), name, t[tensor]));
        }

        /// <summary>Raw little-endian bytes with a safetensors dtype name ("BOOL", "F8_E4M3", "I16", ...).</summary>
        public void AddRaw(string name, string dtypeName, long[] shape, byte[] data)
        {
            if (name == null) throw new ArgumentNullException("name");
            if (dtypeName == null) throw new ArgumentNullException("dtypeName");
            if (shape == null) throw new ArgumentNullException("shape");
            if (data == null) throw new ArgumentNullException("data");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_safetensors_writer_add_raw(W(l), name, dtypeName, shape.Length, P.I64(pins.Ptr(shape)),
                                                                   P.Void(pins.Ptr(data)), (ulong)data.Length));
        }

        public void SetMetadata(string key, string value)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (value == null) throw new ArgumentNullException("value");
            using (var l = Lease())
                Library.Check(N.rai.rai_safetensors_writer_set_metadata(W(l), key, value));
        }

        /// <summary>The file image.</summary>
        public byte[] ToBytes()
        {
            using (var l = Lease())
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_safetensors_writer_serialize(W(l), (byte[])o, cap, n));
        }

        /// <summary>Writes through a temporary file renamed over <paramref name="path"/> (atomic).</summary>
        public void Save(string path)
        {
            if (path == null) throw new ArgumentNullException("path");
            using (var l = Lease())
                Library.Check(N.rai.rai_safetensors_writer_save(W(l), path));
        }
    }

    /// <summary>rai_gguf_type: metadata value types.</summary>
    public enum GgufType
    {
        UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
        String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
    }

    /// <summary>rai_ggml_type: tensor types rai writes and decodes.</summary>
    public enum GgmlType { F32 = 0, F16 = 1, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35 }

    /// <summary>One metadata entry of a GGUF file.</summary>
    public sealed class GgufKv
    {
        public string Key;
        public GgufType Type;
        /// <summary>Element type of an Array, else -1.</summary>
        public int ArrayType;
        public long Count;
    }

    /// <summary>One tensor of a GGUF file (shape outermost first).</summary>
    public sealed class GgufTensorInfo
    {
        public string Name;
        public GgmlType Type;
        public long[] Shape;
        public long Offset;
        public long NBytes;
    }

    /// <summary>Collects metadata and tensors (copies), then writes a GGUF v3 file atomically.</summary>
    public sealed unsafe class GgufWriter : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_gguf_writer_destroy(new N.SWIGTYPE_p_rai_gguf_writer(p, false));

        public GgufWriter() : base(destroy)
        {
            IntPtr raw = IntPtr.Zero;
            Library.Check(N.rai.rai_gguf_writer_create(new N.SWIGTYPE_p_p_rai_gguf_writer((IntPtr)(&raw), false)));
            Handle.Adopt(raw);
        }

        private static N.SWIGTYPE_p_rai_gguf_writer W(HandleLease l) { return new N.SWIGTYPE_p_rai_gguf_writer(l.Pointer, false); }

        private void Kv(string key, GgufType type, void* value)
        {
            if (key == null) throw new ArgumentNullException("key");
            using (var l = Lease())
                Library.Check(N.rai.rai_gguf_writer_add_kv(W(l), key, (int)type, P.Void(value)));
        }

        public void Add(string key, uint value) { Kv(key, GgufType.UInt32, &value); }
        public void Add(string key, int value) { Kv(key, GgufType.Int32, &value); }
        public void Add(string key, ulong value) { Kv(key, GgufType.UInt64, &value); }
        public void Add(string key, long value) { Kv(key, GgufType.Int64, &value); }
        public void Add(string key, float value) { Kv(key, GgufType.Float32, &value); }
        public void Add(string key, double value) { Kv(key, GgufType.Float64, &value); }
        public void Add(string key, bool value) { byte b = (byte)(value ? 1 : 0); Kv(key, GgufType.Bool, &b); }

        public void Add(string key, string value)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (value == null) throw new ArgumentNullException("value");
            using (var l = Lease())
                Library.Check(N.rai.rai_gguf_writer_add_kv_string(W(l), key, value));
        }

        /// <summary>An array of numeric values (int[], uint[], float[], long[], ...).</summary>
        public void AddArray(string key, Array values)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (values == null) throw new ArgumentNullException("values");
            GgufType t = Gguf.TypeOf(values.GetType().GetElementType());
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_gguf_writer_add_kv_array(W(l), key, (int)t, P.Void(pins.Ptr(values)), (ulong)values.Length));
        }

        public void AddArray(string key, string[] values)
        {
            if (key == null) throw new ArgumentNullException("key");
            using (var l = Lease())
            using (var pins = new Pins())
            {
                IntPtr list = pins.Utf8Array(values, "values");
                if (values == null) throw new ArgumentNullException("values");
                Library.Check(N.rai.rai_gguf_writer_add_kv_string_array(W(l), key, P.CharPP((void*)list), (ulong)values.Length));
            }
        }

        /// <summary>A host tensor (1 to 4 dimensions) stored as <paramref name="type"/>.</summary>
        public void AddTensor(string name, Tensor tensor, GgmlType type)
        {
            if (name == null) throw new ArgumentNullException("name");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gguf_writer_add_tensor(W(l), name, t[tensor], (int)type));
        }

        /// <summary>A ternary weight, losslessly, as TQ1_0 or TQ2_0 (cols % 256 == 0);
        /// <paramref name="exactScales"/> refuses scales that are not exactly f16.</summary>
        public void AddTernary(string name, GgmlType type, Tensor trits, Tensor scales, bool exactScales = false)
        {
            if (name == null) throw new ArgumentNullException("name");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gguf_writer_add_ternary(W(l), name, (int)type, t[trits], t[scales],
                                                                exactScales ? N.rai.RAI_GGUF_EXACT_SCALES : 0u));
        }

        public void Write(string path)
        {
            if (path == null) throw new ArgumentNullException("path");
            using (var l = Lease())
                Library.Check(N.rai.rai_gguf_writer_write(W(l), path));
        }
    }

    /// <summary>A validated GGUF file; tensor data is read on demand.</summary>
    public sealed unsafe class GgufReader : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_gguf_reader_destroy(new N.SWIGTYPE_p_rai_gguf_reader(p, false));

        public GgufReader(string path) : base(destroy)
        {
            if (path == null) throw new ArgumentNullException("path");
            IntPtr raw = IntPtr.Zero;
            Library.Check(N.rai.rai_gguf_reader_open(path, new N.SWIGTYPE_p_p_rai_gguf_reader((IntPtr)(&raw), false)));
            Handle.Adopt(raw);
        }

        private static N.SWIGTYPE_p_rai_gguf_reader R(HandleLease l) { return new N.SWIGTYPE_p_rai_gguf_reader(l.Pointer, false); }

        public int Version { get { using (var i = FileInfo()) return (int)i.version; } }
        public long KvCount { get { using (var i = FileInfo()) return (long)i.kv_count; } }
        public long TensorCount { get { using (var i = FileInfo()) return (long)i.tensor_count; } }
        public long Alignment { get { using (var i = FileInfo()) return (long)i.alignment; } }

        private N.rai_gguf_file_info FileInfo()
        {
            var i = new N.rai_gguf_file_info();
            using (var l = Lease())
                Library.Check(N.rai.rai_gguf_reader_get_info(R(l), i));
            return i;
        }

        public GgufKv GetKv(long index)
        {
            using (var l = Lease())
            using (var i = new N.rai_gguf_kv_info())
            {
                Library.Check(N.rai.rai_gguf_reader_kv(R(l), Ternary.Index(index), i));
                return new GgufKv { Key = i.key, Type = (GgufType)i.type, ArrayType = i.array_type, Count = (long)i.count };
            }
        }

        /// <summary>The index of <paramref name="key"/>, or -1.</summary>
        public long FindKv(string key)
        {
            if (key == null) throw new ArgumentNullException("key");
            using (var l = Lease())
            {
                long index;
                Library.Check(N.rai.rai_gguf_reader_find_kv(R(l), key, P.I64(&index)));
                return index;
            }
        }

        private long RequireKv(string key)
        {
            long i = FindKv(key);
            if (i < 0) throw new RaiException(Status.InvalidArgument, "key: no metadata entry \"" + key + "\"");
            return i;
        }

        /// <summary>The raw little-endian bytes of a numeric or BOOL value (all elements of an array).</summary>
        public byte[] GetKvBytes(string key)
        {
            long index = RequireKv(key);
            using (var l = Lease())
            using (var i = new N.rai_gguf_kv_info())
            {
                Library.Check(N.rai.rai_gguf_reader_kv(R(l), (ulong)index, i));
                IntPtr data = N.SWIGTYPE_p_void.getCPtr(i.data).Handle;
                if (data == IntPtr.Zero)
                    throw new RaiException(Status.DTypeMismatch, "key \"" + key + "\" holds strings: use GetString");
                int elem = Gguf.Size(i.type == (int)GgufType.Array ? i.array_type : i.type);
                var bytes = new byte[elem * (long)i.count];
                Marshal.Copy(data, bytes, 0, bytes.Length);
                return bytes;
            }
        }

        public uint GetUInt32(string key) { return BitConverter.ToUInt32(GetKvBytes(key), 0); }
        public int GetInt32(string key) { return BitConverter.ToInt32(GetKvBytes(key), 0); }
        public long GetInt64(string key) { return BitConverter.ToInt64(GetKvBytes(key), 0); }
        public float GetFloat32(string key) { return BitConverter.ToSingle(GetKvBytes(key), 0); }

        /// <summary>A STRING value, or element <paramref name="element"/> of a string array.</summary>
        public string GetString(string key, long element = 0)
        {
            long index = RequireKv(key);
            using (var l = Lease())
            {
                IntPtr v = IntPtr.Zero;
                ulong length;
                Library.Check(N.rai.rai_gguf_reader_kv_string(R(l), (ulong)index, Ternary.Index(element), P.CharPP(&v), P.Size(&length)));
                var bytes = new byte[length];
                Marshal.Copy(v, bytes, 0, bytes.Length);
                return System.Text.Encoding.UTF8.GetString(bytes);
            }
        }

        public GgufTensorInfo GetTensorInfo(long index)
        {
            using (var l = Lease())
            using (var i = new N.rai_gguf_tensor_info())
            {
                Library.Check(N.rai.rai_gguf_reader_tensor(R(l), Ternary.Index(index), i));
                var shape = new long[i.ndim];
                long* dims = (long*)N.SWIGTYPE_p_long.getCPtr(i.shape).Handle;
                for (int k = 0; k < shape.Length; k++) shape[k] = dims[k];
                return new GgufTensorInfo { Name = i.name, Type = (GgmlType)i.ggml_type, Shape = shape, Offset = (long)i.offset, NBytes = (long)i.nbytes };
            }
        }

        /// <summary>The index of tensor <paramref name="name"/>, or -1.</summary>
        public long FindTensor(string name)
        {
            if (name == null) throw new ArgumentNullException("name");
            using (var l = Lease())
            {
                long index;
                Library.Check(N.rai.rai_gguf_reader_find_tensor(R(l), name, P.I64(&index)));
                return index;
            }
        }

        private long RequireTensor(string name)
        {
            long i = FindTensor(name);
            if (i < 0) throw new RaiException(Status.InvalidArgument, "name: no tensor \"" + name + "\" in the file");
            return i;
        }

        public byte[] ReadRaw(string name)
        {
            long index = RequireTensor(name);
            using (var l = Lease())
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_gguf_reader_read_raw(R(l), (ulong)index, (byte[])o, cap, n));
        }

        /// <summary>Decodes into <paramref name="destination"/> (f32 from any float or TQ type, or the
        /// matching dtype).</summary>
        public void ReadTensor(string name, Tensor destination)
        {
            long index = RequireTensor(name);
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gguf_reader_read_tensor(R(l), (ulong)index, t[destination]));
        }

        /// <summary>The tensor decoded to f32 (row-major, its shape).</summary>
        public float[] ReadFloats(string name)
        {
            GgufTensorInfo info = GetTensorInfo(RequireTensor(name));
            long n = 1;
            foreach (long d in info.Shape) n *= d;
            var result = new float[n];
            ReadTensor(name, new Tensor(result, info.Shape));
            return result;
        }

        /// <summary>A TQ1_0 / TQ2_0 tensor as lossless trits [rows, cols] and f32 scales [rows, cols / 256].</summary>
        public sbyte[] ReadTernary(string name, out float[] scales)
        {
            GgufTensorInfo info = GetTensorInfo(RequireTensor(name));
            long cols = info.Shape[info.Shape.Length - 1];
            long rows = 1;
            for (int i = 0; i < info.Shape.Length - 1; i++) rows *= info.Shape[i];
            var trits = new sbyte[rows * cols];
            var s = new float[rows * (cols / 256)];
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gguf_reader_read_ternary(R(l), (ulong)FindTensor(name), t[new Tensor(trits, rows, cols)],
                                                                 t[new Tensor(s, rows, cols / 256)]));
            scales = s;
            return trits;
        }
    }

    internal static class Gguf
    {
        internal static GgufType TypeOf(Type element)
        {
            if (element == typeof(byte)) return GgufType.UInt8;
            if (element == typeof(sbyte)) return GgufType.Int8;
            if (element == typeof(ushort)) return GgufType.UInt16;
            if (element == typeof(short)) return GgufType.Int16;
            if (element == typeof(uint)) return GgufType.UInt32;
            if (element == typeof(int)) return GgufType.Int32;
            if (element == typeof(float)) return GgufType.Float32;
            if (element == typeof(ulong)) return GgufType.UInt64;
            if (element == typeof(long)) return GgufType.Int64;
            if (element == typeof(double)) return GgufType.Float64;
            throw new RaiException(Status.DTypeMismatch, "values: no GGUF type for " + element.Name + "[]");
        }

        internal static int Size(int type)
        {
            switch ((GgufType)type)
            {
                case GgufType.UInt8: case GgufType.Int8: case GgufType.Bool: return 1;
                case GgufType.UInt16: case GgufType.Int16: return 2;
                case GgufType.UInt32: case GgufType.Int32: case GgufType.Float32: return 4;
                default: return 8;
            }
        }
    }

    /// <summary>Managed arrays for dtypes.</summary>
    internal static class Tensors
    {
        internal static Array NewArray(DType d, long n)
        {
            if (d == DType.F32) return new float[n];
            if (d == DType.F64) return new double[n];
            if (d == DType.F16 || d == DType.BF16) return new ushort[n];
            if (d == DType.I8) return new sbyte[n];
            if (d == DType.U8) return new byte[n];
            if (d == DType.I32) return new int[n];
            if (d == DType.U32) return new uint[n];
            if (d == DType.I64) return new long[n];
            if (d == DType.U64) return new ulong[n];
            throw new RaiException(Status.DTypeMismatch, "no C# array type for dtype " + d);
        }
    }
}
