package rai

// Hybrid predictive training over the callback-free step protocol (rai.h section "hybrid
// predictive training", docs/train.md). The C callback driver rai_hybrid_run_steps is not
// wrapped: in Go the step protocol below is the loop, with no C-to-Go callbacks.

import (
	"runtime"
	"unsafe"

	"rai.invalid/rai/native"
)

// HybridPhase is the phase of a step (rai_hybrid_phase values).
type HybridPhase int32

const (
	PhaseWarmup  HybridPhase = 0 // real steps that fill the predictor's history
	PhaseFull    HybridPhase = 1 // real steps
	PhasePredict HybridPhase = 2 // no backward: a predicted update
	PhaseCorrect HybridPhase = 3 // a real step that also corrects the predictor
)

// String is librai's name of the phase ("warmup", "full", "predict", "correct").
func (p HybridPhase) String() string { return native.Rai_hybrid_phase_name(int(p)) }

// HybridSchedule is rai_hybrid_schedule.
type HybridSchedule int32

const (
	ScheduleFixed    HybridSchedule = 0 // F full steps, then P predict steps with a CORRECT every C
	ScheduleAdaptive HybridSchedule = 1 // Fixed plus a loss-trend rule moving F and P within bounds
)

// HybridPredictor is rai_hybrid_predictor.
type HybridPredictor int32

const (
	PredictorDefault       HybridPredictor = 0 // Hold
	PredictorSkip          HybridPredictor = 1 // no update: the honest baseline
	PredictorHold          HybridPredictor = 2 // repeat the last real update
	PredictorMomentumCoast HybridPredictor = 3 // the optimizer stepped with a zero gradient
	PredictorEMA           HybridPredictor = 4 // moving average of real updates
	PredictorWLSLinear     HybridPredictor = 5 // vsa-optim's weighted linear fit + residual
	PredictorLowRankTrend  HybridPredictor = 6 // rank-r factor of the EMA of updates
)

// HybridLossModel is rai_hybrid_loss_model.
type HybridLossModel int32

const (
	LossModelDefault HybridLossModel = 0 // Linear
	LossModelEMA     HybridLossModel = 1 // level only
	LossModelLinear  HybridLossModel = 2 // level + trend (Holt)
)

// Divergence is a guard level (rai_hybrid_divergence).
type Divergence int32

const (
	DivergenceNone     Divergence = 0
	DivergenceCaution  Divergence = 1 // halves the predict horizon
	DivergenceWarning  Divergence = 2 // ends PREDICT, forces full steps
	DivergenceCritical Divergence = 3 // rolls back to the snapshot bit for bit, forces full steps
)

// HybridEvent is a set of RAI_HYBRID_EVENT_* bits.
type HybridEvent uint32

const (
	EventPhaseChanged       HybridEvent = 0x1
	EventCorrection         HybridEvent = 0x2
	EventDivergenceCaution  HybridEvent = 0x4
	EventDivergenceWarning  HybridEvent = 0x8
	EventDivergenceCritical HybridEvent = 0x10
	EventRolledBack         HybridEvent = 0x20 // parameters and optimizer state restored
	EventForcedFull         HybridEvent = 0x40
	EventGateBlocked        HybridEvent = 0x80
)

// DivergenceSignal is a set of RAI_HYBRID_SIGNAL_* bits.
type DivergenceSignal uint32

const (
	SignalLossZScore      DivergenceSignal = 0x1
	SignalNonFinite       DivergenceSignal = 0x2
	SignalGradExplode     DivergenceSignal = 0x4
	SignalGradVanish      DivergenceSignal = 0x8
	SignalPredictionError DivergenceSignal = 0x10
	SignalEscalated       DivergenceSignal = 0x20
)

