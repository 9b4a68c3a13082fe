package nn_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// xorLayers builds Linear(2, 8), Tanh, Linear(8, 1) with weights drawn from
// seed, so that every arrangement of them starts from the same weights.
func xorLayers(be backend.Backend, seed uint64) []nn.Layer {
	rng := nn.NewRNG(seed)
	return []nn.Layer{
		nn.NewLinear(be, 2, 8, nn.DefaultInit(backend.Tanh, 0, rng)),
		nn.NewActivation(be, backend.Tanh, 0),
		nn.NewLinear(be, 8, 1, nn.DefaultInit(backend.Identity, 0, rng)),
	}
}

// fitLosses trains model on XOR and returns the per-epoch training losses.
func fitLosses(t *testing.T, be backend.Backend, model *nn.Sequential) []float64 {
	t.Helper()
	rng := nn.NewRNG(5)
	d := data.XOR(4, 0, rng)
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{},
		Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.05})}
	defer tr.Free()
	hist, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 50, BatchSize: 2, RNG: rng})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for _, st := range hist {
		losses = append(losses, st.TrainLoss)
	}
	return losses
}

// TestNestedSequential: a Sequential inside a Sequential trains, first or
// not, and gives the flat model's losses bit for bit.
func TestNestedSequential(t *testing.T) {
	be := newBackend(t)
	flat := fitLosses(t, be, nn.NewSequential(be, xorLayers(be, 3)...))
	l := xorLayers(be, 3)
	inner := fitLosses(t, be, nn.NewSequential(be, l[0], nn.NewSequential(be, l[1], l[2])))
	l = xorLayers(be, 3)
	first := fitLosses(t, be, nn.NewSequential(be, nn.NewSequential(be, l[0], l[1]), l[2]))
	if !(flat[len(flat)-1] < flat[0]*0.75) {
		t.Errorf("the flat model did not learn: loss %v -> %v", flat[0], flat[len(flat)-1])
	}
	for i := range flat {
		if math.Float64bits(inner[i]) != math.Float64bits(flat[i]) || math.Float64bits(first[i]) != math.Float64bits(flat[i]) {
			t.Fatalf("epoch %d: nested losses %v (inner) and %v (first) differ from the flat model's %v", i+1, inner[i], first[i], flat[i])
		}
	}
}

// TestZeroInit: Init{} is a usable initialisation, and two layers made
// with it get different weights.
func TestZeroInit(t *testing.T) {
	be := newBackend(t)
	a, b := nn.NewLinear(be, 3, 2, nn.Init{}), nn.NewLinear(be, 3, 2, nn.Init{})
	defer a.Free()
	defer b.Free()
	wa, wb := make([]float32, 6), make([]float32, 6)
	be.Download(wa, a.Weight.Value)
	be.Download(wb, b.Weight.Value)
	same, zero := true, true
	for i := range wa {
		same = same && wa[i] == wb[i]
		zero = zero && wa[i] == 0
	}
	if same || zero {
		t.Errorf("Init{} weights %v and %v: want two different, non-zero draws", wa, wb)
	}
}

// TestFitCancel: Fit stops after the step during which its context is
// cancelled, with the finished epochs and an error that is both
// ErrInterrupted and the context's; a context cancelled before Fit trains
// nothing.
func TestFitCancel(t *testing.T) {
	be := newBackend(t)
	const stopAfter = 11 // steps: one epoch of 8 and 3 more
	model := nn.NewSequential(be, xorLayers(be, 3)...)
	defer model.Free()
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{},
		Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.05})}
	defer tr.Free()
	rng := nn.NewRNG(5)
	d := data.XOR(64, 0, rng) // 8 steps of 8 samples per epoch
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	hist, err := tr.Fit(ctx, d, nil, nn.TrainConfig{Epochs: 5, BatchSize: 8, RNG: rng,
		Progress: func(epoch, done, total int) {
			if steps++; steps == stopAfter {
				cancel()
			}
		}})
	if !errors.Is(err, nn.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Errorf("Fit cancelled: error %v, want nn.ErrInterrupted and context.Canceled", err)
	}
	if len(hist) != 1 || steps != stopAfter {
		t.Errorf("Fit cancelled after step %d: %d epochs finished, %d steps run; want 1 and %d", stopAfter, len(hist), steps, stopAfter)
	}
	steps = 0
	hist, err = tr.Fit(ctx, d, nil, nn.TrainConfig{Epochs: 5, BatchSize: 8, RNG: rng,
		Progress: func(int, int, int) { steps++ }})
	if !errors.Is(err, context.Canceled) || len(hist) != 0 || steps != 0 {
		t.Errorf("Fit with a cancelled context: %d epochs, %d steps, error %v; want none and context.Canceled", len(hist), steps, err)
	}
}

