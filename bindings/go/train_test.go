package rai

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"
)

func mustParam(t *testing.T, name string, init []float32, shape ...int) *Param {
	t.Helper()
	p, err := NewParam(name, init, shape...)
	if err != nil {
		t.Fatalf("NewParam(%s): %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustOptimizer(t *testing.T, ctx *Context, opts OptimizerOptions, ps ...*Param) *Optimizer {
	t.Helper()
	o, err := NewOptimizer(ctx, opts)
	if err != nil {
		t.Fatalf("NewOptimizer(%+v): %v", opts, err)
	}
	t.Cleanup(func() { o.Close() })
	for i, p := range ps {
		id, err := o.AddParam(p)
		if err != nil || id != uint32(i) {
			t.Fatalf("AddParam(%s) = %d, %v", p.Name(), id, err)
		}
	}
	return o
}

func TestSGDStepByHand(t *testing.T) {
	ctx := cpuContext(t)
	p := mustParam(t, "w", []float32{1, 2, -3}, 3)
	copy(p.Grad(), []float32{0.5, -1, 2})
	o := mustOptimizer(t, ctx, OptimizerOptions{Kind: SGD, LR: 0.1, WeightDecay: 0.5}, p)
	norm, err := o.Step()
	if err != nil {
		t.Fatal(err)
	}
	if want := float32(math.Sqrt(0.25 + 1 + 4)); math.Abs(float64(norm-want)) > 1e-6 {
		t.Fatalf("grad norm %v, want %v", norm, want)
	}
	// p -= lr*(g + wd*p), in float32
	init, g := []float32{1, 2, -3}, []float32{0.5, -1, 2}
	for i, v := range p.Value() {
		lr, wd := float32(0.1), float32(0.5)
		want := init[i] - lr*(g[i]+wd*init[i])
		if math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("p[%d] = %v, want %v", i, v, want)
		}
	}
	if g2 := p.Grad(); g2[0] != 0.5 || g2[2] != 2 {
		t.Fatalf("Step modified the gradients: %v", g2)
	}
	if n, err := o.StepCount(); err != nil || n != 1 {
		t.Fatalf("StepCount = %d, %v", n, err)
	}
}

func TestMomentumTwoStepsByHand(t *testing.T) {
	ctx := cpuContext(t)
	p := mustParam(t, "w", []float32{1, -1})
	o := mustOptimizer(t, ctx, OptimizerOptions{Kind: Momentum, LR: 0.1, Momentum: 0.9}, p)
	want := []float64{1, -1}
	buf := []float64{0, 0}
	for step, g := range [][]float32{{1, 2}, {-0.5, 1}} {
		copy(p.Grad(), g)
		if _, err := o.Step(); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if step == 0 {
				buf[i] = float64(g[i])
			} else {
				buf[i] = 0.9*buf[i] + float64(g[i])
			}
			want[i] -= 0.1 * buf[i]
			if got := float64(p.Value()[i]); math.Abs(got-want[i]) > 1e-6 {
				t.Fatalf("step %d p[%d] = %v, want %v", step, i, got, want[i])
			}
		}
	}
}

func TestAdamWStepByHand(t *testing.T) {
	ctx := cpuContext(t)
	init := []float32{0.5, -2, 3, 0.25}
	g := []float32{0.1, -0.3, 2, -1e-3}
	p := mustParam(t, "w", init, 2, 2)
	copy(p.Grad(), g)
	const lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
	o := mustOptimizer(t, ctx, OptimizerOptions{Kind: AdamW, LR: lr, Beta1: b1, Beta2: b2, Eps: eps, WeightDecay: wd}, p)
	if _, err := o.Step(); err != nil {
		t.Fatal(err)
	}
	for i, v := range p.Value() {
		x := float64(init[i]) * (1 - lr*wd)
		m := (1 - b1) * float64(g[i]) / (1 - b1)
		s := (1 - b2) * float64(g[i]) * float64(g[i]) / (1 - b2)
		want := x - lr*m/(math.Sqrt(s)+eps)
		if math.Abs(float64(v)-want) > 2e-6 {
			t.Fatalf("p[%d] = %v, want %v", i, v, want)
		}
	}
}

