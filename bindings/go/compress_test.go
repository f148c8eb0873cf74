package rai

import (
	"bytes"
	binenc "encoding/binary"
	"math"
	"math/rand"
	"testing"
)

func randomGrad(r *rand.Rand, n int) []float32 {
	g := make([]float32, n)
	for i := range g {
		g[i] = float32(r.NormFloat64())
	}
	return g
}

func mustCompressor(t *testing.T, ctx *Context, opts CompressorOptions, shapes ...[]int) *Compressor {
	t.Helper()
	c, err := NewCompressor(ctx, opts)
	if err != nil {
		t.Fatalf("NewCompressor(%+v): %v", opts, err)
	}
	t.Cleanup(func() { c.Close() })
	for i, s := range shapes {
		id, err := c.AddTensor("t", s...)
		if err != nil {
			t.Fatalf("AddTensor(%v): %v", s, err)
		}
		if id != uint32(i) {
			t.Fatalf("AddTensor gave id %d, want %d", id, i)
		}
	}
	return c
}

// efResidual reads the EF residual of the only tensor from a state blob (docs/compress.md,
// "State blob (version 2)").
func efResidual(t *testing.T, blob []byte) []float32 {
	t.Helper()
	le := binenc.LittleEndian
	if string(blob[:4]) != "RGCS" || le.Uint16(blob[4:]) != 2 || le.Uint32(blob[16:]) != 1 {
		t.Fatalf("state blob header %x is not version 2 with one tensor", blob[:24])
	}
	off := 24
	n := int(le.Uint64(blob[off:]))
	ndim := int(le.Uint32(blob[off+12:]))
	off += 16 + 8*ndim + 8 // n, dtype, ndim, shape, step
	count := int(le.Uint64(blob[off:]))
	off += 8
	if count != n {
		t.Fatalf("state blob holds %d residuals for %d elements", count, n)
	}
	r := make([]float32, n)
	for i := range r {
		r[i] = math.Float32frombits(le.Uint32(blob[off+4*i:]))
	}
	return r
}

// decodeOwn compresses g into tensor 0 and decodes the message, as a receiver would.
func decodeOwn(t *testing.T, c *Compressor, g []float32) []float32 {
	t.Helper()
	msg, err := c.Compress(0, g)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Decompress(0, msg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var allCompressMethods = []CompressMethod{CompressNone, CompressTopK, CompressSign, CompressTernary,
	CompressTernaryStoch, CompressQSGD, CompressPowerSGD}

// Compress then Decompress is exactly what Apply does on a twin with the same options.
func TestCompressRoundTripMatchesApply(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(1))
	for _, m := range allCompressMethods {
		for _, shape := range [][]int{{1}, {37}, {33, 65}, {7, 1000}} {
			opts := CompressorOptions{Method: m, Ratio: 0.1, Seed: 42}
			a := mustCompressor(t, ctx, opts, shape)
			b := mustCompressor(t, ctx, opts, shape)
			n := shape[0]
			if len(shape) == 2 {
				n *= shape[1]
			}
			for step := 0; step < 3; step++ {
				g := randomGrad(r, n)
				msg, err := a.Compress(0, g)
				if err != nil {
					t.Fatalf("method %d shape %v: Compress: %v", m, shape, err)
				}
				if max, _ := a.MaxMessageSize(0); len(msg) == 0 || len(msg) > max {
					t.Fatalf("method %d: message of %d bytes, max %d", m, len(msg), max)
				}
				got, err := a.Decompress(0, msg)
				if err != nil {
					t.Fatalf("method %d shape %v: Decompress: %v", m, shape, err)
				}
				want := append([]float32(nil), g...)
				if err := b.Apply(0, want); err != nil {
					t.Fatalf("method %d: Apply: %v", m, err)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("method %d shape %v step %d: element %d = %v, Apply gives %v", m, shape, step, i, got[i], want[i])
					}
					if m == CompressNone && got[i] != g[i] {
						t.Fatalf("pass-through changed element %d: %v -> %v", i, g[i], got[i])
					}
				}
			}
		}
	}
}

