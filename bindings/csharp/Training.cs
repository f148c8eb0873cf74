// Training.cs: rai's optimizers and the hybrid predictive trainer (rai.h "hybrid predictive
// training", docs/train.md), over the callback-free step protocol:
//   info = h.BeginStep();
//   if (info.NeedsBackward) { forward + backward into the grad arrays; h.RecordGradients(loss); }
//   else { h.ApplyPredicted(); if (info.NeedsForward) { forward; h.ReportLoss(loss); } }
//   result = h.EndStep();
// Parameter and gradient arrays are BORROWED by librai (it keeps their addresses): the binding
// pins them until the optimizer / trainer is disposed, so keep using the same arrays.
// rai_hybrid_run_steps (the C callback driver) is not wrapped: its callbacks would call back into
// managed code from inside librai on every step, which the step protocol above does without
// reverse P/Invoke, and a managed exception must never unwind through librai's C++ frames.
using System;
using System.Collections.Generic;
using N = Rai.Native;

namespace Rai
{
    public enum OptimizerKind { Sgd = 0, Momentum = 1, AdamW = 2 }

    /// <summary>rai_optimizer_params; zero fields mean librai's defaults (lr 1e-3, ...).</summary>
    public sealed class OptimizerOptions
    {
        public OptimizerKind Kind = OptimizerKind.Sgd;
        public float LearningRate;
        public float Momentum;
        public float Beta1;
        public float Beta2;
        public float Eps;
        public float WeightDecay;
        /// <summary>> 0: clip gradients to this global L2 norm before each step.</summary>
        public float MaxGradNorm;
        public bool Nesterov;

        internal N.rai_optimizer_params Native()
        {
            var p = new N.rai_optimizer_params();
            p.kind = (int)Kind;
            p.lr = LearningRate;
            p.momentum = Momentum;
            p.beta1 = Beta1;
            p.beta2 = Beta2;
            p.eps = Eps;
            p.weight_decay = WeightDecay;
            p.max_grad_norm = MaxGradNorm;
            p.nesterov = Nesterov ? 1 : 0;
            return p;
        }
    }

    /// <summary>Registration of borrowed f32 parameter/gradient arrays, shared by Optimizer and
    /// HybridTrainer: both arrays are pinned for the owner's life.</summary>
    internal static class BorrowedParams
    {
        internal static uint Add(NativeObject owner, float[] param, float[] grad, long[] shape,
                                 Func<N.rai_tensor, N.rai_tensor, N.SWIGTYPE_p_unsigned_int, N.rai_status> add)
        {
            if (param == null) throw new ArgumentNullException("param");
            if (grad == null) throw new ArgumentNullException("grad");
            long[] s = shape ?? new long[] { param.Length };
            var tp = new Tensor(param, s);
            var tg = new Tensor(grad, s);
            using (var l = owner.Lease())
            using (var t = new TensorPins())
            {
                uint id = 0;
                unsafe { Library.Check(add(t[tp], t[tg], P.U32(&id))); }
                owner.Handle.PinForLife(param);
                owner.Handle.PinForLife(grad);
                return id;
            }
        }
    }

    /// <summary>SGD, momentum or AdamW over registered f32 parameters (kept alive with their context).</summary>
    public sealed unsafe class Optimizer : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_optimizer_destroy(new N.SWIGTYPE_p_rai_optimizer(p, false));

