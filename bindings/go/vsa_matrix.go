package rai

// VSAMatrix: item memory, rows of packed trit vectors on a context's device.

import (
	"runtime"

	"rai.invalid/rai/native"
)

// VSAMatrix holds Rows packed vectors of Dim trits on the device of the context it was made on;
// every method runs on that context. Methods that take or return Go slices need a CPU context
// (host memory). Close it before its context; a finalizer closes it otherwise.
type VSAMatrix struct {
	handle
	ctx       *Context
	rows, dim int
}

func vmat(p uintptr) native.Struct_SS_rai_vsa_matrix {
	return native.SwigcptrStruct_SS_rai_vsa_matrix(p)
}

func (m *VSAMatrix) h() *handle {
	if m == nil {
		return nil
	}
	return &m.handle
}

// NewVSAMatrix is a rows x dim matrix of zero trits on ctx's device.
func NewVSAMatrix(ctx *Context, rows, dim int) (*VSAMatrix, error) {
	if rows < 0 || dim < 0 {
		return nil, newError(StatusInvalidArgument, "rows and dim must be >= 0, got %d and %d", rows, dim)
	}
	var m *VSAMatrix
	err := ctx.use(func(ch native.Struct_SS_rai_context) error {
		out := native.New_rai_vsa_matrix_pp()
		defer native.Delete_rai_vsa_matrix_pp(out)
		if err := call(func() status { return native.Rai_vsa_matrix_create(ch, int64(rows), int64(dim), out) }); err != nil {
			return err
		}
		m = &VSAMatrix{ctx: ctx, rows: rows, dim: dim}
		m.init("VSAMatrix", native.Rai_vsa_matrix_pp_value(out).Swigcptr(),
			func(p uintptr) { native.Rai_vsa_matrix_destroy(vmat(p)) })
		runtime.SetFinalizer(m, (*VSAMatrix).Close)
		return nil
	})
	return m, err
}

// Close frees the matrix. Closing again does nothing.
func (m *VSAMatrix) Close() error {
	if m != nil {
		m.close()
	}
	return nil
}

// Rows and Dim are the matrix's shape.
func (m *VSAMatrix) Rows() int { return m.rows }

// Dim is the number of trits per row.
func (m *VSAMatrix) Dim() int { return m.dim }

// with runs f with the context and the live handles of ms (named by names).
func withMatrices(ctx *Context, names []string, ms []*VSAMatrix, f func(ch native.Struct_SS_rai_context, ps []uintptr) error) error {
	hs := make([]*handle, len(ms))
	for i, m := range ms {
		hs[i] = m.h()
	}
	if ctx == nil {
		return newError(StatusInvalidArgument, "%s is nil", names[0])
	}
	return ctx.use(func(ch native.Struct_SS_rai_context) error {
		return useHandles(names, hs, func(ps []uintptr) error { return f(ch, ps) })
	})
}

func (m *VSAMatrix) context() *Context {
	if m == nil {
		return nil
	}
	return m.ctx
}

// SetRow copies v (Dim trits) into row.
func (m *VSAMatrix) SetRow(row int, v *TritVector) error {
	if err := checkIndex(row); err != nil {
		return err
	}
	return withMatrices(m.context(), []string{"m"}, []*VSAMatrix{m}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		return v.use("v", func(pv native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_vsa_matrix_set_row(ch, vmat(ps[0]), int64(row), pv) })
		})
	})
}

// Row is a copy of row as a TritVector.
func (m *VSAMatrix) Row(row int) (*TritVector, error) {
	if err := checkIndex(row); err != nil {
		return nil, err
	}
	var r *TritVector
	err := withMatrices(m.context(), []string{"m"}, []*VSAMatrix{m}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		var err error
		r, err = newLike(m.dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_vsa_matrix_get_row(ch, vmat(ps[0]), int64(row), out) })
		})
		return err
	})
	return r, err
}

