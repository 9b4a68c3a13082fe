package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend/ref"
)

// TestElementwiseTails checks every level's ReLU (both ways), bias add,
// column-sum step, Adam and SGD updates against the generic loops on every
// length from 0 to 40, each output inside a larger buffer whose elements
// past n hold a guard value: the AVX-512 kernels run their last partial
// group of 16 under a mask, and the mask must stop at n.
func TestElementwiseTails(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(9, 9))
	// out returns n random values followed by guards; check that the
	// guards survived.
	out := func(n int) []float32 {
		s := randomSlice(rng, n+17)
		for i := n; i < len(s); i++ {
			s[i] = guard
		}
		return s
	}
	guarded := func(t *testing.T, what string, s []float32, n int) {
		t.Helper()
		for i := n; i < len(s); i++ {
			if s[i] != guard {
				t.Fatalf("%s: wrote %v past n=%d at %d", what, s[i], n, i)
			}
		}
	}
	same := func(t *testing.T, what string, got, want []float32, tol float64) {
		t.Helper()
		for i := range want {
			if !ref.Close(got[i], float64(want[i]), tol, tol) {
				t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	for _, level := range Supported() {
		kt := kernelTable[level]
		for n := 0; n <= 40; n++ {
			name := fmt.Sprintf("%s n=%d", level, n)
			x := randomSlice(rng, n)
			x = append(x, float32(math.NaN())) // past n: must not be read into a result
			x = x[:n]

			y := out(n)
			want := make([]float32, n)
			reluGeneric(x, want)
			kt.relu(x, y[:n])
			same(t, name+" relu", y, want, 0)
			guarded(t, name+" relu", y, n)

			dy, dx := randomSlice(rng, n), out(n)
			reluBackwardGeneric(x, dy, want)
			kt.reluBackward(x, dy, dx[:n])
			same(t, name+" reluBackward", dx, want, 0)
			guarded(t, name+" reluBackward", dx, n)

			y = out(n)
			copy(want, y)
			addGeneric(x, want)
			kt.add(x, y[:n])
			same(t, name+" add", y, want, 0)
			guarded(t, name+" add", y, n)

			acc := make([]float64, n+17)
			for i := range acc {
				acc[i] = float64(guard)
			}
			wantAcc := make([]float64, n)
			kt.addF64(x, acc[:n])
			addF64Generic(x, wantAcc)
			for i := range acc {
				if w := float64(guard); i < n {
					w = wantAcc[i] + float64(guard)
					if acc[i] != w {
						t.Fatalf("%s addF64: acc[%d] = %v, want %v", name, i, acc[i], w)
					}
				} else if acc[i] != w {
					t.Fatalf("%s addF64: wrote %v past n at %d", name, acc[i], i)
				}
			}

			sc := sgdConsts{0.05, 0.9, 1e-3, n%2 == 0}
			p, v, g := out(n), out(n), randomSlice(rng, n)
			wp, wv := append([]float32(nil), p[:n]...), append([]float32(nil), v[:n]...)
			sgdGeneric(wp, g, wv, &sc)
			kt.sgd(p[:n], g, v[:n], &sc)
			same(t, name+" sgd p", p, wp, 1e-6)
			same(t, name+" sgd v", v, wv, 1e-6)
			guarded(t, name+" sgd p", p, n)
			guarded(t, name+" sgd v", v, n)

			ac := adamConsts{beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001,
				stepSize: 0.01, invSqrtBC2: 30, eps: 1e-8, decay: 0.999, coupled: 0.01}
			p, m, v := out(n), out(n), out(n)
			for i := range n {
				v[i] = float32(math.Abs(float64(v[i])))
			}
			wp, wm, wv := append([]float32(nil), p[:n]...), append([]float32(nil), m[:n]...), append([]float32(nil), v[:n]...)
			adamGeneric(wp, g, wm, wv, &ac)
			kt.adam(p[:n], g, m[:n], v[:n], &ac)
			same(t, name+" adam p", p, wp, 1e-5)
			same(t, name+" adam m", m, wm, 1e-6)
			same(t, name+" adam v", v, wv, 1e-6)
			for _, s := range [][]float32{p, m, v} {
				guarded(t, name+" adam", s, n)
			}
		}
	}
}