// countingBackend counts the buffers allocated and not yet freed.
type countingBackend struct {
	backend.Backend
	live int
}

func (c *countingBackend) Alloc(n int) backend.Buffer { c.live++; return c.Backend.Alloc(n) }
func (c *countingBackend) Free(b backend.Buffer)      { c.live--; c.Backend.Free(b) }

// TestFreeAll: a trained model, its trainer and its optimizer give back
// every buffer they allocated.
func TestFreeAll(t *testing.T) {
	opts := map[string]func(be backend.Backend, ps []*nn.Param) nn.Optimizer{
		"Adam": func(be backend.Backend, ps []*nn.Param) nn.Optimizer {
			return nn.NewAdam(be, ps, backend.AdamConfig{LR: 0.01})
		},
		"SGD momentum": func(be backend.Backend, ps []*nn.Param) nn.Optimizer {
			return nn.NewSGD(be, ps, backend.SGDConfig{LR: 0.01, Momentum: 0.9})
		},
	}
	for name, newOpt := range opts {
		be := &countingBackend{Backend: newBackend(t)}
		rng := nn.NewRNG(1)
		model, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{8}, Out: 1, Act: backend.Tanh, BatchNorm: true}, rng)
		if err != nil {
			t.Fatal(err)
		}
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{}, Opt: newOpt(be, model.Params())}
		d := data.XOR(16, 0, rng)
		if _, err := tr.Fit(context.Background(), d, d, nn.TrainConfig{Epochs: 2, BatchSize: 4, RNG: rng, Patience: 1, ClipNorm: 1}); err != nil {
			t.Fatal(err)
		}
		tr.Free()
		model.Free()
		if be.live != 0 {
			t.Errorf("%s: %d buffers still allocated after Free", name, be.live)
		}
	}
}

// double is a user's own layer, y = 2x (the example's scale). With
// batchStats it also claims to compute batch statistics, and it records the
// smallest training batch it saw.
type double struct {
	*scale
	batchStats bool
	minRows    int
}

func (d *double) Forward(x nn.Tensor, training bool) nn.Tensor {
	if training && (d.minRows == 0 || x.Rows < d.minRows) {
		d.minRows = x.Rows
	}
	return d.scale.Forward(x, training)
}

func (d *double) UsesBatchStatistics() bool { return d.batchStats }

// TestUserLayerFirst: a model that starts with a user's own layer trains,
// takes its input width from the data, names a misfit layer in a clear
// error, and gets the one-sample batch dropped when the layer says it
// computes batch statistics.
func TestUserLayerFirst(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(5)
	d := data.XOR(9, 0, rng) // batches of 4, 4 and 1
	for _, batchStats := range []bool{false, true} {
		first := &double{scale: &scale{s: 2, be: be}, batchStats: batchStats}
		model := nn.NewSequential(be, append([]nn.Layer{first}, xorLayers(be, 3)...)...)
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{},
			Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.05})}
		hist, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 100, BatchSize: 4, RNG: rng})
		if err != nil {
			t.Fatal(err)
		}
		if loss0, loss := hist[0].TrainLoss, hist[len(hist)-1].TrainLoss; !(loss < loss0/2) {
			t.Errorf("a model starting with a user layer did not learn: loss %v -> %v", loss0, loss)
		}
		if want := map[bool]int{false: 1, true: 4}[batchStats]; first.minRows != want {
			t.Errorf("UsesBatchStatistics %v: smallest training batch %d, want %d", batchStats, first.minRows, want)
		}
		if _, err := tr.Predict([]float32{0, 1, 1, 0}, 2); err != nil {
			t.Errorf("Predict: %v", err)
		}
		tr.Free()
		model.Free()
	}
	l := xorLayers(be, 3)
	l[0] = nn.NewLinear(be, 3, 8, nn.Init{})
	model := nn.NewSequential(be, append([]nn.Layer{&scale{s: 2, be: be}}, l...)...)
	defer model.Free()
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{}, Opt: nn.NewSGD(be, model.Params(), backend.SGDConfig{LR: 0.1})}
	defer tr.Free()
	_, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1})
	if want := "layer 1, Linear(in=3, out=8), takes 3 and gets 2"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a Linear(3, 8) after a user layer on 2 features: error %v, want one saying %q", err, want)
	}
}

