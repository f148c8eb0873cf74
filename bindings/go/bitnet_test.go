package rai

import (
	"math"
	"math/rand"
	"testing"
)

func roundHalfAway(x float64) float64 { return math.Copysign(math.Floor(math.Abs(x)+0.5), x) }

func TestTernaryWeightsAbsmean(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(10))
	out, in := 3, 128
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	trits, scales, err := QuantizeTernaryWeights(ctx, w, out, in, WeightQuantOptions{Granularity: GranularityRow})
	if err != nil {
		t.Fatal(err)
	}
	for o := 0; o < out; o++ {
		var mean float64
		for i := 0; i < in; i++ {
			mean += math.Abs(float64(w[o*in+i]))
		}
		mean /= float64(in)
		if math.Abs(float64(scales[o])-mean) > 1e-5*mean {
			t.Fatalf("row %d scale %v, want mean|w| %v", o, scales[o], mean)
		}
		for i := 0; i < in; i++ {
			want := math.Max(-1, math.Min(1, roundHalfAway(float64(w[o*in+i])/float64(scales[o]))))
			if float64(trits[o*in+i]) != want {
				t.Fatalf("trit [%d,%d] = %d, want %v", o, i, trits[o*in+i], want)
			}
		}
	}
	_, gs, err := QuantizeTernaryWeights(ctx, w, out, in, WeightQuantOptions{})
	if err != nil || len(gs) != out*2 {
		t.Fatalf("default groups of 64: %d scales, %v", len(gs), err)
	}
	_, _, err = QuantizeTernaryWeights(ctx, w, out, in, WeightQuantOptions{GroupSize: 48})
	wantError(t, err, StatusInvalidArgument, "group_size")
	_, _, err = QuantizeTernaryWeights(ctx, w[:10], out, in, WeightQuantOptions{})
	wantError(t, err, StatusShapeMismatch, "w has 10 elements")
	bad := append([]float32(nil), w...)
	bad[5] = float32(math.NaN())
	_, _, err = QuantizeTernaryWeights(ctx, bad, out, in, WeightQuantOptions{})
	wantError(t, err, StatusInvalidArgument)
}

