//go:build cuda

package cuda

import (
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/nn"
)

// TestL1Emulated: nn.L1 is composed from backend operations, so a device
// backend runs it without a kernel of its own; its gradient there is the
// CPU's, exactly (grad plus or minus lambda, or grad where w is 0).
func TestL1Emulated(t *testing.T) {
	gpu := openEmulated(t, backend.Options{})
	host := openCPU(t)
	run := func(be backend.Backend) []float32 {
		m, err := nn.NewMLP(be, nn.MLPConfig{In: 5, Hidden: []int{7}, Out: 3, Act: backend.ReLU, BatchNorm: true}, nn.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Free()
		var grads []float32
		for i, p := range m.Params() {
			w, g := make([]float32, p.Len()), make([]float32, p.Len())
			for j := range w {
				w[j] = float32(math.Sin(float64(3*i+j))) * float32(j%4) // a quarter of the weights 0
				g[j] = float32(j) / 8
			}
			be.Upload(p.Value, w)
			be.Upload(p.Grad, g)
		}
		l1 := nn.NewL1(be, m, 0.125)
		defer l1.Free()
		l1.AddGrad()
		for _, p := range m.Params() {
			g := make([]float32, p.Len())
			be.Download(g, p.Grad)
			grads = append(grads, g...)
		}
		return grads
	}
	want, got := run(host), run(gpu)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("gradient %d: %v on the emulated GPU, %v on the CPU", i, got[i], want[i])
		}
	}
}
