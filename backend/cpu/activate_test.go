package cpu

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// BenchmarkActivate runs each activation forward on 2^20 floats on one
// thread, per level; bytes are those read and written.
func BenchmarkActivate(b *testing.B) {
	benchActivations(b, []backend.Activation{backend.ReLU, backend.Sigmoid, backend.Tanh, backend.GELU}, 8,
		func(be *Backend, act backend.Activation, xb backend.Buffer, n int) func() {
			yb := be.Alloc(n)
			return func() { be.Activate(act, 0.01, xb, yb, n) }
		})
}

// BenchmarkActivateBackward runs ReLU's and GELU's backward pass on 2^20
// floats on one thread, per level; bytes are x and dy read and dx written.
func BenchmarkActivateBackward(b *testing.B) {
	benchActivations(b, []backend.Activation{backend.ReLU, backend.GELU}, 12,
		func(be *Backend, act backend.Activation, xb backend.Buffer, n int) func() {
			yb, dxb := be.Alloc(n), be.Alloc(n)
			return func() { be.ActivateBackward(act, 0.01, xb, yb, xb, dxb, n) }
		})
}

// benchActivations runs, for each level and activation, the function that
// prepare returns on a one-thread backend with n = 2^20 inputs in x,
// counting bytesPer bytes per element.
func benchActivations(b *testing.B, acts []backend.Activation, bytesPer int64,
	prepare func(be *Backend, act backend.Activation, x backend.Buffer, n int) func()) {
	for _, level := range Supported() {
		for _, act := range acts {
			b.Run(fmt.Sprintf("%s/%v", level, act), func(b *testing.B) {
				be, err := New(backend.Options{Threads: 1, Level: level.String()})
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				const n = 1 << 20
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(i%2001-1000) * 0.005
				}
				xb := be.Alloc(n)
				be.Upload(xb, x)
				run := prepare(be, act, xb, n)
				b.SetBytes(bytesPer * n)
				for b.Loop() {
					run()
				}
			})
		}
	}
}

// actRef is f(x) in float64, and the tolerance of a float32 result.
var actRef = []struct {
	name string
	f    func(x float64) float64
	tol  func(x, want float64) float64
	kern func(k *kernels) func(x, y []float32)
}{
	{"sigmoid", func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
		func(_, w float64) float64 { return 1e-37 + 2e-6*math.Abs(w) },
		func(k *kernels) func(x, y []float32) { return k.sigmoid }},
	{"tanh", math.Tanh,
		func(_, w float64) float64 { return 1e-37 + 2e-6*math.Abs(w) },
		func(k *kernels) func(x, y []float32) { return k.tanh }},
	// GELU's tolerance is the conformance suite's.
	{"gelu", func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(geluC*(x+0.044715*x*x*x))) },
		func(x, w float64) float64 { return 1e-6*(1+math.Abs(x)) + 1e-5*math.Abs(w) },
		func(k *kernels) func(x, y []float32) { return k.gelu }},
	// geluBackward with dy = geluDy; the conformance suite's tolerance.
	{"gelu'", func(x float64) float64 {
		t := math.Tanh(geluC * (x + 0.044715*x*x*x))
		return geluDy * (0.5*(1+t) + 0.5*x*(1-t*t)*geluC*(1+3*0.044715*x*x))
	},
		func(x, w float64) float64 { return 1e-5*math.Abs(geluDy)*(1+math.Abs(x)) + 1e-5*math.Abs(w) },
		func(k *kernels) func(x, y []float32) {
			return func(x, dx []float32) {
				dy := make([]float32, len(x))
				for i := range dy {
					dy[i] = geluDy
				}
				k.geluBackward(x, dy, dx)
			}
		}},
}

const geluDy = -0.75

// TestActivationKernels checks each level's sigmoid, tanh, gelu and
// geluBackward against
// float64 math on a dense sweep of [-20, 20], around 0 and on the special
// values, and on every length from 1 to 17, with guards past the output
// and in place.
func TestActivationKernels(t *testing.T) {
	inf := math.Inf(1)
	var xs []float32
	const steps = 1 << 18
	for i := 0; i <= steps; i++ {
		xs = append(xs, float32(-20+40*float64(i)/steps))
	}
	for v := float32(1e-30); v < 2; v *= 1.01 {
		xs = append(xs, v, -v)
	}
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(inf), float32(-inf), float32(math.NaN()),
		100, -100, 1e-30, -1e-30, 0.625, -0.625, math.Nextafter32(0.625, 0), 9, -9, 44, -44, 88, -88, 1e30, -1e30}
	xs = append(xs, specials...)
	for _, level := range Supported() {
		k := kernelTable[level]
		for _, a := range actRef {
			f := a.kern(k)
			worst := 0.0 // the largest error as a share of the tolerance
			check := func(what string, x, y []float32) {
				t.Helper()
				for i, v := range x {
					want, got := a.f(float64(v)), float64(y[i])
					if math.IsNaN(want) || math.IsInf(want, 0) {
						if !(math.IsNaN(want) && math.IsNaN(got)) && got != want {
							t.Fatalf("%s %s%s(%v) = %v, want %v", level, a.name, what, v, got, want)
						}
						continue
					}
					d, tol := math.Abs(got-want), a.tol(float64(v), want)
					if !(d <= tol) {
						t.Fatalf("%s %s%s(%v) = %v, want %v (error %.3g)", level, a.name, what, v, got, want, d)
					}
					worst = max(worst, d/tol)
				}
			}
			ys := make([]float32, len(xs))
			f(xs, ys)
			check("", xs, ys)
			for n := 1; n <= 17; n++ {
				for off := 0; off+n <= len(specials); off += 3 {
					x := specials[off : off+n]
					y := make([]float32, n+8)
					for i := range y {
						y[i] = 7
					}
					f(x, y[:n])
					check(fmt.Sprintf(" n=%d", n), x, y[:n])
					for i, g := range y[n:] {
						if g != 7 {
							t.Fatalf("%s %s n=%d wrote y[%d] = %v past the end", level, a.name, n, n+i, g)
						}
					}
					in := slices.Clone(x)
					f(in, in)
					check(fmt.Sprintf(" n=%d in place", n), x, in)
				}
			}
			t.Logf("%s %s: worst error %.3f of the tolerance", level, a.name, worst)
		}
	}
}
