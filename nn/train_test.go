package nn_test

import (
	"context"
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend/cpu"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

func trainXOR(t *testing.T, be backend.Backend, batch int, seed uint64) (nn.History, nn.Metrics) {
	t.Helper()
	rng := nn.NewRNG(seed)
	xor := data.XOR(4, 0, rng)
	model, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{8}, Out: 1, Act: backend.Tanh}, rng)
	if err != nil {
		t.Fatal(err)
	}
	defer model.Free()
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{},
		Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.05})}
	hist, err := tr.Fit(context.Background(), xor, nil, nn.TrainConfig{Epochs: 300, BatchSize: batch, RNG: rng})
	if err != nil {
		t.Fatal(err)
	}
	m, err := tr.Evaluate(xor, 0)
	if err != nil {
		t.Fatal(err)
	}
	return hist, m
}

// TestXOR trains the 2-8-1 network of the tutorials in the three update
// modes: online (batch 1), mini-batch (2) and full batch (0).
func TestXOR(t *testing.T) {
	be := newBackend(t)
	for _, batch := range []int{1, 2, 0} {
		hist, m := trainXOR(t, be, batch, 1)
		if m.Accuracy != 1 {
			t.Errorf("batch %d: XOR accuracy %v after %d epochs (loss %v), want 1", batch, m.Accuracy, len(hist), m.Loss)
		}
		if first, last := hist[0].TrainLoss, hist[len(hist)-1].TrainLoss; !(last < first/10) {
			t.Errorf("batch %d: loss went from %v to %v", batch, first, last)
		}
	}
}

// TestDeterministic: the same seed gives bit-identical losses.
func TestDeterministic(t *testing.T) {
	be := newBackend(t)
	a, _ := trainXOR(t, be, 2, 7)
	b, _ := trainXOR(t, be, 2, 7)
	c, _ := trainXOR(t, be, 2, 8)
	for i := range a {
		if math.Float64bits(a[i].TrainLoss) != math.Float64bits(b[i].TrainLoss) {
			t.Fatalf("epoch %d: losses %v and %v differ for the same seed", i+1, a[i].TrainLoss, b[i].TrainLoss)
		}
	}
	if a[len(a)-1].TrainLoss == c[len(c)-1].TrainLoss {
		t.Error("different seeds gave the same final loss: is the seed used?")
	}
}

// TestOptimizersLearnRegression fits y = 2*x0 - x1 + 0.5 with every optimizer
// and no hidden layer: the loss must fall by two orders of magnitude. Every
// case starts from its own RNG with the same seed, so each optimizer sees the
// same initial weights and the same batch order, in every run.
func TestOptimizersLearnRegression(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(3)
	d := &data.Dataset{Name: "linear", N: 256, Features: 2, Targets: 1, Task: data.Regression}
	for i := 0; i < d.N; i++ {
		x0, x1 := rng.Float64()*2-1, rng.Float64()*2-1
		d.X = append(d.X, float32(x0), float32(x1))
		d.Y = append(d.Y, float32(2*x0-x1+0.5))
	}
	cases := []struct {
		name string
		opt  func(ps []*nn.Param) nn.Optimizer
	}{
		{"sgd", func(ps []*nn.Param) nn.Optimizer { return nn.NewSGD(be, ps, backend.SGDConfig{LR: 0.1}) }},
		{"momentum", func(ps []*nn.Param) nn.Optimizer {
			return nn.NewSGD(be, ps, backend.SGDConfig{LR: 0.05, Momentum: 0.9})
		}},
		{"nesterov", func(ps []*nn.Param) nn.Optimizer {
			return nn.NewSGD(be, ps, backend.SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true})
		}},
		{"adam", func(ps []*nn.Param) nn.Optimizer { return nn.NewAdam(be, ps, backend.AdamConfig{LR: 0.05}) }},
		{"adamw", func(ps []*nn.Param) nn.Optimizer {
			return nn.NewAdam(be, ps, backend.AdamConfig{LR: 0.05, Decoupled: true})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := nn.NewRNG(4)
			model, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Out: 1}, rng)
			if err != nil {
				t.Fatal(err)
			}
			defer model.Free()
			tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.MSE{}, Opt: c.opt(model.Params())}
			defer tr.Free()
			hist, err := tr.Fit(context.Background(), d, d, nn.TrainConfig{Epochs: 60, BatchSize: 16, RNG: rng})
			if err != nil {
				t.Fatal(err)
			}
			first, last := hist[0].TrainLoss, hist[len(hist)-1]
			if !(last.TrainLoss < first/100) || last.Val.MSE > 1e-2 || last.Val.MAE > 0.1 {
				t.Errorf("loss %v -> %v, val MSE %v MAE %v", first, last.TrainLoss, last.Val.MSE, last.Val.MAE)
			}
		})
	}
}

