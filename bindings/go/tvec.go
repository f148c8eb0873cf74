package rai

// TritVector: a dense packed trit vector (rai_tvec) in host memory.

import (
	"runtime"

	"rai.invalid/rai/native"
)

// TritVector is a dense vector of Dim trits, bit-sliced into a plus and a minus plane. Close
// it when done; a finalizer closes it otherwise.
type TritVector struct {
	handle
	dim int
}

func tvec(p uintptr) native.Struct_SS_rai_tvec { return native.SwigcptrStruct_SS_rai_tvec(p) }

func (v *TritVector) h() *handle {
	if v == nil {
		return nil
	}
	return &v.handle
}

func wrapTvec(p uintptr, dim int) *TritVector {
	v := &TritVector{dim: dim}
	v.init("TritVector", p, func(p uintptr) { native.Rai_tvec_destroy(tvec(p)) })
	runtime.SetFinalizer(v, (*TritVector).Close)
	return v
}

// NewTritVector is a vector of dim zero trits (dim may be 0).
func NewTritVector(dim int) (*TritVector, error) {
	if dim < 0 {
		return nil, newError(StatusInvalidArgument, "dim must be >= 0, got %d", dim)
	}
	out := native.New_rai_tvec_pp()
	defer native.Delete_rai_tvec_pp(out)
	if err := call(func() status { return native.Rai_tvec_create(int64(dim), out) }); err != nil {
		return nil, err
	}
	return wrapTvec(native.Rai_tvec_pp_value(out).Swigcptr(), dim), nil
}

// TritVectorFromInt8 is a vector holding trits (each -1, 0 or 1).
func TritVectorFromInt8(trits []int8) (*TritVector, error) {
	v, err := NewTritVector(len(trits))
	if err != nil {
		return nil, err
	}
	if err := v.SetInt8(trits); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// TritVectorFromPlanes64 is a vector of dim trits from u64 bit planes (ceil(dim/64) words each,
// trit i at bit i%64 of word i/64).
func TritVectorFromPlanes64(dim int, plus, minus []uint64) (*TritVector, error) {
	v, err := NewTritVector(dim)
	if err != nil {
		return nil, err
	}
	if err := v.SetPlanes64(plus, minus); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// TritVectorFromPlanes32 is the same from trit-vsa's u32 planes (ceil(dim/32) words each).
func TritVectorFromPlanes32(dim int, plus, minus []uint32) (*TritVector, error) {
	v, err := NewTritVector(dim)
	if err != nil {
		return nil, err
	}
	if err := v.SetPlanes32(plus, minus); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// Close frees the vector. Closing again does nothing; methods then return an error.
func (v *TritVector) Close() error {
	if v != nil {
		v.close()
	}
	return nil
}

// Dim is the number of trits.
func (v *TritVector) Dim() int {
	if v == nil {
		return 0
	}
	return v.dim
}

func (v *TritVector) use(name string, f func(p native.Struct_SS_rai_tvec) error) error {
	return v.h().use1(name, func(p uintptr) error { return f(tvec(p)) })
}

// Clone is an independent copy.
func (v *TritVector) Clone() (*TritVector, error) {
	var c *TritVector
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error {
		out := native.New_rai_tvec_pp()
		defer native.Delete_rai_tvec_pp(out)
		if err := call(func() status { return native.Rai_tvec_clone(p, out) }); err != nil {
			return err
		}
		c = wrapTvec(native.Rai_tvec_pp_value(out).Swigcptr(), v.dim)
		return nil
	})
	return c, err
}

// SetInt8 replaces the trits; len(trits) must be Dim. Strict: one value outside {-1, 0, 1}
// and v is unchanged (StatusInvalidArgument naming the index).
func (v *TritVector) SetInt8(trits []int8) error {
	return v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_tvec_import_int8(p, digitsPtr(trits), int64(len(trits))) })
	})
}

// Int8 is the trits as -1, 0, 1.
func (v *TritVector) Int8() ([]int8, error) {
	out := make([]int8, v.Dim())
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error {
		var n int64
		return call(func() status { return native.Rai_tvec_export_int8(p, digitsPtr(out), int64(len(out)), &n) })
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func u64Ptr(s []uint64) *uint64 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func u32Ptr(s []uint32) *uint32 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func i32Ptr(s []int32) *int32 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// SetPlanes64 replaces the trits from u64 planes of ceil(Dim/64) words each.
func (v *TritVector) SetPlanes64(plus, minus []uint64) error {
	if len(plus) != len(minus) {
		return newError(StatusShapeMismatch, "plus has %d words but minus has %d", len(plus), len(minus))
	}
	return v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status {
			return native.Rai_tvec_import_planes_u64(p, u64Ptr(plus), u64Ptr(minus), int64(len(plus)))
		})
	})
}

