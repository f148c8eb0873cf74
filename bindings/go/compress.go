package rai

// Error-feedback gradient compression for data-parallel training (rai.h section "gradient
// compression", docs/compress.md).

import (
	"runtime"
	"unsafe"

	"rai.invalid/rai/native"
)

// CompressMethod is a gradient compressor (rai_gc_method values).
type CompressMethod int32

const (
	CompressNone          CompressMethod = 0 // raw values
	CompressTopK          CompressMethod = 1 // the Ratio*n largest magnitudes
	CompressSign          CompressMethod = 2 // 1 bit per element, scaled by mean |g|
	CompressTernary       CompressMethod = 3 // 2 bits: sign of the large elements, one scale
	CompressTernaryStoch  CompressMethod = 4 // 2 bits, unbiased stochastic ternary
	CompressQSGD          CompressMethod = 5 // unbiased stochastic rounding to QSGDLevels levels
	CompressPowerSGD      CompressMethod = 6 // rank-Rank factors, warm-started; 1-D tensors raw
	CompressVSACompatOnly CompressMethod = 7 // vsa-optim parity only: poor quality, never train with it
)

// ErrorFeedback selects error feedback (rai_gc_params.error_feedback).
type ErrorFeedback int32

const (
	EFDefault ErrorFeedback = 0 // on for the biased methods (TopK, Sign, Ternary, PowerSGD, VSA)
	EFOn      ErrorFeedback = 1
	EFOff     ErrorFeedback = 2
)

// CompressorOptions configure NewCompressor; zero fields take librai's defaults.
type CompressorOptions struct {
	Method         CompressMethod
	Ratio          float32 // TopK: fraction kept in (0, 1]; 0 = 0.01
	Rank           uint32  // PowerSGD rank; 0 = 2
	PowerIters     uint32  // PowerSGD power iterations; 0 = 1
	QSGDLevels     uint32  // QSGD levels in [1, 32767]; 0 = 7
	VSADimension   uint32  // VSA compatibility: minimum dimension; 0 = 8192
	VSARatio       float32 // VSA compatibility: dimension ratio; 0 = 0.1
	ErrorFeedback  ErrorFeedback
	WarmupSteps    uint32 // the first steps of each tensor are sent uncompressed
	MeasureQuality bool   // record cosine and relative error of every compression (Stats)
	Seed           uint64 // keys every random stream; peers must agree on it
	// Momentum correction (DGC) in [0, 1); 0 = off. The compressor keeps a velocity
	// u = Momentum*u + grad per tensor and sends it (with its EF residual): step with plain SGD,
	// no momentum, on the decompressed average. Needs error feedback.
	Momentum float32
}

// AllTensors asks Stats for the totals over every registered tensor.
const AllTensors = ^uint32(0)

// Compressor is an error-feedback gradient compressor (rai_gc): per registered tensor it keeps
// the EF residual, the PowerSGD warm start, a step counter and statistics. Gradients are
// []float32 on a CPU context (bf16 gradients are reachable through the native package only).
// Messages are []byte in librai's versioned wire format, exchangeable with peers that use the
// same options. Close it before its context.
type Compressor struct {
	handle
	ctx    *Context
	shapes [][]int // registered shapes, by id
}

func gcp(p uintptr) native.Struct_SS_rai_gc { return native.SwigcptrStruct_SS_rai_gc(p) }

// NewCompressor makes a compressor on ctx.
func NewCompressor(ctx *Context, opts CompressorOptions) (*Compressor, error) {
	var c *Compressor
	err := ctx.use(func(ch native.Struct_SS_rai_context) error {
		params := native.NewRai_gc_params()
		defer native.DeleteRai_gc_params(params)
		params.SetMethod(int(opts.Method))
		params.SetRatio(opts.Ratio)
		params.SetRank(uint(opts.Rank))
		params.SetPower_iters(uint(opts.PowerIters))
		params.SetQsgd_levels(uint(opts.QSGDLevels))
		params.SetVsa_dimension(uint(opts.VSADimension))
		params.SetVsa_ratio(opts.VSARatio)
		params.SetError_feedback(int(opts.ErrorFeedback))
		params.SetWarmup_steps(uint(opts.WarmupSteps))
		if opts.MeasureQuality {
			params.SetFlags(uint(native.RAI_GC_MEASURE_QUALITY))
		}
		params.SetSeed(opts.Seed)
		params.SetMomentum(opts.Momentum)
		out := native.New_rai_gc_pp()
		defer native.Delete_rai_gc_pp(out)
		if err := call(func() status { return native.Rai_gc_create(ch, params, out) }); err != nil {
			return err
		}
		c = &Compressor{ctx: ctx}
		c.init("Compressor", native.Rai_gc_pp_value(out).Swigcptr(), func(p uintptr) { native.Rai_gc_destroy(gcp(p)) })
		runtime.SetFinalizer(c, (*Compressor).Close)
		return nil
	})
	return c, err
}

