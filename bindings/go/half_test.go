package rai

import (
	"math"
	"math/rand"
	"testing"
)

// Known roundings, ties to even, overflow, subnormals and NaNs.
func TestHalfConversionsKnownValues(t *testing.T) {
	f := math.Float32frombits
	bf := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {0, 0}, {float32(math.Copysign(0, -1)), 0x8000},
		{f(0x3f808000), 0x3f80}, // tie: stays even
		{f(0x3f818000), 0x3f82}, // tie: rounds up to even
		{f(0x3f808001), 0x3f81}, // just above the tie
		{f(0x7f7fffff), 0x7f80}, // max float32 rounds to +inf
		{float32(math.Inf(-1)), 0xff80},
		{f(0x7f800001), 0x7fc0}, // signalling NaN comes back quiet
		{f(0xffc12345), 0xffc1},
	}
	for _, c := range bf {
		if got := Float32ToBF16(c.in); got != c.want {
			t.Errorf("Float32ToBF16(%#x) = %#x, want %#x", math.Float32bits(c.in), got, c.want)
		}
	}
	h := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {0.1, 0x2e66}, {65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00},
		{1e10, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{f(0x33800000), 0x0001}, // 2^-24, the smallest subnormal
		{f(0x33000000), 0x0000}, // 2^-25: a tie, rounds to even 0
		{f(0x33400000), 0x0001}, // 1.5 * 2^-25
		{f(0x38800000), 0x0400}, // 2^-14, the smallest normal
		{f(0x387ff000), 0x0400}, // 1023.5 subnormal units: a tie, rounds to even 1024
		{f(0x3f801000), 0x3c00}, // 1 + 2^-11: a tie, stays even
		{f(0x3f803000), 0x3c02}, // 1 + 3 * 2^-11: a tie, rounds up to even
		{f(0x7f800001), 0x7e00}, // signalling NaN comes back quiet
		{f(0xffc02000), 0xfe01}, // payload's top bits kept
		{float32(math.Copysign(1e-30, -1)), 0x8000},
	}
	for _, c := range h {
		if got := Float32ToF16(c.in); got != c.want {
			t.Errorf("Float32ToF16(%#x) = %#x, want %#x", math.Float32bits(c.in), got, c.want)
		}
	}
	if F16ToFloat32(0x0001) != f(0x33800000) || F16ToFloat32(0x03ff) != float32(1023)/(1<<24) || F16ToFloat32(0xfc00) != float32(math.Inf(-1)) {
		t.Error("F16ToFloat32 of subnormals / infinity")
	}
	if BF16ToFloat32(0x4049) != 3.140625 {
		t.Error("BF16ToFloat32(0x4049)")
	}
}

// Every non-NaN 16-bit pattern converts to float32 and back unchanged.
func TestHalfConversionsRoundTripAllValues(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
			if got := Float32ToF16(F16ToFloat32(h)); got != h {
				t.Fatalf("f16 %#x -> %v -> %#x", h, F16ToFloat32(h), got)
			}
		}
		if h&0x7f80 != 0x7f80 || h&0x7f == 0 {
			if got := Float32ToBF16(BF16ToFloat32(h)); got != h {
				t.Fatalf("bf16 %#x -> %v -> %#x", h, BF16ToFloat32(h), got)
			}
		}
	}
}