// Planes64 is the u64 bit planes.
func (v *TritVector) Planes64() (plus, minus []uint64, err error) {
	words := (v.Dim() + 63) / 64
	plus, minus = make([]uint64, words), make([]uint64, words)
	err = v.use("v", func(p native.Struct_SS_rai_tvec) error {
		var n int64
		return call(func() status {
			return native.Rai_tvec_export_planes_u64(p, u64Ptr(plus), u64Ptr(minus), int64(words), &n)
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return plus, minus, nil
}

// SetPlanes32 replaces the trits from trit-vsa's u32 planes of ceil(Dim/32) words each.
func (v *TritVector) SetPlanes32(plus, minus []uint32) error {
	if len(plus) != len(minus) {
		return newError(StatusShapeMismatch, "plus has %d words but minus has %d", len(plus), len(minus))
	}
	return v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status {
			return native.Rai_tvec_import_planes_u32(p, u32Ptr(plus), u32Ptr(minus), int64(len(plus)))
		})
	})
}

// Planes32 is trit-vsa's u32 bit planes (PackedTritVec's serialisation).
func (v *TritVector) Planes32() (plus, minus []uint32, err error) {
	words := (v.Dim() + 31) / 32
	plus, minus = make([]uint32, words), make([]uint32, words)
	err = v.use("v", func(p native.Struct_SS_rai_tvec) error {
		var n int64
		return call(func() status {
			return native.Rai_tvec_export_planes_u32(p, u32Ptr(plus), u32Ptr(minus), int64(words), &n)
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return plus, minus, nil
}

func checkIndex(index int) error {
	if index < 0 {
		return newError(StatusOutOfRange, "index %d is negative", index)
	}
	return nil
}

// Get is trit index; StatusOutOfRange outside [0, Dim).
func (v *TritVector) Get(index int) (int8, error) {
	var t int8
	if err := checkIndex(index); err != nil {
		return 0, err
	}
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_tvec_get(p, int64(index), &t) })
	})
	return t, err
}

// Set writes trit t (-1, 0 or 1) at index.
func (v *TritVector) Set(index int, t int8) error {
	if err := checkIndex(index); err != nil {
		return err
	}
	return v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_tvec_set(p, int64(index), t) })
	})
}

func (v *TritVector) count(f func(native.Struct_SS_rai_tvec, *int64) status) (int, error) {
	var n int64
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error { return call(func() status { return f(p, &n) }) })
	return int(n), err
}

// CountNonzero is the number of non-zero trits.
func (v *TritVector) CountNonzero() (int, error) { return v.count(native.Rai_tvec_count_nonzero) }

// CountPositive is the number of +1 trits.
func (v *TritVector) CountPositive() (int, error) { return v.count(native.Rai_tvec_count_positive) }

// CountNegative is the number of -1 trits.
func (v *TritVector) CountNegative() (int, error) { return v.count(native.Rai_tvec_count_negative) }

// Sum is #(+1) - #(-1).
func (v *TritVector) Sum() (int64, error) {
	n, err := v.count(native.Rai_tvec_sum)
	return int64(n), err
}

// Sparsity is 1 - nonzero/Dim (1 for Dim 0).
func (v *TritVector) Sparsity() (float64, error) {
	var s float64
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_tvec_sparsity(p, &s) })
	})
	return s, err
}

// newLike runs f with a new vector of dim trits as its output and returns it (closed on error).
func newLike(dim int, f func(out native.Struct_SS_rai_tvec) error) (*TritVector, error) {
	out, err := NewTritVector(dim)
	if err != nil {
		return nil, err
	}
	if err := f(tvec(out.p)); err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}

// Negate is -v.
func (v *TritVector) Negate() (*TritVector, error) {
	var r *TritVector
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error {
		var err error
		r, err = newLike(v.dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_tvec_negate(p, out) })
		})
		return err
	})
	return r, err
}

// binary runs f on two vectors' live handles.
func binary(a, b *TritVector, f func(pa, pb native.Struct_SS_rai_tvec) error) error {
	return useHandles([]string{"a", "b"}, []*handle{a.h(), b.h()}, func(ps []uintptr) error {
		return f(tvec(ps[0]), tvec(ps[1]))
	})
}

// Add is the element-wise sign(v + b), the bundle of two vectors. Dimensions must match
// (StatusShapeMismatch).
func (v *TritVector) Add(b *TritVector) (*TritVector, error) {
	var r *TritVector
	err := binary(v, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		var err error
		r, err = newLike(v.dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_tvec_add_clamped(pa, pb, out) })
		})
		return err
	})
	return r, err
}

// Equal reports whether v and b have the same dimension and trits.
func (v *TritVector) Equal(b *TritVector) (bool, error) {
	var eq int32
	err := binary(v, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_tvec_equal(pa, pb, &eq) })
	})
	return eq != 0, err
}