func TestOptimizerClippingAndLR(t *testing.T) {
	ctx := cpuContext(t)
	a := mustParam(t, "a", []float32{0})
	b := mustParam(t, "b", []float32{0})
	copy(a.Grad(), []float32{3})
	copy(b.Grad(), []float32{4})
	o := mustOptimizer(t, ctx, OptimizerOptions{LR: 1}, a, b)
	if n, err := o.GradNorm(); err != nil || math.Abs(float64(n)-5) > 1e-6 {
		t.Fatalf("GradNorm = %v, %v", n, err)
	}
	n, err := o.ClipGradNorm(1)
	if err != nil || math.Abs(float64(n)-5) > 1e-6 {
		t.Fatalf("ClipGradNorm = %v, %v", n, err)
	}
	if g := a.Grad()[0]; math.Abs(float64(g)-3/(5+1e-6)) > 1e-6 {
		t.Fatalf("clipped gradient %v", g)
	}
	if err := o.SetLR(0.25); err != nil {
		t.Fatal(err)
	}
	if lr, err := o.LR(); err != nil || lr != 0.25 {
		t.Fatalf("LR = %v, %v", lr, err)
	}
	// A non-finite gradient is refused and nothing changes.
	a.Grad()[0] = float32(math.Inf(1))
	_, err = o.Step()
	wantError(t, err, StatusInvalidArgument)
	if a.Value()[0] != 0 || b.Value()[0] != 0 {
		t.Fatalf("a refused step changed the parameters: %v %v", a.Value(), b.Value())
	}
}

