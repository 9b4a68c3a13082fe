package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// TestSoftmaxExpKernels checks every level's softmax row against the
// generic float64 one, on rows of 1..17 floats (the vector body and every
// partial last group) and a few longer ones, with y separate and y == x.
// Guard values after y catch a stray write past the row.
func TestSoftmaxExpKernels(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(3, 3))
	lens := []int{33, 64, 100, 1001}
	for n := 1; n <= 17; n++ {
		lens = append(lens, n)
	}
	for _, level := range Supported() {
		kt := kernelTable[level]
		for _, n := range lens {
			for _, spread := range []float64{1, 30, 200} {
				for _, c := range []float32{1, 1.0 / 64} {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(rng.NormFloat64() * spread)
					}
					want := make([]float32, n)
					wm, ws := softmaxExpGeneric(x, want, c)
					for _, inPlace := range []bool{false, true} {
						buf := make([]float32, n+9)
						for i := range buf {
							buf[i] = guard
						}
						in := x
						if inPlace {
							copy(buf, x)
							in = buf[:n]
						}
						m, s := kt.softmaxExp(in, buf[:n], c)
						if m != wm || math.Abs(s-ws) > 1e-6*ws {
							t.Fatalf("%s n=%d spread=%v: m, s = %v, %v, want %v, %v", level, n, spread, m, s, wm, ws)
						}
						for i, v := range buf[:n] {
							if math.Abs(float64(v-want[i])) > 1e-6*float64(want[i])+1e-30 {
								t.Fatalf("%s n=%d spread=%v c=%v in place %v: y[%d] = %v, want %v", level, n, spread, c, inPlace, i, v, want[i])
							}
						}
						for i, v := range buf[n:] {
							if v != guard {
								t.Fatalf("%s n=%d: guard %d after y overwritten: %v", level, n, i, v)
							}
						}
					}
				}
			}
		}
	}
}

// TestSoftmaxCrossEntropyThreadCountInvariant checks that the loss and the
// gradient are bit-identical for any number of threads, at every level, on
// enough rows for several chunks (each with rows in blocks of 16 and rows
// left over where a level has xentRows).
func TestSoftmaxCrossEntropyThreadCountInvariant(t *testing.T) {
	const rows, cols = 5000, 10
	rng := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 4)
	}
	labels := make([]float32, rows)
	for i := range labels {
		labels[i] = float32(rng.IntN(cols))
	}
	for _, level := range Supported() {
		var wantLoss float32
		var wantGrad []float32
		for _, threads := range []int{1, 2, 3} {
			be, err := New(backend.Options{Threads: threads, Level: level.String()})
			if err != nil {
				t.Fatal(err)
			}
			xb, lb, gb, sb := be.Alloc(rows*cols), be.Alloc(rows), be.Alloc(rows*cols), be.Alloc(1)
			be.Upload(xb, x)
			be.Upload(lb, labels)
			be.SoftmaxCrossEntropy(xb, lb, gb, sb, rows, cols)
			loss, grad := make([]float32, 1), make([]float32, rows*cols)
			be.Download(loss, sb)
			be.Download(grad, gb)
			be.Close()
			if threads == 1 {
				wantLoss, wantGrad = loss[0], grad
			} else if loss[0] != wantLoss || !slices.Equal(grad, wantGrad) {
				t.Fatalf("%s, %d threads: loss %v, want %v (or the gradient differs)", level, threads, loss[0], wantLoss)
			}
		}
	}
}

// BenchmarkSoftmaxCrossEntropy runs the loss on 2^16 rows of 16 and of 10
// classes, on one thread, and on a batch of 128 rows that stays in the L1
// cache (the loss of a training step); bytes are the logits read and the
// gradient written.
func BenchmarkSoftmaxCrossEntropy(b *testing.B) {
	for _, level := range Supported() {
		for _, cols := range []int{10, 16} {
			for _, rows := range []int{1 << 16, 128} {
				name := fmt.Sprintf("%s/cols=%d", level, cols)
				if rows != 1<<16 {
					name += fmt.Sprintf("/rows=%d", rows)
				}
				b.Run(name, func(b *testing.B) {
					be, err := New(backend.Options{Threads: 1, Level: level.String()})
					if err != nil {
						b.Fatal(err)
					}
					defer be.Close()
					x, labels := make([]float32, rows*cols), make([]float32, rows)
					for i := range x {
						x[i] = float32(i%cols) * 0.01
					}
					for i := range labels {
						labels[i] = float32(i % cols)
					}
					xb, lb, gb, sb := be.Alloc(rows*cols), be.Alloc(rows), be.Alloc(rows*cols), be.Alloc(1)
					be.Upload(xb, x)
					be.Upload(lb, labels)
					b.SetBytes(8 * int64(rows) * int64(cols))
					for b.Loop() {
						be.SoftmaxCrossEntropy(xb, lb, gb, sb, rows, cols)
					}
				})
			}
		}
	}
}

