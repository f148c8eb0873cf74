package rai

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rai.invalid/rai/native"
)

// linearRef is x [m, in] W^T + bias with W [out, in], in float64.
func linearRef(x, w, bias []float32, m, in, out int) []float64 {
	y := make([]float64, m*out)
	for i := 0; i < m; i++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if bias != nil {
				s = float64(bias[o])
			}
			for k := 0; k < in; k++ {
				s += float64(x[i*in+k]) * float64(w[o*in+k])
			}
			y[i*out+o] = s
		}
	}
	return y
}

// loraDelta is s B A [out, in] for A [r, in], B [out, r].
func loraDelta(a, b []float32, r, in, out int, s float64) []float32 {
	d := make([]float32, out*in)
	for o := 0; o < out; o++ {
		for k := 0; k < in; k++ {
			v := 0.0
			for j := 0; j < r; j++ {
				v += float64(b[o*r+j]) * float64(a[j*in+k])
			}
			d[o*in+k] = float32(s * v)
		}
	}
	return d
}

func addF(a, b []float32) []float32 {
	c := make([]float32, len(a))
	for i := range a {
		c[i] = a[i] + b[i]
	}
	return c
}

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func f64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

const (
	adIn, adOut, adRank = 7, 5, 3
	adModule            = "layers.0.proj"
	keyA                = "base_model.model.layers.0.proj.lora_A.weight"
	keyB                = "base_model.model.layers.0.proj.lora_B.weight"
)

type adapterFixture struct {
	m       *AdapterModel
	w, bias []float32
}