// chain is a model of one's own that is not a Sequential: it runs its
// layers in order, written against nn.Layer only.
type chain []nn.Layer

func (c chain) Forward(x nn.Tensor, training bool) nn.Tensor {
	for _, l := range c {
		x = l.Forward(x, training)
	}
	return x
}

func (c chain) Backward(dy nn.Tensor) nn.Tensor {
	for i := len(c) - 1; i >= 0; i-- {
		dy = c[i].Backward(dy)
	}
	return dy
}

func (c chain) Params() []*nn.Param {
	var ps []*nn.Param
	for _, l := range c {
		ps = append(ps, l.Params()...)
	}
	return ps
}

func (c chain) OutFeatures(in int) int {
	for _, l := range c {
		in = l.OutFeatures(in)
	}
	return in
}

func (c chain) String() string { return "Chain" }

func (c chain) Free() {
	for _, l := range c {
		l.Free()
	}
}

// TestUserModel: the Trainer trains a model that is any nn.Layer, with
// early stopping, L1 and gradient flow, and gets the Sequential's losses.
func TestUserModel(t *testing.T) {
	be := newBackend(t)
	run := func(model nn.Layer) nn.History {
		defer model.Free()
		rng := nn.NewRNG(5)
		d := data.XOR(16, 0.1, rng)
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{},
			Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.05})}
		defer tr.Free()
		hist, err := tr.Fit(context.Background(), d, d, nn.TrainConfig{Epochs: 40, BatchSize: 4, RNG: rng,
			Patience: 5, L1: 1e-3, GradFlow: true})
		if err != nil {
			t.Fatal(err)
		}
		return hist
	}
	seq := run(nn.NewSequential(be, xorLayers(be, 3)...))
	own := run(chain(xorLayers(be, 3)))
	if len(own) != len(seq) || len(own[0].GradFlow) != 2 {
		t.Fatalf("%d epochs with %d gradient-flow rows; the Sequential ran %d", len(own), len(own[0].GradFlow), len(seq))
	}
	for i := range seq {
		if math.Float64bits(own[i].TrainLoss) != math.Float64bits(seq[i].TrainLoss) || own[i].Val.Loss != seq[i].Val.Loss {
			t.Fatalf("epoch %d: losses %v, %v; the Sequential's %v, %v", i+1, own[i].TrainLoss, own[i].Val.Loss, seq[i].TrainLoss, seq[i].Val.Loss)
		}
	}
}

// counted is a user's layer with a mask counter.
type counted struct {
	*scale
	steps uint64
}

func (c *counted) Steps() uint64     { return c.steps }
func (c *counted) SetSteps(n uint64) { c.steps = n }

// TestMaskCounters: a checkpoint finds the mask counters of Dropout and of
// a user's layer, nested ones included, in forward order.
func TestMaskCounters(t *testing.T) {
	be := newBackend(t)
	drop := nn.NewDropout(be, 0.5, nn.NewRNG(1))
	user := &counted{scale: &scale{s: 2, be: be}}
	m := nn.NewSequential(be, user, nn.NewResidual(be, nn.NewSequential(be, drop)))
	defer m.Free()
	cs := m.MaskCounters()
	if len(cs) != 2 || cs[0] != nn.MaskCounter(user) || cs[1] != nn.MaskCounter(drop) {
		t.Fatalf("MaskCounters = %v, want the user's layer and the Dropout", cs)
	}
	cs[0].SetSteps(7)
	cs[1].SetSteps(9)
	if user.Steps() != 7 || drop.Steps() != 9 {
		t.Errorf("counters %d and %d after SetSteps(7), SetSteps(9)", user.Steps(), drop.Steps())
	}
}

// TestFitGivesInputGradBack: Fit switches off the input gradient of the
// model's first layer only while it trains, so a trained model can then be
// nested after another layer and train there.
func TestFitGivesInputGradBack(t *testing.T) {
	be := newBackend(t)
	trained := nn.NewSequential(be, xorLayers(be, 3)...)
	fitLosses(t, be, trained)
	front := nn.NewLinear(be, 2, 2, nn.DefaultInit(backend.Identity, 0, nn.NewRNG(9)))
	outer := nn.NewSequential(be, front, trained)
	defer outer.Free()
	before := make([]float32, 4)
	be.Download(before, front.Weight.Value)
	fitLosses(t, be, outer)
	after := make([]float32, 4)
	be.Download(after, front.Weight.Value)
	if before[0] == after[0] && before[1] == after[1] && before[2] == after[2] && before[3] == after[3] {
		t.Errorf("the layer before the trained model did not change: %v", after)
	}
}
