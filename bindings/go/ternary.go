package rai

// Balanced-ternary scalars: trits, Tryte (3 trits), Word (6 trits) and digit arrays of any
// length (rai.h section "ternary and VSA", docs/ternary.md).

import "rai.invalid/rai/native"

type status = native.Enum_SS_rai_status

// TritNeg is -a. a must be -1, 0 or 1 (StatusInvalidArgument otherwise), as for every trit.
func TritNeg(a int8) (int8, error) {
	var out int8
	err := call(func() status { return native.Rai_trit_neg(a, &out) })
	return out, err
}

// TritMul is a * b.
func TritMul(a, b int8) (int8, error) {
	var out int8
	err := call(func() status { return native.Rai_trit_mul(a, b, &out) })
	return out, err
}

// TritAdd returns digit and carry with a + b = digit + 3 * carry (1 + 1 = -1 + 3).
func TritAdd(a, b int8) (digit, carry int8, err error) {
	err = call(func() status { return native.Rai_trit_add(a, b, &digit, &carry) })
	return digit, carry, err
}

// TritToBits is the bit-plane form: +1 = (1, 0), -1 = (0, 1), 0 = (0, 0).
func TritToBits(a int8) (plus, minus uint8, err error) {
	err = call(func() status { return native.Rai_trit_to_bits(a, &plus, &minus) })
	return plus, minus, err
}

// TritFromBits inverts TritToBits; (1, 1) is StatusInvalidArgument.
func TritFromBits(plus, minus uint8) (int8, error) {
	var out int8
	err := call(func() status { return native.Rai_trit_from_bits(plus, minus, &out) })
	return out, err
}

// Tryte is three balanced trits, value t0 + 3 t1 + 9 t2 in [-13, 13], in trit-vsa's raw
// encoding (trit k at bits 2k..2k+1: 0 = -1, 1 = 0, 2 = +1). The zero Tryte value is not 0:
// use TryteFromInt(0) (raw 21).
type Tryte uint8

// TryteMax is the largest Tryte value; the range is symmetric.
const TryteMax = native.RAI_TRYTE3_MAX

// TryteFromInt encodes value; outside [-13, 13] is StatusOutOfRange.
func TryteFromInt(value int) (Tryte, error) {
	var raw uint8
	if value < -1<<31 || value > 1<<31-1 {
		return 0, newError(StatusOutOfRange, "value %d is not in [-13, 13]", value)
	}
	err := call(func() status { return native.Rai_tryte3_from_int(value, &raw) })
	return Tryte(raw), err
}

// TryteFromTrits encodes trits, least significant first.
func TryteFromTrits(trits [3]int8) (Tryte, error) {
	var raw uint8
	err := call(func() status { return native.Rai_tryte3_from_trits(&trits[0], &raw) })
	return Tryte(raw), err
}

// Int is the value of t; a raw value with bits above the last trit is StatusInvalidArgument.
func (t Tryte) Int() (int, error) {
	var v int32
	err := call(func() status { return native.Rai_tryte3_to_int(uint8(t), &v) })
	return int(v), err
}

// Trits are t's trits, least significant first.
func (t Tryte) Trits() ([3]int8, error) {
	var out [3]int8
	err := call(func() status { return native.Rai_tryte3_to_trits(uint8(t), &out[0]) })
	return out, err
}

// Trit is trit index (0..2); another index is StatusOutOfRange.
func (t Tryte) Trit(index int) (int8, error) {
	var out int8
	if index < 0 {
		return 0, newError(StatusOutOfRange, "index %d is not in [0, 3)", index)
	}
	err := call(func() status { return native.Rai_tryte3_get_trit(uint8(t), int64(index), &out) })
	return out, err
}

// Add returns sum and carry with sum + 27 * carry = t + b.
func (t Tryte) Add(b Tryte) (sum Tryte, carry int8, err error) {
	var s uint8
	err = call(func() status { return native.Rai_tryte3_add(uint8(t), uint8(b), &s, &carry) })
	return Tryte(s), carry, err
}

// Mul returns low and high with low + 27 * high = t * b.
func (t Tryte) Mul(b Tryte) (low, high Tryte, err error) {
	var l, h uint8
	err = call(func() status { return native.Rai_tryte3_mul(uint8(t), uint8(b), &l, &h) })
	return Tryte(l), Tryte(h), err
}

// Neg is -t.
func (t Tryte) Neg() (Tryte, error) {
	var out uint8
	err := call(func() status { return native.Rai_tryte3_neg(uint8(t), &out) })
	return Tryte(out), err
}

// Word is six balanced trits in [-364, 364], raw like Tryte (zero is raw 1365).
type Word uint16

// WordMax is the largest Word value; the range is symmetric.
const WordMax = native.RAI_WORD6_MAX

// WordFromInt encodes value; outside [-364, 364] is StatusOutOfRange.
func WordFromInt(value int) (Word, error) {
	var raw uint16
	if value < -1<<31 || value > 1<<31-1 {
		return 0, newError(StatusOutOfRange, "value %d is not in [-364, 364]", value)
	}
	err := call(func() status { return native.Rai_word6_from_int(value, &raw) })
	return Word(raw), err
}

// WordFromTrits encodes trits, least significant first.
func WordFromTrits(trits [6]int8) (Word, error) {
	var raw uint16
	err := call(func() status { return native.Rai_word6_from_trits(&trits[0], &raw) })
	return Word(raw), err
}