// Error feedback loses nothing: the decoded messages plus the final residual sum to the
// gradients (docs/compress.md), and Stats' EFNorm is the residual's norm.
func TestCompressErrorFeedbackIdentity(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(2))
	const n = 1003
	for _, m := range []CompressMethod{CompressTopK, CompressSign, CompressTernary, CompressPowerSGD} {
		shape := []int{n}
		if m == CompressPowerSGD {
			shape = []int{17, 59} // 1-D tensors are sent raw
		}
		c := mustCompressor(t, ctx, CompressorOptions{Method: m, Ratio: 0.05, Seed: 3}, shape)
		sumG := make([]float64, n)
		sumD := make([]float64, n)
		for step := 0; step < 6; step++ {
			g := randomGrad(r, n)
			d := decodeOwn(t, c, g)
			for i := range g {
				sumG[i] += float64(g[i])
				sumD[i] += float64(d[i])
			}
		}
		blob, err := c.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		res := efResidual(t, blob)
		var norm float64
		for i := range res {
			norm += float64(res[i]) * float64(res[i])
			if diff := math.Abs(sumD[i] + float64(res[i]) - sumG[i]); diff > 1e-4*(1+math.Abs(sumG[i])) {
				t.Fatalf("method %d element %d: sent %v + residual %v != gradients %v", m, i, sumD[i], res[i], sumG[i])
			}
		}
		if norm == 0 {
			t.Fatalf("method %d: zero residual, the compressor lost nothing: not a compressor test", m)
		}
		st, err := c.Stats(0)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(st.EFNorm-math.Sqrt(norm)) > 1e-3*math.Sqrt(norm) {
			t.Fatalf("method %d: Stats.EFNorm %v, residual norm %v", m, st.EFNorm, math.Sqrt(norm))
		}
		if st.Steps != 6 || st.Params != 6*n || st.BitsIn != 6*n*32 || st.BitsOut == 0 || st.BitsOut >= st.BitsIn {
			t.Fatalf("method %d: stats %+v", m, st)
		}
	}
}

// A checkpoint taken after some steps makes a second compressor continue bit for bit.
func TestCompressStateSaveLoad(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(4))
	opts := CompressorOptions{Method: CompressPowerSGD, Rank: 3, Seed: 9}
	a := mustCompressor(t, ctx, opts, []int{24, 40}, []int{50})
	b := mustCompressor(t, ctx, opts, []int{24, 40}, []int{50})
	for step := 0; step < 3; step++ {
		if _, err := a.Compress(0, randomGrad(r, 960)); err != nil {
			t.Fatal(err)
		}
	}
	blob, err := a.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.LoadState(blob); err != nil {
		t.Fatal(err)
	}
	again, _ := b.SaveState()
	if !bytes.Equal(blob, again) {
		t.Fatal("a loaded state saves differently")
	}
	g := randomGrad(r, 960)
	ma, err := a.Compress(0, g)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.Compress(0, g)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ma, mb) {
		t.Fatal("after LoadState the next message differs")
	}
	// Another configuration refuses the blob and keeps its own state.
	other := mustCompressor(t, ctx, CompressorOptions{Method: CompressTopK, Seed: 9}, []int{24, 40}, []int{50})
	before, _ := other.SaveState()
	if err := other.LoadState(blob); err == nil {
		t.Fatal("a PowerSGD state loaded into a TopK compressor")
	}
	after, _ := other.SaveState()
	if !bytes.Equal(before, after) {
		t.Fatal("a failed LoadState changed the state")
	}
	wantError(t, a.LoadState(blob[:len(blob)-3]), StatusFormat)
}

// Reduce of pass-through messages decodes to the exact sum; of TopK messages to the sum of
// what each decodes to.
func TestCompressReduce(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(5))
	const n = 301
	for _, m := range []CompressMethod{CompressNone, CompressTopK} {
		peers := make([]*Compressor, 3)
		msgs := make([][]byte, 3)
		want := make([]float32, n)
		for p := range peers {
			peers[p] = mustCompressor(t, ctx, CompressorOptions{Method: m, Ratio: 0.2, Seed: 1}, []int{n})
			var err error
			if msgs[p], err = peers[p].Compress(0, randomGrad(r, n)); err != nil {
				t.Fatal(err)
			}
			d, err := peers[p].Decompress(0, msgs[p])
			if err != nil {
				t.Fatal(err)
			}
			for i := range d {
				want[i] += d[i]
			}
		}
		sum, err := peers[0].Reduce(0, msgs)
		if err != nil {
			t.Fatalf("method %d: Reduce: %v", m, err)
		}
		got, err := peers[1].Decompress(0, sum)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("method %d element %d: reduced %v, sum %v", m, i, got[i], want[i])
			}
		}
	}
}

// With one peer, the two PowerSGD rounds give what Apply gives.
func TestCompressPowerSGDRounds(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(6))
	opts := CompressorOptions{Method: CompressPowerSGD, Rank: 2, Seed: 11}
	a := mustCompressor(t, ctx, opts, []int{30, 20})
	b := mustCompressor(t, ctx, opts, []int{30, 20})
	for step := 0; step < 3; step++ {
		g := randomGrad(r, 600)
		pm, err := a.PowerSGDP(0, g)
		if err != nil {
			t.Fatal(err)
		}
		qm, err := a.PowerSGDQ(0, pm)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Decompress(0, qm)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]float32(nil), g...)
		if err := b.Apply(0, want); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("step %d element %d: two rounds %v, Apply %v", step, i, got[i], want[i])
			}
		}
	}
	c := mustCompressor(t, ctx, CompressorOptions{Method: CompressTopK}, []int{4})
	_, err := c.PowerSGDP(0, make([]float32, 4))
	wantError(t, err, StatusInvalidArgument)
}

