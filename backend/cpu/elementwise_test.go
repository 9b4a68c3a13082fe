package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// TestElementwiseKernels checks every level's bias add and ReLU (both ways)
// against the generic loops, exactly, on every length from 0 to 17 and
// a few longer ones (vector body and scalar tail), with NaN, infinities and
// signed zeros among the inputs and guard values past the output.
func TestElementwiseKernels(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(9, 9))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	input := func(n int) []float32 {
		x := randomSlice(rng, n)
		for i := range x {
			if rng.IntN(4) == 0 {
				x[i] = specials[rng.IntN(len(specials))]
			}
		}
		return x
	}
	// Equal values, or both NaN; the sign of a zero may differ (the avx2
	// ReLU gives max(-0, 0) = -0, Go's max +0).
	same := func(a, b []float32) bool {
		for i := range a {
			if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
				return false
			}
		}
		return true
	}
	for _, level := range Supported() {
		kt := kernelTable[level]
		for n := 0; n <= 40; n++ {
			if n > 17 && n != 31 && n != 33 && n != 40 {
				continue
			}
			x, dy, y0 := input(n), input(n), input(n)
			// got has a guard past its n elements; want is the generic result.
			run := func(name string, f func(got []float32), g func(want []float32)) {
				t.Helper()
				got := append(append([]float32(nil), y0...), guard)
				want := append([]float32(nil), y0...)
				f(got[:n])
				g(want)
				if got[n] != guard {
					t.Fatalf("%s %s n=%d: wrote past the end", level, name, n)
				}
				if !same(got[:n], want) {
					t.Fatalf("%s %s n=%d: got %v, want %v", level, name, n, got[:n], want)
				}
			}
			run("relu", func(y []float32) { kt.relu(x, y) }, func(y []float32) { reluGeneric(x, y) })
			run("reluBackward", func(dx []float32) { kt.reluBackward(x, dy, dx) }, func(dx []float32) { reluBackwardGeneric(x, dy, dx) })
			run("add", func(y []float32) { kt.add(x, y) }, func(y []float32) { addGeneric(x, y) })
		}
	}
}

// TestAdamKernels checks every level's Adam and AdamW update against the
// generic loop, on lengths that exercise the vector body and the scalar
// tail. The kernels may fuse other multiply-adds than the compiled generic
// loop does, hence the tight tolerance rather than equal bits.
func TestAdamKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	cfgs := []backend.AdamConfig{
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1},
		{LR: 0.1, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1, Decoupled: true, Step: 7},
	}
	for _, level := range Supported() {
		kt := kernelTable[level]
		for _, cfg := range cfgs {
			c := newAdamConsts(cfg)
			for _, n := range []int{0, 1, 3, 4, 5, 8, 9, 16, 17, 31, 33, 100} {
				p, g, m, v := randomSlice(rng, n), randomSlice(rng, n), randomSlice(rng, n), randomSlice(rng, n)
				for i := range v {
					v[i] = v[i] * v[i] // second moments are >= 0
				}
				wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
				adamGeneric(wp, g, wm, wv, &c)
				kt.adam(p, g, m, v, &c)
				for i := range p {
					if !ref.Close(p[i], float64(wp[i]), 1e-7, 1e-6) || !ref.Close(m[i], float64(wm[i]), 1e-7, 1e-6) || !ref.Close(v[i], float64(wv[i]), 1e-7, 1e-6) {
						t.Fatalf("%s adam %+v n=%d: p, m, v [%d] = %v, %v, %v, want %v, %v, %v", level, cfg, n, i, p[i], m[i], v[i], wp[i], wm[i], wv[i])
					}
				}
			}
		}
	}
}