// TestXentRowsKernels checks the levels' softmax cross-entropy of blocks
// of 16 rows against the generic row, on rows of 1..16 floats (all it
// takes) in 1, 2 and 3 blocks, with y separate and y == x, and guard values
// after y: the gradient has the bits of the level's one-row kernel minus c
// at the label, out[0] is the sum of m - x[label] and out[1] * 2^out[2] the
// product of s, within float64 rounding.
func TestXentRowsKernels(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(8, 8))
	bits := func(v []float32) []uint32 {
		b := make([]uint32, len(v))
		for i := range v {
			b[i] = math.Float32bits(v[i])
		}
		return b
	}
	for _, level := range Supported() {
		kt := kernelTable[level]
		if kt.xentRows == nil {
			continue
		}
		for _, blocks := range []int{1, 2, 3} {
			rows := 16 * blocks
			for n := 1; n <= 16; n++ {
				for _, spread := range []float64{1, 30, 200} {
					x := make([]float32, rows*n)
					for i := range x {
						x[i] = float32(rng.NormFloat64() * spread)
					}
					if n > 1 {
						x[5] = float32(math.Inf(-1)) // e^-Inf is 0 (not a row's only float)
					}
					labels := make([]float32, rows)
					for r := range labels {
						labels[r] = float32(rng.IntN(n))
					}
					labels[3] = float32(n - 1)
					labels[rows-1] = float32(n - 1)
					if n > 1 && int(labels[5/n]) == 5%n {
						labels[5/n] = float32((5%n + 1) % n) // not the -Inf: a finite sum
					}
					for _, inPlace := range []bool{false, true} {
						name := fmt.Sprintf("%s cols=%d blocks=%d spread=%v in place %v", level, n, blocks, spread, inPlace)
						buf := make([]float32, rows*n+17)
						for i := range buf {
							buf[i] = guard
						}
						in := x
						if inPlace {
							copy(buf, x)
							in = buf[:rows*n]
						}
						var out [3]float64
						kt.xentRows(in, labels, buf[:rows*n], n, 0.25, &out)
						sum, logProd := 0.0, 0.0
						for r := range rows {
							label := int(labels[r])
							xr := x[r*n : (r+1)*n]
							want := make([]float32, n)
							wm, ws := softmaxExpGeneric(xr, want, 0.25)
							want[label] -= 0.25
							got := buf[r*n : (r+1)*n]
							for i, v := range got {
								// At the label, c*p - c cancels: a few ulp of c.
								if math.Abs(float64(v-want[i])) > 1e-5*math.Abs(float64(want[i]))+1e-7 {
									t.Fatalf("%s row %d: y[%d] = %v, want %v", name, r, i, v, want[i])
								}
							}
							// The same row through the level's one-row kernel gives
							// the same bits: its sum of one or two groups of 8 is
							// the same tree of additions.
							one := make([]float32, n)
							om, os := kt.softmaxExp(xr, one, 0.25)
							one[label] -= 0.25
							if om != wm || math.Abs(os-ws) > 1e-5*ws {
								t.Fatalf("%s row %d: one-row m, s = %v, %v, want %v, %v", name, r, om, os, wm, ws)
							}
							if !slices.Equal(bits(one), bits(got)) {
								t.Fatalf("%s row %d: y = %v, the one-row kernel's %v", name, r, got, one)
							}
							sum += float64(om) - float64(xr[label])
							logProd += math.Log(os)
						}
						gotLog := math.Log(out[1]) + out[2]*math.Ln2
						if math.Abs(out[0]-sum) > 1e-12*math.Abs(sum) || math.Abs(gotLog-logProd) > 1e-12*logProd+1e-300 ||
							!(out[1] >= 1 && out[1] < 0x1p16) || out[2] != math.Trunc(out[2]) {
							t.Fatalf("%s: out = %v (log of the product %v), want sum %v, log of the product %v", name, out, gotLog, sum, logProd)
						}
						for i, v := range buf[rows*n:] {
							if v != guard {
								t.Fatalf("%s: guard %d after y overwritten: %v", name, i, v)
							}
						}
					}
				}
			}
		}
	}
}

// TestBadLabelKernels checks the levels' label checks against the generic
// loop: on labels of every length up to 40 that are all class indices, and
// with one bad value (or -0, which is class 0) at each position.
func TestBadLabelKernels(t *testing.T) {
	const cols = 10
	odd := []float32{-1, cols, cols + 0.5, 0.5, 1e-45, 3e9, -3e9, float32(math.NaN()),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1))}
	for _, level := range Supported() {
		kt := kernelTable[level]
		if kt.badLabel == nil {
			continue
		}
		for n := 0; n <= 40; n++ {
			labels := make([]float32, n)
			for i := range labels {
				labels[i] = float32((i * 7) % cols)
			}
			if got := kt.badLabel(labels, cols); got != -1 {
				t.Fatalf("%s n=%d: all good, badLabel = %d", level, n, got)
			}
			for at := range n {
				for _, v := range odd {
					l := slices.Clone(labels)
					l[at] = v
					want := badLabelGeneric(l, cols)
					if got := kt.badLabel(l, cols); got != want {
						t.Fatalf("%s n=%d: %v at %d: badLabel = %d, want %d", level, n, v, at, got, want)
					}
				}
			}
		}
	}
}
