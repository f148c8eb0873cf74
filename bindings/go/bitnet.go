package rai

// BitNet b1.58: ternary weight and int8 activation quantization, the packed layouts others read,
// and BitLinear (rai.h section "quantization: BitNet b1.58 ternary", docs/bitnet.md).

import (
	"runtime"

	"rai.invalid/rai/native"
)

// Granularity is how many scales a ternary weight has (rai_bitnet_granularity values).
type Granularity int32

const (
	GranularityGroup  Granularity = 0 // GroupSize consecutive columns per scale (default 64)
	GranularityRow    Granularity = 1
	GranularityTensor Granularity = 2
)

// WeightQuantOptions configure QuantizeTernaryWeights and NewBitLinear; the zero value is
// librai's default (groups of 64, bitnet-quantize's eps and rounding).
type WeightQuantOptions struct {
	Granularity Granularity
	GroupSize   int
}

// ActQuantOptions configure activation quantization; the zero value is 8 bits, one scale per
// token, bitnet-quantize's scale convention.
type ActQuantOptions struct {
	Bits      int  // 2..8; 0 = 8
	PerTensor bool // one scale for the whole tensor
}

func withWeightParams(o WeightQuantOptions, f func(p native.Rai_bitnet_weight_params) error) error {
	p := native.NewRai_bitnet_weight_params()
	defer native.DeleteRai_bitnet_weight_params(p)
	p.SetGranularity(int(o.Granularity))
	p.SetGroup_size(uint64(o.GroupSize))
	return f(p)
}

func withActParams(o ActQuantOptions, f func(p native.Rai_bitnet_act_params) error) error {
	p := native.NewRai_bitnet_act_params()
	defer native.DeleteRai_bitnet_act_params(p)
	p.SetBits(o.Bits)
	if o.PerTensor {
		p.SetPer_tensor(1)
	}
	return f(p)
}

// scaleShape is the shape of the weight scales for [out, in] at granularity o (nil: bad group).
func (o WeightQuantOptions) scaleShape(out, in int) []int {
	switch o.Granularity {
	case GranularityTensor:
		return []int{1}
	case GranularityRow:
		return []int{out}
	}
	g := o.GroupSize
	if g == 0 {
		g = 64
	}
	if g <= 0 || in%g != 0 {
		return nil
	}
	return []int{out, in / g}
}

// QuantizeTernaryWeights ternarizes w (float32 [out, in], row-major) with absmean scales on a
// CPU context: trits (-1, 0, 1) [out, in] and scales (w ~= trit * scale).
func QuantizeTernaryWeights(ctx *Context, w []float32, out, in int, opts WeightQuantOptions) (trits []int8, scales []float32, err error) {
	sshape := opts.scaleShape(out, in)
	if sshape == nil {
		return nil, nil, newError(StatusInvalidArgument, "group_size %d must divide in = %d", opts.GroupSize, in)
	}
	n := 1
	for _, d := range sshape {
		n *= d
	}
	trits, scales = make([]int8, out*in), make([]float32, n)
	ts, err := views(spec("w", w, out, in), spec("trits", trits, out, in), spec("scales", scales, sshape...))
	if err != nil {
		return nil, nil, err
	}
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		return withWeightParams(opts, func(p native.Rai_bitnet_weight_params) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_bitnet_quantize_weights(ch, p, d[0], d[1], d[2]) })
			})
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return trits, scales, nil
}

// QuantizeActivations quantizes x (float32 [tokens, hidden]) to int8 with absmax scales, one per
// token (or one with PerTensor): x ~= q * scale.
func QuantizeActivations(ctx *Context, x []float32, hidden int, opts ActQuantOptions) (q []int8, scales []float32, err error) {
	if hidden <= 0 || len(x)%hidden != 0 {
		return nil, nil, newError(StatusShapeMismatch, "x has %d values, not a multiple of hidden %d", len(x), hidden)
	}
	tokens := len(x) / hidden
	q = make([]int8, len(x))
	if opts.PerTensor {
		scales = make([]float32, 1)
	} else {
		scales = make([]float32, tokens)
	}
	ts, err := views(spec("x", x, tokens, hidden), spec("q", q, tokens, hidden), spec("scales", scales))
	if err != nil {
		return nil, nil, err
	}
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		return withActParams(opts, func(p native.Rai_bitnet_act_params) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_bitnet_quantize_activations(ch, p, d[0], d[1], d[2]) })
			})
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return q, scales, nil
}

// TernaryLayout is a packed ternary format (rai_ternary_layout values).
type TernaryLayout int32

const (
	LayoutPlanes TernaryLayout = 1 // trit-vsa bit planes
	LayoutByte2  TernaryLayout = 2 // tritter-accel: 4 trits per byte
	LayoutU32x16 TernaryLayout = 3 // bitnet-quantize CubeCL: 16 trits per u32
	LayoutI2S    TernaryLayout = 4 // bitnet.cpp I2_S (one tensor scale)
	LayoutTQ1_0  TernaryLayout = 5 // llama.cpp TQ1_0 (f16 scale per 256)
	LayoutTQ2_0  TernaryLayout = 6 // llama.cpp TQ2_0 (f16 scale per 256)
)

// TernaryPackedSize is the bytes a [rows, cols] trit matrix takes in layout.
func TernaryPackedSize(layout TernaryLayout, rows, cols int) (int, error) {
	if rows < 0 || cols < 0 {
		return 0, newError(StatusInvalidArgument, "rows and cols must be >= 0, got %d and %d", rows, cols)
	}
	var n int64
	err := call(func() status { return native.Rai_ternary_packed_size(int(layout), int64(rows), int64(cols), &n) })
	return int(n), err
}

