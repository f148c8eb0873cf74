// Rai.cs: the idiomatic C# layer of librai, over the SWIG-generated Rai.Native (rai_swig.cs).
//
// Handles are SafeHandles (reference-counted, released exactly once, with a finalizer as the
// safety net); Context and Buffer are IDisposable and throw ObjectDisposedException after
// Dispose. A failed call throws RaiException carrying the rai_status and librai's message, read
// on the same thread right after the call.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using N = Rai.Native;

namespace Rai
{
    /// <summary>rai_status: append-only, values never change.</summary>
    public enum Status
    {
        Ok = 0,
        InvalidArgument = 1,
        OutOfMemory = 2,
        NoDevice = 3,
        Backend = 4,
        Unsupported = 5,
        BufferTooSmall = 6,
        Cancelled = 7,
        Internal = 8,
        ShapeMismatch = 9,
        DTypeMismatch = 10,
        DeviceMismatch = 11,
        Layout = 12,
        StructSize = 13,
        IO = 14,
        Format = 15,
        OutOfRange = 16,
    }

    /// <summary>rai_device_type (DLPack's DLDeviceType values).</summary>
    public enum DeviceType
    {
        Auto = 0,
        Cpu = 1,
        Cuda = 2,
        CudaHost = 3,
    }

    /// <summary>rai_log_level.</summary>
    public enum LogLevel
    {
        Debug = 0,
        Info = 1,
        Warn = 2,
        Error = 3,
        Off = 4,
    }

    /// <summary>The RAI_CPU_* feature bits.</summary>
    [Flags]
    public enum CpuFeatures : ulong
    {
        None = 0,
        Popcnt = 0x1,
        Avx2 = 0x2,
        Fma = 0x4,
        F16c = 0x8,
        Avx512F = 0x10,
        Avx512BW = 0x20,
        Avx512VL = 0x40,
        Avx512Vnni = 0x80,
        Avx512VPopcntDQ = 0x100,
        AvxVnni = 0x200,
        Avx512BF16 = 0x400,
    }

    /// <summary>A failed rai call: its status and librai's message, which names the argument at fault.</summary>
    public class RaiException : Exception
    {
        public Status Status { get; private set; }

        /// <summary>librai's message (rai_last_error_message), without the status prefix.</summary>
        public string Detail { get; private set; }

        public RaiException(Status status, string message)
            : base(Library.StatusString(status) + (string.IsNullOrEmpty(message) ? "" : ": " + message))
        {
            Status = status;
            Detail = message ?? "";
        }
    }

    /// <summary>A device type and ordinal, as in rai_device; written "cpu", "cuda:1", "auto".</summary>
    public struct Device : IEquatable<Device>
    {
        public readonly DeviceType Type;
        public readonly int Id;

        public Device(DeviceType type, int id = 0)
        {
            Type = type;
            Id = id;
        }

        public static readonly Device Cpu = new Device(DeviceType.Cpu);
        public static readonly Device Auto = new Device(DeviceType.Auto);
        public static Device Cuda(int id = 0) { return new Device(DeviceType.Cuda, id); }

        /// <summary>Reads "cpu", "cuda", "cuda:N" or "auto" (the syntax of RAI_DEVICE).</summary>
        public static Device Parse(string spec)
        {
            Device d;
            if (TryParse(spec, out d)) return d;
            throw new RaiException(Status.InvalidArgument,
                "device \"" + spec + "\" is not one of cpu, cuda, cuda:N, auto");
        }

        public static bool TryParse(string spec, out Device device)
        {
            device = default(Device);
            switch (spec)
            {
                case "cpu": device = Cpu; return true;
                case "auto": device = Auto; return true;
                case "cuda": device = Cuda(0); return true;
            }
            if (spec == null || !spec.StartsWith("cuda:", StringComparison.Ordinal) || spec.Length == 5 || spec.Length > 15)
                return false;
            long id = 0;
            for (int i = 5; i < spec.Length; i++)
            {
                char c = spec[i];
                if (c < '0' || c > '9') return false;
                id = id * 10 + (c - '0');
            }
            if (id > (1 << 30)) return false;
            device = Cuda((int)id);
            return true;
        }

        public override string ToString()
        {
            switch (Type)
            {
                case DeviceType.Cpu: return "cpu";
                case DeviceType.CudaHost: return "cuda_host";
                case DeviceType.Auto: return Id == 0 ? "auto" : "auto:" + Id;
                case DeviceType.Cuda: return "cuda:" + Id;
            }
            return "device_type(" + (int)Type + "):" + Id;
        }

