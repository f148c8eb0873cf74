// Compression.cs: error-feedback gradient compressors for data-parallel training (rai.h
// "gradient compression", docs/compress.md). A Compressor owns, per registered tensor, the EF
// residual, PowerSGD state and statistics; messages are byte[] in librai's versioned wire format.
using System;
using System.Collections.Generic;
using N = Rai.Native;

namespace Rai
{
    /// <summary>rai_gc_method.</summary>
    public enum CompressionMethod
    {
        None = 0, TopK = 1, Sign = 2, Ternary = 3, TernaryStochastic = 4, Qsgd = 5, PowerSgd = 6,
        /// <summary>vsa-optim compatibility only: poor quality, never train with it.</summary>
        VsaCompat = 7,
    }

    /// <summary>RAI_GC_EF_*: error feedback default (on for biased methods), on or off.</summary>
    public enum ErrorFeedback { Default = 0, On = 1, Off = 2 }

    /// <summary>rai_gc_params; zero fields mean librai's defaults.</summary>
    public sealed class CompressorOptions
    {
        public CompressionMethod Method = CompressionMethod.None;
        /// <summary>TopK: fraction kept, in (0, 1]; 0 = 0.01.</summary>
        public float Ratio;
        /// <summary>PowerSgd rank; 0 = 2.</summary>
        public uint Rank;
        public uint PowerIterations;
        public uint QsgdLevels;
        public uint VsaDimension;
        public float VsaRatio;
        public ErrorFeedback ErrorFeedback = ErrorFeedback.Default;
        public uint WarmupSteps;
        /// <summary>Record cosine and relative error of every compression (CompressionStats).</summary>
        public bool MeasureQuality;
        public ulong Seed;
        /// <summary>Momentum correction (DGC) in [0, 1); 0 = off. The compressor keeps a velocity
        /// u = Momentum*u + grad per tensor and sends it with its EF residual: step with plain SGD
        /// (no momentum) on the decompressed average. Needs error feedback.</summary>
        public float Momentum;

        internal N.rai_gc_params Native()
        {
            var p = new N.rai_gc_params();
            p.method = (int)Method;
            p.ratio = Ratio;
            p.rank = Rank;
            p.power_iters = PowerIterations;
            p.qsgd_levels = QsgdLevels;
            p.vsa_dimension = VsaDimension;
            p.vsa_ratio = VsaRatio;
            p.error_feedback = (int)ErrorFeedback;
            p.warmup_steps = WarmupSteps;
            p.flags = MeasureQuality ? N.rai.RAI_GC_MEASURE_QUALITY : 0u;
            p.seed = Seed;
            p.momentum = Momentum;
            return p;
        }
    }

    /// <summary>rai_gc_stats.</summary>
    public sealed class CompressionStats
    {
        public long Steps;
        public long Params;
        public long BitsIn;
        public long BitsOut;
        public double BitsPerParam;
        public double LastCosine;
        public double LastRelError;
        public double EfNorm;
        public long QualitySamples;
    }

    /// <summary>A gradient compressor on a context (kept alive until Dispose). Register tensors
    /// once, in a fixed order; ids are 0, 1, 2, ...</summary>
    public sealed unsafe class Compressor : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_gc_destroy(new N.SWIGTYPE_p_rai_gc(p, false));

        /// <summary>Every tensor, for Stats.</summary>
        public const uint AllTensors = N.rai.RAI_GC_ALL_TENSORS;

