// Adapters.cs: parameter-efficient adapters with HF PEFT semantics (rai.h "adapters: LoRA family",
// docs/adapters.md): AdapterModel (named frozen base modules and named adapters over them: add,
// activate, forward/backward, merge/unmerge, mixed batches, PEFT directories) and LoraLinear (one
// LoRA/DoRA/QLoRA layer on caller tensors).
using System;
using N = Rai.Native;

namespace Rai
{
    public enum PeftType { Lora = 1, Ia3 = 2, Vera = 3, LoHa = 4, LoKr = 5, AdaLora = 6 }
    public enum AdapterInit { Default = 0, Gaussian = 1, None = 2, Random = 3 }
    public enum AdapterBias { None = 0, All = 1, LoraOnly = 2 }
    public enum AdapterCombination { Cat = 1, Linear = 2 }

    /// <summary>RAI_ADAPTER_* flags.</summary>
    [Flags]
    public enum AdapterFlags { None = 0, RsLora = 0x1, Dora = 0x2, FanInFanOut = 0x4, LoraBias = 0x8 }

    /// <summary>RAI_ADAPTER_MERGE_* flags.</summary>
    [Flags]
    public enum MergeFlags { None = 0, Safe = 0x1, Lossy = 0x2, KeepOriginal = 0x4 }

    /// <summary>rai_adapter_params: zero fields mean the tuner's defaults. The *Modules and *Pattern
    /// values are PEFT JSON text (a list of names, a regex string or "all-linear").</summary>
    public sealed class AdapterConfig
    {
        public PeftType PeftType = PeftType.Lora;
        public int R;
        public float Alpha;
        public float Dropout;
        public AdapterInit Init = AdapterInit.Default;
        public AdapterFlags Flags;
        public AdapterBias Bias = AdapterBias.None;
        public ulong Seed;
        /// <summary>Required, e.g. "[\"q_proj\", \"v_proj\"]" or "\"all-linear\"".</summary>
        public string TargetModules;
        public string ExcludeModules;
        /// <summary>{"pattern": r, ...}; AdaLoRA: {"&lt;module&gt;.lora_E": [true, false, ...]} (Rank is init_r).</summary>
        public string RankPattern;
        public string AlphaPattern;
        public string FeedforwardModules;
        public float VeraDInitial;
        public float RankDropout;
        public float ModuleDropout;
        public int DecomposeFactor;

        /// <summary>The native params: defaults, then these values. SWIG's setters copy the strings
        /// (null stays NULL) into memory the params object owns (bindings/swig/rai.i), so they stay
        /// valid while <c>p</c> lives.</summary>
        internal N.rai_adapter_params Native()
        {
            var p = new N.rai_adapter_params();
            p.peft_type = (int)PeftType;
            p.r = R;
            p.alpha = Alpha;
            p.dropout = Dropout;
            p.init = (int)Init;
            p.flags = (uint)Flags;
            p.bias = (int)Bias;
            p.seed = Seed;
            p.target_modules = TargetModules;
            p.exclude_modules = ExcludeModules;
            p.rank_pattern = RankPattern;
            p.alpha_pattern = AlphaPattern;
            p.feedforward_modules = FeedforwardModules;
            p.vera_d_initial = VeraDInitial;
            p.rank_dropout = RankDropout;
            p.module_dropout = ModuleDropout;
            p.decompose_factor = DecomposeFactor;
            return p;
        }
    }

    /// <summary>A set of frozen linear base modules (by HF name) and named adapters over them,
    /// computed on its context's device. The state (weights, adapter tensors, gradients) takes
    /// host tensors on any device; on a CUDA context Forward/ForwardMixed/Backward take Buffer
    /// tensors on the device, and 4-bit modules need a CPU context. Keeps its context alive.</summary>
    public sealed unsafe class AdapterModel : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_adapter_model_destroy(new N.SWIGTYPE_p_rai_adapter_model(p, false));