func TestFitRejectsMismatchedData(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(1)
	model, _ := nn.NewMLP(be, nn.MLPConfig{In: 3, Hidden: []int{4}, Out: 2}, rng)
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, model.Params(), backend.SGDConfig{LR: 0.1})}
	if _, err := tr.Fit(context.Background(), data.XOR(8, 0, rng), nil, nn.TrainConfig{Epochs: 1}); err == nil {
		t.Error("2-feature data accepted by a 3-input model")
	}
}

func TestDivergenceIsAnError(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(1)
	d := &data.Dataset{Name: "huge", N: 4, Features: 1, Targets: 1, Task: data.Regression,
		X: []float32{1e18, -1e18, 1e18, -1e18}, Y: []float32{1, 2, 3, 4}}
	model, _ := nn.NewMLP(be, nn.MLPConfig{In: 1, Out: 1}, rng)
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.MSE{}, Opt: nn.NewSGD(be, model.Params(), backend.SGDConfig{LR: 10})}
	if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 5}); err == nil {
		t.Error("a diverging run reported no error")
	}
}

func TestInitStatistics(t *testing.T) {
	rng := nn.NewRNG(9)
	const in, out = 400, 300
	for _, c := range []struct {
		init nn.Init
		std  float64
	}{
		{nn.Init{Scheme: nn.XavierUniform, Gain: 1, RNG: rng}, math.Sqrt(2.0 / (in + out))},
		{nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng}, math.Sqrt(2.0 / (in + out))},
		{nn.Init{Scheme: nn.KaimingUniform, Gain: math.Sqrt2, RNG: rng}, math.Sqrt(2.0 / in)},
		{nn.Init{Scheme: nn.KaimingNormal, Gain: math.Sqrt2, RNG: rng}, math.Sqrt(2.0 / in)},
		{nn.Init{}, math.Sqrt(2.0 / (in + out))}, // the zero value: Glorot uniform, gain 1
		{nn.Init{Scheme: nn.KaimingNormal}, math.Sqrt(1.0 / in)},
	} {
		w := c.init.Weights(in, out)
		var s, ss float64
		for _, v := range w {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		mean := s / float64(len(w))
		std := math.Sqrt(ss/float64(len(w)) - mean*mean)
		if math.Abs(mean) > c.std/20 || math.Abs(std-c.std) > c.std/50 {
			t.Errorf("%v: mean %.4g std %.4g, want 0 and %.4g", c.init.Scheme, mean, std, c.std)
		}
	}
	if nn.DefaultInit(backend.ReLU, 0, rng).Scheme != nn.KaimingUniform || nn.DefaultInit(backend.Tanh, 0, rng).Scheme != nn.XavierUniform {
		t.Error("default init does not follow the activation")
	}
}

func TestModelShapeAndNames(t *testing.T) {
	be := newBackend(t)
	m, err := nn.NewMLP(be, nn.MLPConfig{In: 784, Hidden: []int{256}, Out: 10, Act: backend.ReLU}, nn.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ParamCount(); got != 784*256+256+256*10+10 {
		t.Errorf("ParamCount = %d", got)
	}
	names, params := m.NamedParams()
	want := []string{"0.weight", "0.bias", "2.weight", "2.bias"}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("names = %v, want %v", names, want)
			break
		}
	}
	if s := params[0].Shape; s[0] != 256 || s[1] != 784 {
		t.Errorf("first weight shape %v, want [256 784] like PyTorch", s)
	}
	if _, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{0}, Out: 1}, nn.NewRNG(1)); err == nil {
		t.Error("a zero-width layer was accepted")
	}
}

// TestThreadCountDeterminism: the CPU backend splits work across the
// output, never across a sum, and reduces in fixed-size pieces, so the
// losses are bit-identical for any thread count (the tolerance stated in
// the README is zero).
func TestThreadCountDeterminism(t *testing.T) {
	var ref []float64
	for _, threads := range []int{1, 2, 3} {
		be, err := cpu.New(backend.Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		rng := nn.NewRNG(51)
		d := data.Blobs(2048, 4, 1, rng)
		m, _ := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{256, 256}, Out: 4, Act: backend.GELU, BatchNorm: true}, rng)
		tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 1e-3})}
		hist, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 2, BatchSize: 512, RNG: rng})
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for _, h := range hist {
			losses = append(losses, h.TrainLoss)
		}
		be.Close()
		if ref == nil {
			ref = losses
			continue
		}
		for i := range losses {
			if math.Float64bits(losses[i]) != math.Float64bits(ref[i]) {
				t.Errorf("%d threads: epoch %d loss %v, 1 thread %v", threads, i+1, losses[i], ref[i])
			}
		}
	}
}