func newAdapterFixture(t *testing.T, seed int64) *adapterFixture {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	f := &adapterFixture{w: randomGrad(r, adOut*adIn), bias: randomGrad(r, adOut)}
	var err error
	if f.m, err = NewAdapterModel(cpuContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.m.Close() })
	if err := f.m.AddLinear(adModule, f.w, adOut, adIn, f.bias, false); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *adapterFixture) addLoRA(t *testing.T, name string, seed uint64) {
	t.Helper()
	err := f.m.AddAdapter(name, AdapterOptions{R: adRank, Alpha: 6, TargetModules: `["proj"]`, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
}

// randomizeB makes the adapter non-trivial (default init has B = 0).
func (f *adapterFixture) randomizeB(t *testing.T, name string, seed int64) (a, b []float32) {
	t.Helper()
	b = randomGrad(rand.New(rand.NewSource(seed)), adOut*adRank)
	if err := f.m.SetTensor(name, keyB, b); err != nil {
		t.Fatal(err)
	}
	a, err := f.m.Tensor(name, keyA)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestLoRADefaultInitLeavesBaseOutput(t *testing.T) {
	f := newAdapterFixture(t, 1)
	f.addLoRA(t, "a", 1)
	x := randomGrad(rand.New(rand.NewSource(2)), 4*adIn)
	y, err := f.m.Forward(adModule, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "y", y, linearRef(x, f.w, f.bias, 4, adIn, adOut), 1e-5)
	a, err := f.m.Tensor("a", keyA)
	if err != nil {
		t.Fatal(err)
	}
	nonzero := false
	for _, v := range a {
		nonzero = nonzero || v != 0
	}
	if !nonzero || len(a) != adRank*adIn {
		t.Fatalf("lora_A %v: Kaiming init expected", a)
	}
	ts, err := f.m.Tensors("a")
	if err != nil || len(ts) != 2 {
		t.Fatalf("Tensors = %+v, %v", ts, err)
	}
	if cfg, err := f.m.ConfigJSON("a"); err != nil || !strings.Contains(cfg, `"r": 3`) && !strings.Contains(cfg, `"r":3`) {
		t.Fatalf("ConfigJSON = %s, %v", cfg, err)
	}
}

func TestLoRAForwardBackwardMergeUnmerge(t *testing.T) {
	f := newAdapterFixture(t, 3)
	f.addLoRA(t, "a", 3)
	a, b := f.randomizeB(t, "a", 4)
	s := 6.0 / adRank
	eff := addF(f.w, loraDelta(a, b, adRank, adIn, adOut, s))
	x := randomGrad(rand.New(rand.NewSource(5)), 3*adIn)
	y, err := f.m.Forward(adModule, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "adapted y", y, linearRef(x, eff, f.bias, 3, adIn, adOut), 1e-5)

	// dx = dy (W + s B A); the adapter gets gradients, the base none.
	dy := randomGrad(rand.New(rand.NewSource(6)), 3*adOut)
	dx, err := f.m.Backward(adModule, x, dy)
	if err != nil {
		t.Fatal(err)
	}
	wantDx := make([]float64, 3*adIn)
	for i := 0; i < 3; i++ {
		for k := 0; k < adIn; k++ {
			for o := 0; o < adOut; o++ {
				wantDx[i*adIn+k] += float64(dy[i*adOut+o]) * float64(eff[o*adIn+k])
			}
		}
	}
	closeTo(t, "dx", dx, wantDx, 1e-5)
	gb, err := f.m.Grad("a", keyB)
	if err != nil {
		t.Fatal(err)
	}
	// dB = s dy^T (x A^T)
	wantGB := make([]float64, adOut*adRank)
	for i := 0; i < 3; i++ {
		for o := 0; o < adOut; o++ {
			for j := 0; j < adRank; j++ {
				xa := 0.0
				for k := 0; k < adIn; k++ {
					xa += float64(x[i*adIn+k]) * float64(a[j*adIn+k])
				}
				wantGB[o*adRank+j] += s * float64(dy[i*adOut+o]) * xa
			}
		}
	}
	closeTo(t, "dB", gb, wantGB, 1e-5)
	if n, err := f.m.ClipGradNorm("", 1e-3); err != nil || n <= 1e-3 {
		t.Fatalf("ClipGradNorm = %v, %v", n, err)
	}
	if err := f.m.ZeroGrad("a"); err != nil {
		t.Fatal(err)
	}
	if gb, _ = f.m.Grad("a", keyB); gb[0] != 0 {
		t.Fatal("ZeroGrad left a gradient")
	}

	// Merge: the weight becomes W + s B A and the output stays; unmerge restores W.
	for _, flags := range []MergeFlags{MergeSafe, MergeKeepOriginal} {
		before, _, _ := f.m.Weight(adModule) // after a plain unmerge, within 2 ulp of f.w
		if err := f.m.Merge(nil, flags); err != nil {
			t.Fatal(err)
		}
		w, bias, err := f.m.Weight(adModule)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "merged weight", w, f64(eff), 1e-6)
		closeTo(t, "bias", bias, f64(f.bias), 0)
		ym, _ := f.m.Forward(adModule, x)
		closeTo(t, "merged y", ym, f64(y), 1e-5)
		if err := f.m.Unmerge(0); err != nil {
			t.Fatal(err)
		}
		w, _, _ = f.m.Weight(adModule)
		for i := range w {
			if flags == MergeKeepOriginal && math.Float32bits(w[i]) != math.Float32bits(before[i]) {
				t.Fatalf("KeepOriginal unmerge is not bit-exact at %d: %v vs %v", i, w[i], before[i])
			}
			if math.Abs(float64(w[i]-f.w[i])) > 1e-6*(1+math.Abs(float64(f.w[i]))) {
				t.Fatalf("unmerged weight %d = %v, base %v", i, w[i], f.w[i])
			}
		}
	}
	mw, err := f.m.MergedWeight(adModule, []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "MergedWeight", mw, f64(eff), 1e-6)

	// Disabled: the base only.
	if err := f.m.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	yb, _ := f.m.Forward(adModule, x)
	closeTo(t, "disabled y", yb, linearRef(x, f.w, f.bias, 3, adIn, adOut), 1e-5)
	f.m.SetEnabled(true)
	if js, err := f.m.InfoJSON(); err != nil || !strings.Contains(js, adModule) {
		t.Fatalf("InfoJSON = %s, %v", js, err)
	}
}

func TestAdapterMixedBatchAndActivation(t *testing.T) {
	f := newAdapterFixture(t, 7)
	f.addLoRA(t, "a", 1)
	f.addLoRA(t, "b", 2)
	f.randomizeB(t, "a", 8)
	f.randomizeB(t, "b", 9)
	x := randomGrad(rand.New(rand.NewSource(10)), 3*adIn)
	y, err := f.m.ForwardMixed(adModule, x, []string{"a", "b"}, []int32{1, -1, 0})
	if err != nil {
		t.Fatal(err)
	}
	for row, active := range []string{"b", "", "a"} {
		var names []string
		if active != "" {
			names = []string{active}
		}
		if err := f.m.SetActive(names, nil); err != nil {
			t.Fatal(err)
		}
		want, err := f.m.Forward(adModule, x[row*adIn:(row+1)*adIn])
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "mixed row "+active, y[row*adOut:(row+1)*adOut], f64(want), 1e-5)
	}
	// Weighted activation: y = base + 0.5 a + 2 b.
	if err := f.m.SetActive([]string{"a", "b"}, []float32{0.5, 2}); err != nil {
		t.Fatal(err)
	}
	yw, _ := f.m.Forward(adModule, x[:adIn])
	f.m.SetActive(nil, nil)
	base, _ := f.m.Forward(adModule, x[:adIn])
	f.m.SetActive([]string{"a"}, nil)
	ya, _ := f.m.Forward(adModule, x[:adIn])
	f.m.SetActive([]string{"b"}, nil)
	yb, _ := f.m.Forward(adModule, x[:adIn])
	want := make([]float64, adOut)
	for i := range want {
		want[i] = float64(base[i]) + 0.5*float64(ya[i]-base[i]) + 2*float64(yb[i]-base[i])
	}
	closeTo(t, "weighted", yw, want, 1e-5)
	if err := f.m.AddWeighted("ab", []string{"a", "b"}, []float32{0.5, 2}, CombineCat); err != nil {
		t.Fatal(err)
	}
	f.m.SetActive([]string{"ab"}, nil)
	yab, _ := f.m.Forward(adModule, x[:adIn])
	closeTo(t, "add_weighted cat", yab, want, 1e-5)
	if err := f.m.DeleteAdapter("ab"); err != nil {
		t.Fatal(err)
	}
	_, err = f.m.Tensor("ab", keyA)
	wantError(t, err, StatusInvalidArgument)
}

func TestAdapterPEFTSaveLoad(t *testing.T) {
	f := newAdapterFixture(t, 11)
	f.addLoRA(t, "a", 1)
	a, b := f.randomizeB(t, "a", 12)
	dir := t.TempDir()
	if err := f.m.SavePEFT("a", dir); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"adapter_config.json", "adapter_model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			t.Fatal(err)
		}
	}
	g := newAdapterFixture(t, 11)
	if err := g.m.LoadPEFT(dir, "loaded"); err != nil {
		t.Fatal(err)
	}
	la, _ := g.m.Tensor("loaded", keyA)
	lb, _ := g.m.Tensor("loaded", keyB)
	closeTo(t, "loaded A", la, f64(a), 0)
	closeTo(t, "loaded B", lb, f64(b), 0)
	err := g.m.LoadPEFT(filepath.Join(dir, "missing"), "x")
	if StatusOf(err) != StatusIO && StatusOf(err) != StatusFormat {
		t.Fatalf("loading a missing directory: %v", err)
	}
}

