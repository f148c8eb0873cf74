package rai

// One LoRA / DoRA linear layer on caller slices (rai_lora_linear_*), for code that owns its
// parameters and autograd: y = x W^T + bias + s B(A(drop(x))) (rai.h section "adapters").

import "rai.invalid/rai/native"

// LoRALinear is a linear layer W [Out, In] (+ Bias [Out] or nil) with a rank-Rank adapter
// A [Rank, In], B [Out, Rank] and, for DoRA, Magnitude [Out] (nil for LoRA). The slices are
// the caller's and are read at each call.
type LoRALinear struct {
	In, Out, Rank int
	Weight, Bias  []float32
	A, B          []float32
	Magnitude     []float32
	Scaling       float32 // s: alpha/r or alpha/sqrt(r); 0 = 1
	Dropout       float32 // on the adapter input, with Training only
	Training      bool
	Seed, Step    uint64 // dropout mask stream: the same (Seed, Step) in forward and backward
}

// LoRAGrads are the gradients of a LoRALinear for an upstream gradient.
type LoRAGrads struct {
	X, A, B, Magnitude []float32 // Magnitude nil without DoRA
}

func (l *LoRALinear) params(accumulate bool) native.Rai_lora_linear_params {
	p := native.NewRai_lora_linear_params()
	p.SetScaling(l.Scaling)
	p.SetDropout(l.Dropout)
	p.SetFlags(b2u(l.Training, uint(native.RAI_LORA_TRAINING)) | b2u(accumulate, uint(native.RAI_LORA_ACCUMULATE)))
	p.SetSeed(l.Seed)
	p.SetStep(l.Step)
	return p
}

func optional(s []float32) interface{} {
	if s == nil {
		return nil
	}
	return s
}

// Forward is y [M, Out] for x [M, In] on ctx (a CPU context).
func (l *LoRALinear) Forward(ctx *Context, x []float32) ([]float32, error) {
	if l == nil {
		return nil, newError(StatusInvalidArgument, "layer is nil")
	}
	m, err := rows("x", x, l.In)
	if err != nil {
		return nil, err
	}
	y := make([]float32, m*l.Out)
	ts, err := views(spec("x", x, m, l.In), spec("weight", l.Weight, l.Out, l.In), spec("bias", optional(l.Bias), l.Out),
		spec("lora_a", l.A, l.Rank, l.In), spec("lora_b", l.B, l.Out, l.Rank),
		spec("magnitude", optional(l.Magnitude), l.Out), spec("y", y, m, l.Out))
	if err != nil {
		return nil, err
	}
	p := l.params(false)
	defer native.DeleteRai_lora_linear_params(p)
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_lora_linear_forward(ch, p, d[0], d[1], d[2], d[3], d[4], d[5], d[6]) })
		})
	})
	if err != nil {
		return nil, err
	}
	return y, nil
}

// Backward gives dx, dA, dB (and dMagnitude for DoRA) for upstream dy [M, Out] of the Forward
// of x. The base weight gets no gradient.
func (l *LoRALinear) Backward(ctx *Context, x, dy []float32) (LoRAGrads, error) {
	if l == nil {
		return LoRAGrads{}, newError(StatusInvalidArgument, "layer is nil")
	}
	m, err := rows("x", x, l.In)
	if err != nil {
		return LoRAGrads{}, err
	}
	g := LoRAGrads{X: make([]float32, m*l.In), A: make([]float32, l.Rank*l.In), B: make([]float32, l.Out*l.Rank)}
	if l.Magnitude != nil {
		g.Magnitude = make([]float32, l.Out)
	}
	ts, err := views(spec("x", x, m, l.In), spec("weight", l.Weight, l.Out, l.In), spec("lora_a", l.A, l.Rank, l.In),
		spec("lora_b", l.B, l.Out, l.Rank), spec("magnitude", optional(l.Magnitude), l.Out), spec("dy", dy, m, l.Out),
		spec("dx", g.X, m, l.In), spec("d_a", g.A, l.Rank, l.In), spec("d_b", g.B, l.Out, l.Rank),
		spec("d_magnitude", optional(g.Magnitude), l.Out))
	if err != nil {
		return LoRAGrads{}, err
	}
	p := l.params(false)
	defer native.DeleteRai_lora_linear_params(p)
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status {
				return native.Rai_lora_linear_backward(ch, p, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9])
			})
		})
	})
	if err != nil {
		return LoRAGrads{}, err
	}
	return g, nil
}
