package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// layerOutputs runs SoftmaxBackward, DropoutMask, BatchNormForward (in
// both modes) and BatchNormBackward on fixed inputs with the given number
// of threads, and returns every output, concatenated.
func layerOutputs(t *testing.T, threads, rows, cols int) []float32 {
	be, err := New(backend.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
	up := func(v []float32) backend.Buffer {
		b := be.Alloc(len(v))
		be.Upload(b, v)
		return b
	}
	n := rows * cols
	x, dy := up(randomSlice(rng, n)), up(randomSlice(rng, n))
	gamma, beta := up(randomSlice(rng, cols)), up(randomSlice(rng, cols))
	runMean, runVar := up(randomSlice(rng, cols)), up(make([]float32, cols))
	be.Fill(runVar, 1, cols)
	y, dx, mask := be.Alloc(n), be.Alloc(n), be.Alloc(n)
	mean, invStd, dGamma, dBeta := be.Alloc(cols), be.Alloc(cols), be.Alloc(cols), be.Alloc(cols)

	var out []float32
	grab := func(bufs ...backend.Buffer) {
		for _, b := range bufs {
			v := make([]float32, b.Len())
			be.Download(v, b)
			out = append(out, v...)
		}
	}
	be.Softmax(x, y, rows, cols)
	be.SoftmaxBackward(y, dy, dx, rows, cols)
	grab(dx)
	be.DropoutMask(mask, n, 0.3, 12345)
	grab(mask)
	be.BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar, rows, cols, 0.1, 1e-5, true)
	grab(y, mean, invStd, runMean, runVar)
	be.BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta, rows, cols)
	grab(dx, dGamma, dBeta)
	be.BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar, rows, cols, 0.1, 1e-5, false)
	grab(y, mean, invStd)
	return out
}

// TestLayersThreadCountInvariant checks that the layer operations give
// bit-identical results for any number of threads, on shapes split across
// workers by rows and by columns.
func TestLayersThreadCountInvariant(t *testing.T) {
	for _, sh := range [][2]int{{64, 3000}, {3000, 40}, {100003, 1}, {128, 256}} {
		rows, cols := sh[0], sh[1]
		first := layerOutputs(t, 1, rows, cols)
		for _, threads := range []int{2, 3, 4} {
			got := layerOutputs(t, threads, rows, cols)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%dx%d: %d threads differ from 1 thread at output %d: %v vs %v", rows, cols, threads, i, got[i], first[i])
				}
			}
		}
	}
}

func TestLayersPanics(t *testing.T) {
	be, _ := New(backend.Options{Threads: 1})
	defer be.Close()
	b := be.Alloc(8)
	cases := map[string]func(){
		"BatchNormForward training on one row": func() { be.BatchNormForward(b, b, b, b, b, b, b, b, 1, 4, 0.1, 1e-5, true) },
		"BatchNormForward negative sizes":      func() { be.BatchNormForward(b, b, b, b, b, b, b, b, -2, -2, 0.1, 1e-5, false) },
		"BatchNormBackward short buffer":       func() { be.BatchNormBackward(b, b, b, b, b, b, b, b, 3, 3) },
		"SoftmaxBackward negative sizes":       func() { be.SoftmaxBackward(b, b, b, -1, -1) },
		"DropoutMask p = 1":                    func() { be.DropoutMask(b, 8, 1, 0) },
		"DropoutMask p < 0":                    func() { be.DropoutMask(b, 8, -0.5, 0) },
		"DropoutMask p NaN":                    func() { be.DropoutMask(b, 8, float32(math.NaN()), 0) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkLayers(b *testing.B) {
	for _, sh := range [][2]int{{128, 256}, {1024, 1024}} {
		rows, cols := sh[0], sh[1]
		be, err := New(backend.Options{})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 7))
		n := rows * cols
		x, dy, y, dx := be.Alloc(n), be.Alloc(n), be.Alloc(n), be.Alloc(n)
		be.Upload(x, randomSlice(rng, n))
		be.Upload(dy, randomSlice(rng, n))
		g, bt, m, s, rm, rv := be.Alloc(cols), be.Alloc(cols), be.Alloc(cols), be.Alloc(cols), be.Alloc(cols), be.Alloc(cols)
		be.Fill(g, 1, cols)
		be.Fill(rv, 1, cols)
		name := fmt.Sprintf("%dx%d", rows, cols)
		b.Run("BatchNormForward/"+name, func(b *testing.B) {
			for b.Loop() {
				be.BatchNormForward(x, y, g, bt, m, s, rm, rv, rows, cols, 0.1, 1e-5, true)
			}
		})
		b.Run("BatchNormBackward/"+name, func(b *testing.B) {
			for b.Loop() {
				be.BatchNormBackward(x, dy, dx, g, m, s, bt, rm, rows, cols)
			}
		})
		b.Run("SoftmaxBackward/"+name, func(b *testing.B) {
			for b.Loop() {
				be.SoftmaxBackward(x, dy, dx, rows, cols)
			}
		})
		b.Run("DropoutMask/"+name, func(b *testing.B) {
			for b.Loop() {
				be.DropoutMask(dx, n, 0.5, 1)
			}
		})
		b.Run("SumRows/"+name, func(b *testing.B) {
			for b.Loop() {
				be.SumRows(x, m, rows, cols, 0)
			}
		})
		b.Run("SGDStep/"+name, func(b *testing.B) {
			cfg := backend.SGDConfig{LR: 1e-3, Momentum: 0.9, WeightDecay: 1e-4}
			for b.Loop() {
				be.SGDStep(y, dy, dx, n, cfg)
			}
		})
		be.Close()
	}
}