// WriteInt8 writes len(trits)/Dim rows starting at rowOffset from row-major int8 trits. Strict:
// one invalid value and nothing is written.
func (m *VSAMatrix) WriteInt8(rowOffset int, trits []int8) error {
	if err := checkIndex(rowOffset); err != nil {
		return err
	}
	if m != nil && (m.dim == 0 || len(trits)%m.dim != 0) {
		return newError(StatusShapeMismatch, "trits has %d values, not a multiple of dim %d", len(trits), m.dim)
	}
	return withMatrices(m.context(), []string{"m"}, []*VSAMatrix{m}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		t, err := view("trits", trits, len(trits)/m.dim, m.dim)
		if err != nil {
			return err
		}
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_vsa_matrix_write_int8(ch, vmat(ps[0]), int64(rowOffset), d[0]) })
		})
	})
}

// ReadInt8 reads n rows starting at rowOffset as row-major int8 trits.
func (m *VSAMatrix) ReadInt8(rowOffset, n int) ([]int8, error) {
	if err := checkIndex(rowOffset); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, newError(StatusInvalidArgument, "n must be >= 0, got %d", n)
	}
	var out []int8
	err := withMatrices(m.context(), []string{"m"}, []*VSAMatrix{m}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		out = make([]int8, n*m.dim)
		t, err := view("out", out, n, m.dim)
		if err != nil {
			return err
		}
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status { return native.Rai_vsa_matrix_read_int8(ch, vmat(ps[0]), int64(rowOffset), d[0]) })
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Random fills row r with the vector RandomTritVector gives for opts.Seed + r.
func (m *VSAMatrix) Random(opts RandomOptions) error {
	return withMatrices(m.context(), []string{"m"}, []*VSAMatrix{m}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		return withRandomParams(opts, func(p native.Rai_random_params) error {
			return call(func() status { return native.Rai_vsa_matrix_random(ch, vmat(ps[0]), p) })
		})
	})
}

// newMatrixLike runs f with a new rows x dim matrix on m's context as its output.
func (m *VSAMatrix) newMatrixLike(rows int, f func(ch native.Struct_SS_rai_context, out native.Struct_SS_rai_vsa_matrix) error) (*VSAMatrix, error) {
	out, err := NewVSAMatrix(m.ctx, rows, m.dim)
	if err != nil {
		return nil, err
	}
	err = withMatrices(m.ctx, []string{"out"}, []*VSAMatrix{out}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		return f(ch, vmat(ps[0]))
	})
	if err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}

func (m *VSAMatrix) bindOp(op func(native.Struct_SS_rai_context, native.Struct_SS_rai_vsa_matrix, native.Struct_SS_rai_vsa_matrix, int, native.Struct_SS_rai_vsa_matrix) status,
	b *VSAMatrix, mode BindMode) (*VSAMatrix, error) {
	if m == nil {
		return nil, newError(StatusInvalidArgument, "a is nil")
	}
	var r *VSAMatrix
	err := useHandles([]string{"a", "b"}, []*handle{m.h(), b.h()}, func(ps []uintptr) error {
		var err error
		r, err = m.newMatrixLike(m.rows, func(ch native.Struct_SS_rai_context, out native.Struct_SS_rai_vsa_matrix) error {
			return call(func() status { return op(ch, vmat(ps[0]), vmat(ps[1]), int(mode), out) })
		})
		return err
	})
	return r, err
}

// Bind binds every row with b's row (b has m's rows, or one row used for all).
func (m *VSAMatrix) Bind(b *VSAMatrix, mode BindMode) (*VSAMatrix, error) {
	return m.bindOp(native.Rai_vsa_matrix_bind, b, mode)
}

// Unbind is the row-wise inverse of Bind.
func (m *VSAMatrix) Unbind(b *VSAMatrix, mode BindMode) (*VSAMatrix, error) {
	return m.bindOp(native.Rai_vsa_matrix_unbind, b, mode)
}

// Permute rolls every row by shift.
func (m *VSAMatrix) Permute(shift int64) (*VSAMatrix, error) {
	if m == nil {
		return nil, newError(StatusInvalidArgument, "m is nil")
	}
	var r *VSAMatrix
	err := m.h().use1("m", func(p uintptr) error {
		var err error
		r, err = m.newMatrixLike(m.rows, func(ch native.Struct_SS_rai_context, out native.Struct_SS_rai_vsa_matrix) error {
			return call(func() status { return native.Rai_vsa_matrix_permute(ch, vmat(p), shift, out) })
		})
		return err
	})
	return r, err
}