// HybridOptions configure NewHybrid (rai_hybrid_params); zero fields take librai's defaults,
// listed in rai.h and docs/train.md.
type HybridOptions struct {
	Schedule              HybridSchedule
	Seed                  uint64
	Predictor             HybridPredictor
	LossModel             HybridLossModel
	NoSnapshot            bool // no snapshot: Critical cannot roll back
	NoGuard               bool // no divergence checks (non-finite values are still refused)
	WarmupSteps           uint32
	FullSteps             uint32
	PredictSteps          uint32
	CorrectEvery          uint32
	MaxConsecutivePredict uint32
	PredictForwardEvery   uint32
	PredictScale          float32
	EMADecay              float32
	WLSWindow             uint32
	WLSDecay              float32
	WLSResidualRate       float32
	WLSResidualThreshold  float32
	WLSMaxDt              uint32
	LowRankRank           uint32
	ConfidenceThreshold   float32
	AdaptiveMinFull       uint32
	AdaptiveMaxFull       uint32
	AdaptiveMinPredict    uint32
	AdaptiveMaxPredict    uint32
	AdaptiveLossThreshold float32
	GuardSigma            float32
	GuardGradExplode      float32
	GuardGradVanish       float32
	GuardBaselineSteps    uint32
	GuardSigmaFloor       float32
	RollbackLRScale       float32
	GuardForecastCaution  float32
	GuardForecastWarning  float32
}

// StepInfo says what the step begun by BeginStep needs (rai_hybrid_step_info).
type StepInfo struct {
	Phase            HybridPhase
	NeedsForward     bool // run a forward pass and ReportLoss
	NeedsBackward    bool // run forward + backward into the Grad buffers, then RecordGradients
	HasPrediction    bool
	PhaseChanged     bool
	Step             uint64
	PhaseStep        uint64
	Cycle            uint64
	HorizonRemaining uint32
	Confidence       float32
	PredictedLoss    float32 // NaN when the loss model has no forecast
}

// StepResult is what EndStep reports (rai_hybrid_step_result).
type StepResult struct {
	Events            HybridEvent
	Step              uint64
	Phase             HybridPhase
	Divergence        Divergence
	DivergenceSignals DivergenceSignal
	Loss              float32 // NaN when no loss was given
	PredictedLoss     float32
	LossZScore        float32
	GradNorm          float32 // NaN on steps without a real gradient
	UpdateNorm        float32
	Confidence        float32
	RollbackStep      uint64 // with EventRolledBack: parameters are as before this step
}

// HybridStats are the hybrid's counters (rai_hybrid_stats).
type HybridStats struct {
	Phase                                                      HybridPhase
	Steps, ForwardPasses, BackwardPasses, PredictedSteps       uint64
	SkippedSteps, WarmupSteps, FullSteps, PredictSteps         uint64
	CorrectSteps, Rollbacks, CautionEvents, WarningEvents      uint64
	CriticalEvents, GateBlocks, Cycles, PhaseChanges           uint64
	LossForecasts, UpdateComparisons, StateBytes               uint64
	EffectiveFullSteps, EffectivePredictSteps                  uint32
	Confidence, BackwardFraction                               float32
	LossMAE, UpdateCosineLast, UpdateCosineMean                float64
	UpdateRelErrorLast, UpdateRelErrorMean                     float64
	SecondsWarmup, SecondsFull, SecondsPredict, SecondsCorrect float64
	SecondsOverhead                                            float64
}

// HybridState selects what SaveState includes besides the hybrid's own state.
type HybridState uint32

const (
	StateParams    HybridState = 0x1 // the registered parameters' values
	StateOptimizer HybridState = 0x2 // the attached optimizer's state
)

// Hybrid is a trainer that skips some backward passes by predicting updates, with a divergence
// guard that rolls back. Drive it with the step protocol, once per training step:
//
//	info, _ := h.BeginStep()
//	if info.NeedsBackward {
//	    loss := forwardBackward()   // fills each Param's Grad
//	    h.RecordGradients(loss)     // steps the attached optimizer
//	} else {
//	    h.ApplyPredicted()
//	    if info.NeedsForward { h.ReportLoss(forward()) }
//	}
//	res, _ := h.EndStep()
//
// It borrows its Params, its optimizer and its context. Close it before the optimizer.
type Hybrid struct {
	handle
	ctx    *Context
	params []*Param
	opt    *Optimizer
}

func hybp(p uintptr) native.Struct_SS_rai_hybrid { return native.SwigcptrStruct_SS_rai_hybrid(p) }

func b2u(b bool, bit uint) uint {
	if b {
		return bit
	}
	return 0
}

