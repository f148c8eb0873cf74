// TestFiles.cs: safetensors and GGUF writers and readers: round trips, metadata, atomic saves and
// malformed input.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Rai;

internal static partial class TestRai
{
    private static IEnumerable<KeyValuePair<string, Action>> FileTests()
    {
        yield return new KeyValuePair<string, Action>("SafetensorsRoundTrip", SafetensorsRoundTrip);
        yield return new KeyValuePair<string, Action>("SafetensorsErrors", SafetensorsErrors);
        yield return new KeyValuePair<string, Action>("GgufRoundTrip", GgufRoundTrip);
    }

    internal static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rai-cs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static void SafetensorsRoundTrip()
    {
        var rng = new Random(31);
        float[] a = RandomFloats(rng, 33 * 3);
        var b = new sbyte[] { -1, 0, 1, 127, -128 };
        var c = new long[] { long.MinValue, 0, long.MaxValue };
        string dir = TempDir();
        try
        {
            using (var w = new SafetensorsWriter())
            {
                w.Add("layer.a", new Tensor(a, 33, 3));
                w.Add("b", new Tensor(b));
                w.Add("c", new Tensor(c));
                w.AddRaw("mask", "BOOL", new long[] { 4 }, new byte[] { 1, 0, 0, 1 });
                w.SetMetadata("format", "pt");
                w.SetMetadata("note", "h\u00e9llo");
                byte[] image = w.ToBytes();
                Equal(0, (int)(BitConverter.ToUInt64(image, 0) % 8), "header padded to 8");
                string path = Path.Combine(dir, "t.safetensors");
                w.Save(path);
                Check(File.ReadAllBytes(path).SequenceEqual(image), "Save writes the serialized image");
                foreach (var f in new[] { SafetensorsFile.Open(path), SafetensorsFile.FromBytes(image) })
                    using (f)
                    {
                        Equal(4, f.Count, "count");
                        // Largest element size first, then in the order added.
                        Check(f.Names.SequenceEqual(new[] { "c", "layer.a", "b", "mask" }), "file order: " + string.Join(",", f.Names));
                        SafetensorsTensorInfo info = f.GetInfo(f.Find("layer.a"));
                        Equal("F32", info.DTypeName, "dtype name");
                        Check(info.Shape.SequenceEqual(new long[] { 33, 3 }), "shape");
                        Check(f.ReadFloats("layer.a").SequenceEqual(a), "f32 values");
                        Check(((sbyte[])f.ReadTensor("b").Data).SequenceEqual(b), "i8 values");
                        Check(((long[])f.ReadTensor("c").Data).SequenceEqual(c), "i64 values");
                        Equal(0, f.GetInfo(f.Find("mask")).DType.Bits, "BOOL has no rai dtype");
                        Check(f.ReadBytes("mask").SequenceEqual(new byte[] { 1, 0, 0, 1 }), "raw bytes");
                        Throws(Status.DTypeMismatch, () => f.ReadTensor("mask"), "BOOL");
                        Equal(-1, f.Find("missing"), "find missing");
                        Equal("h\u00e9llo", f.GetMetadata("note"), "UTF-8 metadata");
                        Equal(null, f.GetMetadata("absent"), "absent metadata");
                        Equal(2, f.Metadata.Length, "metadata count");
                    }
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void SafetensorsErrors()
    {
        Throws(Status.IO, () => SafetensorsFile.Open("/nonexistent/x.safetensors"));
        Throws(Status.Format, () => SafetensorsFile.FromBytes(new byte[] { 1, 2, 3 }));
        var header = Encoding.ASCII.GetBytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 9]}}");
        var bad = BitConverter.GetBytes((ulong)header.Length).Concat(header).Concat(new byte[9]).ToArray();
        Throws(Status.Format, () => SafetensorsFile.FromBytes(bad), "x");
        using (var w = new SafetensorsWriter())
        {
            w.Add("x", new Tensor(new float[2]));
            Throws(Status.InvalidArgument, () => w.Add("x", new Tensor(new float[2])), "x");
            Throws(Status.InvalidArgument, () => w.Add("__metadata__", new Tensor(new float[1])));
            Throws(Status.InvalidArgument, () => w.AddRaw("r", "BOOL", new long[] { 3 }, new byte[2]));
            string dir = TempDir();
            try
            {
                Throws(Status.IO, () => w.Save(Path.Combine(dir, "no", "such", "dir", "f.safetensors")));
                Equal(0, Directory.GetFiles(dir).Length, "nothing left behind");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
            w.Dispose();
            ThrowsDisposed(() => w.ToBytes(), "Rai.SafetensorsWriter");
        }
    }

    private static void GgufRoundTrip()
    {
        var rng = new Random(32);
        string dir = TempDir();
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            float[] w = RandomFloats(rng, 4 * 33);
            sbyte[] trits = RandomTrits(rng, 2 * 256);
            float[] scales = { 0.5f, 0.125f };
            using (var g = new GgufWriter())
            {
                g.Add("general.architecture", "bitnet");
                g.Add("general.alignment", 64u);
                g.Add("test.i64", -5L);
                g.Add("test.f32", 1.5f);
                g.Add("test.flag", true);
                g.AddArray("test.ints", new[] { 1, -2, 3 });
                g.AddArray("test.names", new[] { "a", "bc" });
                g.AddTensor("w", new Tensor(w, 4, 33), GgmlType.F32);
                g.AddTensor("w16", new Tensor(w, 4, 33), GgmlType.F16);
                g.AddTernary("t", GgmlType.TQ2_0, new Tensor(trits, 2, 256), new Tensor(scales), exactScales: true);
                Throws(Status.InvalidArgument, () => g.Add("test.i64", 1L), "test.i64");
                g.Write(path);
            }
            using (var r = new GgufReader(path))
            {
                Equal(3, r.Version, "version");
                Equal(7L, r.KvCount, "kv count");
                Equal(3L, r.TensorCount, "tensor count");
                Equal(64L, r.Alignment, "alignment");
                Equal("bitnet", r.GetString("general.architecture"), "string value");
                Equal(-5L, r.GetInt64("test.i64"), "i64");
                Equal(1.5f, r.GetFloat32("test.f32"), "f32");
                Equal((byte)1, r.GetKvBytes("test.flag")[0], "bool");
                GgufKv ints = r.GetKv(r.FindKv("test.ints"));
                Equal(GgufType.Array, ints.Type, "array type");
                Equal((int)GgufType.Int32, ints.ArrayType, "element type");
                Equal(3L, ints.Count, "array count");
                Equal(-2, BitConverter.ToInt32(r.GetKvBytes("test.ints"), 4), "array element");
                Equal("bc", r.GetString("test.names", 1), "string array element");
                Equal(-1L, r.FindKv("absent"), "absent key");
                GgufTensorInfo ti = r.GetTensorInfo(r.FindTensor("w"));
                Check(ti.Shape.SequenceEqual(new long[] { 4, 33 }), "shape outermost first");
                Equal(GgmlType.F32, ti.Type, "F32");
                Check(r.ReadFloats("w").SequenceEqual(w), "F32 tensor values");
                float[] w16 = r.ReadFloats("w16");
                for (int i = 0; i < w.Length; i++) Check(Math.Abs(w16[i] - w[i]) <= 1e-3f * Math.Abs(w[i]) + 1e-7f, "F16 value " + i);
                Equal(4L * 33 * 4, (long)r.ReadRaw("w").Length, "raw bytes");
                float[] s;
                SameTrits(trits, r.ReadTernary("t", out s), "TQ2_0 trits are lossless");
                Check(s.SequenceEqual(scales), "TQ2_0 scales");
                Throws(Status.InvalidArgument, () => r.ReadFloats("absent"), "absent");
            }
            File.WriteAllBytes(Path.Combine(dir, "bad.gguf"), Encoding.ASCII.GetBytes("GGUF\u0003\0\0\0"));
            Throws(Status.Format, () => new GgufReader(Path.Combine(dir, "bad.gguf")));
            Throws(Status.IO, () => new GgufReader(Path.Combine(dir, "missing.gguf")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