        public AdapterModel(Context context) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_adapter_model_create(P.Ctx(c), new N.SWIGTYPE_p_p_rai_adapter_model((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        private static N.SWIGTYPE_p_rai_adapter_model M(HandleLease l) { return new N.SWIGTYPE_p_rai_adapter_model(l.Pointer, false); }

        private static void NotNull(object o, string name) { if (o == null) throw new ArgumentNullException(name); }

        /// <summary>Registers a frozen linear module: weight [out, in] ([in, out] with fanInFanOut),
        /// bias [out] or null; f32, bf16 or f16 (copied).</summary>
        public void AddLinear(string name, Tensor weight, Tensor bias = null, bool fanInFanOut = false)
        {
            NotNull(name, "name");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_model_add_linear(M(l), name, t[weight], t[bias],
                                                                 fanInFanOut ? N.rai.RAI_LINEAR_FAN_IN_FAN_OUT : 0u));
        }

        /// <summary>Registers a frozen 4-bit module (QLoRA): a 2-D host state and its codes (copied).</summary>
        public void AddLinear(string name, QuantState state, Tensor codes, Tensor bias = null)
        {
            NotNull(name, "name");
            NotNull(state, "state");
            using (var l = Lease())
            using (var s = state.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_model_add_linear_q4(M(l), name, QuantState.S(s), t[codes], t[bias]));
        }

        /// <summary>The module's current weight (merges included) and bias (may be null).</summary>
        public void GetWeight(string name, Tensor weight, Tensor bias = null)
        {
            NotNull(name, "name");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_model_get_weight(M(l), name, t[weight], t[bias]));
        }

        /// <summary>{"modules": [...], "adapters": [...], "active": [...], "merged": [...], ...}.</summary>
        public string InfoJson
        {
            get { using (var l = Lease()) return OwnedText.Take(cell => N.rai.rai_adapter_model_info_json(M(l), cell)); }
        }

        /// <summary>Training mode enables dropout. Default: eval.</summary>
        public bool Training
        {
            set { using (var l = Lease()) Library.Check(N.rai.rai_adapter_model_set_training(M(l), value ? 1 : 0)); }
        }

        /// <summary>Creates adapter <paramref name="name"/>; it becomes the only active adapter when
        /// none was active. Invalid values change nothing.</summary>
        public void AddAdapter(string name, AdapterConfig config)
        {
            NotNull(name, "name");
            NotNull(config, "config");
            using (var l = Lease())
            using (var p = config.Native())
                Library.Check(N.rai.rai_adapter_add(M(l), name, p));
        }

        /// <summary>The same from PEFT adapter_config.json text.</summary>
        public void AddAdapterJson(string name, string configJson, ulong seed = 0)
        {
            NotNull(name, "name");
            NotNull(configJson, "configJson");
            using (var l = Lease())
                Library.Check(N.rai.rai_adapter_add_json(M(l), name, configJson, seed));
        }

        /// <summary>Fails while the adapter is merged.</summary>
        public void DeleteAdapter(string name)
        {
            NotNull(name, "name");
            using (var l = Lease())
                Library.Check(N.rai.rai_adapter_delete(M(l), name));
        }

        /// <summary>Active adapters and their weights (null = all 1): y = base + sum w_i adapter_i(x).
        /// An empty list activates none.</summary>
        public void SetActive(string[] names, float[] weights = null)
        {
            NotNull(names, "names");
            if (weights != null && weights.Length != names.Length)
                throw new RaiException(Status.ShapeMismatch, "weights has " + weights.Length + " values for " + names.Length + " names");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_adapter_set_active(M(l), P.CharPP((void*)pins.Utf8Array(names, "names")),
                                                           P.F32(pins.Ptr(weights)), (ulong)names.Length));
        }

        /// <summary>false unmerges everything and computes the base only until enabled again.</summary>
        public bool Enabled
        {
            set { using (var l = Lease()) Library.Check(N.rai.rai_adapter_set_enabled(M(l), value ? 1 : 0)); }
        }

