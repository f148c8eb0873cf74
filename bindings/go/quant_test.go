package rai

import (
	"math"
	"math/rand"
	"testing"
)

// bitsandbytes' NF4 code values (functional.py, create_normal_map), as float32.
var nf4Reference = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

func TestQ4Codebook(t *testing.T) {
	cb, err := Q4Codebook(NF4)
	if err != nil {
		t.Fatal(err)
	}
	if cb != nf4Reference {
		t.Fatalf("NF4 codebook %v, want bitsandbytes' %v", cb, nf4Reference)
	}
	fp4, err := Q4Codebook(FP4)
	if err != nil {
		t.Fatal(err)
	}
	if fp4[0] != 0 || !math.Signbit(float64(fp4[8])) || fp4[8] != 0 {
		t.Fatalf("FP4 code 0 = %v and code 8 = %v, want +0 and -0", fp4[0], fp4[8])
	}
	for i := 1; i < 8; i++ {
		if fp4[i+8] != -fp4[i] {
			t.Fatalf("FP4 code %d = %v, want -code %d = %v", i+8, fp4[i+8], i, -fp4[i])
		}
	}
	_, err = Q4Codebook(3)
	wantError(t, err, StatusInvalidArgument)
	if Q4CodesSize(65) != 33 || Q4CodesSize(1) != 1 {
		t.Fatal("Q4CodesSize")
	}
}

// The codebook itself, scaled, quantizes to codes 0..15 (high nibble first) and dequantizes
// exactly.
func TestQ4CodebookValuesRoundTrip(t *testing.T) {
	ctx := cpuContext(t)
	x := make([]float32, 64)
	for i := range x {
		x[i] = nf4Reference[i%16] * 2.5
	}
	codes, st, err := Quantize4(ctx, x, nil, Q4Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 32; i++ {
		hi, lo := codes[i]>>4, codes[i]&0xf
		if int(hi) != (2*i)%16 || int(lo) != (2*i+1)%16 {
			t.Fatalf("code byte %d = %#x, want codes %d and %d", i, codes[i], (2*i)%16, (2*i+1)%16)
		}
	}
	y, err := st.Dequantize(codes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if y[i] != x[i] {
			t.Fatalf("element %d: %v -> %v", i, x[i], y[i])
		}
	}
	absmax, err := st.Read(Q4Absmax)
	if err != nil || len(absmax) != 1 || absmax[0] != 2.5 {
		t.Fatalf("absmax %v, %v", absmax, err)
	}
	qmap, _ := st.Read(Q4QuantMap)
	for i := range qmap {
		if qmap[i] != nf4Reference[i] {
			t.Fatalf("quant_map[%d] = %v", i, qmap[i])
		}
	}
	info := st.Info()
	if info.Type != NF4 || info.BlockSize != 64 || info.Numel != 64 || info.Blocks != 1 || info.CodesBytes != 32 ||
		len(info.Shape) != 1 || info.Shape[0] != 64 || info.DoubleQuant {
		t.Fatalf("Info %+v", info)
	}
}

func TestQ4RoundTripAwkwardSizes(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(6))
	for _, typ := range []Q4Type{NF4, FP4} {
		for _, dq := range []bool{false, true} {
			for _, n := range []int{1, 31, 33, 65537} {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				codes, st, err := Quantize4(ctx, x, nil, Q4Options{Type: typ, BlockSize: 128, DoubleQuant: dq})
				if err != nil {
					t.Fatalf("%v dq=%v n=%d: %v", typ, dq, n, err)
				}
				if len(codes) != (n+1)/2 {
					t.Fatalf("codes %d bytes", len(codes))
				}
				y, err := st.Dequantize(codes)
				if err != nil {
					t.Fatal(err)
				}
				scales, _ := st.Read(Q4AbsmaxDecoded)
				if len(scales) != (n+127)/128 {
					t.Fatalf("%d decoded scales for %d elements", len(scales), n)
				}
				for i := range x {
					// The largest gap between neighbouring codes is 0.5 (FP4) of the block scale.
					s := scales[i/128]
					if math.Abs(float64(y[i]-x[i])) > 0.26*float64(s)+1e-6 {
						t.Fatalf("%v dq=%v n=%d: element %d %v -> %v (scale %v)", typ, dq, n, i, x[i], y[i], s)
					}
				}
				if dq {
					if info := st.Info(); !info.DoubleQuant || info.NestedBlockSize != 256 {
						t.Fatalf("double quant info %+v", info)
					}
					a8, err := st.ReadBytes(Q4Absmax)
					if err != nil || len(a8) != len(scales) {
						t.Fatalf("8-bit absmax: %d values, %v", len(a8), err)
					}
				}
				st.Close()
			}
		}
	}
}

func TestQ4Linear(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(8))
	n, k := 5, 64
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	codes, st, err := Quantize4(ctx, w, []int{n, k}, Q4Options{BlockSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wq, _ := st.Dequantize(codes)
	bias := []float32{1, 2, 3, 4, 5}
	for _, m := range []int{1, 3, 9} { // 9 rows take the dequantize + GEMM path
		x := make([]float32, m*k)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		y, err := st.LinearForward(codes, x, bias)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m; i++ {
			for o := 0; o < n; o++ {
				want := float64(bias[o])
				for j := 0; j < k; j++ {
					want += float64(x[i*k+j]) * float64(wq[o*k+j])
				}
				if math.Abs(float64(y[i*n+o])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("m=%d y[%d,%d] = %v, want %v", m, i, o, y[i*n+o], want)
				}
			}
		}
		dy := make([]float32, m*n)
		for i := range dy {
			dy[i] = float32(r.NormFloat64())
		}
		dx, err := st.LinearBackwardInput(codes, dy)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < m; i++ {
			for j := 0; j < k; j++ {
				want := 0.0
				for o := 0; o < n; o++ {
					want += float64(dy[i*n+o]) * float64(wq[o*k+j])
				}
				if math.Abs(float64(dx[i*k+j])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("dx[%d,%d] = %v, want %v", i, j, dx[i*k+j], want)
				}
			}
		}
	}

	// Errors name the argument and never panic.
	_, err = st.LinearForward(codes, make([]float32, k+1), nil)
	wantError(t, err, StatusShapeMismatch, "x has")
	_, err = st.LinearForward(codes, make([]float32, k), []float32{1})
	wantError(t, err, StatusShapeMismatch)
	_, err = st.Dequantize(codes[:3])
	wantError(t, err, StatusShapeMismatch)
	_, _, err = Quantize4(ctx, make([]float32, 10), []int{3, 3}, Q4Options{})
	wantError(t, err, StatusShapeMismatch, "src")
	_, _, err = Quantize4(ctx, make([]float32, 10), nil, Q4Options{BlockSize: 100})
	wantError(t, err, StatusInvalidArgument, "blocksize")
	_, _, err = Quantize4(ctx, nil, nil, Q4Options{})
	if err == nil {
		t.Fatal("quantizing no elements succeeded")
	}
	st.Close()
	_, err = st.Dequantize(codes)
	wantError(t, err, StatusInvalidArgument, "closed", "QuantState")
}
