package nn_test

import (
	"context"
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// TestGradL1 checks the gradient of L = sum(r * model(x)) + lambda * sum |w|
// over the weight matrices, with the penalty summed in float64 on the host
// from the weights as they are, against central differences. The model has
// biases and BatchNorm parameters: their numeric gradient of the penalty is
// 0, so an L1 term added to them fails the check.
func TestGradL1(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(11)
	const rows, in, lambda = 4, 5, 0.3
	m, err := nn.NewMLP(be, nn.MLPConfig{In: in, Hidden: []int{6, 6}, Out: 3, Act: backend.Tanh, BatchNorm: true, Residual: true}, rng)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	// Every parameter ±[0.1, 1.1): a step of gcEps never crosses |w|'s kink.
	for _, p := range m.Params() {
		be.Upload(p.Value, randomAwayFromZero(rng, p.Len()))
	}
	_, weights := m.NamedWeights()
	if len(weights) != 3 {
		t.Fatalf("NamedWeights: %d weight matrices, want 3", len(weights))
	}
	l1 := nn.NewL1(be, m, lambda)
	defer l1.Free()
	x := nn.Tensor{Buf: upload(be, randomAwayFromZero(rng, rows*in)), Rows: rows, Cols: in}
	r := randomAwayFromZero(rng, rows*3)
	loss := func() float64 {
		ys := download(be, m.Forward(x, true).Buf, rows*3)
		s := 0.0
		for i, v := range ys {
			s += float64(r[i]) * float64(v)
		}
		for _, w := range weights {
			for _, v := range download(be, w.Value, w.Len()) {
				s += lambda * math.Abs(float64(v))
			}
		}
		return s
	}
	loss()
	m.ZeroGrad()
	m.Backward(nn.Tensor{Buf: upload(be, r), Rows: rows, Cols: 3})
	l1.AddGrad()
	names, params := m.NamedParams()
	for i, p := range params {
		if err := compareGrad("dL/d"+names[i], download(be, p.Grad, p.Len()), numericGrad(be, p.Value, p.Len(), gcEps, loss)); err != nil {
			t.Error(err)
		}
	}
}

// TestL1SignAtZero: the subgradient at w = 0 (and -0) is 0, as PyTorch's
// sign(); elsewhere exactly ±lambda joins the gradient.
func TestL1SignAtZero(t *testing.T) {
	be := newBackend(t)
	l := nn.NewLinear(be, 3, 2, nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: nn.NewRNG(1)})
	m := nn.NewSequential(be, l)
	defer m.Free()
	w := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 2.5, -7}
	grad := []float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	be.Upload(l.Weight.Value, w)
	be.Upload(l.Weight.Grad, grad)
	l1 := nn.NewL1(be, m, 0.25)
	defer l1.Free()
	l1.AddGrad()
	got := download(be, l.Weight.Grad, len(w))
	want := []float32{0.5, 0.5, 0.75, 0.25, 0.75, 0.25}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("w = %g: gradient %g, want %g", w[i], got[i], want[i])
		}
	}
	if b := download(be, l.Bias.Grad, 2); b[0] != 0 || b[1] != 0 {
		t.Errorf("the bias got an L1 gradient: %v", b)
	}
}

// TestL1Sparsifies: the same SGD run with L1 ends with many more weights
// under nn.SmallWeight than without, and its penalty is smaller; a negative
// or non-finite lambda is refused.
func TestL1Sparsifies(t *testing.T) {
	be := newBackend(t)
	d := data.Circles(400, 0.1, nn.NewRNG(3))
	run := func(lambda float32) nn.WeightStats {
		rng := nn.NewRNG(4)
		m, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{32, 32}, Out: 2, Act: backend.ReLU}, rng)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Free()
		tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 0.05})}
		defer tr.Free()
		if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 30, BatchSize: 32, RNG: rng, L1: lambda}); err != nil {
			t.Fatal(err)
		}
		return nn.ReadWeightStats(be, m)
	}
	plain, sparse := run(0), run(1e-2)
	t.Logf("without L1: %d of %d under %g, sum |w| %.2f; with: %d, sum |w| %.2f",
		plain.Small, plain.Count, nn.SmallWeight, plain.AbsSum, sparse.Small, sparse.AbsSum)
	if sparse.Count != plain.Count || sparse.Small < plain.Small+plain.Count/10 || sparse.AbsSum > plain.AbsSum/2 {
		t.Errorf("L1 did not sparsify: without %+v, with %+v", plain, sparse)
	}
	for _, bad := range []float32{-1, float32(math.NaN()), float32(math.Inf(1))} {
		m, _ := nn.NewMLP(be, nn.MLPConfig{In: 2, Out: 2}, nn.NewRNG(1))
		tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 0.05})}
		if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1, L1: bad}); err == nil {
			t.Errorf("L1 %v accepted", bad)
		}
		tr.Free()
		m.Free()
	}
}
