package rai

// Vector-symbolic operations on TritVectors: bind, bundle, permute, similarity, random.

import (
	"strconv"

	"rai.invalid/rai/native"
)

// BindMode selects the binding operation. The values of the enums below are those of rai.h
// (append-only ABI values; the tests compare them with the generated package).
type BindMode int32

const (
	// BindMod3 is trit-vsa's bind = (a - b) mod 3, unbind = (c + b) mod 3 (anti-commutative).
	BindMod3 BindMode = 0
	// BindMul is MAP's element-wise product; self-inverse only for keys without zeros.
	BindMul BindMode = 1
)

// TieBreak says what a bundle position whose weighted sum is 0 becomes.
type TieBreak int32

const (
	TieZero   TieBreak = 0 // 0
	TieRandom TieBreak = 1 // +1 or -1 from (seed, index) where some input is non-zero
)

// BundleOptions configure Bundle; the zero value is librai's default (ties give 0).
type BundleOptions struct {
	TieBreak TieBreak
	Seed     uint64
}

// withBundleParams runs f with a rai_bundle_params holding o.
func withBundleParams(o BundleOptions, f func(p native.Rai_bundle_params) error) error {
	p := native.NewRai_bundle_params()
	defer native.DeleteRai_bundle_params(p)
	p.SetTie_break(int(o.TieBreak))
	p.SetSeed(o.Seed)
	return f(p)
}

// Bind is bind(a, b); Unbind(Bind(a, b), b) == a.
func Bind(a, b *TritVector, mode BindMode) (*TritVector, error) {
	return bindOp(native.Rai_vsa_bind, a, b, mode)
}

// Unbind is the inverse of Bind with the same key b.
func Unbind(c, b *TritVector, mode BindMode) (*TritVector, error) {
	return bindOp(native.Rai_vsa_unbind, c, b, mode)
}

func bindOp(op func(native.Struct_SS_rai_tvec, native.Struct_SS_rai_tvec, int, native.Struct_SS_rai_tvec) status,
	a, b *TritVector, mode BindMode) (*TritVector, error) {
	var r *TritVector
	err := binary(a, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		var err error
		r, err = newLike(a.dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return op(pa, pb, int(mode), out) })
		})
		return err
	})
	return r, err
}

// useVectors runs f with the live handles of vs (named vectors[i] in errors).
func useVectors(vs []*TritVector, f func(ps []uintptr) error) error {
	if len(vs) == 0 {
		return newError(StatusInvalidArgument, "vectors is empty")
	}
	names := make([]string, len(vs))
	hs := make([]*handle, len(vs))
	for i, v := range vs {
		names[i] = "vectors[" + strconv.Itoa(i) + "]"
		hs[i] = v.h()
	}
	return useHandles(names, hs, f)
}

// BindMany is the left fold bind(bind(v0, v1), v2)...
func BindMany(vectors []*TritVector, mode BindMode) (*TritVector, error) {
	var r *TritVector
	err := useVectors(vectors, func(ps []uintptr) error {
		var err error
		r, err = newLike(vectors[0].dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_vsa_bind_many(ps, int64(len(ps)), int(mode), out) })
		})
		return err
	})
	return r, err
}

func checkWeights(weights []int32, count int) error {
	if weights != nil && len(weights) != count {
		return newError(StatusShapeMismatch, "weights has %d values for %d vectors", len(weights), count)
	}
	return nil
}

// Bundle is the majority sign(sum_k weights[k] * vectors[k]) (weights nil: all 1).
func Bundle(vectors []*TritVector, weights []int32, opts BundleOptions) (*TritVector, error) {
	if err := checkWeights(weights, len(vectors)); err != nil {
		return nil, err
	}
	var r *TritVector
	err := useVectors(vectors, func(ps []uintptr) error {
		return withBundleParams(opts, func(bp native.Rai_bundle_params) error {
			var err error
			r, err = newLike(vectors[0].dim, func(out native.Struct_SS_rai_tvec) error {
				return call(func() status { return native.Rai_vsa_bundle(ps, i32Ptr(weights), int64(len(ps)), bp, out) })
			})
			return err
		})
	})
	return r, err
}

