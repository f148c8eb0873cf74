package rai

// One QLoRA linear layer: LoRA / DoRA over a frozen NF4/FP4 base (rai_qlora_linear_*), on
// caller tensors: Go slices on a CPU context, BufferTensors on any (CUDA: the GPU path).

import "rai.invalid/rai/native"

// QLoRALinear is y = x W^T + Bias + s B(A(drop(x))) with W the 2-D [Out, In] weight of State
// and Codes ([]byte or a BufferTensor). Bias (nil or [Out]) has x's dtype; A [Rank, In],
// B [Out, Rank] and, for DoRA, Magnitude [Out] (nil for LoRA) are float32 or x's dtype. Each
// is a slice ([]float32, Float16, BFloat16) or a BufferTensor on the context's device; they
// are the caller's and are read at each call.
type QLoRALinear struct {
	State     *QuantState
	Codes     interface{}
	Bias      interface{}
	Rank      int
	A, B      interface{}
	Magnitude interface{}
	Scaling   float32 // s: alpha/r or alpha/sqrt(r); 0 = 1
	Dropout   float32 // on the adapter input, with Training only
	Training  bool
	Seed      uint64 // dropout mask stream: the same (Seed, Step) in forward and backward
	Step      uint64
}

// QLoRAGrads are the output tensors of QLoRALinear.BackwardInto; nil ones are not computed.
// X has x's dtype and shape; A, B, Magnitude are float32 of the parameters' shapes.
type QLoRAGrads struct {
	X, A, B, Magnitude interface{}
}

// dims is (Out, In) of the base weight.
func (l *QLoRALinear) dims() (out, in int, err error) {
	if l == nil {
		return 0, 0, newError(StatusInvalidArgument, "layer is nil")
	}
	if l.State == nil {
		return 0, 0, newError(StatusInvalidArgument, "layer.State is nil")
	}
	return l.State.matrixShape()
}

func (l *QLoRALinear) params(accumulate bool) native.Rai_lora_linear_params {
	return loraParams(l.Scaling, l.Dropout, l.Training, accumulate, l.Seed, l.Step)
}

// Forward is y [M, Out] (float32) for x [M, In] (float32) on ctx.
func (l *QLoRALinear) Forward(ctx *Context, x []float32) ([]float32, error) {
	out, in, err := l.dims()
	if err != nil {
		return nil, err
	}
	m, err := rows("x", x, in)
	if err != nil {
		return nil, err
	}
	y := make([]float32, m*out)
	if err := l.ForwardInto(ctx, x, y); err != nil {
		return nil, err
	}
	return y, nil
}

// ForwardInto writes y [M, Out] for x [M, In] (one float dtype; slices or BufferTensors).
func (l *QLoRALinear) ForwardInto(ctx *Context, x, y interface{}) error {
	out, in, err := l.dims()
	if err != nil {
		return err
	}
	m, err := rowsOf("x", x, in)
	if err != nil {
		return err
	}
	ts, err := views(spec("x", x, m, in), spec("codes", l.Codes), spec("bias", optionalT(l.Bias), out),
		spec("lora_a", l.A, l.Rank, in), spec("lora_b", l.B, out, l.Rank), spec("magnitude", optionalT(l.Magnitude), out),
		spec("y", y, m, out))
	if err != nil {
		return err
	}
	p := l.params(false)
	defer native.DeleteRai_lora_linear_params(p)
	return l.State.useOn(ctx, func(ch native.Struct_SS_rai_context, st native.Struct_SS_rai_q4_state) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status {
				return native.Rai_qlora_linear_forward(ch, p, d[0], st, d[1], d[2], d[3], d[4], d[5], d[6])
			})
		})
	})
}

// Backward gives dx, dA, dB (and dMagnitude for DoRA) for upstream dy [M, Out] of the Forward
// of x (float32). The base weight gets no gradient.
func (l *QLoRALinear) Backward(ctx *Context, x, dy []float32) (LoRAGrads, error) {
	out, in, err := l.dims()
	if err != nil {
		return LoRAGrads{}, err
	}
	m, err := rows("x", x, in)
	if err != nil {
		return LoRAGrads{}, err
	}
	g := LoRAGrads{X: make([]float32, m*in), A: make([]float32, l.Rank*in), B: make([]float32, out*l.Rank)}
	into := QLoRAGrads{X: g.X, A: g.A, B: g.B}
	if optionalT(l.Magnitude) != nil {
		g.Magnitude = make([]float32, out)
		into.Magnitude = g.Magnitude
	}
	if err := l.BackwardInto(ctx, x, dy, into); err != nil {
		return LoRAGrads{}, err
	}
	return g, nil
}

// BackwardInto writes the gradients for upstream dy [M, Out] of the Forward of x into the
// non-nil tensors of g (overwritten; accumulate is not offered here).
func (l *QLoRALinear) BackwardInto(ctx *Context, x, dy interface{}, g QLoRAGrads) error {
	out, in, err := l.dims()
	if err != nil {
		return err
	}
	m, err := rowsOf("x", x, in)
	if err != nil {
		return err
	}
	ts, err := views(spec("x", x, m, in), spec("codes", l.Codes), spec("lora_a", l.A, l.Rank, in),
		spec("lora_b", l.B, out, l.Rank), spec("magnitude", optionalT(l.Magnitude), out), spec("dy", dy, m, out),
		spec("dx", optionalT(g.X), m, in), spec("d_a", optionalT(g.A), l.Rank, in), spec("d_b", optionalT(g.B), out, l.Rank),
		spec("d_magnitude", optionalT(g.Magnitude), out))
	if err != nil {
		return err
	}
	p := l.params(false)
	defer native.DeleteRai_lora_linear_params(p)
	return l.State.useOn(ctx, func(ch native.Struct_SS_rai_context, st native.Struct_SS_rai_q4_state) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status {
				return native.Rai_qlora_linear_backward(ch, p, d[0], st, d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9])
			})
		})
	})
}