func TestLoRALinear(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(13))
	const m, in, out, rank = 4, 9, 6, 2
	l := &LoRALinear{In: in, Out: out, Rank: rank, Weight: randomGrad(r, out*in), Bias: randomGrad(r, out),
		A: randomGrad(r, rank*in), B: make([]float32, out*rank), Scaling: 0.5}
	x := randomGrad(r, m*in)
	y, err := l.Forward(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "B = 0", y, linearRef(x, l.Weight, l.Bias, m, in, out), 1e-5)
	l.B = randomGrad(r, out*rank)
	eff := addF(l.Weight, loraDelta(l.A, l.B, rank, in, out, 0.5))
	y, err = l.Forward(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "y", y, linearRef(x, eff, l.Bias, m, in, out), 1e-5)
	dy := randomGrad(r, m*out)
	g, err := l.Backward(ctx, x, dy)
	if err != nil {
		t.Fatal(err)
	}
	// dA = s (dy B)^T x
	wantA := make([]float64, rank*in)
	for i := 0; i < m; i++ {
		for j := 0; j < rank; j++ {
			db := 0.0
			for o := 0; o < out; o++ {
				db += float64(dy[i*out+o]) * float64(l.B[o*rank+j])
			}
			for k := 0; k < in; k++ {
				wantA[j*in+k] += 0.5 * db * float64(x[i*in+k])
			}
		}
	}
	closeTo(t, "dA", g.A, wantA, 1e-5)
	if g.Magnitude != nil || len(g.X) != m*in || len(g.B) != out*rank {
		t.Fatalf("gradient shapes %d %d %v", len(g.X), len(g.B), g.Magnitude)
	}
	l.A = l.A[1:]
	_, err = l.Forward(ctx, x)
	wantError(t, err, StatusShapeMismatch, "lora_a")
	_, err = l.Forward(ctx, x[1:])
	wantError(t, err, StatusShapeMismatch, "x")
}

