package rai

// NF4 / FP4 4-bit quantization, bit-exact with bitsandbytes (rai.h section "quantization:
// NF4 / FP4 4-bit", docs/quant.md).

import (
	"runtime"

	"rai.invalid/rai/native"
)

// Q4Type is a 4-bit codebook (values of rai.h's rai_q4_type).
type Q4Type int32

const (
	FP4 Q4Type = 1 // bitsandbytes "fp4"
	NF4 Q4Type = 2 // bitsandbytes "nf4"
)

// Q4Options configure Quantize4; the zero value is librai's default (NF4, blocks of 64, fp32
// absmax).
type Q4Options struct {
	Type        Q4Type // 0 = NF4
	BlockSize   int    // 32, 64, ..., 4096; 0 = 64
	DoubleQuant bool   // absmax stored as 8 bits (bitsandbytes' compress_statistics)
}

// Q4Codebook is the 16 dequantization values of t in code order.
func Q4Codebook(t Q4Type) ([16]float32, error) {
	var v [16]float32
	err := call(func() status { return native.Rai_q4_codebook(int(t), &v[0]) })
	return v, err
}

// Q4CodesSize is the number of code bytes for n elements, (n + 1) / 2.
func Q4CodesSize(n int) int { return (n + 1) / 2 }

// QuantState is the statistics of a 4-bit weight (rai_q4_state) on the device of the context
// it was made on; the codes are a separate []byte. Close it when done.
type QuantState struct {
	handle
	ctx  *Context
	info Q4Info
}

// Q4Info describes a QuantState.
type Q4Info struct {
	Type            Q4Type
	BlockSize       int
	DoubleQuant     bool
	NestedBlockSize int // 256 with double quantization, else 0
	Shape           []int64
	DType           DType   // of the weight before quantization
	Offset          float32 // double quantization: the mean absmax
	Numel           int64
	Blocks          int64
	NestedBlocks    int64
	CodesBytes      uint64
	StateBytes      uint64
}

func q4state(p uintptr) native.Struct_SS_rai_q4_state {
	return native.SwigcptrStruct_SS_rai_q4_state(p)
}

func (s *QuantState) h() *handle {
	if s == nil {
		return nil
	}
	return &s.handle
}

func wrapQ4State(ctx *Context, p uintptr) (*QuantState, error) {
	s := &QuantState{ctx: ctx}
	s.init("QuantState", p, func(p uintptr) { native.Rai_q4_state_destroy(q4state(p)) })
	runtime.SetFinalizer(s, (*QuantState).Close)
	info := native.NewRai_q4_state_info()
	defer native.DeleteRai_q4_state_info(info)
	if err := call(func() status { return native.Rai_q4_state_get_info(q4state(p), info) }); err != nil {
		s.Close()
		return nil, err
	}
	shape := make([]int64, info.GetNdim())
	cshape := info.GetShape()
	for i := range shape {
		shape[i] = *(*int64)(unsafeAdd(cshape, i))
	}
	s.info = Q4Info{
		Type: Q4Type(info.GetXtype()), BlockSize: info.GetBlocksize(), DoubleQuant: info.GetDouble_quant() != 0,
		NestedBlockSize: info.GetNested_blocksize(), Shape: shape,
		DType: DType{Code: info.GetDtype().GetCode(), Bits: info.GetDtype().GetBits()}, Offset: info.GetOffset(), Numel: info.GetNumel(),
		Blocks: info.GetBlocks(), NestedBlocks: info.GetNested_blocks(), CodesBytes: info.GetCodes_bytes(),
		StateBytes: info.GetState_bytes(),
	}
	return s, nil
}

// Close frees the state. Closing again does nothing.
func (s *QuantState) Close() error {
	if s != nil {
		s.close()
	}
	return nil
}

// Info describes the state.
func (s *QuantState) Info() Q4Info { return s.info }

// Quantize4 quantizes src (float32, shape with at least one element; nil shape = 1-D) on ctx (a
// CPU context for Go slices) into packed codes (the first element of each pair in the high
// nibble) and a new state.
func Quantize4(ctx *Context, src []float32, shape []int, opts Q4Options) (codes []byte, state *QuantState, err error) {
	codes = make([]byte, Q4CodesSize(len(src)))
	if state, err = Quantize4Into(ctx, src, shape, codes, opts); err != nil {
		return nil, nil, err
	}
	return codes, state, nil
}

