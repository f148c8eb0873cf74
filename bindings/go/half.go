package rai

// 16-bit floats. Go has no f16 or bf16 type, so their bits travel as uint16 slices whose named
// type says the dtype: Float16 (IEEE binary16) and BFloat16 (the top half of a float32). A
// plain []uint16 is refused as a tensor (it would be ambiguous). The conversions round to
// nearest even, exactly as librai's own (src/quant/q4_format.h, the F16C and CUDA
// __float2half_rn behaviour): a NaN stays a quiet NaN with its top payload bits.

import "math"

// Float16 holds IEEE 754 binary16 values as their bits; as a tensor argument it is rai's f16.
type Float16 []uint16

// BFloat16 holds bfloat16 values as their bits; as a tensor argument it is rai's bf16.
type BFloat16 []uint16

// Float32ToBF16 rounds f to the nearest bfloat16 (ties to even).
func Float32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40 // quiet NaN, sign and top payload kept
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16ToFloat32 is the float32 a bfloat16 stands for (exact).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToF16 rounds f to the nearest binary16 (ties to even); magnitudes from 65520 up give
// infinity, below 2^-25 a signed zero.
func Float32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	a := u & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(a>>13)&0x3ff
	case a >= 0x477ff000: // rounds to infinity (or is one)
		return sign | 0x7c00
	case a < 0x33000000: // below half the smallest subnormal: zero
		return sign
	case a < 0x38800000: // subnormal: shift the mantissa (with its implicit bit) into place
		e := a >> 23
		m := a&0x7fffff | 0x800000
		shift := 126 - e
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := a - 0x38000000 // rebias the exponent from 127 to 15
	return sign | uint16((r+0xfff+(r>>13)&1)>>13)
}

// F16ToFloat32 is the float32 a binary16 stands for (exact, subnormals included).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise the mantissa
		e := uint32(0)
		for mant&0x400 == 0 {
			mant <<= 1
			e++
		}
		return math.Float32frombits(sign | (113-e)<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// ToFloat16 converts a float32 slice (round to nearest even).
func ToFloat16(v []float32) Float16 {
	out := make(Float16, len(v))
	for i, f := range v {
		out[i] = Float32ToF16(f)
	}
	return out
}

// ToBFloat16 converts a float32 slice (round to nearest even).
func ToBFloat16(v []float32) BFloat16 {
	out := make(BFloat16, len(v))
	for i, f := range v {
		out[i] = Float32ToBF16(f)
	}
	return out
}

// Float32 is the values of s as float32 (exact).
func (s Float16) Float32() []float32 {
	out := make([]float32, len(s))
	for i, h := range s {
		out[i] = F16ToFloat32(h)
	}
	return out
}

// Float32 is the values of s as float32 (exact).
func (s BFloat16) Float32() []float32 {
	out := make([]float32, len(s))
	for i, h := range s {
		out[i] = BF16ToFloat32(h)
	}
	return out
}
