package nn_test

import (
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/nn"
)

// step runs one training step on a fixed batch, as Fit does.
func stepFunc(t testing.TB, be backend.Backend) func() {
	rng := nn.NewRNG(61)
	m, _ := nn.NewMLP(be, nn.MLPConfig{In: 784, Hidden: []int{256}, Out: 10, Act: backend.ReLU}, rng)
	m.SetInputGrad(false) // as Fit does
	opt := nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 1e-3})
	const rows = 128
	x := nn.Tensor{Buf: upload(be, randomAwayFromZero(rng, rows*784)), Rows: rows, Cols: 784}
	labels := make([]float32, rows)
	for i := range labels {
		labels[i] = float32(i % 10)
	}
	y, grad, sum, normSq := upload(be, labels), be.Alloc(rows*10), be.Alloc(1), be.Alloc(1)
	return func() {
		out := m.Forward(x, true)
		nn.CrossEntropy{}.Compute(be, out, y, grad, sum)
		m.ZeroGrad()
		m.Backward(nn.Tensor{Buf: grad, Rows: rows, Cols: 10})
		for _, p := range m.Params() {
			be.SumSquares(p.Grad, p.Len(), normSq)
		}
		opt.Step()
	}
}

// TestStepAllocations: a training step of the 784-256-10 MLP (forward,
// loss, backward, global gradient norm as clipping reads it, Adam)
// allocates nothing. Layers and optimizers reuse their
// buffers, and the CPU backend keeps its parallel loops' state in
// Backend-owned jobs.
func TestStepAllocations(t *testing.T) {
	be := newBackend(t)
	step := stepFunc(t, be)
	step()
	allocs := testing.AllocsPerRun(20, step)
	t.Logf("%.0f allocations per training step", allocs)
	if allocs > 0 {
		t.Errorf("%.0f allocations per step", allocs)
	}
}