        /// <summary>A new LoRA adapter combining existing ones as PEFT's add_weighted_adapter.</summary>
        public void AddWeighted(string newName, string[] names, float[] weights, AdapterCombination combination)
        {
            NotNull(newName, "newName");
            NotNull(names, "names");
            NotNull(weights, "weights");
            if (weights.Length != names.Length)
                throw new RaiException(Status.ShapeMismatch, "weights has " + weights.Length + " values for " + names.Length + " names");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_adapter_add_weighted(M(l), newName, P.CharPP((void*)pins.Utf8Array(names, "names")),
                                                             P.F32(pins.Ptr(weights)), (ulong)names.Length, (int)combination));
        }

        /// <summary>Copies the value of PEFT key <paramref name="key"/> of an adapter into destination.</summary>
        public void GetTensor(string adapter, string key, Tensor destination) { TensorCall(adapter, key, destination, 0); }

        /// <summary>Copies the accumulated gradient of a trainable key into destination.</summary>
        public void GetGrad(string adapter, string key, Tensor destination) { TensorCall(adapter, key, destination, 1); }

        /// <summary>Copies source into the key's value.</summary>
        public void SetTensor(string adapter, string key, Tensor source) { TensorCall(adapter, key, source, 2); }

        private void TensorCall(string adapter, string key, Tensor tensor, int which)
        {
            NotNull(adapter, "adapter");
            NotNull(key, "key");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(which == 0 ? N.rai.rai_adapter_get_tensor(M(l), adapter, key, t[tensor])
                            : which == 1 ? N.rai.rai_adapter_get_grad(M(l), adapter, key, t[tensor])
                                         : N.rai.rai_adapter_set_tensor(M(l), adapter, key, t[tensor]));
        }

        /// <summary>[{"key", "shape", "trainable"}...] of an adapter.</summary>
        public string TensorsJson(string adapter)
        {
            NotNull(adapter, "adapter");
            using (var l = Lease())
                return OwnedText.Take(cell => N.rai.rai_adapter_tensors_json(M(l), adapter, cell));
        }

        /// <summary>The adapter's PEFT adapter_config.json text.</summary>
        public string ConfigJson(string adapter)
        {
            NotNull(adapter, "adapter");
            using (var l = Lease())
                return OwnedText.Take(cell => N.rai.rai_adapter_config_json(M(l), adapter, cell));
        }

        /// <summary>Global-norm clipping of an adapter's gradients (null = every adapter); returns the
        /// norm before clipping.</summary>
        public float ClipGradNorm(string adapter, float maxNorm)
        {
            using (var l = Lease())
            {
                float norm;
                Library.Check(N.rai.rai_adapter_clip_grad_norm(M(l), adapter, maxNorm, P.F32(&norm)));
                return norm;
            }
        }

        /// <summary>AdaLoRA's budget allocator for one training step (PEFT's update_and_allocate):
        /// call it after backward and the optimizer step, before ZeroGrad. Returns the rank budget.</summary>
        public long AdaLoraUpdate(string adapter, long globalStep)
        {
            using (var l = Lease())
            {
                long budget;
                Library.Check(N.rai.rai_adapter_adalora_update(M(l), adapter, globalStep, P.I64(&budget)));
                return budget;
            }
        }

        /// <summary>AdaLoRA's orthogonal regulariser (add it to the loss); with accumulateGrad its
        /// gradient is added to the adapter's gradients.</summary>
        public float AdaLoraOrthReg(string adapter, bool accumulateGrad)
        {
            using (var l = Lease())
            {
                float loss;
                Library.Check(N.rai.rai_adapter_adalora_orth_reg(M(l), adapter, accumulateGrad ? 1 : 0, P.F32(&loss)));
                return loss;
            }
        }

        /// <summary>Zeroes accumulated gradients (null = every adapter).</summary>
        public void ZeroGrad(string adapter = null)
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_adapter_zero_grad(M(l), adapter));
        }

        /// <summary>y = module(x) with the active adapters: x [..., in], y [..., out], host.</summary>
        public void Forward(string module, Tensor x, Tensor y)
        {
            NotNull(module, "module");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_forward(M(l), module, t[x], t[y]));
        }

        /// <summary>Mixed batch (eval): row i uses adapter names[rowAdapter[i]], -1 = the base.</summary>
        public void ForwardMixed(string module, Tensor x, string[] names, int[] rowAdapter, Tensor y)
        {
            NotNull(module, "module");
            NotNull(names, "names");
            NotNull(rowAdapter, "rowAdapter");
            using (var l = Lease())
            using (var pins = new Pins())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_forward_mixed(M(l), module, t[x], P.CharPP((void*)pins.Utf8Array(names, "names")),
                                                              (ulong)names.Length, P.I32(pins.Ptr(rowAdapter)), t[y]));
        }

        /// <summary>Backward of the latest forward of module: accumulates adapter gradients and
        /// writes dx when not null.</summary>
        public void Backward(string module, Tensor x, Tensor dy, Tensor dx = null)
        {
            NotNull(module, "module");
            using (var l = Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_backward(M(l), module, t[x], t[dy], t[dx]));
        }

        /// <summary>W += delta for each named adapter (null = the active ones); on error nothing changes.</summary>
        public void Merge(string[] names = null, MergeFlags flags = MergeFlags.None)
        {
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_adapter_merge(M(l), P.CharPP((void*)pins.Utf8Array(names, "names")),
                                                      (ulong)(names == null ? 0 : names.Length), (uint)flags));
        }

        /// <summary>Pops count merged adapters (LIFO; 0 = all).</summary>
        public void Unmerge(int count = 0)
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_adapter_unmerge(M(l), count));
        }

        /// <summary>out [out, in] = the module's weight (or master) with the named adapters merged;
        /// nothing in the model changes.</summary>
        public void MergedWeight(string module, string[] names, Tensor master, Tensor output)
        {
            NotNull(module, "module");
            using (var l = Lease())
            using (var pins = new Pins())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_adapter_merged_weight(M(l), module, P.CharPP((void*)pins.Utf8Array(names, "names")),
                                                              (ulong)(names == null ? 0 : names.Length), t[master], t[output]));
        }

        /// <summary>Loads an HF PEFT directory (adapter_config.json + adapter_model.safetensors) as
        /// adapter <paramref name="name"/>.</summary>
        public void LoadPeft(string dir, string name)
        {
            NotNull(dir, "dir");
            NotNull(name, "name");
            using (var l = Lease())
                Library.Check(N.rai.rai_adapter_load_peft(M(l), dir, name));
        }

        /// <summary>Saves an adapter as an HF PEFT directory, tensors in dtype (null = f32).</summary>
        public void SavePeft(string name, string dir, DType? dtype = null)
        {
            NotNull(name, "name");
            NotNull(dir, "dir");
            using (var l = Lease())
            using (var d = dtype.HasValue ? dtype.Value.Native() : null)
                Library.Check(N.rai.rai_adapter_save_peft(M(l), name, dir, d));
        }
    }

    /// <summary>rai_lora_linear_params.</summary>
    public sealed class LoraOptions
    {
        /// <summary>s: alpha / r (or alpha / sqrt(r)); 0 = 1.</summary>
        public float Scaling;
        public float Dropout;
        /// <summary>Apply dropout (mask from Seed and Step).</summary>
        public bool Training;
        /// <summary>Backward adds into dA, dB, dMagnitude instead of overwriting.</summary>
        public bool Accumulate;
        public ulong Seed;
        public ulong Step;

        internal static N.rai_lora_linear_params Native(LoraOptions o)
        {
            var p = new N.rai_lora_linear_params();
            if (o == null) return p;
            p.scaling = o.Scaling;
            p.dropout = o.Dropout;
            p.flags = (o.Training ? N.rai.RAI_LORA_TRAINING : 0u) | (o.Accumulate ? N.rai.RAI_LORA_ACCUMULATE : 0u);
            p.seed = o.Seed;
            p.step = o.Step;
            return p;
        }
    }

    /// <summary>One LoRA / DoRA / QLoRA linear layer on caller tensors (CPU or CUDA):
    /// y = x W^T + bias + s B(A(drop(x))), W [N, K], A [r, K], B [N, r]; magnitude [N] for DoRA.</summary>
    public static unsafe class LoraLinear
    {
        public static void Forward(Context context, LoraOptions options, Tensor x, Tensor weight, Tensor bias,
                                   Tensor loraA, Tensor loraB, Tensor magnitude, Tensor y)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = LoraOptions.Native(options))
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_lora_linear_forward(P.Ctx(c), p, t[x], t[weight], t[bias], t[loraA], t[loraB], t[magnitude], t[y]));
        }

        /// <summary>Gradients for upstream dy: dx, dA, dB, dMagnitude (each may be null).</summary>
        public static void Backward(Context context, LoraOptions options, Tensor x, Tensor weight, Tensor loraA, Tensor loraB,
                                    Tensor magnitude, Tensor dy, Tensor dx, Tensor dA, Tensor dB, Tensor dMagnitude)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = LoraOptions.Native(options))
            using (var c = context.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_lora_linear_backward(P.Ctx(c), p, t[x], t[weight], t[loraA], t[loraB], t[magnitude], t[dy],
                                                             t[dx], t[dA], t[dB], t[dMagnitude]));
        }

        /// <summary>QLoRA forward: the base is a 2-D [N, K] 4-bit state and its codes.</summary>
        public static void QloraForward(Context context, LoraOptions options, Tensor x, QuantState state, Tensor codes, Tensor bias,
                                        Tensor loraA, Tensor loraB, Tensor magnitude, Tensor y)
        {
            if (context == null) throw new ArgumentNullException("context");
            if (state == null) throw new ArgumentNullException("state");
            using (var p = LoraOptions.Native(options))
            using (var c = context.Lease())
            using (var s = state.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_qlora_linear_forward(P.Ctx(c), p, t[x], QuantState.S(s), t[codes], t[bias], t[loraA], t[loraB],
                                                             t[magnitude], t[y]));
        }

        public static void QloraBackward(Context context, LoraOptions options, Tensor x, QuantState state, Tensor codes,
                                         Tensor loraA, Tensor loraB, Tensor magnitude, Tensor dy, Tensor dx, Tensor dA,
                                         Tensor dB, Tensor dMagnitude)
        {
            if (context == null) throw new ArgumentNullException("context");
            if (state == null) throw new ArgumentNullException("state");
            using (var p = LoraOptions.Native(options))
            using (var c = context.Lease())
            using (var s = state.Lease())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_qlora_linear_backward(P.Ctx(c), p, t[x], QuantState.S(s), t[codes], t[loraA], t[loraB],
                                                              t[magnitude], t[dy], t[dx], t[dA], t[dB], t[dMagnitude]));
        }

        /// <summary>Mixed batch over one base: row i uses adapter rowAdapter[i] (-1 = base only).</summary>
        public static void ForwardMixed(Context context, Tensor x, Tensor weight, Tensor bias, Tensor[] loraA, Tensor[] loraB,
                                        float[] scaling, int[] rowAdapter, Tensor y)
        {
            if (context == null) throw new ArgumentNullException("context");
            if (loraA == null) throw new ArgumentNullException("loraA");
            if (loraB == null) throw new ArgumentNullException("loraB");
            if (scaling == null) throw new ArgumentNullException("scaling");
            if (rowAdapter == null) throw new ArgumentNullException("rowAdapter");
            if (loraB.Length != loraA.Length || scaling.Length != loraA.Length)
                throw new RaiException(Status.ShapeMismatch, "loraA, loraB and scaling need one entry per adapter (" + loraA.Length + ")");
            using (var c = context.Lease())
            using (var pins = new Pins())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_lora_linear_forward_mixed(P.Ctx(c), t[x], t[weight], t[bias], (ulong)loraA.Length,
                                                                  new N.SWIGTYPE_p_p_rai_tensor(t.Array(loraA, pins), false),
                                                                  new N.SWIGTYPE_p_p_rai_tensor(t.Array(loraB, pins), false),
                                                                  P.F32(pins.Ptr(scaling)), P.I32(pins.Ptr(rowAdapter)), t[y]));
        }
    }
}