// WordFromTrytes is low + 27 * high.
func WordFromTrytes(low, high Tryte) (Word, error) {
	var raw uint16
	err := call(func() status { return native.Rai_word6_from_trytes(uint8(low), uint8(high), &raw) })
	return Word(raw), err
}

// Int is the value of w.
func (w Word) Int() (int, error) {
	var v int32
	err := call(func() status { return native.Rai_word6_to_int(uint16(w), &v) })
	return int(v), err
}

// Trits are w's trits, least significant first.
func (w Word) Trits() ([6]int8, error) {
	var out [6]int8
	err := call(func() status { return native.Rai_word6_to_trits(uint16(w), &out[0]) })
	return out, err
}

// Trit is trit index (0..5).
func (w Word) Trit(index int) (int8, error) {
	var out int8
	if index < 0 {
		return 0, newError(StatusOutOfRange, "index %d is not in [0, 6)", index)
	}
	err := call(func() status { return native.Rai_word6_get_trit(uint16(w), int64(index), &out) })
	return out, err
}

// Trytes splits w = low + 27 * high.
func (w Word) Trytes() (low, high Tryte, err error) {
	var l, h uint8
	err = call(func() status { return native.Rai_word6_to_trytes(uint16(w), &l, &h) })
	return Tryte(l), Tryte(h), err
}

// Add returns sum and carry with sum + 729 * carry = w + b.
func (w Word) Add(b Word) (sum Word, carry int8, err error) {
	var s uint16
	err = call(func() status { return native.Rai_word6_add(uint16(w), uint16(b), &s, &carry) })
	return Word(s), carry, err
}

// Mul returns low and high with low + 729 * high = w * b.
func (w Word) Mul(b Word) (low, high Word, err error) {
	var l, h uint16
	err = call(func() status { return native.Rai_word6_mul(uint16(w), uint16(b), &l, &h) })
	return Word(l), Word(h), err
}

// Neg is -w.
func (w Word) Neg() (Word, error) {
	var out uint16
	err := call(func() status { return native.Rai_word6_neg(uint16(w), &out) })
	return Word(out), err
}

// ---------------------------------------------------------------- digit arrays

// Balanced-ternary numbers of any length are []int8 digits, least significant first.

func digitsPtr(d []int8) *int8 {
	if len(d) == 0 {
		return nil
	}
	return &d[0]
}

// digitsOut runs f with a buffer of capacity digits and returns the digits it wrote.
func digitsOut(capacity int, f func(out *int8, capacity int64, count *int64) status) ([]int8, error) {
	buf := make([]int8, capacity)
	var n int64
	if err := call(func() status { return f(&buf[0], int64(capacity), &n) }); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// TernaryDigits is value in balanced ternary, at least max(1, minDigits) digits (zero-padded).
func TernaryDigits(value int64, minDigits int) ([]int8, error) {
	if minDigits < 0 {
		return nil, newError(StatusInvalidArgument, "minDigits must be >= 0, got %d", minDigits)
	}
	capacity := 41 // (3^41 - 1) / 2 > 2^63: every int64 fits
	if minDigits > capacity {
		capacity = minDigits
	}
	return digitsOut(capacity, func(out *int8, c int64, n *int64) status {
		return native.Rai_ternary_digits_from_int(value, int64(minDigits), out, c, n)
	})
}

// TernaryDigitsValue is the value of digits (empty is 0); StatusOutOfRange beyond int64.
func TernaryDigitsValue(digits []int8) (int64, error) {
	var v int64
	err := call(func() status { return native.Rai_ternary_digits_to_int(digitsPtr(digits), int64(len(digits)), &v) })
	return v, err
}

// TernaryDigitsAdd is a + b: max(len(a), len(b)) digits, plus one for a final carry.
func TernaryDigitsAdd(a, b []int8) ([]int8, error) {
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	return digitsOut(n+1, func(out *int8, c int64, cnt *int64) status {
		return native.Rai_ternary_digits_add(digitsPtr(a), int64(len(a)), digitsPtr(b), int64(len(b)), out, c, cnt)
	})
}

// TernaryDigitsMul is a * b with leading zeros trimmed (at least one digit).
func TernaryDigitsMul(a, b []int8) ([]int8, error) {
	return digitsOut(len(a)+len(b)+1, func(out *int8, c int64, cnt *int64) status {
		return native.Rai_ternary_digits_mul(digitsPtr(a), int64(len(a)), digitsPtr(b), int64(len(b)), out, c, cnt)
	})
}

// TernaryDigitsNeg is -a, with a's length.
func TernaryDigitsNeg(a []int8) ([]int8, error) {
	return digitsOut(len(a)+1, func(out *int8, c int64, cnt *int64) status {
		return native.Rai_ternary_digits_neg(digitsPtr(a), int64(len(a)), out, c, cnt)
	})
}

// TernaryDigitsCompare is -1, 0 or 1 as value(a) <, =, > value(b).
func TernaryDigitsCompare(a, b []int8) (int, error) {
	var out int32
	err := call(func() status {
		return native.Rai_ternary_digits_compare(digitsPtr(a), int64(len(a)), digitsPtr(b), int64(len(b)), &out)
	})
	return int(out), err
}