func TestQuantizeActivations(t *testing.T) {
	ctx := cpuContext(t)
	x := []float32{0.5, -1, 0.25, 2, 0, 0, 0, 0}
	q, scales, err := QuantizeActivations(ctx, x, 4, ActQuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Token 0: absmax 2, scale 2/127; token 1: all zero, scale 1.
	if math.Abs(float64(scales[0])-2.0/127) > 1e-7 || scales[1] != 1 {
		t.Fatalf("scales %v", scales)
	}
	want := []int8{32, -64, 16, 127, 0, 0, 0, 0} // round(0.5 * 63.5) = 32 (half away), ...
	for i := range want {
		if q[i] != want[i] {
			t.Fatalf("q = %v, want %v", q, want)
		}
	}
	_, _, err = QuantizeActivations(ctx, x, 3, ActQuantOptions{})
	wantError(t, err, StatusShapeMismatch, "hidden")
	_, _, err = QuantizeActivations(ctx, x, 4, ActQuantOptions{Bits: 9})
	wantError(t, err, StatusInvalidArgument, "bits")
}

func TestTernaryPackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	cases := []struct {
		layout     TernaryLayout
		rows, cols int
		scales     []float32
	}{
		{LayoutPlanes, 3, 65, nil}, {LayoutByte2, 5, 33, nil}, {LayoutU32x16, 2, 31, nil},
		{LayoutI2S, 2, 128, []float32{0.75}}, {LayoutTQ1_0, 2, 256, []float32{0.5}},
		{LayoutTQ2_0, 3, 512, []float32{0.25}},
	}
	for _, c := range cases {
		trits := randomTrits(r, c.rows*c.cols)
		packed, err := PackTernary(c.layout, trits, c.rows, c.cols, c.scales)
		if err != nil {
			t.Fatalf("layout %d: %v", c.layout, err)
		}
		size, _ := TernaryPackedSize(c.layout, c.rows, c.cols)
		if len(packed) != size {
			t.Fatalf("layout %d: %d bytes, size says %d", c.layout, len(packed), size)
		}
		back, scales, err := UnpackTernary(c.layout, packed, c.rows, c.cols)
		if err != nil {
			t.Fatalf("layout %d unpack: %v", c.layout, err)
		}
		equalTrits(t, "pack/unpack", back, trits)
		for _, s := range scales {
			if s != c.scales[0] {
				t.Fatalf("layout %d: scale %v, want %v", c.layout, s, c.scales[0])
			}
		}
	}
	// Known bytes: BYTE2 packs 4 trits per byte, LSB first, 01 = +1, 10 = -1.
	b, err := PackTernary(LayoutByte2, []int8{1, -1, 0, 1}, 1, 4, nil)
	if err != nil || len(b) != 1 || b[0] != 0x49 {
		t.Fatalf("BYTE2 [1 -1 0 1] = %x, %v; want 49", b, err)
	}
	if n, _ := TernaryPackedSize(LayoutTQ2_0, 1, 256); n != 66 {
		t.Fatalf("TQ2_0 block %d bytes, want 66", n)
	}
	if n, _ := TernaryPackedSize(LayoutTQ1_0, 1, 256); n != 54 {
		t.Fatalf("TQ1_0 block %d bytes, want 54", n)
	}
	_, err = TernaryPackedSize(LayoutTQ1_0, 1, 100)
	wantError(t, err, StatusShapeMismatch, "256")
	_, err = PackTernary(LayoutByte2, []int8{1, 2, 0, 1}, 1, 4, nil)
	wantError(t, err, StatusInvalidArgument)
	_, _, err = UnpackTernary(LayoutI2S, []byte{1, 2, 3}, 1, 128)
	if err == nil {
		t.Fatal("unpacking 3 bytes as I2_S succeeded")
	}
}

func TestBitLinearForward(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(12))
	out, in, batch := 4, 64, 3
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	bias := []float32{0.5, -0.5, 1, 0}
	opts := WeightQuantOptions{Granularity: GranularityRow}
	trits, scales, err := QuantizeTernaryWeights(ctx, w, out, in, opts)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := NewBitLinear(ctx, w, out, in, bias, opts, ActQuantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	x := make([]float32, batch*in)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y, err := layer.Forward(x, BitLinearWFP)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < batch; b++ {
		for o := 0; o < out; o++ {
			want := float64(bias[o])
			for i := 0; i < in; i++ {
				want += float64(x[b*in+i]) * float64(trits[o*in+i]) * float64(scales[o])
			}
			if math.Abs(float64(y[b*out+o])-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("y[%d,%d] = %v, want %v", b, o, y[b*out+o], want)
			}
		}
	}
	// W2A8 and FakeQ quantize the activations: close to, not equal to, the WFP result.
	for _, mode := range []BitLinearMode{BitLinearFakeQ, BitLinearW2A8} {
		yq, err := layer.Forward(x, mode)
		if err != nil {
			t.Fatal(err)
		}
		for i := range y {
			if math.Abs(float64(yq[i]-y[i])) > 0.05*(1+math.Abs(float64(y[i]))) {
				t.Fatalf("mode %d: y[%d] = %v, WFP %v", mode, i, yq[i], y[i])
			}
		}
	}
	_, err = layer.Forward(x[:in+1], BitLinearWFP)
	wantError(t, err, StatusShapeMismatch, "in_features")
	_, err = layer.Forward(x, 9)
	wantError(t, err, StatusInvalidArgument, "mode")
	layer.Close()
	_, err = layer.Forward(x, BitLinearWFP)
	wantError(t, err, StatusInvalidArgument, "closed", "BitLinear")
}