// Close frees the compressor and its state. Closing again does nothing.
func (c *Compressor) Close() error {
	if c != nil {
		c.close()
	}
	return nil
}

func (c *Compressor) use(f func(p native.Struct_SS_rai_gc) error) error {
	if c == nil {
		return newError(StatusInvalidArgument, "compressor is nil")
	}
	return c.ctx.use(func(native.Struct_SS_rai_context) error {
		return c.handle.use1("compressor", func(p uintptr) error { return f(gcp(p)) })
	})
}

// AddTensor registers a float32 gradient of the given shape (no shape: a scalar is not
// allowed, give at least one dimension) and returns its id: 0, 1, ... in call order. name is
// for messages only.
func (c *Compressor) AddTensor(name string, shape ...int) (uint32, error) {
	if len(shape) == 0 {
		return 0, newError(StatusInvalidArgument, "shape: give at least one dimension")
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n < 0 {
		n = 0 // view reports the negative dimension
	}
	like, err := view("like", make([]float32, n), shape...)
	if err != nil {
		return 0, err
	}
	var id uint32
	err = c.use(func(p native.Struct_SS_rai_gc) error {
		return withTensors([]*hostTensor{like}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gc_add_tensor(p, name, d[0], &id) })
		})
	})
	if err != nil {
		return 0, err
	}
	c.shapes = append(c.shapes, append([]int(nil), shape...))
	return id, nil
}

// TensorCount is the number of registered tensors.
func (c *Compressor) TensorCount() (int, error) {
	var n uint32
	err := c.use(func(p native.Struct_SS_rai_gc) error {
		return call(func() status { return native.Rai_gc_tensor_count(p, &n) })
	})
	return int(n), err
}

// MaxMessageSize is the largest message Compress can produce for tensor id.
func (c *Compressor) MaxMessageSize(id uint32) (int, error) {
	var n int64
	err := c.use(func(p native.Struct_SS_rai_gc) error {
		return call(func() status { return native.Rai_gc_max_message_size(p, uint(id), &n) })
	})
	return int(n), err
}

// gradView is grad viewed with tensor id's registered shape.
func (c *Compressor) gradView(name string, id uint32, grad []float32) (*hostTensor, error) {
	if c == nil {
		return nil, newError(StatusInvalidArgument, "compressor is nil")
	}
	if int(id) >= len(c.shapes) {
		return nil, newError(StatusInvalidArgument, "id %d: %d tensors are registered", id, len(c.shapes))
	}
	return view(name, grad, c.shapes[id]...)
}

// sized runs a rai call that writes a message of at most max bytes and returns the bytes written.
func sized(max int, f func(out []byte, written *int64) status) ([]byte, error) {
	out := make([]byte, max)
	var written int64
	if err := call(func() status { return f(out, &written) }); err != nil {
		return nil, err
	}
	return out[:written], nil
}

// Compress adds the EF residual to grad, encodes it, keeps the new residual and returns the
// message. grad has the registered shape's element count and is not modified.
func (c *Compressor) Compress(id uint32, grad []float32) ([]byte, error) {
	t, err := c.gradView("grad", id, grad)
	if err != nil {
		return nil, err
	}
	var msg []byte
	err = c.use(func(p native.Struct_SS_rai_gc) error {
		var max int64
		if err := call(func() status { return native.Rai_gc_max_message_size(p, uint(id), &max) }); err != nil {
			return err
		}
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			msg, err = sized(int(max), func(out []byte, w *int64) status { return native.Rai_gc_compress(p, uint(id), d[0], out, w) })
			return err
		})
	})
	return msg, err
}