// NewHybrid makes a hybrid trainer on ctx (a CPU context: Params are host memory).
func NewHybrid(ctx *Context, o HybridOptions) (*Hybrid, error) {
	var h *Hybrid
	err := ctx.use(func(ch native.Struct_SS_rai_context) error {
		p := native.NewRai_hybrid_params()
		defer native.DeleteRai_hybrid_params(p)
		p.SetSchedule(int(o.Schedule))
		p.SetSeed(o.Seed)
		p.SetPredictor(int(o.Predictor))
		p.SetLoss_model(int(o.LossModel))
		p.SetFlags(b2u(o.NoSnapshot, uint(native.RAI_HYBRID_NO_SNAPSHOT)) | b2u(o.NoGuard, uint(native.RAI_HYBRID_NO_GUARD)))
		p.SetWarmup_steps(uint(o.WarmupSteps))
		p.SetFull_steps(uint(o.FullSteps))
		p.SetPredict_steps(uint(o.PredictSteps))
		p.SetCorrect_every(uint(o.CorrectEvery))
		p.SetMax_consecutive_predict(uint(o.MaxConsecutivePredict))
		p.SetPredict_forward_every(uint(o.PredictForwardEvery))
		p.SetPredict_scale(o.PredictScale)
		p.SetEma_decay(o.EMADecay)
		p.SetWls_window(uint(o.WLSWindow))
		p.SetWls_decay(o.WLSDecay)
		p.SetWls_residual_rate(o.WLSResidualRate)
		p.SetWls_residual_threshold(o.WLSResidualThreshold)
		p.SetWls_max_dt(uint(o.WLSMaxDt))
		p.SetLowrank_rank(uint(o.LowRankRank))
		p.SetConfidence_threshold(o.ConfidenceThreshold)
		p.SetAdaptive_min_full(uint(o.AdaptiveMinFull))
		p.SetAdaptive_max_full(uint(o.AdaptiveMaxFull))
		p.SetAdaptive_min_predict(uint(o.AdaptiveMinPredict))
		p.SetAdaptive_max_predict(uint(o.AdaptiveMaxPredict))
		p.SetAdaptive_loss_threshold(o.AdaptiveLossThreshold)
		p.SetGuard_sigma(o.GuardSigma)
		p.SetGuard_grad_explode(o.GuardGradExplode)
		p.SetGuard_grad_vanish(o.GuardGradVanish)
		p.SetGuard_baseline_steps(uint(o.GuardBaselineSteps))
		p.SetGuard_sigma_floor(o.GuardSigmaFloor)
		p.SetRollback_lr_scale(o.RollbackLRScale)
		p.SetGuard_forecast_caution(o.GuardForecastCaution)
		p.SetGuard_forecast_warning(o.GuardForecastWarning)
		out := native.New_rai_hybrid_pp()
		defer native.Delete_rai_hybrid_pp(out)
		if err := call(func() status { return native.Rai_hybrid_create(ch, p, out) }); err != nil {
			return err
		}
		h = &Hybrid{ctx: ctx}
		h.init("Hybrid", native.Rai_hybrid_pp_value(out).Swigcptr(), func(p uintptr) {
			native.Rai_hybrid_destroy(hybp(p))
			for _, prm := range h.params {
				prm.release()
			}
			h.params, h.opt = nil, nil
		})
		runtime.SetFinalizer(h, (*Hybrid).Close)
		return nil
	})
	return h, err
}

// Close frees the hybrid (not its optimizer) and returns its Params' borrows. Closing again
// does nothing.
func (h *Hybrid) Close() error {
	if h != nil {
		h.close()
	}
	return nil
}

func (h *Hybrid) use(f func(p native.Struct_SS_rai_hybrid) error) error {
	if h == nil {
		return newError(StatusInvalidArgument, "hybrid is nil")
	}
	return h.ctx.use(func(native.Struct_SS_rai_context) error {
		return h.handle.use1("hybrid", func(p uintptr) error { return f(hybp(p)) })
	})
}

// AddParam registers p before the first step and returns its index 0, 1, ...
func (h *Hybrid) AddParam(p *Param) (uint32, error) {
	var id uint32
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return registerParam("param", p, func(value, grad *hostTensor) error {
			return withTensors([]*hostTensor{value, grad}, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_hybrid_add_param(hp, p.name, d[0], d[1], &id) })
			})
		})
	})
	if err != nil {
		return 0, err
	}
	h.params = append(h.params, p)
	return id, nil
}

