package rai

// SparseTritVector: a sparse trit vector (rai_svec), sorted index lists of +1 and -1.

import (
	"runtime"

	"rai.invalid/rai/native"
)

// SparseTritVector is a vector of Dim trits stored as the indices of its +1 and -1 entries.
// Close it when done; a finalizer closes it otherwise.
type SparseTritVector struct {
	handle
	dim int
}

func svec(p uintptr) native.Struct_SS_rai_svec { return native.SwigcptrStruct_SS_rai_svec(p) }

func (s *SparseTritVector) h() *handle {
	if s == nil {
		return nil
	}
	return &s.handle
}

// NewSparseTritVector is an all-zero sparse vector of dim trits.
func NewSparseTritVector(dim int) (*SparseTritVector, error) {
	if dim < 0 {
		return nil, newError(StatusInvalidArgument, "dim must be >= 0, got %d", dim)
	}
	out := native.New_rai_svec_pp()
	defer native.Delete_rai_svec_pp(out)
	if err := call(func() status { return native.Rai_svec_create(int64(dim), out) }); err != nil {
		return nil, err
	}
	s := &SparseTritVector{dim: dim}
	s.init("SparseTritVector", native.Rai_svec_pp_value(out).Swigcptr(), func(p uintptr) { native.Rai_svec_destroy(svec(p)) })
	runtime.SetFinalizer(s, (*SparseTritVector).Close)
	return s, nil
}

// SparseTritVectorFromIndices is a vector of dim trits with +1 at positive and -1 at negative
// (unsorted is fine; an index >= dim is StatusOutOfRange, a repeated one StatusInvalidArgument).
func SparseTritVectorFromIndices(dim int, positive, negative []uint64) (*SparseTritVector, error) {
	s, err := NewSparseTritVector(dim)
	if err != nil {
		return nil, err
	}
	if err := s.SetIndices(positive, negative); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// SparseTritVectorFromDense converts a dense vector.
func SparseTritVectorFromDense(v *TritVector) (*SparseTritVector, error) {
	s, err := NewSparseTritVector(v.Dim())
	if err != nil {
		return nil, err
	}
	err = useHandles([]string{"v", "s"}, []*handle{v.h(), s.h()}, func(ps []uintptr) error {
		return call(func() status { return native.Rai_svec_from_tvec(tvec(ps[0]), svec(ps[1])) })
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close frees the vector. Closing again does nothing.
func (s *SparseTritVector) Close() error {
	if s != nil {
		s.close()
	}
	return nil
}

// Dim is the number of trits.
func (s *SparseTritVector) Dim() int {
	if s == nil {
		return 0
	}
	return s.dim
}

func (s *SparseTritVector) use(f func(p native.Struct_SS_rai_svec) error) error {
	return s.h().use1("s", func(p uintptr) error { return f(svec(p)) })
}

// SetIndices replaces the contents (see SparseTritVectorFromIndices).
func (s *SparseTritVector) SetIndices(positive, negative []uint64) error {
	return s.use(func(p native.Struct_SS_rai_svec) error {
		return call(func() status {
			return native.Rai_svec_import_indices(p, u64Ptr(positive), int64(len(positive)), u64Ptr(negative), int64(len(negative)))
		})
	})
}

// Indices are the sorted positions of the +1 and the -1 trits.
func (s *SparseTritVector) Indices() (positive, negative []uint64, err error) {
	err = s.use(func(p native.Struct_SS_rai_svec) error {
		// Ask for the counts first (BUFFER_TOO_SMALL with zero capacity also reports them).
		var np, nn int64
		err := call(func() status { return native.Rai_svec_export_indices(p, nil, 0, nil, 0, &np, &nn) })
		if err != nil && StatusOf(err) != StatusBufferTooSmall {
			return err
		}
		positive, negative = make([]uint64, np), make([]uint64, nn)
		return call(func() status {
			return native.Rai_svec_export_indices(p, u64Ptr(positive), np, u64Ptr(negative), nn, &np, &nn)
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return positive, negative, nil
}

// Get is trit index; StatusOutOfRange outside [0, Dim).
func (s *SparseTritVector) Get(index int) (int8, error) {
	var t int8
	if err := checkIndex(index); err != nil {
		return 0, err
	}
	err := s.use(func(p native.Struct_SS_rai_svec) error {
		return call(func() status { return native.Rai_svec_get(p, int64(index), &t) })
	})
	return t, err
}

// Set writes trit t at index.
func (s *SparseTritVector) Set(index int, t int8) error {
	if err := checkIndex(index); err != nil {
		return err
	}
	return s.use(func(p native.Struct_SS_rai_svec) error {
		return call(func() status { return native.Rai_svec_set(p, int64(index), t) })
	})
}

func (s *SparseTritVector) size(f func(native.Struct_SS_rai_svec, *int64) status) (int, error) {
	var n int64
	err := s.use(func(p native.Struct_SS_rai_svec) error { return call(func() status { return f(p, &n) }) })
	return int(n), err
}

// Nnz is the number of non-zero trits.
func (s *SparseTritVector) Nnz() (int, error) { return s.size(native.Rai_svec_nnz) }

// MemoryBytes is what the vector occupies, counted as trit-vsa does.
func (s *SparseTritVector) MemoryBytes() (int, error) { return s.size(native.Rai_svec_memory_bytes) }

// Dense converts to a TritVector.
func (s *SparseTritVector) Dense() (*TritVector, error) {
	var r *TritVector
	err := s.use(func(p native.Struct_SS_rai_svec) error {
		var err error
		r, err = newLike(s.dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_svec_to_tvec(p, out) })
		})
		return err
	})
	return r, err
}

// Dot is the dot product with b (same dimension).
func (s *SparseTritVector) Dot(b *SparseTritVector) (int64, error) {
	var d int64
	err := useHandles([]string{"a", "b"}, []*handle{s.h(), b.h()}, func(ps []uintptr) error {
		return call(func() status { return native.Rai_svec_dot(svec(ps[0]), svec(ps[1]), &d) })
	})
	return d, err
}

// DotDense is the dot product with a dense vector.
func (s *SparseTritVector) DotDense(b *TritVector) (int64, error) {
	var d int64
	err := useHandles([]string{"a", "b"}, []*handle{s.h(), b.h()}, func(ps []uintptr) error {
		return call(func() status { return native.Rai_svec_dot_tvec(svec(ps[0]), tvec(ps[1]), &d) })
	})
	return d, err
}

// Cosine is dot / sqrt(nnz(s) nnz(b)), 0 if either is zero.
func (s *SparseTritVector) Cosine(b *SparseTritVector) (float32, error) {
	var c float32
	err := useHandles([]string{"a", "b"}, []*handle{s.h(), b.h()}, func(ps []uintptr) error {
		return call(func() status { return native.Rai_svec_cosine(svec(ps[0]), svec(ps[1]), &c) })
	})
	return c, err
}

// CosineDense is Cosine with a dense vector.
func (s *SparseTritVector) CosineDense(b *TritVector) (float32, error) {
	var c float32
	err := useHandles([]string{"a", "b"}, []*handle{s.h(), b.h()}, func(ps []uintptr) error {
		return call(func() status { return native.Rai_svec_cosine_tvec(svec(ps[0]), tvec(ps[1]), &c) })
	})
	return c, err
}