        public Compressor(Context context, CompressorOptions options = null) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = (options ?? new CompressorOptions()).Native())
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_gc_create(P.Ctx(c), p, new N.SWIGTYPE_p_p_rai_gc((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        // Registered shapes by id, so float[] overloads pass the gradient with its registered shape.
        private readonly List<long[]> shapes = new List<long[]>();

        private static N.SWIGTYPE_p_rai_gc G(HandleLease l) { return new N.SWIGTYPE_p_rai_gc(l.Pointer, false); }

        /// <summary>1 when librai was built with MPI (AllReduceMpi works).</summary>
        public static bool HasMpi { get { return N.rai.rai_gc_has_mpi() != 0; } }

        /// <summary>Registers a tensor shaped and typed like <paramref name="like"/> (f32 or bf16; its
        /// data is not read) and returns its id.</summary>
        public uint Register(Tensor like, string name = null)
        {
            if (like == null) throw new ArgumentNullException("like");
            using (var l = Lease())
            using (var t = new TensorPins())
            {
                uint id;
                Library.Check(N.rai.rai_gc_add_tensor(G(l), name, t[like], P.U32(&id)));
                lock (shapes) shapes.Add((long[])like.Shape.Clone());
                return id;
            }
        }

        /// <summary>Registers an f32 tensor of <paramref name="shape"/>.</summary>
        public uint Register(long[] shape, string name = null)
        {
            if (shape == null) throw new ArgumentNullException("shape");
            long n = 1;
            foreach (long d in shape) n *= d;
            return Register(new Tensor(new float[n], shape), name);
        }

        public int TensorCount
        {
            get
            {
                using (var l = Lease())
                {
                    uint n;
                    Library.Check(N.rai.rai_gc_tensor_count(G(l), P.U32(&n)));
                    return (int)n;
                }
            }
        }

        /// <summary>Largest message Compress can write for tensor <paramref name="id"/>.</summary>
        public long MaxMessageSize(uint id)
        {
            using (var l = Lease())
            {
                ulong n;
                Library.Check(N.rai.rai_gc_max_message_size(G(l), id, P.Size(&n)));
                return (long)n;
            }
        }

        /// <summary>Adds the EF residual, encodes, stores the new residual; returns the message.</summary>
        public byte[] Compress(uint id, Tensor gradient)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
            {
                N.rai_tensor g = t[gradient];
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_gc_compress(G(l), id, g, P.Void(o), cap, n));
            }
        }

        public byte[] Compress(uint id, float[] gradient) { return Compress(id, new Tensor(gradient, Shape(id, gradient))); }

        /// <summary>Decodes a message (this handle's, a peer's with the same options, or a reduced
        /// one) into <paramref name="gradient"/>.</summary>
        public void Decompress(uint id, byte[] message, Tensor gradient)
        {
            if (message == null) throw new ArgumentNullException("message");
            using (var l = Lease())
            using (var pins = new Pins())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gc_decompress(G(l), id, P.Void(pins.Ptr(message)), (ulong)message.Length, t[gradient]));
        }

        public void Decompress(uint id, byte[] message, float[] gradient) { Decompress(id, message, new Tensor(gradient, Shape(id, gradient))); }

        /// <summary>gradient &lt;- decompress(compress(gradient)) with the same EF update (one process).</summary>
        public void Apply(uint id, Tensor gradient)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gc_apply(G(l), id, t[gradient]));
        }

        public void Apply(uint id, float[] gradient) { Apply(id, new Tensor(gradient, Shape(id, gradient))); }

        /// <summary>Reduces peers' messages of one step into one message decoding to their sum.</summary>
        public byte[] Reduce(uint id, IList<byte[]> messages)
        {
            if (messages == null) throw new ArgumentNullException("messages");
            using (var l = Lease())
            using (var pins = new Pins())
            {
                var ptrs = new IntPtr[Math.Max(messages.Count, 1)];
                var lengths = new ulong[Math.Max(messages.Count, 1)];
                for (int i = 0; i < messages.Count; i++)
                {
                    if (messages[i] == null) throw new ArgumentNullException("messages[" + i + "]");
                    ptrs[i] = pins.Pin(messages[i]);
                    lengths[i] = (ulong)messages[i].Length;
                }
                var list = P.VoidPP(pins.Ptr(ptrs));
                var lens = P.Size(pins.Ptr(lengths));
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_gc_message_reduce(G(l), id, list, lens, (ulong)messages.Count,
                                                                                    P.Void(o), cap, n));
            }
        }

        /// <summary>PowerSGD round 1: the P message of gradient + residual.</summary>
        public byte[] PowerSgdP(uint id, Tensor gradient)
        {
            using (var l = Lease())
            using (var t = new TensorPins())
            {
                N.rai_tensor g = t[gradient];
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_gc_powersgd_p(G(l), id, g, P.Void(o), cap, n));
            }
        }

        /// <summary>PowerSGD round 2: the Q message from the summed P (empty when P was sent raw).</summary>
        public byte[] PowerSgdQ(uint id, byte[] pSum)
        {
            if (pSum == null) throw new ArgumentNullException("pSum");
            using (var l = Lease())
            using (var pins = new Pins())
            {
                var ps = P.Void(pins.Ptr(pSum));
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_gc_powersgd_q(G(l), id, ps, (ulong)pSum.Length, P.Void(o), cap, n));
            }
        }

        /// <summary>Compressed all-reduce over MPI: <paramref name="mpiComm"/> is the address of the
        /// caller's MPI_Comm (e.g. from an MPI binding), which must come from the MPI library librai
        /// was built with; MPI must be initialised. Afterwards <paramref name="gradient"/> holds the
        /// (compressed) sum, or the mean with <paramref name="average"/>. With
        /// <paramref name="sumDecoded"/> every rank's decoded message is summed instead of the
        /// gathered messages being reduced (SIGN: the mean of the scaled signs, not a majority
        /// vote). RaiException(Unsupported) without MPI (HasMpi).</summary>
        public void AllReduceMpi(uint id, Tensor gradient, IntPtr mpiComm, bool average = false, bool sumDecoded = false)
        {
            uint flags = (average ? N.rai.RAI_GC_ALLREDUCE_AVERAGE : 0u) | (sumDecoded ? N.rai.RAI_GC_ALLREDUCE_SUM_DECODED : 0u);
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_gc_allreduce_mpi(G(l), id, t[gradient], P.Void(mpiComm), flags));
        }

        /// <summary>Statistics of one tensor, or of all with AllTensors.</summary>
        public CompressionStats Stats(uint id = AllTensors)
        {
            using (var l = Lease())
            using (var s = new N.rai_gc_stats())
            {
                Library.Check(N.rai.rai_gc_get_stats(G(l), id, s));
                return new CompressionStats
                {
                    Steps = (long)s.steps,
                    Params = (long)s.params_,
                    BitsIn = (long)s.bits_in,
                    BitsOut = (long)s.bits_out,
                    BitsPerParam = s.bits_per_param,
                    LastCosine = s.last_cosine,
                    LastRelError = s.last_rel_error,
                    EfNorm = s.ef_norm,
                    QualitySamples = (long)s.quality_samples,
                };
            }
        }

        public void ResetStats()
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_gc_reset_stats(G(l)));
        }

        /// <summary>EF residuals, PowerSGD Q and step counters as a versioned blob.</summary>
        public byte[] SaveState()
        {
            using (var l = Lease())
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_gc_state_save(G(l), P.Void(o), cap, n));
        }

        /// <summary>Restores a SaveState blob; a mismatch changes nothing (Format / ShapeMismatch).</summary>
        public void LoadState(byte[] state)
        {
            if (state == null) throw new ArgumentNullException("state");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_gc_state_load(G(l), P.Void(pins.Ptr(state)), (ulong)state.Length));
        }

        /// <summary>The registered shape of <paramref name="id"/> (librai checks the array against it).</summary>
        private long[] Shape(uint id, float[] gradient)
        {
            if (gradient == null) throw new ArgumentNullException("gradient");
            lock (shapes)
                return id < shapes.Count ? shapes[(int)id] : new long[] { gradient.Length };
        }
    }
}
