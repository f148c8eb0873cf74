// Command hybrid_training trains a small two-layer perceptron, written in plain Go, with rai's
// hybrid predictive training: rai's AdamW updates the parameters, and the hybrid skips some
// backward passes by predicting the update, with a divergence guard that rolls back. It is the
// Go version of examples/c/hybrid_training.c; the step protocol is the loop (the C callback
// driver is not needed in Go). It exits with status 1 if training does not learn.
package main

import (
	"fmt"
	"math"
	"math/rand"
	"os"

	"rai.invalid/rai"
)

const (
	in, hidden, samples, steps = 4, 16, 128, 400
)

// mlp is y = w2 . tanh(W1 x + b1) + b2 over a fixed data set; its parameters are rai Params,
// whose Value and Grad slices the forward and backward passes read and write.
type mlp struct {
	x, y           []float32
	w1, b1, w2, b2 *rai.Param
}

func newMLP(seed int64) (*mlp, error) {
	r := rand.New(rand.NewSource(seed))
	m := &mlp{x: make([]float32, samples*in), y: make([]float32, samples)}
	for s := 0; s < samples; s++ {
		x := m.x[s*in : (s+1)*in]
		for i := range x {
			x[i] = float32(r.Float64()*2 - 1)
		}
		m.y[s] = float32(math.Sin(2*float64(x[0])) + 0.5*float64(x[1]*x[2]) - 0.3*float64(x[3]))
	}
	init := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		return v
	}
	var err error
	if m.w1, err = rai.NewParam("w1", init(hidden*in, 1/math.Sqrt(in)), hidden, in); err != nil {
		return nil, err
	}
	if m.b1, err = rai.NewParam("b1", make([]float32, hidden)); err != nil {
		return nil, err
	}
	if m.w2, err = rai.NewParam("w2", init(hidden, 1/math.Sqrt(hidden)), 1, hidden); err != nil {
		return nil, err
	}
	m.b2, err = rai.NewParam("b2", make([]float32, 1))
	return m, err
}

func (m *mlp) params() []*rai.Param { return []*rai.Param{m.w1, m.b1, m.w2, m.b2} }

// loss is the mean of 0.5 (y' - y)^2; with backward it also writes the gradients.
func (m *mlp) loss(backward bool) float32 {
	w1, b1, w2, b2 := m.w1.Value(), m.b1.Value(), m.w2.Value(), m.b2.Value()
	gw1, gb1, gw2, gb2 := m.w1.Grad(), m.b1.Grad(), m.w2.Grad(), m.b2.Grad()
	if backward {
		for _, g := range [][]float32{gw1, gb1, gw2, gb2} {
			for i := range g {
				g[i] = 0
			}
		}
	}
	var total float64
	h := make([]float32, hidden)
	for s := 0; s < samples; s++ {
		x := m.x[s*in : (s+1)*in]
		pred := b2[0]
		for j := 0; j < hidden; j++ {
			a := b1[j]
			for i := 0; i < in; i++ {
				a += w1[j*in+i] * x[i]
			}
			h[j] = float32(math.Tanh(float64(a)))
			pred += w2[j] * h[j]
		}
		e := pred - m.y[s]
		total += 0.5 * float64(e*e)
		if !backward {
			continue
		}
		de := e / samples
		gb2[0] += de
		for j := 0; j < hidden; j++ {
			gw2[j] += de * h[j]
			da := de * w2[j] * (1 - h[j]*h[j])
			gb1[j] += da
			for i := 0; i < in; i++ {
				gw1[j*in+i] += da * x[i]
			}
		}
	}
	return float32(total / samples)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hybrid_training:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, err := rai.NewContext(rai.Device("cpu"))
	if err != nil {
		return err
	}
	defer ctx.Close()
	m, err := newMLP(1)
	if err != nil {
		return err
	}
	for _, p := range m.params() {
		defer p.Close()
	}

	opt, err := rai.NewOptimizer(ctx, rai.OptimizerOptions{Kind: rai.AdamW, LR: 0.01})
	if err != nil {
		return err
	}
	defer opt.Close()
	h, err := rai.NewHybrid(ctx, rai.HybridOptions{}) // FIXED 10/5/20/5 schedule, HOLD, guard on
	if err != nil {
		return err
	}
	defer h.Close() // before the optimizer (defers run last-in first-out)
	for _, p := range m.params() {
		if _, err := opt.AddParam(p); err != nil {
			return err
		}
		if _, err := h.AddParam(p); err != nil {
			return err
		}
	}
	if err := h.SetOptimizer(opt); err != nil {
		return err
	}

	first := m.loss(false)
	for s := 0; s < steps; s++ {
		info, err := h.BeginStep()
		if err != nil {
			return err
		}
		if info.NeedsBackward {
			err = h.RecordGradients(m.loss(true))
		} else {
			err = h.ApplyPredicted()
			if err == nil && info.NeedsForward {
				err = h.ReportLoss(m.loss(false))
			}
		}
		if err != nil {
			return err
		}
		res, err := h.EndStep()
		if err != nil {
			return err
		}
		if res.Events&rai.EventRolledBack != 0 {
			fmt.Printf("step %d: rolled back to step %d\n", res.Step, res.RollbackStep)
		}
	}
	st, err := h.Stats()
	if err != nil {
		return err
	}
	last := m.loss(false)
	fmt.Printf("steps %d: forward passes %d, backward passes %d (fraction %.2f), predicted steps %d, rollbacks %d\n",
		st.Steps, st.ForwardPasses, st.BackwardPasses, st.BackwardFraction, st.PredictedSteps, st.Rollbacks)
	fmt.Printf("loss %.4f -> %.4f (final)\n", first, last)
	if !(last < first/2) || st.PredictedSteps == 0 {
		return fmt.Errorf("training did not learn with predicted steps: loss %v -> %v, %d predicted", first, last, st.PredictedSteps)
	}
	return nil
}