// scalesOf is nil (a NULL tensor) for an empty scale slice.
func scalesOf(s []float32) interface{} {
	if s == nil {
		return nil
	}
	return s
}

// PackTernary packs trits ([rows, cols]) into layout. scales: nil for PLANES, BYTE2 and U32x16;
// one value for I2_S; for TQ1_0 / TQ2_0 a scale tensor constant within each 256-column block
// (here [1], or one per row).
func PackTernary(layout TernaryLayout, trits []int8, rows, cols int, scales []float32) ([]byte, error) {
	size, err := TernaryPackedSize(layout, rows, cols)
	if err != nil {
		return nil, err
	}
	packed := make([]byte, size)
	ts, err := views(spec("trits", trits, rows, cols), spec("scales", scalesOf(scales)), spec("packed", packed))
	if err != nil {
		return nil, err
	}
	err = withTensors(ts, func(d []native.Rai_tensor) error {
		return call(func() status { return native.Rai_ternary_pack(int(layout), d[0], d[1], d[2]) })
	})
	if err != nil {
		return nil, err
	}
	return packed, nil
}

// UnpackTernary unpacks a [rows, cols] matrix; the scales come back for the layouts that hold
// them ([1] for I2_S, [rows, cols/256] for TQ1_0 / TQ2_0), else nil.
func UnpackTernary(layout TernaryLayout, packed []byte, rows, cols int) (trits []int8, scales []float32, err error) {
	trits = make([]int8, rows*cols)
	switch layout {
	case LayoutI2S:
		scales = make([]float32, 1)
	case LayoutTQ1_0, LayoutTQ2_0:
		if cols%256 == 0 {
			scales = make([]float32, rows*cols/256)
		}
	}
	sspec := spec("scales", scalesOf(scales))
	if layout == LayoutTQ1_0 || layout == LayoutTQ2_0 {
		sspec = spec("scales", scalesOf(scales), rows, cols/256)
	}
	ts, err := views(spec("packed", packed), spec("trits", trits, rows, cols), sspec)
	if err != nil {
		return nil, nil, err
	}
	err = withTensors(ts, func(d []native.Rai_tensor) error {
		return call(func() status { return native.Rai_ternary_unpack(int(layout), d[0], d[1], d[2]) })
	})
	if err != nil {
		return nil, nil, err
	}
	return trits, scales, nil
}

// BitLinearMode selects how BitLinear.Forward computes (rai_bitlinear_mode values).
type BitLinearMode int32

const (
	BitLinearWFP   BitLinearMode = 0 // full-precision activations times dequantized weights
	BitLinearFakeQ BitLinearMode = 1 // quantize-dequantize activations, float math
	BitLinearW2A8  BitLinearMode = 2 // int8 activations times trits, int32 sums
)

// BitLinear is a ternary linear layer (rai_bitlinear) on the device of its context.
type BitLinear struct {
	handle
	ctx     *Context
	in, out int
}

func bitlinear(p uintptr) native.Struct_SS_rai_bitlinear {
	return native.SwigcptrStruct_SS_rai_bitlinear(p)
}

// NewBitLinear quantizes weight (float32 [out, in]) with wopts and keeps bias (nil or out
// values); aopts are used by the FakeQ and W2A8 modes.
func NewBitLinear(ctx *Context, weight []float32, out, in int, bias []float32, wopts WeightQuantOptions, aopts ActQuantOptions) (*BitLinear, error) {
	ts, err := views(spec("weight", weight, out, in), spec("bias", scalesOf(bias)))
	if err != nil {
		return nil, err
	}
	var l *BitLinear
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		return withWeightParams(wopts, func(wp native.Rai_bitnet_weight_params) error {
			return withActParams(aopts, func(ap native.Rai_bitnet_act_params) error {
				pp := native.New_rai_bitlinear_pp()
				defer native.Delete_rai_bitlinear_pp(pp)
				err := withTensors(ts, func(d []native.Rai_tensor) error {
					return call(func() status { return native.Rai_bitlinear_create(ch, wp, ap, d[0], d[1], pp) })
				})
				if err != nil {
					return err
				}
				l = &BitLinear{ctx: ctx, in: in, out: out}
				l.init("BitLinear", native.Rai_bitlinear_pp_value(pp).Swigcptr(), func(p uintptr) { native.Rai_bitlinear_destroy(bitlinear(p)) })
				runtime.SetFinalizer(l, (*BitLinear).Close)
				return nil
			})
		})
	})
	return l, err
}

// Close frees the layer. Closing again does nothing.
func (l *BitLinear) Close() error {
	if l != nil {
		l.close()
	}
	return nil
}

// Forward is y [batch, out] for x [batch, in] (row-major) in mode.
func (l *BitLinear) Forward(x []float32, mode BitLinearMode) ([]float32, error) {
	if l == nil {
		return nil, newError(StatusInvalidArgument, "layer is nil")
	}
	if len(x)%l.in != 0 {
		return nil, newError(StatusShapeMismatch, "x has %d values, not a multiple of in_features %d", len(x), l.in)
	}
	batch := len(x) / l.in
	y := make([]float32, batch*l.out)
	ts, err := views(spec("x", x, batch, l.in), spec("y", y, batch, l.out))
	if err != nil {
		return nil, err
	}
	err = l.ctx.use(func(ch native.Struct_SS_rai_context) error {
		return l.handle.use1("layer", func(p uintptr) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_bitlinear_forward(ch, bitlinear(p), int(mode), d[0], d[1]) })
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return y, nil
}