        public bool Equals(Device other) { return Type == other.Type && Id == other.Id; }
        public override bool Equals(object obj) { return obj is Device && Equals((Device)obj); }
        public override int GetHashCode() { return ((int)Type * 397) ^ Id; }
        public static bool operator ==(Device a, Device b) { return a.Equals(b); }
        public static bool operator !=(Device a, Device b) { return !a.Equals(b); }
    }

    /// <summary>One CUDA device.</summary>
    public struct DeviceInfo
    {
        public int Ordinal;
        public string Name;
        public int ComputeCapabilityMajor;
        public int ComputeCapabilityMinor;
        public int MultiprocessorCount;
        public ulong TotalMemoryBytes;
        public ulong FreeMemoryBytes;
        public ulong L2CacheBytes;
    }

    /// <summary>Library-wide functions: version, build, devices, CPU features, logging.</summary>
    public static class Library
    {
        /// <summary>RAI_VERSION_STRING / RAI_VERSION_NUMBER of the rai.h this binding was generated from.</summary>
        public const string HeaderVersion = N.rai.RAI_VERSION_STRING;
        public const int HeaderVersionNumber = N.rai.RAI_VERSION_NUMBER;

        /// <summary>Version of the librai actually loaded ("0.1.0").</summary>
        public static string Version { get { return N.rai.rai_version_string(); } }

        /// <summary>MAJOR*10000 + MINOR*100 + PATCH of the librai actually loaded.</summary>
        public static uint VersionNumber { get { return N.rai.rai_version_number(); } }

        /// <summary>Throws RaiException(Unsupported) when the loaded librai has another ABI version
        /// (major and, during 0.x, minor) than this binding's header.</summary>
        public static void CheckVersion()
        {
            if (VersionNumber / 100 != HeaderVersionNumber / 100)
                throw new RaiException(Status.Unsupported,
                    "librai " + Version + " is loaded but this binding was built for " + HeaderVersion);
        }

        /// <summary>Compiler, CUDA plugin, SASS architectures, CPU kernels.</summary>
        public static string BuildInfo { get { return N.rai.rai_build_info(); } }

        /// <summary>librai's English name of a status ("invalid argument").</summary>
        public static string StatusString(Status status) { return N.rai.rai_status_string((N.rai_status)(int)status); }

        /// <summary>Throws RaiException when status is not RAI_OK, with the calling thread's message.</summary>
        internal static void Check(N.rai_status status)
        {
            if (status != N.rai_status.RAI_OK)
                throw new RaiException((Status)(int)status, N.rai.rai_last_error_message());
        }

        /// <summary>JSON describing version, build, CPU and CUDA devices.</summary>
        public static string SystemInfoJson()
        {
            N.SWIGTYPE_p_p_char cell = N.rai.new_char_pp();
            try
            {
                Check(N.rai.rai_system_info_json(cell));
                string text = N.rai.char_pp_value(cell);
                N.rai.rai_free(N.rai.void_pp_value(N.rai.char_pp_as_void_pp(cell)));
                return text;
            }
            finally
            {
                N.rai.delete_char_pp(cell);
            }
        }

        // ------------------------------------------------------------------ devices

        /// <summary>Usable CUDA devices: 0 when the plugin, the driver or a GPU is missing.</summary>
        public static int CudaDeviceCount
        {
            get
            {
                N.SWIGTYPE_p_int cell = N.rai.new_int32_tp();
                try
                {
                    Check(N.rai.rai_cuda_device_count(cell));
                    return N.rai.int32_tp_value(cell);
                }
                finally
                {
                    N.rai.delete_int32_tp(cell);
                }
            }
        }

        /// <summary>Describes CUDA device <paramref name="ordinal"/>; RaiException(NoDevice) when it does not exist.</summary>
        public static DeviceInfo CudaDeviceInfo(int ordinal)
        {
            using (var info = new N.rai_device_info())
            {
                Check(N.rai.rai_cuda_device_info(ordinal, info));
                return new DeviceInfo
                {
                    Ordinal = ordinal,
                    Name = info.name,
                    ComputeCapabilityMajor = info.compute_capability_major,
                    ComputeCapabilityMinor = info.compute_capability_minor,
                    MultiprocessorCount = info.multiprocessor_count,
                    TotalMemoryBytes = info.total_memory_bytes,
                    FreeMemoryBytes = info.free_memory_bytes,
                    L2CacheBytes = info.l2_cache_bytes,
                };
            }
        }