func TestOptimizerStateSaveLoad(t *testing.T) {
	ctx := cpuContext(t)
	r := rand.New(rand.NewSource(1))
	init := randomGrad(r, 37)
	pa, pb := mustParam(t, "w", init), mustParam(t, "w", init)
	opts := OptimizerOptions{Kind: AdamW, LR: 0.05, WeightDecay: 0.01}
	a := mustOptimizer(t, ctx, opts, pa)
	b := mustOptimizer(t, ctx, opts, pb)
	for i := 0; i < 3; i++ {
		copy(pa.Grad(), randomGrad(r, 37))
		if _, err := a.Step(); err != nil {
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
	copy(pb.Value(), pa.Value())
	g := randomGrad(r, 37)
	copy(pa.Grad(), g)
	copy(pb.Grad(), g)
	a.Step()
	b.Step()
	for i := range g {
		if math.Float32bits(pa.Value()[i]) != math.Float32bits(pb.Value()[i]) {
			t.Fatalf("after LoadState element %d differs: %v vs %v", i, pa.Value()[i], pb.Value()[i])
		}
	}
	if n, _ := b.StepCount(); n != 4 {
		t.Fatalf("StepCount after load and step = %d, want 4", n)
	}
	wantError(t, b.LoadState(blob[:len(blob)/2]), StatusFormat)
	sgd := mustOptimizer(t, ctx, OptimizerOptions{Kind: SGD}, mustParam(t, "w", init))
	if err := sgd.LoadState(blob); err == nil {
		t.Fatal("an AdamW state loaded into SGD")
	}
}

func TestOptimizerErrors(t *testing.T) {
	ctx := cpuContext(t)
	_, err := NewOptimizer(ctx, OptimizerOptions{LR: -1})
	wantError(t, err, StatusInvalidArgument)
	_, err = NewOptimizer(ctx, OptimizerOptions{Kind: AdamW, Beta1: 1.5})
	wantError(t, err, StatusInvalidArgument)
	_, err = NewParam("w", make([]float32, 5), 2, 3)
	wantError(t, err, StatusShapeMismatch, "init")

	o := mustOptimizer(t, ctx, OptimizerOptions{})
	_, err = o.AddParam(nil)
	wantError(t, err, StatusInvalidArgument, "param is nil")
	p := mustParam(t, "w", []float32{1, 2})
	p.Close()
	_, err = o.AddParam(p)
	wantError(t, err, StatusInvalidArgument, "param: use of a closed rai Param")
	if p.Value() != nil {
		t.Fatal("a closed, unborrowed Param still has memory")
	}

	// A borrowed Param keeps its memory until the optimizer closes.
	q := mustParam(t, "q", []float32{1, 2})
	o2 := mustOptimizer(t, ctx, OptimizerOptions{}, q)
	q.Close()
	if v := q.Value(); len(v) != 2 || v[1] != 2 {
		t.Fatalf("a borrowed Param lost its memory: %v", v)
	}
	o2.Close()
	o2.Close()
	if q.Value() != nil {
		t.Fatal("the Param outlived its last borrower")
	}
	_, err = o2.Step()
	wantError(t, err, StatusInvalidArgument, "optimizer: use of a closed rai Optimizer")
	var nilo *Optimizer
	_, err = nilo.LR()
	wantError(t, err, StatusInvalidArgument, "optimizer is nil")
}

// regression is y = X w + b on fixed data, full batch, loss = mean squared error / 2.
type regression struct {
	x, y []float32
	n, d int
	w, b *Param
}

func newRegression(t *testing.T, seed int64) *regression {
	r := rand.New(rand.NewSource(seed))
	g := &regression{n: 64, d: 8}
	g.x = randomGrad(r, g.n*g.d)
	truth := randomGrad(r, g.d)
	g.y = make([]float32, g.n)
	for i := 0; i < g.n; i++ {
		for j := 0; j < g.d; j++ {
			g.y[i] += g.x[i*g.d+j] * truth[j]
		}
		g.y[i] += 0.5
	}
	g.w = mustParam(t, "w", make([]float32, g.d))
	g.b = mustParam(t, "b", make([]float32, 1))
	return g
}

// loss computes the loss and, with backward, the gradients into the Params' Grad buffers.
func (g *regression) loss(backward bool) float32 {
	w, b := g.w.Value(), g.b.Value()[0]
	gw, gb := g.w.Grad(), g.b.Grad()
	if backward {
		for j := range gw {
			gw[j] = 0
		}
		gb[0] = 0
	}
	var l float32
	for i := 0; i < g.n; i++ {
		pred := b
		for j := 0; j < g.d; j++ {
			pred += g.x[i*g.d+j] * w[j]
		}
		e := pred - g.y[i]
		l += 0.5 * e * e / float32(g.n)
		if backward {
			for j := 0; j < g.d; j++ {
				gw[j] += e * g.x[i*g.d+j] / float32(g.n)
			}
			gb[0] += e / float32(g.n)
		}
	}
	return l
}

func newTrainer(t *testing.T, ctx *Context, g *regression, opts HybridOptions) (*Hybrid, *Optimizer) {
	t.Helper()
	o := mustOptimizer(t, ctx, OptimizerOptions{Kind: AdamW, LR: 0.01}, g.w, g.b)
	h, err := NewHybrid(ctx, opts)
	if err != nil {
		t.Fatalf("NewHybrid: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	for _, p := range []*Param{g.w, g.b} {
		if _, err := h.AddParam(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.SetOptimizer(o); err != nil {
		t.Fatal(err)
	}
	return h, o
}

// step runs one step of the protocol; spike, when it returns true for the step, replaces the
// loss by 1e6. before is called on steps without a backward before the prediction is applied.
func protocolStep(t *testing.T, h *Hybrid, g *regression, spike func(StepInfo) bool, before func(StepInfo)) (StepInfo, StepResult) {
	t.Helper()
	info, err := h.BeginStep()
	if err != nil {
		t.Fatal(err)
	}
	if info.NeedsBackward {
		loss := g.loss(true)
		if err := h.RecordGradients(loss); err != nil {
			t.Fatal(err)
		}
	} else {
		if before != nil {
			before(info)
		}
		if err := h.ApplyPredicted(); err != nil {
			t.Fatal(err)
		}
		if info.NeedsForward {
			loss := g.loss(false)
			if spike != nil && spike(info) {
				loss = 1e6
			}
			if err := h.ReportLoss(loss); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := h.EndStep()
	if err != nil {
		t.Fatal(err)
	}
	return info, res
}

var spikeOptions = HybridOptions{WarmupSteps: 5, FullSteps: 20, PredictSteps: 10, CorrectEvery: 100}

func TestHybridRollbackRestoresBitwise(t *testing.T) {
	ctx := cpuContext(t)
	g := newRegression(t, 1)
	h, o := newTrainer(t, ctx, g, spikeOptions)
	var atEntry []float32
	var optAtEntry []byte
	var entryStep uint64
	before := func(info StepInfo) {
		if info.PhaseChanged {
			atEntry = append(append([]float32(nil), g.w.Value()...), g.b.Value()...)
			optAtEntry, _ = o.SaveState()
			entryStep = info.Step
		}
	}
	spike := func(info StepInfo) bool { return info.Phase == PhasePredict && info.PhaseStep == 3 }
	var res StepResult
	for i := 0; i < 5+20+4; i++ {
		_, res = protocolStep(t, h, g, spike, before)
	}
	if res.Phase != PhasePredict || res.Divergence != DivergenceCritical || res.Events&EventRolledBack == 0 ||
		res.Events&EventForcedFull == 0 || res.DivergenceSignals&SignalLossZScore == 0 {
		t.Fatalf("spike step result %+v", res)
	}
	if entryStep != 25 || res.RollbackStep != entryStep {
		t.Fatalf("rolled back to step %d, predict phase entered at %d", res.RollbackStep, entryStep)
	}
	now := append(append([]float32(nil), g.w.Value()...), g.b.Value()...)
	for i := range now {
		if math.Float32bits(now[i]) != math.Float32bits(atEntry[i]) {
			t.Fatalf("parameter %d = %v after rollback, %v at the snapshot", i, now[i], atEntry[i])
		}
	}
	if optNow, _ := o.SaveState(); !bytes.Equal(optNow, optAtEntry) {
		t.Fatal("optimizer state not restored")
	}
	st, err := h.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rollbacks != 1 || st.CriticalEvents != 1 || st.Steps != 29 {
		t.Fatalf("stats %+v", st)
	}
	info, _ := protocolStep(t, h, g, nil, nil)
	if info.Phase != PhaseFull || info.HorizonRemaining != 40 {
		t.Fatalf("after the rollback: %+v, want 40 forced FULL steps", info)
	}
}

func runHybrid(t *testing.T, steps int) (string, []float32, HybridStats) {
	ctx := cpuContext(t)
	g := newRegression(t, 2)
	h, _ := newTrainer(t, ctx, g, HybridOptions{WarmupSteps: 5, FullSteps: 5, PredictSteps: 10, CorrectEvery: 4})
	first := g.loss(false)
	for i := 0; i < steps; i++ {
		protocolStep(t, h, g, nil, nil)
	}
	if last := g.loss(false); !(last < first/4) {
		t.Fatalf("loss %v -> %v: training does not learn", first, last)
	}
	js, err := h.MetricsJSON(false)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := h.Stats()
	return js, append(append([]float32(nil), g.w.Value()...), g.b.Value()...), st
}

func TestHybridRunsAreDeterministic(t *testing.T) {
	ja, pa, st := runHybrid(t, 120)
	jb, pb, _ := runHybrid(t, 120)
	if ja != jb {
		t.Fatalf("two identical runs give different metrics:\n%s\n%s", ja, jb)
	}
	for i := range pa {
		if math.Float32bits(pa[i]) != math.Float32bits(pb[i]) {
			t.Fatalf("parameter %d differs between identical runs", i)
		}
	}
	if !strings.Contains(ja, `"steps"`) || !strings.HasPrefix(strings.TrimSpace(ja), "{") {
		t.Fatalf("metrics JSON %q", ja)
	}
	if st.Steps != 120 || st.BackwardPasses+st.PredictedSteps+st.SkippedSteps != st.Steps ||
		st.PredictedSteps == 0 || st.BackwardFraction >= 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHybridPredictedMatchesApply(t *testing.T) {
	ctx := cpuContext(t)
	ga, gb := newRegression(t, 3), newRegression(t, 3)
	ha, _ := newTrainer(t, ctx, ga, spikeOptions)
	hb, _ := newTrainer(t, ctx, gb, spikeOptions)
	for i := 0; i < 25; i++ {
		protocolStep(t, ha, ga, nil, nil)
		protocolStep(t, hb, gb, nil, nil)
	}
	ia, _ := ha.BeginStep()
	ib, _ := hb.BeginStep()
	if ia.Phase != PhasePredict || ib.Phase != PhasePredict || !ia.HasPrediction {
		t.Fatalf("step 25 is %v / %v, want predict", ia.Phase, ib.Phase)
	}
	before := append([]float32(nil), ga.w.Value()...)
	pred, err := ha.Predicted()
	if err != nil {
		t.Fatal(err)
	}
	if len(pred) != 2 || len(pred[0]) != 8 || len(pred[1]) != 1 {
		t.Fatalf("Predicted shapes %d", len(pred))
	}
	if err := hb.ApplyPredicted(); err != nil {
		t.Fatal(err)
	}
	nonzero := false
	for j, v := range ga.w.Value() {
		if v != before[j] {
			t.Fatal("Predicted changed the parameters")
		}
		if want := before[j] + pred[0][j]; gb.w.Value()[j] != want {
			t.Fatalf("w[%d]: applied %v, parameter + prediction %v", j, gb.w.Value()[j], want)
		}
		nonzero = nonzero || pred[0][j] != 0
	}
	if !nonzero {
		t.Fatal("zero prediction: nothing tested")
	}
}

func TestHybridStateSaveLoad(t *testing.T) {
	ctx := cpuContext(t)
	opts := HybridOptions{WarmupSteps: 3, FullSteps: 4, PredictSteps: 6, CorrectEvery: 3, Predictor: PredictorEMA}
	ga, gb := newRegression(t, 4), newRegression(t, 4)
	ha, _ := newTrainer(t, ctx, ga, opts)
	hb, _ := newTrainer(t, ctx, gb, opts)
	for i := 0; i < 17; i++ {
		protocolStep(t, ha, ga, nil, nil)
	}
	blob, err := ha.SaveState(StateParams | StateOptimizer)
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.LoadState(blob); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		protocolStep(t, ha, ga, nil, nil)
		protocolStep(t, hb, gb, nil, nil)
	}
	ja, _ := ha.MetricsJSON(false)
	jb, _ := hb.MetricsJSON(false)
	if ja != jb {
		t.Fatalf("after LoadState the runs differ:\n%s\n%s", ja, jb)
	}
	for i, v := range ga.w.Value() {
		if math.Float32bits(v) != math.Float32bits(gb.w.Value()[i]) {
			t.Fatalf("w[%d] differs after LoadState", i)
		}
	}
	wantError(t, hb.LoadState(blob[:len(blob)-1]), StatusFormat)
}

func TestHybridErrors(t *testing.T) {
	ctx := cpuContext(t)
	g := newRegression(t, 5)
	h, o := newTrainer(t, ctx, g, HybridOptions{})
	wantError(t, h.RecordGradients(1), StatusInvalidArgument, "protocol")
	_, err := h.EndStep()
	wantError(t, err, StatusInvalidArgument, "protocol")
	if _, err := h.BeginStep(); err != nil {
		t.Fatal(err)
	}
	g.loss(true)
	wantError(t, h.RecordGradients(float32(math.NaN())), StatusInvalidArgument, "loss")
	if err := h.AbortStep(); err != nil {
		t.Fatal(err)
	}
	_, err = NewHybrid(ctx, HybridOptions{PredictScale: 5})
	wantError(t, err, StatusInvalidArgument)
	_, err = h.AddParam(nil)
	wantError(t, err, StatusInvalidArgument, "param is nil")
	wantError(t, h.SetOptimizer(nil), StatusInvalidArgument, "optimizer is nil")
	if PhasePredict.String() != "predict" || PhaseWarmup.String() != "warmup" {
		t.Fatalf("phase names %q %q", PhasePredict, PhaseWarmup)
	}
	// Closing the optimizer first disables the hybrid's steps with an error, no crash.
	o.Close()
	if _, err := h.BeginStep(); err == nil {
		if err := h.RecordGradients(g.loss(true)); err == nil {
			t.Fatal("a hybrid stepped a destroyed optimizer")
		}
	}
	h.Close()
	h.Close()
	_, err = h.BeginStep()
	wantError(t, err, StatusInvalidArgument, "hybrid: use of a closed rai Hybrid")
	_, err = h.MetricsJSON(false)
	wantError(t, err, StatusInvalidArgument, "closed")
}