// Quantize4Into is Quantize4 for any tensors: src []float32, Float16, BFloat16 or a
// BufferTensor on ctx's device (shape nil: src's own), and codes the caller's Q4CodesSize
// bytes ([]byte or a BufferTensor) that receive the packed codes.
func Quantize4Into(ctx *Context, src interface{}, shape []int, codes interface{}, opts Q4Options) (*QuantState, error) {
	ts, err := views(spec("src", src, shape...), spec("codes", codes))
	if err != nil {
		return nil, err
	}
	var state *QuantState
	err = ctx.use(func(ch native.Struct_SS_rai_context) error {
		params := native.NewRai_q4_params()
		defer native.DeleteRai_q4_params(params)
		params.SetXtype(int(opts.Type))
		params.SetBlocksize(opts.BlockSize)
		if opts.DoubleQuant {
			params.SetDouble_quant(1)
		}
		out := native.New_rai_q4_state_pp()
		defer native.Delete_rai_q4_state_pp(out)
		err := withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_q4_quantize(ch, params, d[0], d[1], out) })
		})
		if err != nil {
			return err
		}
		state, err = wrapQ4State(ctx, native.Rai_q4_state_pp_value(out).Swigcptr())
		return err
	})
	return state, err
}

// use runs f with the context and the live state.
func (s *QuantState) use(f func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error) error {
	if s == nil {
		return newError(StatusInvalidArgument, "state is nil")
	}
	return s.useOn(s.ctx, f)
}

// useOn runs f with ctx (which may differ from the state's own, on the same device) and the
// live state.
func (s *QuantState) useOn(ctx *Context, f func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error) error {
	if s == nil {
		return newError(StatusInvalidArgument, "state is nil")
	}
	return ctx.use(func(ch native.Struct_SS_rai_context) error {
		return s.h().use1("state", func(p uintptr) error { return f(ch, q4state(p)) })
	})
}

// Dequantize is code * absmax for every element, float32 in the state's shape (flattened).
func (s *QuantState) Dequantize(codes []byte) ([]float32, error) {
	if s == nil {
		return nil, newError(StatusInvalidArgument, "state is nil")
	}
	dst := make([]float32, s.info.Numel)
	if err := s.DequantizeInto(codes, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// DequantizeInto writes code * absmax, rounded to dst's dtype, into dst: []float32, Float16,
// BFloat16 or a BufferTensor with the state's element count. codes: []byte or a BufferTensor.
func (s *QuantState) DequantizeInto(codes, dst interface{}) error {
	ts, err := views(spec("codes", codes), spec("dst", dst))
	if err != nil {
		return err
	}
	return s.use(func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_q4_dequantize(ch, p, d[0], d[1]) })
		})
	})
}

// Q4Field names an array of a state, as in bitsandbytes checkpoints (rai_q4_field values).
type Q4Field int32

const (
	Q4Absmax         Q4Field = 1 // float32 [blocks], or uint8 with double quantization (use ReadBytes)
	Q4QuantMap       Q4Field = 2 // float32 [16]
	Q4NestedAbsmax   Q4Field = 3 // float32 [nested blocks] (double quantization)
	Q4NestedQuantMap Q4Field = 4 // float32 [256] (double quantization)
	Q4AbsmaxDecoded  Q4Field = 5 // float32 [blocks]: the scales dequantization applies
)

func (s *QuantState) fieldLen(f Q4Field) int {
	switch f {
	case Q4Absmax, Q4AbsmaxDecoded:
		return int(s.info.Blocks)
	case Q4QuantMap:
		return 16
	case Q4NestedAbsmax:
		return int(s.info.NestedBlocks)
	case Q4NestedQuantMap:
		return 256
	}
	return 0
}

func (s *QuantState) read(field Q4Field, dst interface{}) error {
	t, err := view("dst", dst)
	if err != nil {
		return err
	}
	return s.use(func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_q4_state_read(ch, p, int(field), d[0]) })
		})
	})
}

// Read copies a float32 array of the state (every field except Q4Absmax under double
// quantization, which is uint8: ReadBytes).
func (s *QuantState) Read(field Q4Field) ([]float32, error) {
	if s == nil {
		return nil, newError(StatusInvalidArgument, "state is nil")
	}
	dst := make([]float32, s.fieldLen(field))
	if err := s.read(field, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadBytes copies the 8-bit absmax of a double-quantized state (Q4Absmax).
func (s *QuantState) ReadBytes(field Q4Field) ([]byte, error) {
	if s == nil {
		return nil, newError(StatusInvalidArgument, "state is nil")
	}
	dst := make([]byte, s.fieldLen(field))
	if err := s.read(field, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// LinearForward is y[M, N] = x[M, K] . W^T (+ bias[N]) for the 2-D 4-bit weight W [N, K] this
// state describes; x holds M rows of K values, bias is nil or N values.
func (s *QuantState) LinearForward(codes []byte, x []float32, bias []float32) ([]float32, error) {
	if s == nil {
		return nil, newError(StatusInvalidArgument, "state is nil")
	}
	n, k, err := s.matrixShape()
	if err != nil {
		return nil, err
	}
	if len(x)%k != 0 {
		return nil, newError(StatusShapeMismatch, "x has %d values, not a multiple of in_features %d", len(x), k)
	}
	y := make([]float32, len(x)/k*n)
	if err := s.LinearForwardInto(codes, x, optional(bias), y); err != nil {
		return nil, err
	}
	return y, nil
}

// LinearForwardInto is LinearForward on any tensors of one float dtype ([]float32, Float16,
// BFloat16 or BufferTensors): x [M, K], bias nil or [N], y [M, N] (shapes from the counts).
func (s *QuantState) LinearForwardInto(codes, x, bias, y interface{}) error {
	if s == nil {
		return newError(StatusInvalidArgument, "state is nil")
	}
	n, k, err := s.matrixShape()
	if err != nil {
		return err
	}
	m, err := rowsOf("x", x, k)
	if err != nil {
		return err
	}
	ts, err := views(spec("codes", codes), spec("x", x, m, k), spec("bias", optionalT(bias), n), spec("y", y, m, n))
	if err != nil {
		return err
	}
	return s.use(func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_q4_linear_forward(ch, p, d[0], d[1], d[2], d[3]) })
		})
	})
}