        public Optimizer(Context context, OptimizerOptions options = null) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = (options ?? new OptimizerOptions()).Native())
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_optimizer_create(P.Ctx(c), p, new N.SWIGTYPE_p_p_rai_optimizer((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        internal static N.SWIGTYPE_p_rai_optimizer O(HandleLease l) { return new N.SWIGTYPE_p_rai_optimizer(l.Pointer, false); }

        /// <summary>Registers a parameter and its gradient (same length; shape optional). Both arrays
        /// stay pinned and borrowed until Dispose. Returns the registration index.</summary>
        public uint AddParam(float[] param, float[] grad, long[] shape = null, string name = null)
        {
            return BorrowedParams.Add(this, param, grad, shape, (tp, tg, id) =>
            {
                using (var l = Lease()) return N.rai.rai_optimizer_add_param(O(l), name, tp, tg, id);
            });
        }

        /// <summary>One step with the gradients now in the grad arrays; returns the global gradient
        /// norm before clipping. A non-finite norm: RaiException(InvalidArgument), nothing updated.</summary>
        public float Step()
        {
            using (var l = Lease())
            {
                float norm;
                Library.Check(N.rai.rai_optimizer_step(O(l), P.F32(&norm)));
                return norm;
            }
        }

        public float GradNorm()
        {
            using (var l = Lease())
            {
                float norm;
                Library.Check(N.rai.rai_optimizer_grad_norm(O(l), P.F32(&norm)));
                return norm;
            }
        }

        /// <summary>Scales the gradients in place by min(1, maxNorm / (norm + 1e-6)); returns the norm before.</summary>
        public float ClipGradNorm(float maxNorm)
        {
            using (var l = Lease())
            {
                float norm;
                Library.Check(N.rai.rai_optimizer_clip_grad_norm(O(l), maxNorm, P.F32(&norm)));
                return norm;
            }
        }

        public float LearningRate
        {
            get
            {
                using (var l = Lease())
                {
                    float lr;
                    Library.Check(N.rai.rai_optimizer_get_lr(O(l), P.F32(&lr)));
                    return lr;
                }
            }
            set { using (var l = Lease()) Library.Check(N.rai.rai_optimizer_set_lr(O(l), value)); }
        }

        public long StepCount
        {
            get
            {
                using (var l = Lease())
                {
                    ulong n;
                    Library.Check(N.rai.rai_optimizer_step_count(O(l), P.U64(&n)));
                    return (long)n;
                }
            }
        }

        /// <summary>Step count, lr and moment buffers as a versioned blob.</summary>
        public byte[] SaveState()
        {
            using (var l = Lease())
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_optimizer_state_save(O(l), P.Void(o), cap, n));
        }

        public void LoadState(byte[] state)
        {
            if (state == null) throw new ArgumentNullException("state");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_optimizer_state_load(O(l), P.Void(pins.Ptr(state)), (ulong)state.Length));
        }
    }

    public enum HybridPhase { Warmup = 0, Full = 1, Predict = 2, Correct = 3 }
    public enum HybridSchedule { Fixed = 0, Adaptive = 1 }
    public enum HybridPredictor { Default = 0, Skip = 1, Hold = 2, MomentumCoast = 3, Ema = 4, WlsLinear = 5, LowRankTrend = 6 }
    public enum HybridLossModel { Default = 0, Ema = 1, Linear = 2 }
    public enum DivergenceLevel { None = 0, Caution = 1, Warning = 2, Critical = 3 }

    /// <summary>RAI_HYBRID_EVENT_*.</summary>
    [Flags]
    public enum HybridEvents
    {
        None = 0, PhaseChanged = 0x1, Correction = 0x2, DivergenceCaution = 0x4, DivergenceWarning = 0x8,
        DivergenceCritical = 0x10, RolledBack = 0x20, ForcedFull = 0x40, GateBlocked = 0x80,
    }

    /// <summary>RAI_HYBRID_SIGNAL_*.</summary>
    [Flags]
    public enum DivergenceSignals { None = 0, LossZScore = 0x1, NonFinite = 0x2, GradExplode = 0x4, GradVanish = 0x8, PredictionError = 0x10, Escalated = 0x20 }

    /// <summary>RAI_HYBRID_STATE_*: what a state blob includes besides the trainer's own state.</summary>
    [Flags]
    public enum HybridStateParts { None = 0, Params = 0x1, Optimizer = 0x2 }

    /// <summary>rai_hybrid_params; zero fields mean librai's defaults (docs/train.md).</summary>
    public sealed class HybridOptions
    {
        public HybridSchedule Schedule;
        public ulong Seed;
        public HybridPredictor Predictor;
        public HybridLossModel LossModel;
        public bool NoSnapshot;
        public bool NoGuard;
        public uint WarmupSteps;
        public uint FullSteps;
        public uint PredictSteps;
        public uint CorrectEvery;
        public uint MaxConsecutivePredict;
        public uint PredictForwardEvery;
        public float PredictScale;
        public float EmaDecay;
        public uint WlsWindow;
        public float WlsDecay;
        public float WlsResidualRate;
        public float WlsResidualThreshold;
        public uint WlsMaxDt;
        public uint LowRankRank;
        public float ConfidenceThreshold;
        public uint AdaptiveMinFull;
        public uint AdaptiveMaxFull;
        public uint AdaptiveMinPredict;
        public uint AdaptiveMaxPredict;
        public float AdaptiveLossThreshold;
        public float GuardSigma;
        public float GuardGradExplode;
        public float GuardGradVanish;
        public uint GuardBaselineSteps;
        public float GuardSigmaFloor;
        public float RollbackLrScale;
        public float GuardForecastCaution;
        public float GuardForecastWarning;

        internal N.rai_hybrid_params Native()
        {
            var p = new N.rai_hybrid_params();
            p.schedule = (int)Schedule;
            p.seed = Seed;
            p.predictor = (int)Predictor;
            p.loss_model = (int)LossModel;
            p.flags = (NoSnapshot ? N.rai.RAI_HYBRID_NO_SNAPSHOT : 0u) | (NoGuard ? N.rai.RAI_HYBRID_NO_GUARD : 0u);
            p.warmup_steps = WarmupSteps;
            p.full_steps = FullSteps;
            p.predict_steps = PredictSteps;
            p.correct_every = CorrectEvery;
            p.max_consecutive_predict = MaxConsecutivePredict;
            p.predict_forward_every = PredictForwardEvery;
            p.predict_scale = PredictScale;
            p.ema_decay = EmaDecay;
            p.wls_window = WlsWindow;
            p.wls_decay = WlsDecay;
            p.wls_residual_rate = WlsResidualRate;
            p.wls_residual_threshold = WlsResidualThreshold;
            p.wls_max_dt = WlsMaxDt;
            p.lowrank_rank = LowRankRank;
            p.confidence_threshold = ConfidenceThreshold;
            p.adaptive_min_full = AdaptiveMinFull;
            p.adaptive_max_full = AdaptiveMaxFull;
            p.adaptive_min_predict = AdaptiveMinPredict;
            p.adaptive_max_predict = AdaptiveMaxPredict;
            p.adaptive_loss_threshold = AdaptiveLossThreshold;
            p.guard_sigma = GuardSigma;
            p.guard_grad_explode = GuardGradExplode;
            p.guard_grad_vanish = GuardGradVanish;
            p.guard_baseline_steps = GuardBaselineSteps;
            p.guard_sigma_floor = GuardSigmaFloor;
            p.rollback_lr_scale = RollbackLrScale;
            p.guard_forecast_caution = GuardForecastCaution;
            p.guard_forecast_warning = GuardForecastWarning;
            return p;
        }
    }

    /// <summary>rai_hybrid_step_info: what the step asks the caller to do.</summary>
    public sealed class HybridStepInfo
    {
        public HybridPhase Phase;
        public bool NeedsForward;
        public bool NeedsBackward;
        public bool HasPrediction;
        public bool PhaseChanged;
        public long Step;
        public long PhaseStep;
        public long Cycle;
        public int HorizonRemaining;
        public float Confidence;
        public float PredictedLoss;
    }

    /// <summary>rai_hybrid_step_result: what the step did.</summary>
    public sealed class HybridStepResult
    {
        public HybridEvents Events;
        public long Step;
        public HybridPhase Phase;
        public DivergenceLevel Divergence;
        public DivergenceSignals Signals;
        public float Loss;
        public float PredictedLoss;
        public float LossZScore;
        public float GradNorm;
        public float UpdateNorm;
        public float Confidence;
        /// <summary>With RolledBack: the parameters are as they were before this step.</summary>
        public long RollbackStep;
    }

    /// <summary>The main counters of rai_hybrid_stats (the full set is in MetricsJson).</summary>
    public sealed class HybridStats
    {
        public HybridPhase Phase;
        public long Steps;
        public long ForwardPasses;
        public long BackwardPasses;
        public long PredictedSteps;
        public long SkippedSteps;
        public long WarmupSteps;
        public long FullSteps;
        public long PredictSteps;
        public long CorrectSteps;
        public long Rollbacks;
        public long CautionEvents;
        public long WarningEvents;
        public long CriticalEvents;
        public long Cycles;
        public long StateBytes;
        public float Confidence;
        public float BackwardFraction;
        public double LossMae;
        public double UpdateCosineMean;
    }

    /// <summary>The hybrid trainer: skips some backward passes by predicting updates, with a
    /// divergence guard that rolls back bit for bit. Kept alive with its context and its attached
    /// optimizer.</summary>
    public sealed unsafe class HybridTrainer : NativeObject
    {
        private static readonly Action<IntPtr> destroy = p => N.rai.rai_hybrid_destroy(new N.SWIGTYPE_p_rai_hybrid(p, false));

        private readonly List<long[]> shapes = new List<long[]>();

        public HybridTrainer(Context context, HybridOptions options = null) : base(destroy)
        {
            if (context == null) throw new ArgumentNullException("context");
            using (var p = (options ?? new HybridOptions()).Native())
            using (var c = context.Lease())
            {
                IntPtr raw = IntPtr.Zero;
                Library.Check(N.rai.rai_hybrid_create(P.Ctx(c), p, new N.SWIGTYPE_p_p_rai_hybrid((IntPtr)(&raw), false)));
                Handle.Adopt(raw);
            }
            Handle.Borrow(context.SafeHandle, "Rai.Context");
        }

        private static N.SWIGTYPE_p_rai_hybrid H(HandleLease l) { return new N.SWIGTYPE_p_rai_hybrid(l.Pointer, false); }

        /// <summary>Static name of a phase ("warmup", "full", "predict", "correct").</summary>
        public static string PhaseName(HybridPhase phase) { return N.rai.rai_hybrid_phase_name((int)phase); }

        /// <summary>Registers a parameter and its gradient array before the first step (borrowed and
        /// pinned until Dispose); an attached optimizer must have the same tensors in the same order.</summary>
        public uint AddParam(float[] param, float[] grad, long[] shape = null, string name = null)
        {
            uint id = BorrowedParams.Add(this, param, grad, shape, (tp, tg, cell) =>
            {
                using (var l = Lease()) return N.rai.rai_hybrid_add_param(H(l), name, tp, tg, cell);
            });
            lock (shapes) shapes.Add(shape ?? new long[] { param.Length });
            return id;
        }

        /// <summary>Attaches an optimizer before the first step: RecordGradients then steps it and
        /// predictions are updates. The optimizer is kept alive until this trainer is disposed.</summary>
        public void SetOptimizer(Optimizer optimizer)
        {
            if (optimizer == null) throw new ArgumentNullException("optimizer");
            using (var l = Lease())
            using (var o = optimizer.Lease())
                Library.Check(N.rai.rai_hybrid_set_optimizer(H(l), Optimizer.O(o)));
            Handle.Borrow(optimizer.Handle, "Rai.Optimizer");
        }

        public HybridStepInfo BeginStep()
        {
            using (var l = Lease())
            using (var i = new N.rai_hybrid_step_info())
            {
                Library.Check(N.rai.rai_hybrid_begin_step(H(l), i));
                return new HybridStepInfo
                {
                    Phase = (HybridPhase)i.phase,
                    NeedsForward = i.needs_forward != 0,
                    NeedsBackward = i.needs_backward != 0,
                    HasPrediction = i.has_prediction != 0,
                    PhaseChanged = i.phase_changed != 0,
                    Step = (long)i.step,
                    PhaseStep = (long)i.phase_step,
                    Cycle = (long)i.cycle,
                    HorizonRemaining = (int)i.horizon_remaining,
                    Confidence = i.confidence,
                    PredictedLoss = i.predicted_loss,
                };
            }
        }

        /// <summary>After a real backward: reads the grad arrays, steps the attached optimizer and
        /// feeds the predictor. A non-finite loss or gradient: RaiException(InvalidArgument), nothing
        /// updated, and EndStep rolls back.</summary>
        public void RecordGradients(float loss)
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_hybrid_record_gradients(H(l), loss));
        }

        /// <summary>PREDICT step: parameters += predicted update (with an optimizer), else the
        /// predicted gradient is written into the grad arrays.</summary>
        public void ApplyPredicted()
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_hybrid_apply_predicted(H(l)));
        }

        /// <summary>PREDICT step, alternative to ApplyPredicted: the prediction into one array per
        /// registered parameter; the parameters are not touched.</summary>
        public void GetPredicted(float[][] outputs)
        {
            if (outputs == null) throw new ArgumentNullException("outputs");
            var tensors = new Tensor[outputs.Length];
            lock (shapes)
                for (int i = 0; i < outputs.Length; i++)
                {
                    if (outputs[i] == null) throw new ArgumentNullException("outputs[" + i + "]");
                    tensors[i] = new Tensor(outputs[i], i < shapes.Count ? shapes[i] : new long[] { outputs[i].Length });
                }
            using (var l = Lease())
            using (var pins = new Pins())
            using (var t = new TensorPins())
                Library.Check(N.rai.rai_hybrid_get_predicted(H(l), new N.SWIGTYPE_p_p_rai_tensor(t.Array(tensors, pins), false),
                                                             (ulong)outputs.Length));
        }

        /// <summary>PREDICT step: the loss of the forward run after the prediction was applied.</summary>
        public void ReportLoss(float loss)
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_hybrid_report_loss(H(l), loss));
        }

        /// <summary>Closes the step: runs the divergence guard and acts (rollback restores parameters
        /// and optimizer state bit for bit).</summary>
        public HybridStepResult EndStep()
        {
            using (var l = Lease())
            using (var r = new N.rai_hybrid_step_result())
            {
                Library.Check(N.rai.rai_hybrid_end_step(H(l), r));
                return new HybridStepResult
                {
                    Events = (HybridEvents)r.events,
                    Step = (long)r.step,
                    Phase = (HybridPhase)r.phase,
                    Divergence = (DivergenceLevel)r.divergence_level,
                    Signals = (DivergenceSignals)r.divergence_signals,
                    Loss = r.loss,
                    PredictedLoss = r.predicted_loss,
                    LossZScore = r.loss_zscore,
                    GradNorm = r.grad_norm,
                    UpdateNorm = r.update_norm,
                    Confidence = r.confidence,
                    RollbackStep = (long)r.rollback_step,
                };
            }
        }

        /// <summary>Abandons the open step (e.g. the caller's forward failed).</summary>
        public void AbortStep()
        {
            using (var l = Lease())
                Library.Check(N.rai.rai_hybrid_abort_step(H(l)));
        }

        public HybridStats Stats
        {
            get
            {
                using (var l = Lease())
                using (var s = new N.rai_hybrid_stats())
                {
                    Library.Check(N.rai.rai_hybrid_get_stats(H(l), s));
                    return new HybridStats
                    {
                        Phase = (HybridPhase)s.phase,
                        Steps = (long)s.steps,
                        ForwardPasses = (long)s.forward_passes,
                        BackwardPasses = (long)s.backward_passes,
                        PredictedSteps = (long)s.predicted_steps,
                        SkippedSteps = (long)s.skipped_steps,
                        WarmupSteps = (long)s.warmup_steps,
                        FullSteps = (long)s.full_steps,
                        PredictSteps = (long)s.predict_steps,
                        CorrectSteps = (long)s.correct_steps,
                        Rollbacks = (long)s.rollbacks,
                        CautionEvents = (long)s.caution_events,
                        WarningEvents = (long)s.warning_events,
                        CriticalEvents = (long)s.critical_events,
                        Cycles = (long)s.cycles,
                        StateBytes = (long)s.state_bytes,
                        Confidence = s.confidence,
                        BackwardFraction = s.backward_fraction,
                        LossMae = s.loss_mae,
                        UpdateCosineMean = s.update_cosine_mean,
                    };
                }
            }
        }

        /// <summary>Counters, schedule, confidence and predictor statistics as JSON; without timings
        /// it is bitwise identical for identical CPU runs.</summary>
        public string MetricsJson(bool includeTimings = false)
        {
            using (var l = Lease())
                return OwnedText.Take(cell => N.rai.rai_hybrid_metrics_json(H(l), includeTimings ? N.rai.RAI_HYBRID_JSON_TIMINGS : 0u, cell));
        }

        /// <summary>A checkpoint between steps (optionally with parameters and optimizer state).</summary>
        public byte[] SaveState(HybridStateParts parts = HybridStateParts.None)
        {
            using (var l = Lease())
                return SizedOutput.Bytes((o, cap, n) => N.rai.rai_hybrid_state_save(H(l), (uint)parts, P.Void(o), cap, n));
        }

        /// <summary>Restores a SaveState blob; a failed load changes nothing.</summary>
        public void LoadState(byte[] state)
        {
            if (state == null) throw new ArgumentNullException("state");
            using (var l = Lease())
            using (var pins = new Pins())
                Library.Check(N.rai.rai_hybrid_state_load(H(l), P.Void(pins.Ptr(state)), (ulong)state.Length));
        }
    }
}