// Decompress decodes a message of tensor id (this compressor's, a peer's with the same options,
// or a reduced one) into a new gradient of the registered size.
func (c *Compressor) Decompress(id uint32, msg []byte) ([]float32, error) {
	if c != nil && int(id) < len(c.shapes) {
		n := 1
		for _, d := range c.shapes[id] {
			n *= d
		}
		grad := make([]float32, n)
		if err := c.DecompressInto(id, msg, grad); err != nil {
			return nil, err
		}
		return grad, nil
	}
	return nil, c.DecompressInto(id, msg, nil)
}

// DecompressInto is Decompress into grad (the registered element count), for reusing a buffer.
func (c *Compressor) DecompressInto(id uint32, msg []byte, grad []float32) error {
	t, err := c.gradView("grad", id, grad)
	if err != nil {
		return err
	}
	return c.use(func(p native.Struct_SS_rai_gc) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gc_decompress(p, uint(id), msg, d[0]) })
		})
	})
}

// Apply replaces grad by Decompress(Compress(grad)) with the same EF update: one process's
// round trip, for simulations and tests.
func (c *Compressor) Apply(id uint32, grad []float32) error {
	t, err := c.gradView("grad", id, grad)
	if err != nil {
		return err
	}
	return c.use(func(p native.Struct_SS_rai_gc) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gc_apply(p, uint(id), d[0]) })
		})
	})
}

// Reduce combines peers' messages of one step for tensor id into one message that decodes to
// their sum (union-sum for TopK, rank concatenation for PowerSGD, majority vote for Sign, a
// dense sum for the others). The compressor's state does not change.
func (c *Compressor) Reduce(id uint32, msgs [][]byte) ([]byte, error) {
	var msg []byte
	err := c.use(func(p native.Struct_SS_rai_gc) error {
		var need int64
		if err := call(func() status { return gcReduce(p.Swigcptr(), id, msgs, nil, &need) }); err != nil {
			return err
		}
		var err error
		msg, err = sized(int(need), func(out []byte, w *int64) status { return gcReduce(p.Swigcptr(), id, msgs, out, w) })
		return err
	})
	return msg, err
}

// PowerSGDP is the first round of PowerSGD with two all-reduces: the P message of grad (EF
// residual added). Sum the peers' P messages (Reduce, or an all-reduce of the f32 payload) and
// pass the sum to PowerSGDQ.
func (c *Compressor) PowerSGDP(id uint32, grad []float32) ([]byte, error) {
	t, err := c.gradView("grad", id, grad)
	if err != nil {
		return nil, err
	}
	var msg []byte
	err = c.use(func(p native.Struct_SS_rai_gc) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			var need int64
			if err := call(func() status { return native.Rai_gc_powersgd_p(p, uint(id), d[0], nil, &need) }); err != nil {
				return err
			}
			var err error
			msg, err = sized(int(need), func(out []byte, w *int64) status { return native.Rai_gc_powersgd_p(p, uint(id), d[0], out, w) })
			return err
		})
	})
	return msg, err
}

// PowerSGDQ is the second round: from the summed P messages, the Q message (empty when the
// tensor was sent raw: decompress the summed P message directly then). Decompress the sum of
// the peers' Q messages to finish the step.
func (c *Compressor) PowerSGDQ(id uint32, pSum []byte) ([]byte, error) {
	var msg []byte
	err := c.use(func(p native.Struct_SS_rai_gc) error {
		var need int64
		if err := call(func() status { return native.Rai_gc_powersgd_q(p, uint(id), pSum, nil, &need) }); err != nil {
			return err
		}
		var err error
		msg, err = sized(int(need), func(out []byte, w *int64) status { return native.Rai_gc_powersgd_q(p, uint(id), pSum, out, w) })
		return err
	})
	return msg, err
}

// CompressionHasMPI reports whether librai was built with MPI (AllReduceMPI works).
func CompressionHasMPI() bool { return native.Rai_gc_has_mpi() != 0 }

// AllReduceOption is an extra rai_gc_allreduce_mpi flag.
type AllReduceOption uint

