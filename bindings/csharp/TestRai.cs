// TestRai.cs: self-checking tests of the C# binding: the foundation tests, the shared assertion
// helpers and the runner (Main). The capability tests live in TestTernary.cs, TestQuant.cs,
// TestFiles.cs, TestAdapters.cs, TestCompression.cs and TestTraining.cs (partial class). Prints
// one line per test and "N passed, N failed" last; exits non-zero when a test fails.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using Rai;
using N = Rai.Native;
using RaiBuffer = Rai.Buffer;

internal sealed class SkipException : Exception
{
    public SkipException(string why) : base(why) { }
}

internal static partial class TestRai
{
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int CSetEnv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "unsetenv")]
    private static extern int CUnsetEnv(string name);

    // librai reads the C environment; set both it and the managed view.
    private static void SetEnv(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (value == null) CUnsetEnv(name); else CSetEnv(name, value, 1);
    }

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new Exception("check failed: " + what);
    }

    private static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new Exception(what + ": expected <" + expected + ">, got <" + actual + ">");
    }

    private static RaiException Throws(Status status, Action action, params string[] fragments)
    {
        try
        {
            action();
        }
        catch (RaiException e)
        {
            Equal(status, e.Status, "status of \"" + e.Message + "\"");
            foreach (string f in fragments)
                Check(e.Detail.Contains(f), "message \"" + e.Detail + "\" mentions \"" + f + "\"");
            Check(e.Message.StartsWith(Library.StatusString(status)), "message starts with the status name: " + e.Message);
            return e;
        }
        throw new Exception("expected RaiException(" + status + ")");
    }

    private static void ThrowsDisposed(Action action, string objectName)
    {
        try
        {
            action();
        }
        catch (ObjectDisposedException e)
        {
            Check(e.ObjectName == objectName, "ObjectDisposedException names " + objectName + ", got " + e.ObjectName);
            return;
        }
        throw new Exception("expected ObjectDisposedException");
    }

    // ------------------------------------------------------------------ tests

    // Runs first: librai logs its CPU-fallback warning (or, with a GPU, the device choice) and the
    // CUDA plugin load only once per process.
    private static void LogHandler()
    {
        // The handler also throws after recording: the exception must be dropped at the native
        // boundary, not take the process down.
        var records = new List<KeyValuePair<LogLevel, string>>();
        Library.SetLogHandler((level, msg) =>
        {
            lock (records) records.Add(new KeyValuePair<LogLevel, string>(level, msg));
            throw new InvalidOperationException("handler failure");
        });
        Library.LogLevel = LogLevel.Debug;
        try
        {
            using (var ctx = new Context("cuda")) { }
        }
        finally
        {
            Library.SetLogHandler(null);
            Library.LogLevel = LogLevel.Warn;
        }
        int n = records.Count;
        Library.LogLevel = LogLevel.Debug;
        using (var ctx = new Context("cuda")) { }
        Library.LogLevel = LogLevel.Warn;
        Equal(n, records.Count, "records delivered after SetLogHandler(null)");
        foreach (var r in records) Console.WriteLine("    [" + r.Key + "] " + r.Value);
        Check(records.Any(r => r.Key == LogLevel.Debug && r.Value.Contains("CUDA plugin")), "a DEBUG record about the CUDA plugin");
        Check(records.Any(r => (r.Key == LogLevel.Warn && r.Value.Contains("running on the CPU")) ||
                               (r.Key == LogLevel.Info && r.Value.Contains("using CUDA device 0"))),
              "a record about the device choice");
    }

    private static void Version()
    {
        Equal("0.1.0", Library.Version, "Version");
        Equal(N.rai.RAI_VERSION_STRING, Library.Version, "Version against the header");
        Equal(100u, Library.VersionNumber, "VersionNumber");
        Equal((uint)(N.rai.RAI_VERSION_MAJOR * 10000 + N.rai.RAI_VERSION_MINOR * 100 + N.rai.RAI_VERSION_PATCH),
              Library.VersionNumber, "VersionNumber against the header parts");
        Equal(Library.HeaderVersionNumber, (int)Library.VersionNumber, "HeaderVersionNumber");
        Library.CheckVersion();
        Check(Library.BuildInfo.Contains("rai 0.1.0") && Library.BuildInfo.Contains("CUDA plugin"), "BuildInfo: " + Library.BuildInfo);
    }

    private static void StatusValues()
    {
        var names = new Dictionary<Status, string>
        {
            { Status.Ok, "ok" }, { Status.InvalidArgument, "invalid argument" }, { Status.OutOfMemory, "out of memory" },
            { Status.NoDevice, "no device" }, { Status.Backend, "backend error" }, { Status.Unsupported, "unsupported" },
            { Status.BufferTooSmall, "buffer too small" }, { Status.Cancelled, "cancelled" },
            { Status.Internal, "internal error" }, { Status.ShapeMismatch, "shape mismatch" },
            { Status.DTypeMismatch, "dtype mismatch" }, { Status.DeviceMismatch, "device mismatch" },
            { Status.Layout, "unsupported layout" }, { Status.StructSize, "bad struct_size" }, { Status.IO, "I/O error" },
            { Status.Format, "malformed data" }, { Status.OutOfRange, "out of range" },
        };
        foreach (var kv in names)
        {
            Equal(kv.Value, Library.StatusString(kv.Key), "StatusString(" + kv.Key + ")");
            string nativeName = "RAI_" + (kv.Key == Status.Ok ? "OK" : "ERROR_" + NativeSuffix(kv.Key));
            var native = (N.rai_status)Enum.Parse(typeof(N.rai_status), nativeName);
            Equal((int)kv.Key, (int)native, nativeName);
        }
        Equal(names.Count, Enum.GetValues(typeof(N.rai_status)).Length, "number of statuses");
        var e = new RaiException(Status.NoDevice, "CUDA device 3 requested");
        Equal("no device: CUDA device 3 requested", e.Message, "RaiException.Message");
    }

    private static string NativeSuffix(Status s)
    {
        switch (s)
        {
            case Status.DTypeMismatch: return "DTYPE_MISMATCH";
            case Status.IO: return "IO";
        }
        var sb = new System.Text.StringBuilder();
        foreach (char c in s.ToString())
        {
            if (char.IsUpper(c) && sb.Length > 0) sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }

    private static void StructDefaults()
    {
        // The %extend constructors call *_init_sized with the glue's sizeof (LP64 layouts).
        using (var p = new N.rai_context_params())
        {
            Equal(24u, p.struct_size, "rai_context_params.struct_size");
            Equal(0, p.device_type, "device_type");
            Equal(0, p.device_id, "device_id");
            Equal(0u, p.flags, "flags");
            Throws(Status.StructSize, () => Library_Check(N.rai.rai_context_params_init_sized(p, 4)), "params");
        }
        using (var info = new N.rai_device_info())
        {
            Equal(304u, info.struct_size, "rai_device_info.struct_size");
            Equal("", info.name, "name");
        }
        // size_t is 64-bit in C# (ulong), not SWIG's default 32-bit uint.
        Equal(typeof(ulong), typeof(N.rai).GetMethod("rai_buffer_size").ReturnType, "size_t maps to ulong");
    }

    private static void Library_Check(N.rai_status st)
    {
        if (st != N.rai_status.RAI_OK) throw new RaiException((Status)(int)st, N.rai.rai_last_error_message());
    }

    private static void Errors()
    {
        using (var ctx = new Context("cpu"))
        {
            Throws(Status.InvalidArgument, () => new RaiBuffer(ctx, 0), "bytes");
            Throws(Status.InvalidArgument, () => new RaiBuffer(ctx, -3), "bytes");
            using (var buf = new RaiBuffer(ctx, 64))
            {
                Throws(Status.OutOfRange, () => buf.Read(60, new byte[8]), "[60, +8)", "64 bytes");
                Throws(Status.OutOfRange, () => buf.Write(65, new byte[0]), "64 bytes");
                Throws(Status.OutOfRange, () => buf.Write(-1, new byte[1]), "offset");
            }
        }
        Throws(Status.InvalidArgument, () => new Context("gpu"), "\"gpu\"");
        Throws(Status.InvalidArgument, () => new Context("cuda:x"), "cuda:N");
        Throws(Status.InvalidArgument, () => Library.LogLevel = (LogLevel)9, "level 9");
        Equal(LogLevel.Warn, Library.LogLevel, "log level after a failed set");
    }

    private static void StrictCudaWithoutGpu()
    {
        if (Library.CudaDeviceCount > 0) throw new SkipException("a CUDA device is present");
        Throws(Status.NoDevice, () => new Context("cuda", strict: true), "CUDA device 0");
        Throws(Status.NoDevice, () => Library.CudaDeviceInfo(0));
        using (var ctx = new Context("cuda"))
            Equal(Device.Cpu, ctx.Device, "non-strict cuda falls back to the CPU");
    }

    private static void EnvironmentOverride()
    {
        SetEnv("RAI_DEVICE", "bogus");
        try
        {
            Throws(Status.InvalidArgument, () => new Context("cpu"), "RAI_DEVICE", "bogus");
            using (var ctx = new Context("cpu", ignoreEnv: true))
                Equal(Device.Cpu, ctx.Device, "ignoreEnv");
            SetEnv("RAI_DEVICE", "cpu");
            using (var ctx = new Context("cuda", strict: true))
                Equal(Device.Cpu, ctx.Device, "RAI_DEVICE=cpu over a strict cuda request");
        }
        finally
        {
            SetEnv("RAI_DEVICE", null);
        }
    }

    private static void ParseDevice()
    {
        Equal(Device.Cpu, Device.Parse("cpu"), "cpu");
        Equal(Device.Auto, Device.Parse("auto"), "auto");
        Equal(Device.Cuda(0), Device.Parse("cuda"), "cuda");
        Equal(Device.Cuda(12), Device.Parse("cuda:12"), "cuda:12");
        Equal("cuda:2", Device.Cuda(2).ToString(), "ToString");
        foreach (string bad in new[] { "", "CPU", "cuda:", "cuda:-1", "cuda:1x", "gpu" })
        {
            Device d;
            Check(!Device.TryParse(bad, out d), "TryParse rejects \"" + bad + "\"");
        }
    }

    private static void RoundTrip(Context ctx, Device expected)
    {
        const int size = 1000;
        using (var buf = new RaiBuffer(ctx, size))
        {
            Equal((long)size, buf.Size, "Size");
            Check(ReferenceEquals(ctx, buf.Context), "Context");
            Equal(expected, buf.Device, "buffer device");
            Check(buf.Pointer != IntPtr.Zero && buf.Pointer.ToInt64() % 256 == 0, "256-byte aligned pointer");
            var src = new byte[333];
            for (int i = 0; i < src.Length; i++) src[i] = (byte)(i * 7 + 3);
            buf.Write(17, src);
            buf.Write(size, new byte[0]);
            ctx.Synchronize();
            var dst = new byte[src.Length];
            buf.Read(17, dst);
            Check(src.SequenceEqual(dst), "round trip");
            Check(buf.Read(117, 5).SequenceEqual(src.Skip(100).Take(5)), "partial read");
            buf.Write(size - 1, new byte[] { 0xAB });
            Throws(Status.OutOfRange, () => buf.Write(size - 1, new byte[] { 1, 2 }));
            Equal((byte)0xAB, buf.Read(size - 1, 1)[0], "last byte untouched by a rejected write");
        }
    }

    private static void BufferRoundTripCpu()
    {
        using (var ctx = new Context("cpu"))
        {
            Equal(Device.Cpu, ctx.Device, "context device");
            Equal(IntPtr.Zero, ctx.Stream, "CPU stream");
            Throws(Status.Unsupported, () => ctx.SetStream(IntPtr.Zero), "CPU");
            RoundTrip(ctx, Device.Cpu);
        }
    }

    private static void BufferRoundTripCuda()
    {
        int n = Library.CudaDeviceCount;
        if (n == 0) throw new SkipException("no CUDA device");
        using (var ctx = new Context("cuda", strict: true))
        {
            Check(ctx.Stream != IntPtr.Zero, "CUDA stream");
            RoundTrip(ctx, Device.Cuda(0));
        }
        DeviceInfo info = Library.CudaDeviceInfo(0);
        Check(info.Name.Length > 0 && info.ComputeCapabilityMajor >= 3 && info.MultiprocessorCount > 0 &&
              info.TotalMemoryBytes > 0 && info.FreeMemoryBytes <= info.TotalMemoryBytes, "plausible device info: " + info.Name);
        Throws(Status.NoDevice, () => Library.CudaDeviceInfo(n));
        Throws(Status.NoDevice, () => new Context("cuda:" + n, strict: true), "requested");
        Check(Library.CudaPluginLoaded, "plugin loaded: " + Library.CudaPluginStatus);
    }

    private static void AutoContext()
    {
        using (var ctx = new Context())
        {
            Equal(Library.CudaDeviceCount > 0 ? Device.Cuda(0) : Device.Cpu, ctx.Device, "auto device");
            ctx.Synchronize();
        }
    }

    private static void DisposeTwiceAndUseAfterDispose()
    {
        var ctx = new Context("cpu");
        var buf = new RaiBuffer(ctx, 16);
        ctx.Dispose();
        ctx.Dispose();
        Check(ctx.IsDisposed, "IsDisposed");
        ThrowsDisposed(() => { var d = ctx.Device; }, "Rai.Context");
        ThrowsDisposed(() => ctx.Synchronize(), "Rai.Context");
        ThrowsDisposed(() => new RaiBuffer(ctx, 8), "Rai.Context");
        ThrowsDisposed(() => buf.Write(0, new byte[1]), "Rai.Context");
        buf.Dispose();
        buf.Dispose();
        ThrowsDisposed(() => buf.Read(0, new byte[1]), "Rai.Buffer");
        ThrowsDisposed(() => { var p = buf.Pointer; }, "Rai.Buffer");
    }

    private static void FinalizersRelease()
    {
        // Handles dropped without Dispose are released by their SafeHandle finalizers.
        for (int i = 0; i < 200; i++)
        {
            var ctx = new Context("cpu");
            new RaiBuffer(ctx, 4096);
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static void ConcurrentErrorMessages()
    {
        using (var ctx = new Context("cpu"))
        {
            var failures = new List<string>();
            var threads = new List<Thread>();
            for (int t = 0; t < 8; t++)
            {
                int size = 32 + t;
                var th = new Thread(() =>
                {
                    try
                    {
                        using (var buf = new RaiBuffer(ctx, size))
                        {
                            for (int i = 0; i < 300; i++)
                            {
                                if (i % 2 == 0)
                                    Throws(Status.OutOfRange, () => buf.Read(40, new byte[1]), "[40, +1)");
                                else
                                    Throws(Status.InvalidArgument, () => new RaiBuffer(ctx, 0), "bytes");
                            }
                        }
                    }
                    catch (Exception e)
                    {
                        lock (failures) failures.Add(e.Message);
                    }
                });
                threads.Add(th);
                th.Start();
            }
            foreach (var th in threads) th.Join();
            Check(failures.Count == 0, string.Join("; ", failures));
        }
    }

    private static void CpuFeatureMask()
    {
        CpuFeatures detected = Library.CpuFeaturesDetected, orig = Library.CpuFeatures;
        try
        {
            Equal(CpuFeatures.None, orig & ~detected, "usable within detected");
            Library.SetCpuFeatureMask(CpuFeatures.None);
            Equal(CpuFeatures.None, Library.CpuFeatures, "mask 0");
            Equal("scalar", Library.CpuDispatchLevel, "level with mask 0");
            Library.SetCpuFeatureMask(CpuFeatures.Popcnt | CpuFeatures.Avx2);
            Equal(detected & (CpuFeatures.Popcnt | CpuFeatures.Avx2), Library.CpuFeatures, "mask popcnt|avx2");
            Library.SetCpuFeatureMask(orig);
            Equal(orig, Library.CpuFeatures, "restored mask");
            if ((detected & (CpuFeatures.Avx2 | CpuFeatures.Fma)) == (CpuFeatures.Avx2 | CpuFeatures.Fma))
                Check(Library.CpuDispatchLevel != "scalar", "AVX2+FMA selects a SIMD level");
        }
        finally
        {
            Library.SetCpuFeatureMask(orig);
        }
        Equal("popcnt avx2", string.Join(" ", Library.CpuFeatureNames(CpuFeatures.Avx2 | CpuFeatures.Popcnt)), "names");
        Equal("0x10000000000", string.Join(" ", Library.CpuFeatureNames((CpuFeatures)(1UL << 40))), "unknown bit");
        Equal((ulong)N.rai.RAI_CPU_AVX512BF16, (ulong)CpuFeatures.Avx512BF16, "bit values match the header");
        foreach (string name in Library.CpuFeatureNames(detected)) Check(!name.StartsWith("0x"), "named bit " + name);
    }

    private static void SystemInfoJson()
    {
        string json = Library.SystemInfoJson();
        Check(json.TrimStart().StartsWith("{") && json.TrimEnd().EndsWith("}"), "JSON object");
        Check(json.Contains("\"version\": \"" + Library.Version + "\""), "version in JSON");
        Check(json.Contains("\"dispatch_level\": \"" + Library.CpuDispatchLevel + "\""), "dispatch level in JSON");
        Check(json.Contains("\"cuda_devices\": ["), "device list in JSON");
    }

    private static void LogLevels()
    {
        try
        {
            foreach (LogLevel l in new[] { LogLevel.Debug, LogLevel.Info, LogLevel.Error, LogLevel.Off, LogLevel.Warn })
            {
                Library.LogLevel = l;
                Equal(l, Library.LogLevel, "LogLevel");
            }
        }
        finally
        {
            Library.LogLevel = LogLevel.Warn;
        }
    }

    private static int Main()
    {
        SetEnv("RAI_DEVICE", null);
        var tests = new List<KeyValuePair<string, Action>>
        {
            new KeyValuePair<string, Action>("LogHandler", LogHandler),
            new KeyValuePair<string, Action>("Version", Version),
            new KeyValuePair<string, Action>("StatusValues", StatusValues),
            new KeyValuePair<string, Action>("StructDefaults", StructDefaults),
            new KeyValuePair<string, Action>("Errors", Errors),
            new KeyValuePair<string, Action>("StrictCudaWithoutGpu", StrictCudaWithoutGpu),
            new KeyValuePair<string, Action>("EnvironmentOverride", EnvironmentOverride),
            new KeyValuePair<string, Action>("ParseDevice", ParseDevice),
            new KeyValuePair<string, Action>("BufferRoundTripCpu", BufferRoundTripCpu),
            new KeyValuePair<string, Action>("BufferRoundTripCuda", BufferRoundTripCuda),
            new KeyValuePair<string, Action>("AutoContext", AutoContext),
            new KeyValuePair<string, Action>("DisposeTwiceAndUseAfterDispose", DisposeTwiceAndUseAfterDispose),
            new KeyValuePair<string, Action>("FinalizersRelease", FinalizersRelease),
            new KeyValuePair<string, Action>("ConcurrentErrorMessages", ConcurrentErrorMessages),
            new KeyValuePair<string, Action>("CpuFeatureMask", CpuFeatureMask),
            new KeyValuePair<string, Action>("SystemInfoJson", SystemInfoJson),
            new KeyValuePair<string, Action>("LogLevels", LogLevels),
        };
        // One list per capability file (TestTernary.cs, TestQuant.cs, ...).
        tests.AddRange(TernaryTests());
        tests.AddRange(QuantTests());
        tests.AddRange(FileTests());
        tests.AddRange(AdapterTests());
        tests.AddRange(CompressionTests());
        tests.AddRange(TrainingTests());
        int passed = 0, failed = 0, skipped = 0;
        foreach (var t in tests)
        {
            try
            {
                t.Value();
                passed++;
                Console.WriteLine("PASS " + t.Key);
            }
            catch (SkipException e)
            {
                skipped++;
                Console.WriteLine("SKIP " + t.Key + ": " + e.Message);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + t.Key + ": " + e);
            }
        }
        if (skipped > 0) Console.WriteLine(skipped + " skipped");
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