func TestAdapterErrors(t *testing.T) {
	f := newAdapterFixture(t, 14)
	err := f.m.AddAdapter("x", AdapterOptions{R: 2})
	wantError(t, err, StatusInvalidArgument)
	err = f.m.AddAdapter("x", AdapterOptions{R: 2, Alpha: -1, TargetModules: `["proj"]`})
	wantError(t, err, StatusInvalidArgument)
	f.addLoRA(t, "a", 1)
	_, err = f.m.Forward("nope", make([]float32, adIn))
	wantError(t, err, StatusInvalidArgument, "nope")
	_, err = f.m.Forward(adModule, make([]float32, adIn+1))
	wantError(t, err, StatusShapeMismatch, "x")
	_, err = f.m.Tensor("a", "base_model.model.nope.lora_A.weight")
	wantError(t, err, StatusInvalidArgument, "key")
	wantError(t, f.m.SetTensor("a", keyA, make([]float32, 2)), StatusShapeMismatch, "src")
	wantError(t, f.m.SetActive([]string{"a"}, []float32{1, 2}), StatusShapeMismatch, "weights")
	wantError(t, f.m.SetActive([]string{"missing"}, nil), StatusInvalidArgument)
	wantError(t, f.m.AddLinear("m2", make([]float32, 5), 2, 3, nil, false), StatusShapeMismatch, "weight")
	if err := f.m.Merge([]string{"a"}, 0); err != nil {
		t.Fatal(err)
	}
	wantError(t, f.m.DeleteAdapter("a"), StatusInvalidArgument)
	if err := f.m.Unmerge(0); err != nil {
		t.Fatal(err)
	}
	var nilLayer *LoRALinear
	_, err = nilLayer.Forward(cpuContext(t), nil)
	wantError(t, err, StatusInvalidArgument, "layer is nil")

	f.m.Close()
	f.m.Close()
	_, err = f.m.Forward(adModule, make([]float32, adIn))
	wantError(t, err, StatusInvalidArgument, "model: use of a closed rai AdapterModel")
	wantError(t, f.m.LoadPEFT("/nonexistent", "x"), StatusInvalidArgument, "closed")
	var nilm *AdapterModel
	_, err = nilm.InfoJSON()
	wantError(t, err, StatusInvalidArgument, "model is nil")
}