// Warm-up steps are sent uncompressed.
func TestCompressWarmup(t *testing.T) {
	ctx := cpuContext(t)
	c := mustCompressor(t, ctx, CompressorOptions{Method: CompressSign, WarmupSteps: 2, MeasureQuality: true}, []int{100})
	g := randomGrad(rand.New(rand.NewSource(7)), 100)
	for step := 0; step < 3; step++ {
		d := append([]float32(nil), g...)
		if err := c.Apply(0, d); err != nil {
			t.Fatal(err)
		}
		same := true
		for i := range d {
			same = same && d[i] == g[i]
		}
		if same != (step < 2) {
			t.Fatalf("step %d: exact round trip %v, want %v", step, same, step < 2)
		}
	}
	st, err := c.Stats(AllTensors)
	if err != nil {
		t.Fatal(err)
	}
	if st.QualitySamples != 3 || st.LastCosine <= 0 || st.LastCosine >= 1 {
		t.Fatalf("quality stats %+v", st)
	}
	if err := c.ResetStats(); err != nil {
		t.Fatal(err)
	}
	if st, _ = c.Stats(AllTensors); st.Steps != 0 {
		t.Fatalf("after ResetStats: %+v", st)
	}
}

func TestCompressErrors(t *testing.T) {
	ctx := cpuContext(t)
	_, err := NewCompressor(ctx, CompressorOptions{Method: CompressTopK, Ratio: 1.5})
	wantError(t, err, StatusInvalidArgument)
	_, err = NewCompressor(ctx, CompressorOptions{Method: 99})
	wantError(t, err, StatusInvalidArgument)

	c := mustCompressor(t, ctx, CompressorOptions{Method: CompressTopK, Ratio: 0.5, Seed: 1}, []int{10})
	if n, err := c.TensorCount(); err != nil || n != 1 {
		t.Fatalf("TensorCount = %d, %v", n, err)
	}
	_, err = c.AddTensor("x")
	wantError(t, err, StatusInvalidArgument, "shape")
	_, err = c.AddTensor("x", 3, -1)
	wantError(t, err, StatusInvalidArgument, "like")
	_, err = c.Compress(0, make([]float32, 9))
	wantError(t, err, StatusShapeMismatch, "grad")
	_, err = c.Compress(5, make([]float32, 10))
	wantError(t, err, StatusInvalidArgument, "id 5")
	msg, err := c.Compress(0, randomGrad(rand.New(rand.NewSource(8)), 10))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Decompress(0, msg[:len(msg)-1])
	wantError(t, err, StatusFormat)
	_, err = c.Decompress(0, nil)
	wantError(t, err, StatusInvalidArgument, "message")
	err = c.DecompressInto(0, msg, make([]float32, 11))
	wantError(t, err, StatusShapeMismatch, "grad")
	other := mustCompressor(t, ctx, CompressorOptions{Method: CompressSign, Seed: 1}, []int{10})
	_, err = other.Decompress(0, msg)
	wantError(t, err, StatusInvalidArgument)
	_, err = c.Reduce(0, [][]byte{msg, msg[:5]})
	wantError(t, err, StatusFormat)
	err = c.AllReduceMPI(0, make([]float32, 10), nil, false)
	wantError(t, err, StatusInvalidArgument, "mpiComm")
	wantError(t, c.LoadState([]byte("garbage")), StatusFormat)

	c.Close()
	c.Close()
	_, err = c.Compress(0, make([]float32, 10))
	wantError(t, err, StatusInvalidArgument, "compressor: use of a closed rai Compressor")
	_, err = c.SaveState()
	wantError(t, err, StatusInvalidArgument, "closed")
	var nilc *Compressor
	_, err = nilc.Compress(0, nil)
	wantError(t, err, StatusInvalidArgument, "compressor is nil")
}

// Momentum correction: with exact transport (None, EF on) every decoded message is the velocity
// u = 0.9*u + g, so plain SGD on it is momentum SGD; bad momenta are refused.
func TestCompressMomentumCorrection(t *testing.T) {
	ctx := cpuContext(t)
	c := mustCompressor(t, ctx, CompressorOptions{Method: CompressNone, ErrorFeedback: EFOn, Momentum: 0.9}, []int{77})
	r := rand.New(rand.NewSource(9))
	u := make([]float32, 77)
	mu := float32(0.9)
	for step := 0; step < 4; step++ {
		g := randomGrad(r, 77)
		for i := range u {
			p := mu * u[i]
			u[i] = p + g[i]
		}
		d := decodeOwn(t, c, g)
		for i := range d {
			if d[i] != u[i] {
				t.Fatalf("step %d element %d: decoded %v, velocity %v", step, i, d[i], u[i])
			}
		}
	}
	for _, bad := range []float32{-0.1, 1, float32(math.NaN())} {
		_, err := NewCompressor(ctx, CompressorOptions{Method: CompressTopK, Momentum: bad})
		wantError(t, err, StatusInvalidArgument)
	}
	_, err := NewCompressor(ctx, CompressorOptions{Method: CompressTopK, ErrorFeedback: EFOff, Momentum: 0.9})
	wantError(t, err, StatusInvalidArgument)
}