// BundleCounts are the integer sums sum_k weights[k] * vectors[k][i], without thresholding.
func BundleCounts(vectors []*TritVector, weights []int32) ([]int32, error) {
	if err := checkWeights(weights, len(vectors)); err != nil {
		return nil, err
	}
	var counts []int32
	err := useVectors(vectors, func(ps []uintptr) error {
		counts = make([]int32, vectors[0].dim)
		var n int64
		return call(func() status {
			return native.Rai_vsa_bundle_counts(ps, i32Ptr(weights), int64(len(ps)), i32Ptr(counts), int64(len(counts)), &n)
		})
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// Accumulate adds weight * v[i] to counts[i] (len(counts) == v.Dim()); StatusOutOfRange, and
// nothing added, if a sum would leave int32.
func Accumulate(counts []int32, v *TritVector, weight int32) error {
	return v.use("v", func(p native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_vsa_accumulate(p, int(weight), i32Ptr(counts), int64(len(counts))) })
	})
}

// Threshold is +1 where counts > threshold, -1 where counts < -threshold, else 0.
func Threshold(counts []int32, threshold int32) (*TritVector, error) {
	return newLike(len(counts), func(out native.Struct_SS_rai_tvec) error {
		return call(func() status {
			return native.Rai_vsa_threshold(i32Ptr(counts), int64(len(counts)), int(threshold), out)
		})
	})
}

// Permute rolls v cyclically: element i moves to (i + shift) mod Dim; shift may be negative.
func Permute(v *TritVector, shift int64) (*TritVector, error) {
	var r *TritVector
	err := v.use("v", func(p native.Struct_SS_rai_tvec) error {
		var err error
		r, err = newLike(v.dim, func(out native.Struct_SS_rai_tvec) error {
			return call(func() status { return native.Rai_vsa_permute(p, shift, out) })
		})
		return err
	})
	return r, err
}

// Dot is sum_i a[i] * b[i].
func Dot(a, b *TritVector) (int64, error) {
	var d int64
	err := binary(a, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_vsa_dot(pa, pb, &d) })
	})
	return d, err
}

// Cosine is dot / sqrt(nnz(a) nnz(b)) rounded once to float32; 0 if either is zero.
func Cosine(a, b *TritVector) (float32, error) {
	var c float32
	err := binary(a, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_vsa_cosine(pa, pb, &c) })
	})
	return c, err
}

// HammingDistance is the number of positions whose trits differ.
func HammingDistance(a, b *TritVector) (int, error) {
	var d int64
	err := binary(a, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_vsa_hamming_distance(pa, pb, &d) })
	})
	return int(d), err
}

// HammingSimilarity is 1 - distance / Dim (1 for Dim 0).
func HammingSimilarity(a, b *TritVector) (float32, error) {
	var s float32
	err := binary(a, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_vsa_hamming_similarity(pa, pb, &s) })
	})
	return s, err
}

// EqualCount is the number of equal positions (torchhd's hamming_similarity).
func EqualCount(a, b *TritVector) (int, error) {
	var n int64
	err := binary(a, b, func(pa, pb native.Struct_SS_rai_tvec) error {
		return call(func() status { return native.Rai_vsa_equal_count(pa, pb, &n) })
	})
	return int(n), err
}

// RNG selects the random generator.
type RNG int32

const (
	RNGTritVSA RNG = 0 // bit-exact with trit-vsa's CpuBackend::random
	RNGCounter RNG = 1 // counter-based SplitMix64
	// Bit-exact with tritter-accel's VsaOps::random: ChaCha8Rng::seed_from_u64(Seed) (all 64
	// bits), one u32 per trit, thresholds 0.333 / 0.666. Dense only.
	RNGTritterChaCha8 RNG = 2
)

// Distribution is the distribution of random trits.
type Distribution int32

const (
	Dense   Distribution = 0 // -1, 0, +1 with probability ~1/3 each
	Bipolar Distribution = 1 // -1, +1 evenly
	Sparse  Distribution = 2 // non-zero with probability Density
)

// RandomOptions configure RandomTritVector and VSAMatrix.Random; the zero value is librai's
// default (trit-vsa generator, dense, seed 0).
type RandomOptions struct {
	Generator    RNG
	Distribution Distribution
	Seed         uint64
	Density      float64 // Sparse only: in (0, 1]
}

func withRandomParams(o RandomOptions, f func(p native.Rai_random_params) error) error {
	p := native.NewRai_random_params()
	defer native.DeleteRai_random_params(p)
	p.SetGenerator(int(o.Generator))
	p.SetDistribution(int(o.Distribution))
	p.SetSeed(o.Seed)
	p.SetDensity(o.Density)
	return f(p)
}

// RandomTritVector is a vector of dim trits from the generator; the same options give the same
// vector on every backend.
func RandomTritVector(dim int, opts RandomOptions) (*TritVector, error) {
	return newLike(dim, func(out native.Struct_SS_rai_tvec) error {
		return withRandomParams(opts, func(p native.Rai_random_params) error {
			return call(func() status { return native.Rai_vsa_random(p, out) })
		})
	})
}

// VSACPUBackend names the packed-trit kernels the CPU features select: "scalar", "avx2" or
// "avx512".
func VSACPUBackend() string { return native.Rai_vsa_cpu_backend() }