// SetOptimizer attaches opt, which must hold the hybrid's Params in the same order, before the
// first step. RecordGradients then steps it, and predictions are updates. Without one, step
// your own optimizer after RecordGradients and ApplyPredicted (predictions are gradients).
func (h *Hybrid) SetOptimizer(opt *Optimizer) error {
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return opt.use(func(op native.Struct_SS_rai_optimizer) error {
			return call(func() status { return native.Rai_hybrid_set_optimizer(hp, op) })
		})
	})
	if err == nil {
		h.opt = opt // keeps it from being finalized while attached
	}
	return err
}

// BeginStep opens a step and says what it needs.
func (h *Hybrid) BeginStep() (StepInfo, error) {
	var s StepInfo
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		i := native.NewRai_hybrid_step_info()
		defer native.DeleteRai_hybrid_step_info(i)
		if err := call(func() status { return native.Rai_hybrid_begin_step(hp, i) }); err != nil {
			return err
		}
		s = StepInfo{Phase: HybridPhase(i.GetPhase()), NeedsForward: i.GetNeeds_forward() != 0,
			NeedsBackward: i.GetNeeds_backward() != 0, HasPrediction: i.GetHas_prediction() != 0,
			PhaseChanged: i.GetPhase_changed() != 0, Step: i.GetStep(), PhaseStep: i.GetPhase_step(),
			Cycle: i.GetCycle(), HorizonRemaining: uint32(i.GetHorizon_remaining()), Confidence: i.GetConfidence(),
			PredictedLoss: i.GetPredicted_loss()}
		return nil
	})
	return s, err
}

// RecordGradients, after a real backward (WARMUP, FULL, CORRECT steps), reads the Grad
// buffers, steps the attached optimizer and feeds the predictor. A non-finite loss or gradient
// is refused (StatusInvalidArgument), and EndStep then rolls back.
func (h *Hybrid) RecordGradients(loss float32) error {
	return h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return call(func() status { return native.Rai_hybrid_record_gradients(hp, loss) })
	})
}

// ApplyPredicted, on a PREDICT step, adds the predicted update to the parameters (with an
// optimizer) or writes the predicted gradient into the Grad buffers (without).
func (h *Hybrid) ApplyPredicted() error {
	return h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return call(func() status { return native.Rai_hybrid_apply_predicted(hp) })
	})
}

// Predicted, on a PREDICT step and instead of ApplyPredicted, returns the prediction for each
// registered Param (in order) without touching the parameters.
func (h *Hybrid) Predicted() ([][]float32, error) {
	if h == nil {
		return nil, newError(StatusInvalidArgument, "hybrid is nil")
	}
	outs := make([][]float32, len(h.params))
	ts := make([]*hostTensor, len(h.params))
	for i, p := range h.params {
		outs[i] = make([]float32, p.n)
		ts[i], _ = view("out", outs[i], p.shape...)
	}
	arr := cAlloc(8 * len(ts))
	if arr == nil {
		return nil, newError(StatusOutOfMemory, "out: cannot allocate %d descriptors", len(ts))
	}
	defer cFree(arr)
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			ptrs := unsafe.Slice((*uintptr)(arr), len(d))
			for i := range d {
				ptrs[i] = d[i].Swigcptr()
			}
			return call(func() status { return native.Rai_hybrid_get_predicted(hp, uintptr(arr), int64(len(d))) })
		})
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// ReportLoss gives the loss of the forward pass of a PREDICT step.
func (h *Hybrid) ReportLoss(loss float32) error {
	return h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return call(func() status { return native.Rai_hybrid_report_loss(hp, loss) })
	})
}

// EndStep closes the step: the divergence guard checks its loss and acts (a Critical rollback
// restores the parameters and optimizer state bit for bit).
func (h *Hybrid) EndStep() (StepResult, error) {
	var s StepResult
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		r := native.NewRai_hybrid_step_result()
		defer native.DeleteRai_hybrid_step_result(r)
		if err := call(func() status { return native.Rai_hybrid_end_step(hp, r) }); err != nil {
			return err
		}
		s = StepResult{Events: HybridEvent(r.GetEvents()), Step: r.GetStep(), Phase: HybridPhase(r.GetPhase()),
			Divergence: Divergence(r.GetDivergence_level()), DivergenceSignals: DivergenceSignal(r.GetDivergence_signals()),
			Loss: r.GetLoss(), PredictedLoss: r.GetPredicted_loss(), LossZScore: r.GetLoss_zscore(),
			GradNorm: r.GetGrad_norm(), UpdateNorm: r.GetUpdate_norm(), Confidence: r.GetConfidence(),
			RollbackStep: r.GetRollback_step()}
		return nil
	})
	return s, err
}