        /// <summary>Whether librai_cuda.so is loaded and found a driver (triggers the load).</summary>
        public static bool CudaPluginLoaded { get { return N.rai.rai_cuda_plugin_loaded() != 0; } }

        /// <summary>Where the CUDA plugin came from or why it did not load.</summary>
        public static string CudaPluginStatus { get { return N.rai.rai_cuda_plugin_status(); } }

        // ------------------------------------------------------------- CPU features

        /// <summary>What this CPU and OS support.</summary>
        public static CpuFeatures CpuFeaturesDetected { get { return (CpuFeatures)N.rai.rai_cpu_features_detected(); } }

        /// <summary>What CPU kernels may use: detected &amp; mask.</summary>
        public static CpuFeatures CpuFeatures { get { return (CpuFeatures)N.rai.rai_cpu_features(); } }

        /// <summary>Restricts CPU kernels to detected &amp; mask (None selects the scalar reference). Global.</summary>
        public static void SetCpuFeatureMask(CpuFeatures mask) { N.rai.rai_cpu_set_feature_mask((ulong)mask); }

        /// <summary>"scalar", "avx2" or "avx512": the widest kernel level the current features select.</summary>
        public static string CpuDispatchLevel { get { return N.rai.rai_cpu_dispatch_level(); } }

        /// <summary>librai's names of the bits in <paramref name="features"/>, lowest first; unknown bits as hex.</summary>
        public static string[] CpuFeatureNames(CpuFeatures features)
        {
            var names = new List<string>();
            for (int bit = 0; bit < 64; bit++)
            {
                ulong f = 1UL << bit;
                if (((ulong)features & f) == 0) continue;
                string name = N.rai.rai_cpu_feature_name(f);
                names.Add(string.IsNullOrEmpty(name) ? "0x" + f.ToString("x") : name);
            }
            return names.ToArray();
        }

        // ------------------------------------------------------------------ logging