// SumDecoded: RAI_GC_ALLREDUCE_SUM_DECODED.
const SumDecoded = AllReduceOption(native.RAI_GC_ALLREDUCE_SUM_DECODED)

// AllReduceMPI replaces grad, on every rank, by the compressed sum over the ranks of mpiComm
// (divided by the communicator size with average). mpiComm points to the caller's MPI_Comm in
// C memory (for example a C.MPI_Comm variable of the caller's own cgo code, &comm): this package
// does not link MPI, so the communicator can only come from the caller. Every rank calls it with
// the same id. StatusUnsupported when librai was built without MPI (CompressionHasMPI).
// SumDecoded among opts sums every rank's decoded message instead of reducing the gathered
// messages (SIGN: the mean of the scaled signs, what error feedback assumes, not a majority vote).
func (c *Compressor) AllReduceMPI(id uint32, grad []float32, mpiComm unsafe.Pointer, average bool, opts ...AllReduceOption) error {
	t, err := c.gradView("grad", id, grad)
	if err != nil {
		return err
	}
	if mpiComm == nil {
		return newError(StatusInvalidArgument, "mpiComm is nil")
	}
	var flags uint
	if average {
		flags = uint(native.RAI_GC_ALLREDUCE_AVERAGE)
	}
	for _, o := range opts {
		flags |= uint(o)
	}
	return c.use(func(p native.Struct_SS_rai_gc) error {
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_gc_allreduce_mpi(p, uint(id), d[0], uintptr(mpiComm), flags) })
		})
	})
}

// CompressorStats are the statistics of one tensor or of all (rai_gc_stats).
type CompressorStats struct {
	Steps          uint64  // compressions
	Params         uint64  // elements compressed, summed over steps
	BitsIn         uint64  // gradient bits in
	BitsOut        uint64  // message bits out, headers, indices and scales included
	BitsPerParam   float64 // BitsOut / Params
	LastCosine     float64 // with MeasureQuality: cosine(input, reconstruction) of the last step
	LastRelError   float64 // with MeasureQuality: relative L2 error of the last step
	EFNorm         float64 // L2 norm of the EF residual(s) now
	QualitySamples uint64  // steps that measured quality
}

// Stats of tensor id, or of every tensor with AllTensors.
func (c *Compressor) Stats(id uint32) (CompressorStats, error) {
	var s CompressorStats
	err := c.use(func(p native.Struct_SS_rai_gc) error {
		st := native.NewRai_gc_stats()
		defer native.DeleteRai_gc_stats(st)
		if err := call(func() status { return native.Rai_gc_get_stats(p, uint(id), st) }); err != nil {
			return err
		}
		s = CompressorStats{Steps: st.GetSteps(), Params: st.GetParams(), BitsIn: st.GetBits_in(),
			BitsOut: st.GetBits_out(), BitsPerParam: st.GetBits_per_param(), LastCosine: st.GetLast_cosine(),
			LastRelError: st.GetLast_rel_error(), EFNorm: st.GetEf_norm(), QualitySamples: st.GetQuality_samples()}
		return nil
	})
	return s, err
}

// ResetStats zeroes the statistics (not the EF state).
func (c *Compressor) ResetStats() error {
	return c.use(func(p native.Struct_SS_rai_gc) error {
		return call(func() status { return native.Rai_gc_reset_stats(p) })
	})
}

// SaveState checkpoints the EF residuals, PowerSGD warm starts and step counters.
func (c *Compressor) SaveState() ([]byte, error) {
	var blob []byte
	err := c.use(func(p native.Struct_SS_rai_gc) error {
		var need int64
		if err := call(func() status { return native.Rai_gc_state_size(p, &need) }); err != nil {
			return err
		}
		var err error
		blob, err = sized(int(need), func(out []byte, w *int64) status { return native.Rai_gc_state_save(p, out, w) })
		return err
	})
	return blob, err
}

// LoadState restores a SaveState blob of a compressor with the same options and tensors
// (StatusFormat / StatusShapeMismatch otherwise, and nothing changes).
func (c *Compressor) LoadState(blob []byte) error {
	return c.use(func(p native.Struct_SS_rai_gc) error {
		return call(func() status { return native.Rai_gc_state_load(p, blob) })
	})
}
