package rai

// One LoRA / DoRA linear layer on caller slices (rai_lora_linear_*), for code that owns its
// parameters and autograd: y = x W^T + bias + s B(A(drop(x))) (rai.h section "adapters").

import (
	"fmt"
	"unsafe"

	"rai.invalid/rai/native"
)

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
	return loraParams(l.Scaling, l.Dropout, l.Training, accumulate, l.Seed, l.Step)
}

// loraParams is the rai_lora_linear_params of a LoRALinear or QLoRALinear; delete it after use.
func loraParams(scaling, dropout float32, training, accumulate bool, seed, step uint64) native.Rai_lora_linear_params {
	p := native.NewRai_lora_linear_params()
	p.SetScaling(scaling)
	p.SetDropout(dropout)
	p.SetFlags(b2u(training, uint(native.RAI_LORA_TRAINING)) | b2u(accumulate, uint(native.RAI_LORA_ACCUMULATE)))
	p.SetSeed(seed)
	p.SetStep(step)
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

// MixedAdapter is one adapter of a mixed batch: A [Rank, In], B [Out, Rank] and its scaling.
type MixedAdapter struct {
	Rank    int
	A, B    []float32
	Scaling float32
}

// ForwardMixed is y [M, Out] for a mixed batch x [M, In] over the layer's Weight and Bias (its
// own adapter is not used): row i adds adapter adapters[rowAdapter[i]], or nothing for -1.
// Eval only (no dropout, no DoRA); the rows of each adapter run as one grouped product.
func (l *LoRALinear) ForwardMixed(ctx *Context, x []float32, adapters []MixedAdapter, rowAdapter []int32) ([]float32, error) {
	if l == nil {
		return nil, newError(StatusInvalidArgument, "layer is nil")
	}
	m, err := rows("x", x, l.In)
	if err != nil {
		return nil, err
	}
	if len(rowAdapter) != m {
		return nil, newError(StatusShapeMismatch, "rowAdapter has %d entries for %d rows of x", len(rowAdapter), m)
	}
	n := len(adapters)
	y := make([]float32, m*l.Out)
	specs := []tensorSpec{spec("x", x, m, l.In), spec("weight", l.Weight, l.Out, l.In), spec("bias", optional(l.Bias), l.Out),
		spec("y", y, m, l.Out)}
	scaling := make([]float32, n+1) // never empty, so &scaling[0] exists
	for i, a := range adapters {
		specs = append(specs, spec(fmt.Sprintf("adapters[%d].A", i), a.A, a.Rank, l.In))
		scaling[i] = a.Scaling
	}
	for i, a := range adapters {
		specs = append(specs, spec(fmt.Sprintf("adapters[%d].B", i), a.B, l.Out, a.Rank))
	}
	ts, err := views(specs...)
	if err != nil {
		return nil, err
	}
	// The two arrays of descriptor pointers live in C memory: rai reads them during the call.
	arr := cAlloc(2 * n * int(unsafe.Sizeof(uintptr(0))))
	if arr == nil {
		return nil, newError(StatusOutOfMemory, "adapters: cannot allocate the descriptor arrays")
	}
	defer cFree(arr)
	ptrs := unsafe.Slice((*uintptr)(arr), 2*n)
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			for i := 0; i < 2*n; i++ {
				ptrs[i] = d[4+i].Swigcptr()
			}
			as, bs := uintptr(arr), uintptr(arr)+uintptr(n)*unsafe.Sizeof(uintptr(0))
			return call(func() status {
				return native.Rai_lora_linear_forward_mixed(ch, d[0], d[1], d[2], int64(n), as, bs, &scaling[0], &rowAdapter[0], d[3])
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return y, nil
}