// Bundle is the majority of all rows (weights nil, or one per row).
func (m *VSAMatrix) Bundle(weights []int32, opts BundleOptions) (*TritVector, error) {
	if m == nil {
		return nil, newError(StatusInvalidArgument, "m is nil")
	}
	if weights != nil && len(weights) != m.rows {
		return nil, newError(StatusShapeMismatch, "weights has %d values for %d rows", len(weights), m.rows)
	}
	var r *TritVector
	err := m.h().use1("m", func(p uintptr) error {
		one, err := m.newMatrixLike(1, func(ch native.Struct_SS_rai_context, out native.Struct_SS_rai_vsa_matrix) error {
			return withBundleParams(opts, func(bp native.Rai_bundle_params) error {
				return call(func() status { return native.Rai_vsa_matrix_bundle(ch, vmat(p), i32Ptr(weights), bp, out) })
			})
		})
		if err != nil {
			return err
		}
		defer one.Close()
		r, err = one.Row(0)
		return err
	})
	return r, err
}

// Metric is a similarity measure between rows.
type Metric int32

const (
	MetricCosine            Metric = 0
	MetricDot               Metric = 1
	MetricHammingDistance   Metric = 2 // smaller is closer
	MetricHammingSimilarity Metric = 3
	MetricEqualCount        Metric = 4
)

// Similarity is metric(m row i, items row j) as a row-major float32 [m.Rows, items.Rows].
func (m *VSAMatrix) Similarity(items *VSAMatrix, metric Metric) ([]float32, error) {
	var out []float32
	err := m.similarity(items, metric, func(q, n int) interface{} { out = make([]float32, q*n); return out })
	return out, err
}

// SimilarityInt is Similarity as int32, exact, for the integer metrics (dot, Hamming distance,
// equal count).
func (m *VSAMatrix) SimilarityInt(items *VSAMatrix, metric Metric) ([]int32, error) {
	var out []int32
	err := m.similarity(items, metric, func(q, n int) interface{} { out = make([]int32, q*n); return out })
	return out, err
}

func (m *VSAMatrix) similarity(items *VSAMatrix, metric Metric, alloc func(q, n int) interface{}) error {
	if m == nil || items == nil {
		return newError(StatusInvalidArgument, "queries and items must not be nil")
	}
	return withMatrices(m.ctx, []string{"queries", "items"}, []*VSAMatrix{m, items}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		t, err := view("out", alloc(m.rows, items.rows), m.rows, items.rows)
		if err != nil {
			return err
		}
		return withTensors([]*hostTensor{t}, func(d []native.Rai_tensor) error {
			return call(func() status {
				return native.Rai_vsa_similarity_matrix(ch, vmat(ps[0]), vmat(ps[1]), int(metric), d[0])
			})
		})
	})
}

// TopK is, for every row of m, the k best items (best first; ties by increasing index):
// row-major [m.Rows, k] indices and scores. 1 <= k <= items.Rows.
func (m *VSAMatrix) TopK(items *VSAMatrix, k int, metric Metric) (index []int64, score []float32, err error) {
	if m == nil || items == nil {
		return nil, nil, newError(StatusInvalidArgument, "queries and items must not be nil")
	}
	if k < 1 || k > items.rows {
		return nil, nil, newError(StatusOutOfRange, "k = %d is not in [1, %d] (the items' rows)", k, items.rows)
	}
	index, score = make([]int64, m.rows*k), make([]float32, m.rows*k)
	err = withMatrices(m.ctx, []string{"queries", "items"}, []*VSAMatrix{m, items}, func(ch native.Struct_SS_rai_context, ps []uintptr) error {
		ts, err := views(spec("out_index", index, m.rows, k), spec("out_score", score, m.rows, k))
		if err != nil {
			return err
		}
		return withTensors(ts, func(d []native.Rai_tensor) error {
			return call(func() status {
				return native.Rai_vsa_topk(ch, vmat(ps[0]), vmat(ps[1]), int64(k), int(metric), d[0], d[1])
			})
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return index, score, nil
}