        /// <summary>Global log level (default Warn); an out-of-range level throws RaiException(InvalidArgument).</summary>
        public static LogLevel LogLevel
        {
            get { return (LogLevel)N.rai.rai_get_log_level(); }
            set { Check(N.rai.rai_set_log_level((int)value)); }
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void NativeLogCallback(int level, IntPtr message, IntPtr userData);

        // Defined in the glue (rai.i): rai_set_log_callback(callback, NULL).
        [DllImport("rai_csharp", EntryPoint = "RaiCsharp_set_log_callback", CallingConvention = CallingConvention.Cdecl)]
        private static extern void SetNativeLogCallback(NativeLogCallback callback);

        // The delegate librai holds a pointer to: a static field, so it is never collected.
        private static readonly NativeLogCallback trampoline = OnNativeLog;
        private static readonly object logLock = new object();
        private static volatile Action<LogLevel, string> logHandler;

        /// <summary>Routes librai's log records at or above LogLevel to <paramref name="handler"/>;
        /// null removes it (librai then prints nothing). The handler may run on any thread and
        /// must not call into rai. Exceptions it throws are dropped.</summary>
        public static void SetLogHandler(Action<LogLevel, string> handler)
        {
            lock (logLock)
            {
                logHandler = handler;
                SetNativeLogCallback(handler != null ? trampoline : null);
            }
        }

        private static void OnNativeLog(int level, IntPtr message, IntPtr userData)
        {
            Action<LogLevel, string> handler = logHandler;
            if (handler == null) return;
            try
            {
                handler((LogLevel)level, Utf8(message));
            }
            catch (Exception)
            {
                // An exception must not unwind into librai's C++ frames.
            }
        }

        internal static string Utf8(IntPtr text)
        {
            if (text == IntPtr.Zero) return "";
            int n = 0;
            while (Marshal.ReadByte(text, n) != 0) n++;
            var bytes = new byte[n];
            Marshal.Copy(text, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }
    }

    /// <summary>Keeps a SafeHandle from being released for the duration of one native call.</summary>
    internal struct HandleLease : IDisposable
    {
        private readonly SafeHandle owner;
        private readonly bool added;
        public readonly IntPtr Pointer;

        public HandleLease(SafeHandle h, string objectName)
        {
            owner = h;
            added = false;
            if (h.IsClosed) throw new ObjectDisposedException(objectName);
            try
            {
                h.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                throw new ObjectDisposedException(objectName);
            }
            Pointer = h.DangerousGetHandle();
        }

        public void Dispose()
        {
            if (added) owner.DangerousRelease();
        }
    }

    /// <summary>A rai_context: a device and the stream its work is queued on. Calls on one
    /// context are serialised by librai; different contexts run in parallel.</summary>
    public sealed class Context : IDisposable
    {
        private readonly RaiHandle handle;

        /// <summary>Creates a context on <paramref name="device"/> ("cpu", "cuda", "cuda:N", "auto").
        /// The environment variable RAI_DEVICE overrides it unless <paramref name="ignoreEnv"/>;
        /// <paramref name="strict"/> fails with Status.NoDevice instead of falling back to the CPU.</summary>
        public Context(string device = "auto", bool strict = false, bool ignoreEnv = false)
            : this(Rai.Device.Parse(device), strict, ignoreEnv)
        {
        }

        public Context(Device device, bool strict = false, bool ignoreEnv = false)
        {
            uint flags = 0;
            if (strict) flags |= N.rai.RAI_CONTEXT_STRICT;
            if (ignoreEnv) flags |= N.rai.RAI_CONTEXT_IGNORE_ENV;
            handle = new RaiHandle(p => N.rai.rai_context_destroy(new N.SWIGTYPE_p_rai_context(p, false)));
            using (var p = new N.rai_context_params())
            {
                p.device_type = (int)device.Type;
                p.device_id = device.Id;
                p.flags = flags;
                N.SWIGTYPE_p_p_rai_context cell = N.rai.new_rai_context_pp();
                try
                {
                    Library.Check(N.rai.rai_context_create(p, cell));
                    handle.Adopt(N.SWIGTYPE_p_rai_context.getCPtr(N.rai.rai_context_pp_value(cell)).Handle);
                }
                finally
                {
                    N.rai.delete_rai_context_pp(cell);
                }
            }
        }

        internal HandleLease Lease() { return new HandleLease(handle, "Rai.Context"); }

        /// <summary>For objects that borrow the context (RaiHandle.Borrow).</summary>
        internal SafeHandle SafeHandle { get { return handle; } }

        internal static N.SWIGTYPE_p_rai_context Native(HandleLease lease)
        {
            return new N.SWIGTYPE_p_rai_context(lease.Pointer, false);
        }

        public bool IsDisposed { get { return handle.IsClosed; } }

        /// <summary>The device the context runs on (never Auto).</summary>
        public Device Device
        {
            get
            {
                using (var lease = Lease())
                using (var d = new N.rai_device())
                {
                    Library.Check(N.rai.rai_context_device(Native(lease), d));
                    return new Device((DeviceType)d.device_type, d.device_id);
                }
            }
        }

        /// <summary>Waits for all work queued on the context's stream.</summary>
        public void Synchronize()
        {
            using (var lease = Lease())
                Library.Check(N.rai.rai_context_synchronize(Native(lease)));
        }

        /// <summary>The cudaStream_t work is queued on (IntPtr.Zero on the CPU).</summary>
        public IntPtr Stream
        {
            get
            {
                using (var lease = Lease())
                {
                    N.SWIGTYPE_p_p_void cell = N.rai.new_void_pp();
                    try
                    {
                        Library.Check(N.rai.rai_context_stream(Native(lease), cell));
                        return N.SWIGTYPE_p_void.getCPtr(N.rai.void_pp_value(cell)).Handle;
                    }
                    finally
                    {
                        N.rai.delete_void_pp(cell);
                    }
                }
            }
        }

        /// <summary>Adopts a caller's cudaStream_t (borrowed: it must outlive its use), or with
        /// IntPtr.Zero returns to the context's own stream. Status.Unsupported on a CPU context.</summary>
        public void SetStream(IntPtr stream)
        {
            using (var lease = Lease())
                Library.Check(N.rai.rai_context_set_stream(Native(lease), new N.SWIGTYPE_p_void(stream, false)));
        }

        /// <summary>Destroys the context; later calls throw ObjectDisposedException. Idempotent.</summary>
        public void Dispose() { handle.Dispose(); }
    }

    /// <summary>A rai_buffer: bytes on the device of the context it was made on (256-byte aligned).
    /// (With <c>using System;</c> in scope, write Rai.Buffer to tell it from System.Buffer.)</summary>
    public sealed class Buffer : IDisposable
    {
        private readonly RaiHandle handle;
        private readonly Context context;
        private readonly ulong size;

        /// <summary>Allocates <paramref name="bytes"/> bytes on the device of <paramref name="context"/>.</summary>
        public Buffer(Context context, long bytes)
        {
            if (context == null) throw new ArgumentNullException("context");
            if (bytes < 0) throw new RaiException(Status.InvalidArgument, "bytes must be > 0, got " + bytes);
            this.context = context;
            size = (ulong)bytes;
            handle = new RaiHandle(p => N.rai.rai_buffer_destroy(new N.SWIGTYPE_p_rai_buffer(p, false)));
            using (var lease = context.Lease())
            {
                N.SWIGTYPE_p_p_rai_buffer cell = N.rai.new_rai_buffer_pp();
                try
                {
                    Library.Check(N.rai.rai_buffer_create(Context.Native(lease), size, cell));
                    handle.Adopt(N.SWIGTYPE_p_rai_buffer.getCPtr(N.rai.rai_buffer_pp_value(cell)).Handle);
                }
                finally
                {
                    N.rai.delete_rai_buffer_pp(cell);
                }
            }
        }

        public long Size { get { return (long)size; } }
        public Context Context { get { return context; } }
        public bool IsDisposed { get { return handle.IsClosed; } }

        internal HandleLease Lease() { return new HandleLease(handle, "Rai.Buffer"); }

        private static N.SWIGTYPE_p_rai_buffer Native(HandleLease lease)
        {
            return new N.SWIGTYPE_p_rai_buffer(lease.Pointer, false);
        }

        /// <summary>The device the buffer lives on.</summary>
        public Device Device
        {
            get
            {
                using (var lease = Lease())
                using (var d = new N.rai_device())
                {
                    Library.Check(N.rai.rai_buffer_device(Native(lease), d));
                    return new Device((DeviceType)d.device_type, d.device_id);
                }
            }
        }

        /// <summary>Device pointer (a host pointer on the CPU) for other libraries; valid until Dispose.</summary>
        public IntPtr Pointer
        {
            get
            {
                using (var lease = Lease())
                    return N.SWIGTYPE_p_void.getCPtr(N.rai.rai_buffer_data(Native(lease))).Handle;
            }
        }

        /// <summary>Copies all of <paramref name="source"/> into the buffer at <paramref name="offset"/>,
        /// synchronously; the array is pinned, not copied. A range outside the buffer throws
        /// RaiException(OutOfRange) and copies nothing.</summary>
        public void Write(long offset, byte[] source)
        {
            if (source == null) throw new ArgumentNullException("source");
            if (offset < 0) throw new RaiException(Status.OutOfRange, "offset must be >= 0, got " + offset);
            using (var lease = Lease())
            using (var ctx = context.Lease())
                Library.Check(N.rai.rai_buffer_write(Context.Native(ctx), Native(lease), (ulong)offset, source,
                                                     (ulong)source.LongLength));
        }

        /// <summary>Fills <paramref name="destination"/> from the buffer at <paramref name="offset"/>,
        /// synchronously and without an intermediate copy. A range outside the buffer throws
        /// RaiException(OutOfRange) and copies nothing.</summary>
        public void Read(long offset, byte[] destination)
        {
            if (destination == null) throw new ArgumentNullException("destination");
            if (offset < 0) throw new RaiException(Status.OutOfRange, "offset must be >= 0, got " + offset);
            using (var lease = Lease())
            using (var ctx = context.Lease())
                Library.Check(N.rai.rai_buffer_read(Context.Native(ctx), Native(lease), (ulong)offset, destination,
                                                    (ulong)destination.LongLength));
        }

        /// <summary>Reads <paramref name="count"/> bytes at <paramref name="offset"/> into a new array.</summary>
        public byte[] Read(long offset, int count)
        {
            if (count < 0) throw new ArgumentOutOfRangeException("count");
            var result = new byte[count];
            Read(offset, result);
            return result;
        }

        /// <summary>Releases the buffer; later calls throw ObjectDisposedException. Idempotent.</summary>
        public void Dispose() { handle.Dispose(); }
    }
}
