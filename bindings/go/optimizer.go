package rai

// Optimizers owned by librai: SGD, momentum, AdamW (rai.h section "hybrid predictive
// training", docs/train.md).

import (
	"runtime"

	"rai.invalid/rai/native"
)

// OptimizerKind is an update rule (rai_optimizer_kind values).
type OptimizerKind int32

const (
	SGD      OptimizerKind = 0 // p -= lr*(g + wd*p)
	Momentum OptimizerKind = 1 // PyTorch SGD with momentum (dampening 0), optionally Nesterov
	AdamW    OptimizerKind = 2 // PyTorch AdamW: decoupled decay, bias-corrected moments
)

// OptimizerOptions configure NewOptimizer; zero fields take librai's defaults.
type OptimizerOptions struct {
	Kind        OptimizerKind
	LR          float32 // 0 = 1e-3
	Momentum    float32 // Momentum: in (0, 1); 0 = 0.9
	Beta1       float32 // AdamW: in (0, 1); 0 = 0.9
	Beta2       float32 // AdamW: in (0, 1); 0 = 0.999
	Eps         float32 // AdamW: > 0; 0 = 1e-8
	WeightDecay float32 // >= 0. AdamW: p *= 1 - lr*wd; SGD, Momentum: g += wd*p
	MaxGradNorm float32 // > 0: clip the global gradient norm to it before each step; 0 = off
	Nesterov    bool    // Momentum: Nesterov momentum
}

// Optimizer updates registered Params from their gradients. It borrows its Params (they stay
// allocated while it is open) and its context. Close it when done (before its context).
type Optimizer struct {
	handle
	ctx    *Context
	params []*Param
}

func optp(p uintptr) native.Struct_SS_rai_optimizer { return native.SwigcptrStruct_SS_rai_optimizer(p) }

// NewOptimizer makes an optimizer on ctx (a CPU context: Params are host memory).
func NewOptimizer(ctx *Context, opts OptimizerOptions) (*Optimizer, error) {
	var o *Optimizer
	err := ctx.use(func(ch native.Struct_SS_rai_context) error {
		params := native.NewRai_optimizer_params()
		defer native.DeleteRai_optimizer_params(params)
		params.SetKind(int(opts.Kind))
		params.SetLr(opts.LR)
		params.SetMomentum(opts.Momentum)
		params.SetBeta1(opts.Beta1)
		params.SetBeta2(opts.Beta2)
		params.SetEps(opts.Eps)
		params.SetWeight_decay(opts.WeightDecay)
		params.SetMax_grad_norm(opts.MaxGradNorm)
		if opts.Nesterov {
			params.SetNesterov(1)
		}
		out := native.New_rai_optimizer_pp()
		defer native.Delete_rai_optimizer_pp(out)
		if err := call(func() status { return native.Rai_optimizer_create(ch, params, out) }); err != nil {
			return err
		}
		o = &Optimizer{ctx: ctx}
		o.init("Optimizer", native.Rai_optimizer_pp_value(out).Swigcptr(), func(p uintptr) {
			native.Rai_optimizer_destroy(optp(p))
			for _, prm := range o.params {
				prm.release()
			}
			o.params = nil
		})
		runtime.SetFinalizer(o, (*Optimizer).Close)
		return nil
	})
	return o, err
}

// Close frees the optimizer and returns its Params' borrows. A Hybrid it is attached to then
// refuses to step (close the hybrid first). Closing again does nothing.
func (o *Optimizer) Close() error {
	if o != nil {
		o.close()
	}
	return nil
}

func (o *Optimizer) use(f func(p native.Struct_SS_rai_optimizer) error) error {
	if o == nil {
		return newError(StatusInvalidArgument, "optimizer is nil")
	}
	return o.ctx.use(func(native.Struct_SS_rai_context) error {
		return o.handle.use1("optimizer", func(p uintptr) error { return f(optp(p)) })
	})
}

// AddParam registers p (before the first step, and not once attached to a Hybrid) and returns
// its index 0, 1, ...
func (o *Optimizer) AddParam(p *Param) (uint32, error) {
	var id uint32
	err := o.use(func(op native.Struct_SS_rai_optimizer) error {
		return registerParam("param", p, func(value, grad *hostTensor) error {
			return withTensors([]*hostTensor{value, grad}, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_optimizer_add_param(op, p.name, d[0], d[1], &id) })
			})
		})
	})
	if err != nil {
		return 0, err
	}
	o.params = append(o.params, p)
	return id, nil
}

// Step updates every registered parameter from its gradient (gradients are not modified) and
// returns the global gradient norm before clipping. A non-finite norm is refused
// (StatusInvalidArgument) and nothing changes.
func (o *Optimizer) Step() (gradNorm float32, err error) {
	err = o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_step(p, &gradNorm) })
	})
	return gradNorm, err
}

// GradNorm is the global L2 norm of the registered gradients.
func (o *Optimizer) GradNorm() (norm float32, err error) {
	err = o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_grad_norm(p, &norm) })
	})
	return norm, err
}

// ClipGradNorm scales the gradients in place by min(1, max/(norm + 1e-6)) (PyTorch's
// clip_grad_norm_) and returns the norm before clipping.
func (o *Optimizer) ClipGradNorm(max float32) (norm float32, err error) {
	err = o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_clip_grad_norm(p, max, &norm) })
	})
	return norm, err
}

// SetLR changes the learning rate.
func (o *Optimizer) SetLR(lr float32) error {
	return o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_set_lr(p, lr) })
	})
}

// LR is the learning rate.
func (o *Optimizer) LR() (lr float32, err error) {
	err = o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_get_lr(p, &lr) })
	})
	return lr, err
}

// StepCount is the number of steps taken (AdamW's t).
func (o *Optimizer) StepCount() (steps uint64, err error) {
	err = o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_step_count(p, &steps) })
	})
	return steps, err
}

// SaveState checkpoints the step count, learning rate and moment buffers (not the parameters).
func (o *Optimizer) SaveState() ([]byte, error) {
	var blob []byte
	err := o.use(func(p native.Struct_SS_rai_optimizer) error {
		var need int64
		if err := call(func() status { return native.Rai_optimizer_state_size(p, &need) }); err != nil {
			return err
		}
		var err error
		blob, err = sized(int(need), func(out []byte, w *int64) status { return native.Rai_optimizer_state_save(p, out, w) })
		return err
	})
	return blob, err
}

// LoadState restores a SaveState blob of an optimizer of the same kind and sizes; a failed
// load changes nothing.
func (o *Optimizer) LoadState(blob []byte) error {
	return o.use(func(p native.Struct_SS_rai_optimizer) error {
		return call(func() status { return native.Rai_optimizer_state_load(p, blob) })
	})
}