// PEFT's own outputs (tests/adapters/golden, written by make_peft_golden.py): every recorded
// module of the tiny Llama must match within 1e-5 of max |y|, for every tuner.
func TestAdapterPEFTGoldenFixtures(t *testing.T) {
	golden := os.Getenv("RAI_GOLDEN_DIR")
	if golden == "" {
		t.Skip("RAI_GOLDEN_DIR is not set (meson test sets it)")
	}
	base, err := OpenSafetensors(filepath.Join(golden, "base", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	baseTensors, err := base.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	for tuner, want := range map[string]int{"lora": 7, "dora": 3, "ia3": 3, "vera": 2, "loha": 2, "lokr": 2, "adalora": 3} {
		m, err := NewAdapterModel(cpuContext(t))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for _, bt := range baseTensors {
			if len(bt.Shape) != 2 || bt.Name == "model.embed_tokens.weight" {
				continue
			}
			w, _, err := base.Float32(bt.Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AddLinear(strings.TrimSuffix(bt.Name, ".weight"), w, int(bt.Shape[0]), int(bt.Shape[1]), nil, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.LoadPEFT(filepath.Join(golden, tuner), tuner); err != nil {
			t.Fatalf("%s: LoadPEFT: %v", tuner, err)
		}
		io, err := OpenSafetensors(filepath.Join(golden, tuner, "io.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer io.Close()
		ios, _ := io.Tensors()
		checked := 0
		for _, xt := range ios {
			if !strings.HasSuffix(xt.Name, ".x") {
				continue
			}
			mod := strings.TrimSuffix(xt.Name, ".x")
			x, _, err := io.Float32(xt.Name)
			if err != nil {
				t.Fatal(err)
			}
			y, _, err := io.Float32(mod + ".y")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Forward(mod, x)
			if err != nil {
				t.Fatalf("%s %s: %v", tuner, mod, err)
			}
			maxAbs := 1.0
			for _, v := range y {
				maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
			}
			for i := range y {
				if math.Abs(float64(got[i]-y[i])) > 1e-5*maxAbs {
					t.Fatalf("%s %s: y[%d] = %v, peft %v", tuner, mod, i, got[i], y[i])
				}
			}
			checked++
		}
		if checked != want {
			t.Fatalf("%s: %d modules checked, want %d", tuner, checked, want)
		}
	}
}

// QLoRA over a 4-bit base is LoRA over the dequantized base: forward and every gradient, for
// LoRA and DoRA, from slices and from buffers.
func TestQLoRALinear(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(21))
	const m, in, out, rank = 3, 64, 10, 3
	codes, st, err := Quantize4(ctx, randomGrad(r, out*in), []int{out, in}, Q4Options{Type: NF4, DoubleQuant: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wd, err := st.Dequantize(codes)
	if err != nil {
		t.Fatal(err)
	}
	bias, a, b := randomGrad(r, out), randomGrad(r, rank*in), randomGrad(r, out*rank)
	x, dy := randomGrad(r, m*in), randomGrad(r, m*out)
	for _, dora := range []bool{false, true} {
		ref := &LoRALinear{In: in, Out: out, Rank: rank, Weight: wd, Bias: bias, A: a, B: b, Scaling: 0.75}
		q := &QLoRALinear{State: st, Codes: codes, Bias: bias, Rank: rank, A: a, B: b, Scaling: 0.75}
		if dora {
			mag := make([]float32, out)
			for i := range mag {
				mag[i] = 0.5 + r.Float32()
			}
			ref.Magnitude, q.Magnitude = mag, mag
		}
		want, err := ref.Forward(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := q.Forward(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "QLoRA y", y, f64(want), 1e-5)
		wantG, err := ref.Backward(ctx, x, dy)
		if err != nil {
			t.Fatal(err)
		}
		g, err := q.Backward(ctx, x, dy)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "QLoRA dx", g.X, f64(wantG.X), 1e-5)
		closeTo(t, "QLoRA dA", g.A, f64(wantG.A), 1e-5)
		closeTo(t, "QLoRA dB", g.B, f64(wantG.B), 1e-5)
		if dora != (g.Magnitude != nil) {
			t.Fatalf("dora=%v: magnitude gradient %v", dora, g.Magnitude)
		}
		if dora {
			closeTo(t, "QLoRA dMagnitude", g.Magnitude, f64(wantG.Magnitude), 1e-5)
		}
	}
	// The same layer on buffers gives the same values; only dA is wanted.
	q := &QLoRALinear{State: st, Codes: mustBuffer(t, ctx, codes).Tensor(U8), Bias: mustBuffer(t, ctx, float32Bytes(bias)).Tensor(F32),
		Rank: rank, A: mustBuffer(t, ctx, float32Bytes(a)).Tensor(F32), B: mustBuffer(t, ctx, float32Bytes(b)).Tensor(F32), Scaling: 0.75}
	want, _ := q.Forward(ctx, x)
	yBuf := mustBuffer(t, ctx, make([]byte, 4*m*out))
	xT := mustBuffer(t, ctx, float32Bytes(x)).Tensor(F32)
	if err := q.ForwardInto(ctx, xT, yBuf.Tensor(F32)); err != nil {
		t.Fatal(err)
	}
	yb := make([]byte, 4*m*out)
	_ = yBuf.Read(0, yb)
	closeTo(t, "QLoRA y from buffers", bytesFloat32(yb), f64(want), 0)
	wantG, _ := q.Backward(ctx, x, dy)
	dA := make([]float32, rank*in)
	if err := q.BackwardInto(ctx, xT, dy, QLoRAGrads{A: dA}); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "QLoRA dA alone", dA, f64(wantG.A), 0)

	// Errors name the argument.
	_, err = q.Forward(ctx, x[1:])
	wantError(t, err, StatusShapeMismatch, "x")
	q.A = a[1:]
	_, err = q.Forward(ctx, x)
	wantError(t, err, StatusShapeMismatch, "lora_a")
	q.A = a
	q.Codes = codes[1:]
	_, err = q.Forward(ctx, x)
	wantError(t, err, StatusShapeMismatch)
	q.Codes = codes
	wantError(t, q.BackwardInto(ctx, x, dy, QLoRAGrads{B: make([]float32, 2)}), StatusShapeMismatch, "d_b")
	_, err = (&QLoRALinear{Rank: rank}).Forward(ctx, x)
	wantError(t, err, StatusInvalidArgument, "layer.State is nil")
	_, vec, _ := Quantize4(ctx, make([]float32, 64), nil, Q4Options{})
	defer vec.Close()
	_, err = (&QLoRALinear{State: vec, Codes: codes, Rank: rank, A: a, B: b}).Forward(ctx, x)
	wantError(t, err, StatusShapeMismatch, "2-D")
	st.Close()
	_, err = (&QLoRALinear{State: st, Codes: codes, Rank: rank, A: a, B: b}).Forward(ctx, x)
	wantError(t, err, StatusInvalidArgument, "closed")
}

// A mixed batch: each row gets its own adapter (ranks differ) or none.
func TestLoRALinearForwardMixed(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(31))
	const in, out = 13, 7
	l := &LoRALinear{In: in, Out: out, Weight: randomGrad(r, out*in), Bias: randomGrad(r, out)}
	adapters := []MixedAdapter{
		{Rank: 2, A: randomGrad(r, 2*in), B: randomGrad(r, out*2), Scaling: 0.5},
		{Rank: 5, A: randomGrad(r, 5*in), B: randomGrad(r, out*5), Scaling: 2},
		{Rank: 1, A: randomGrad(r, in), B: randomGrad(r, out), Scaling: 1},
	}
	rowAdapter := []int32{-1, 0, 2, 1, 0, -1, 2, 1, 1}
	m := len(rowAdapter)
	x := randomGrad(r, m*in)
	y, err := l.ForwardMixed(ctx, x, adapters, rowAdapter)
	if err != nil {
		t.Fatal(err)
	}
	for i, ai := range rowAdapter {
		w := l.Weight
		if ai >= 0 {
			a := adapters[ai]
			w = addF(w, loraDelta(a.A, a.B, a.Rank, in, out, float64(a.Scaling)))
		}
		closeTo(t, "mixed row", y[i*out:(i+1)*out], linearRef(x[i*in:(i+1)*in], w, l.Bias, 1, in, out), 1e-5)
	}
	// No adapters: every row is the base.
	base := []int32{-1, -1}
	y, err = l.ForwardMixed(ctx, x[:2*in], nil, base)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "base rows", y, linearRef(x[:2*in], l.Weight, l.Bias, 2, in, out), 1e-5)

	_, err = l.ForwardMixed(ctx, x, adapters, rowAdapter[1:])
	wantError(t, err, StatusShapeMismatch, "rowAdapter")
	bad := append([]MixedAdapter(nil), adapters...)
	bad[1].A = bad[1].A[1:]
	_, err = l.ForwardMixed(ctx, x, bad, rowAdapter)
	wantError(t, err, StatusShapeMismatch, "adapters[1].A")
	_, err = l.ForwardMixed(ctx, x[:in], adapters, []int32{3})
	wantError(t, err, StatusOutOfRange, "row_adapter[0]")
	_, err = l.ForwardMixed(ctx, x[1:], adapters, rowAdapter)
	wantError(t, err, StatusShapeMismatch, "x")
}

// The low-level setter of a const char * member (SWIG warning 451: it used to leak a copy; rai.i
// now keeps one copy per member, freed when the member is set again or the struct is deleted).
// The value rai_adapter_add reads is the last one set, and it stays valid for the call.
func TestNativeStringMemberSetter(t *testing.T) {
	f := newAdapterFixture(t, 31)
	params := native.NewRai_adapter_params()
	defer native.DeleteRai_adapter_params(params)
	params.SetR(adRank)
	add := func(name string) error {
		return f.m.use(func(p native.Struct_SS_rai_adapter_model) error {
			return call(func() status { return native.Rai_adapter_add(p, name, params) })
		})
	}
	params.SetTarget_modules(`["nothing"]`)
	if err := add("none"); err == nil {
		t.Fatal(`target_modules ["nothing"] matched a module`)
	}
	params.SetTarget_modules(`["proj"]`)
	if got := params.GetTarget_modules(); got != `["proj"]` {
		t.Fatalf("GetTarget_modules() = %q after setting it again", got)
	}
	if err := add("native"); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.m.ConfigJSON("native")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg, `"proj"`) || strings.Contains(cfg, "nothing") {
		t.Fatalf("adapter config %s does not show target_modules [\"proj\"]", cfg)
	}
}

// AdaLoRA's allocator masks the singular values down to target_r and records the rank pattern;
// the orthogonal regulariser is positive for a random init.
func TestAdaLoRAAllocator(t *testing.T) {
	f := newAdapterFixture(t, 21)
	cfg := `{"peft_type": "ADALORA", "init_r": 3, "target_r": 1, "lora_alpha": 3, "tinit": 0, "tfinal": 1,
		"deltaT": 1, "total_step": 4, "target_modules": ["proj"]}`
	if err := f.m.AddAdapterJSON("ada", cfg, 1); err != nil {
		t.Fatal(err)
	}
	keyE := "base_model.model.layers.0.proj.lora_E"
	if err := f.m.SetTensor("ada", keyE, []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(22))
	var budgets []int64
	for step := int64(0); step < 5; step++ {
		x := randomGrad(r, 6*adIn)
		if _, err := f.m.Forward(adModule, x); err != nil {
			t.Fatal(err)
		}
		if _, err := f.m.Backward(adModule, x, randomGrad(r, 6*adOut)); err != nil {
			t.Fatal(err)
		}
		reg, err := f.m.AdaLoRAOrthReg("ada", true)
		if err != nil || reg <= 0 {
			t.Fatalf("AdaLoRAOrthReg = %v, %v", reg, err)
		}
		b, err := f.m.AdaLoRAUpdate("ada", step)
		if err != nil {
			t.Fatal(err)
		}
		budgets = append(budgets, b)
		if err := f.m.ZeroGrad(""); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{3, 1, 1, 1, 1}; fmt.Sprint(budgets) != fmt.Sprint(want) {
		t.Fatalf("budgets %v, want %v", budgets, want)
	}
	e, err := f.m.Tensor("ada", keyE)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, v := range e {
		if v != 0 {
			kept++
		}
	}
	if kept != 1 {
		t.Fatalf("lora_E %v keeps %d singular values, want 1", e, kept)
	}
	_, err = f.m.AdaLoRAUpdate("ada", -1)
	wantError(t, err, StatusInvalidArgument)
}

// The model on BufferTensors (ForwardInto/BackwardInto) equals the slice methods on a CPU model;
// on a CUDA context the same calls compute on the GPU (skipped without a device).
func TestAdapterModelBufferTensors(t *testing.T) {
	for _, dev := range []string{"cpu", "cuda"} {
		t.Run(dev, func(t *testing.T) {
			if dev == "cuda" && cudaCount(t) == 0 {
				t.Skip("no CUDA device")
			}
			ctx, err := NewContext(Device(dev), Strict())
			if err != nil {
				t.Fatal(err)
			}
			defer ctx.Close()
			r := rand.New(rand.NewSource(21))
			const out, in, m = 10, 12, 5
			w, x, dy := randomGrad(r, out*in), randomGrad(r, m*in), randomGrad(r, m*out)
			var want, got [][]float32
			for _, c := range []*Context{cpuContext(t), ctx} {
				mod, err := NewAdapterModel(c)
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close()
				if err := mod.AddLinear("l.q_proj", w, out, in, nil, false); err != nil {
					t.Fatal(err)
				}
				o := AdapterOptions{Type: PEFTLoKr, R: 2, Alpha: 4, Init: InitRandom, TargetModules: `["q_proj"]`, Seed: 3}
				if err := mod.AddAdapter("lokr", o); err != nil {
					t.Fatal(err)
				}
				var y, dx []float32
				if c != ctx {
					if y, err = mod.Forward("l.q_proj", x); err == nil {
						dx, err = mod.Backward("l.q_proj", x, dy)
					}
				} else {
					xb, dyb := mustBuffer(t, ctx, float32Bytes(x)), mustBuffer(t, ctx, float32Bytes(dy))
					yb, dxb := mustBuffer(t, ctx, make([]byte, 4*m*out)), mustBuffer(t, ctx, make([]byte, 4*m*in))
					if err = mod.ForwardInto("l.q_proj", xb.Tensor(F32, m, in), yb.Tensor(F32, m, out)); err == nil {
						err = mod.BackwardInto("l.q_proj", xb.Tensor(F32, m, in), dyb.Tensor(F32, m, out), dxb.Tensor(F32, m, in))
					}
					ybytes, dxbytes := make([]byte, 4*m*out), make([]byte, 4*m*in)
					_ = yb.Read(0, ybytes)
					_ = dxb.Read(0, dxbytes)
					y, dx = bytesFloat32(ybytes), bytesFloat32(dxbytes)
					// Parameter gradients only (dx nil), then a wrong shape named.
					if err == nil {
						err = mod.BackwardInto("l.q_proj", xb.Tensor(F32, m, in), dyb.Tensor(F32, m, out), nil)
					}
					wantError(t, mod.ForwardInto("l.q_proj", xb.Tensor(F32, m, in), yb.Tensor(F32, m, out+1)), StatusShapeMismatch, "y")
				}
				if err != nil {
					t.Fatal(err)
				}
				g, err := mod.Grad("lokr", "base_model.model.l.q_proj.lokr_w1")
				if err != nil {
					t.Fatal(err)
				}
				if c == ctx { // two backward calls accumulated
					for i := range g {
						g[i] /= 2
					}
				}
				res := [][]float32{y, dx, g}
				if c != ctx {
					want = res
				} else {
					got = res
				}
			}
			for i, name := range []string{"y", "dx", "grad lokr_w1"} {
				ref := make([]float64, len(want[i]))
				for j, v := range want[i] {
					ref[j] = float64(v)
				}
				closeTo(t, name, got[i], ref, 1e-4)
			}
		})
	}
}