// LinearBackwardInput is dx[M, K] = dy[M, N] . W, the input gradient through the frozen weight.
func (s *QuantState) LinearBackwardInput(codes []byte, dy []float32) ([]float32, error) {
	if s == nil {
		return nil, newError(StatusInvalidArgument, "state is nil")
	}
	n, k, err := s.matrixShape()
	if err != nil {
		return nil, err
	}
	if len(dy)%n != 0 {
		return nil, newError(StatusShapeMismatch, "dy has %d values, not a multiple of out_features %d", len(dy), n)
	}
	dx := make([]float32, len(dy)/n*k)
	if err := s.LinearBackwardInputInto(codes, dy, dx); err != nil {
		return nil, err
	}
	return dx, nil
}

// LinearBackwardInputInto is LinearBackwardInput on any tensors of one float dtype: dy [M, N]
// and dx [M, K].
func (s *QuantState) LinearBackwardInputInto(codes, dy, dx interface{}) error {
	if s == nil {
		return newError(StatusInvalidArgument, "state is nil")
	}
	n, k, err := s.matrixShape()
	if err != nil {
		return err
	}
	m, err := rowsOf("dy", dy, n)
	if err != nil {
		return err
	}
	ts, err := views(spec("codes", codes), spec("dy", dy, m, n), spec("dx", dx, m, k))
	if err != nil {
		return err
	}
	return s.use(func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error {
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_q4_linear_backward_input(ch, p, d[0], d[1], d[2]) })
		})
	})
}

func (s *QuantState) matrixShape() (n, k int, err error) {
	if len(s.info.Shape) != 2 {
		return 0, 0, newError(StatusShapeMismatch, "state: the weight must be 2-D [out, in], it has shape %v", s.info.Shape)
	}
	return int(s.info.Shape[0]), int(s.info.Shape[1]), nil
}

// LoadQuantStateBnb reads the 4-bit state of module prefix ("model.layers.0.mlp.down_proj")
// from a bitsandbytes Linear4bit checkpoint into a new state on ctx. Its codes are the tensor
// prefix + ".weight" (f.Bytes). A missing or inconsistent key: StatusFormat naming it.
func LoadQuantStateBnb(ctx *Context, f *Safetensors, prefix string) (*QuantState, error) {
	var state *QuantState
	err := ctx.use(func(ch native.Struct_SS_rai_context) error {
		return f.use(func(fp native.Struct_SS_rai_safetensors) error {
			out := native.New_rai_q4_state_pp()
			defer native.Delete_rai_q4_state_pp(out)
			if err := call(func() status { return native.Rai_q4_state_load_bnb(ch, fp, prefix, out) }); err != nil {
				return err
			}
			var err error
			state, err = wrapQ4State(ctx, native.Rai_q4_state_pp_value(out).Swigcptr())
			return err
		})
	})
	return state, err
}

// SaveBnb adds the keys of module prefix for the state and its codes ([]byte or a
// BufferTensor) to w, byte-compatible with bitsandbytes (codes as u8 [(n+1)/2, 1]).
func (s *QuantState) SaveBnb(w *SafetensorsWriter, prefix string, codes interface{}) error {
	ts, err := views(spec("codes", codes))
	if err != nil {
		return err
	}
	return s.use(func(ch native.Struct_SS_rai_context, p native.Struct_SS_rai_q4_state) error {
		return w.use(func(wp native.Struct_SS_rai_safetensors_writer) error {
			return withTensors(ts, func(d []native.Rai_tensor) error {
				return call(func() status { return native.Rai_q4_state_save_bnb(ch, wp, prefix, p, d[0]) })
			})
		})
	})
}