// librai rounds the dequantized fp32 values to the destination dtype: the Go conversions of
// the f32 result must match its f16 / bf16 results bit for bit, over blocks scaled to reach
// f16 overflow, normals, subnormals and underflow.
func TestHalfMatchesRaiDequantize(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(11))
	scales := []float64{7e4, 1, 3e-6, 1e-8, 123.456, 6e4, 2e-5}
	const n = 64*7 - 3 // the last block is partial
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * scales[i/64])
	}
	for _, dq := range []bool{false, true} {
		codes, st, err := Quantize4(ctx, w, nil, Q4Options{Type: FP4, DoubleQuant: dq})
		if err != nil {
			t.Fatal(err)
		}
		f32, err := st.Dequantize(codes)
		if err != nil {
			t.Fatal(err)
		}
		bf, h := make(BFloat16, n), make(Float16, n)
		if err := st.DequantizeInto(codes, bf); err != nil {
			t.Fatal(err)
		}
		if err := st.DequantizeInto(codes, h); err != nil {
			t.Fatal(err)
		}
		var inf, sub int
		for i, v := range f32 {
			if want := Float32ToBF16(v); bf[i] != want {
				t.Fatalf("dq=%v bf16[%d] = %#x, Float32ToBF16(%v) = %#x", dq, i, bf[i], v, want)
			}
			if want := Float32ToF16(v); h[i] != want {
				t.Fatalf("dq=%v f16[%d] = %#x, Float32ToF16(%v) = %#x", dq, i, h[i], v, want)
			}
			if h[i]&0x7fff == 0x7c00 {
				inf++
			} else if h[i]&0x7c00 == 0 && h[i]&0x3ff != 0 {
				sub++
			}
		}
		if inf == 0 || (sub == 0 && !dq) { // 8-bit absmax cannot keep the tiny blocks' scales
			t.Fatalf("dq=%v: %d infinities and %d subnormals in f16: the test lost its coverage", dq, inf, sub)
		}
		st.Close()
	}
	// A plain []uint16 is refused: its dtype is ambiguous.
	_, st, err := Quantize4(ctx, w, nil, Q4Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantError(t, st.DequantizeInto(make([]byte, Q4CodesSize(n)), make([]uint16, n)), StatusDTypeMismatch, "dst", "Float16")
	wantError(t, st.DequantizeInto(make([]byte, Q4CodesSize(n)), make(BFloat16, n-1)), StatusShapeMismatch)
}

// bf16 activations through the 4-bit linear layer agree with f32 ones to bf16 precision.
func TestQ4LinearBF16Activations(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(5))
	const out, in, m = 24, 80, 5
	w := randomGrad(r, out*in)
	bw := ToBFloat16(w)
	codes := make([]byte, Q4CodesSize(out*in))
	st, err := Quantize4Into(ctx, bw, []int{out, in}, codes, Q4Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Info().DType != BF16 || BF16.String() != "bf16" || F16.Size() != 2 {
		t.Fatalf("state dtype %v, want bf16", st.Info().DType)
	}
	x := randomGrad(r, m*in)
	bias := randomGrad(r, out)
	for i := range x { // make x exactly representable in bf16
		x[i] = BF16ToFloat32(Float32ToBF16(x[i]))
	}
	for i := range bias {
		bias[i] = BF16ToFloat32(Float32ToBF16(bias[i]))
	}
	y, err := st.LinearForward(codes, x, bias)
	if err != nil {
		t.Fatal(err)
	}
	yb := make(BFloat16, m*out)
	if err := st.LinearForwardInto(codes, ToBFloat16(x), ToBFloat16(bias), yb); err != nil {
		t.Fatal(err)
	}
	for i, v := range yb.Float32() {
		if d := math.Abs(float64(v - y[i])); d > 1e-2*math.Abs(float64(y[i]))+1e-2 {
			t.Fatalf("bf16 y[%d] = %v, f32 %v", i, v, y[i])
		}
	}
	dxb := make(BFloat16, m*in)
	if err := st.LinearBackwardInputInto(codes, yb, dxb); err != nil {
		t.Fatal(err)
	}
	// Mixed dtypes are refused by librai.
	wantError(t, st.LinearForwardInto(codes, ToBFloat16(x), nil, make([]float32, m*out)), StatusDTypeMismatch)
	wantError(t, st.LinearForwardInto(codes, nil, nil, yb), StatusInvalidArgument, "x is nil")
	wantError(t, st.LinearForwardInto(codes, make(BFloat16, in+1), nil, yb), StatusShapeMismatch, "x")
}