// AbortStep abandons the open step (for example when the forward pass failed).
func (h *Hybrid) AbortStep() error {
	return h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return call(func() status { return native.Rai_hybrid_abort_step(hp) })
	})
}

// Stats are the hybrid's counters.
func (h *Hybrid) Stats() (HybridStats, error) {
	var s HybridStats
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		t := native.NewRai_hybrid_stats()
		defer native.DeleteRai_hybrid_stats(t)
		if err := call(func() status { return native.Rai_hybrid_get_stats(hp, t) }); err != nil {
			return err
		}
		s = HybridStats{Phase: HybridPhase(t.GetPhase()), Steps: t.GetSteps(), ForwardPasses: t.GetForward_passes(),
			BackwardPasses: t.GetBackward_passes(), PredictedSteps: t.GetPredicted_steps(),
			SkippedSteps: t.GetSkipped_steps(), WarmupSteps: t.GetWarmup_steps(), FullSteps: t.GetFull_steps(),
			PredictSteps: t.GetPredict_steps(), CorrectSteps: t.GetCorrect_steps(), Rollbacks: t.GetRollbacks(),
			CautionEvents: t.GetCaution_events(), WarningEvents: t.GetWarning_events(),
			CriticalEvents: t.GetCritical_events(), GateBlocks: t.GetGate_blocks(), Cycles: t.GetCycles(),
			PhaseChanges: t.GetPhase_changes(), LossForecasts: t.GetLoss_forecasts(),
			UpdateComparisons: t.GetUpdate_comparisons(), StateBytes: t.GetState_bytes(),
			EffectiveFullSteps: uint32(t.GetEffective_full_steps()), EffectivePredictSteps: uint32(t.GetEffective_predict_steps()),
			Confidence: t.GetConfidence(), BackwardFraction: t.GetBackward_fraction(), LossMAE: t.GetLoss_mae(),
			UpdateCosineLast: t.GetUpdate_cosine_last(), UpdateCosineMean: t.GetUpdate_cosine_mean(),
			UpdateRelErrorLast: t.GetUpdate_rel_error_last(), UpdateRelErrorMean: t.GetUpdate_rel_error_mean(),
			SecondsWarmup: t.GetSeconds_warmup(), SecondsFull: t.GetSeconds_full(), SecondsPredict: t.GetSeconds_predict(),
			SecondsCorrect: t.GetSeconds_correct(), SecondsOverhead: t.GetSeconds_overhead()}
		return nil
	})
	return s, err
}

// MetricsJSON is the counters, schedule and predictor statistics as JSON; without timings it is
// identical for identical CPU runs.
func (h *Hybrid) MetricsJSON(timings bool) (string, error) {
	var text string
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		var err error
		text, err = takeCString(func(pp *string) status {
			return native.Rai_hybrid_metrics_json(hp, b2u(timings, uint(native.RAI_HYBRID_JSON_TIMINGS)), pp)
		})
		return err
	})
	return text, err
}

// SaveState checkpoints the hybrid between steps, with the parameters and the optimizer's state
// as what selects.
func (h *Hybrid) SaveState(what HybridState) ([]byte, error) {
	var blob []byte
	err := h.use(func(hp native.Struct_SS_rai_hybrid) error {
		var need int64
		if err := call(func() status { return native.Rai_hybrid_state_size(hp, uint(what), &need) }); err != nil {
			return err
		}
		var err error
		blob, err = sized(int(need), func(out []byte, w *int64) status {
			return native.Rai_hybrid_state_save(hp, uint(what), out, w)
		})
		return err
	})
	return blob, err
}

// LoadState restores a SaveState blob (same predictor configuration and sizes); a failed load
// changes nothing.
func (h *Hybrid) LoadState(blob []byte) error {
	return h.use(func(hp native.Struct_SS_rai_hybrid) error {
		return call(func() status { return native.Rai_hybrid_state_load(hp, blob) })
	})
}
