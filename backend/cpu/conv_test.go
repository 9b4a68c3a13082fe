package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// refCheck runs operations of a backend on random inputs and compares
// them with package ref.
type refCheck struct {
	t   *testing.T
	be  *Backend
	rng *rand.Rand
}

func (c refCheck) rnd(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(c.rng.NormFloat64())
	}
	return v
}

func (c refCheck) up(v []float32) backend.Buffer {
	b := c.be.Alloc(len(v))
	c.be.Upload(b, v)
	return b
}

func (c refCheck) down(b backend.Buffer) []float32 {
	v := make([]float32, b.Len())
	c.be.Download(v, b)
	return v
}

func (c refCheck) cmp(what string, got []float32, want []float64) {
	c.t.Helper()
	for i, w := range want {
		if !ref.Close(got[i], w, 1e-4, 1e-4) {
			c.t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], w)
		}
	}
}

// conv checks the three convolution products on shape s, the forward one
// with a bias and without.
func (c refCheck) conv(s backend.ConvShape) {
	c.t.Helper()
	name := func(op string) string { return fmt.Sprintf("%s %+v", op, s) }
	x, w, b := c.rnd(s.InLen()), c.rnd(s.WeightLen()), c.rnd(s.K)
	dy, dw, db := c.rnd(s.OutLen()), c.rnd(s.WeightLen()), c.rnd(s.K)
	y := c.be.Alloc(s.OutLen())
	c.be.Conv2d(c.up(x), c.up(w), c.up(b), y, s)
	c.cmp(name("Conv2d"), c.down(y), ref.Conv2d(x, w, b, s))
	c.be.Conv2d(c.up(x), c.up(w), nil, y, s)
	c.cmp(name("Conv2d without bias"), c.down(y), ref.Conv2d(x, w, nil, s))
	dx := c.up(c.rnd(s.InLen())) // overwritten
	c.be.Conv2dBackwardData(c.up(dy), c.up(w), dx, s)
	c.cmp(name("Conv2dBackwardData"), c.down(dx), ref.Conv2dBackwardData(dy, w, s))
	dwb, dbb := c.up(dw), c.up(db)
	c.be.Conv2dBackwardFilter(c.up(x), c.up(dy), dwb, dbb, s)
	wantW, wantB := ref.Conv2dBackwardFilter(x, dy, dw, db, s)
	c.cmp(name("Conv2dBackwardFilter dWeight"), c.down(dwb), wantW)
	c.cmp(name("Conv2dBackwardFilter dBias"), c.down(dbb), wantB)
}

// TestConvAgainstRef checks the convolution and pooling operations against
// package ref on a few shapes; the conformance suite covers the rest.
func TestConvAgainstRef(t *testing.T) {
	be, err := New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	c := refCheck{t, be, rand.New(rand.NewPCG(1, 2))}
	rnd, up, down, cmp := c.rnd, c.up, c.down, c.cmp
	for _, s := range []backend.ConvShape{
		{N: 2, C: 3, H: 7, W: 6, K: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
		{N: 3, C: 2, H: 9, W: 8, K: 4, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 1, PadW: 2},
		{N: 1, C: 5, H: 4, W: 4, K: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		// Stride 1 with padding (the padded copy), 9 images (groups of
		// two for the backward filter, the last of one).
		{N: 9, C: 2, H: 6, W: 7, K: 3, KH: 3, KW: 2, StrideH: 1, StrideW: 1, PadH: 1, PadW: 2},
		// Deeper than one block of every product: C*KH*KW = 360 and a
		// wide row of 20*22-2 = 438 columns, K = 300 (backward data).
		{N: 2, C: 40, H: 22, W: 22, K: 300, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	} {
		c.conv(s)
	}
	for _, s := range []backend.PoolShape{
		{N: 2, C: 3, H: 6, W: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
		{N: 2, C: 3, H: 7, W: 5, KH: 2, KW: 2, StrideH: 2, StrideW: 2}, // odd: a row and a column uncovered
		{N: 1, C: 2, H: 7, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1},
	} {
		x, dy := rnd(s.InLen()), rnd(s.OutLen())
		y, dx := be.Alloc(s.OutLen()), be.Alloc(s.InLen())
		be.MaxPool2d(up(x), y, s)
		cmp("MaxPool2d", down(y), ref.MaxPool2d(x, s))
		be.MaxPool2dBackward(up(x), up(dy), dx, s)
		cmp("MaxPool2dBackward", down(dx), ref.MaxPool2dBackward(x, dy, s))
		be.AvgPool2d(up(x), y, s)
		cmp("AvgPool2d", down(y), ref.AvgPool2d(x, s))
		be.AvgPool2dBackward(up(dy), dx, s)
		cmp("AvgPool2dBackward", down(dx), ref.AvgPool2dBackward(dy, s))
	}
	// Fewer rows than a sliver (nr), as many, and more with a remainder.
	for _, sh := range [][3]int{{2, 3, 5}, {2, 4, 9}, {2, 16, 7}, {2, 32, 7}, {3, 70, 33}, {2, 5, 40}} {
		x := rnd(sh[0] * sh[1] * sh[2])
		y := be.Alloc(len(x))
		be.TransposeBatch(up(x), y, sh[0], sh[1], sh[2])
		cmp(fmt.Sprintf("TransposeBatch %v", sh), down(y), ref.TransposeBatch(x, sh[0], sh[1], sh[2]))
	}
}

// benchConvShapes are the convolutions of the cnn preset at batch 64
// (cmd/bench conv times the same).
var benchConvShapes = map[string]backend.ConvShape{
	"conv1": {N: 64, C: 1, H: 28, W: 28, K: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	"conv2": {N: 64, C: 32, H: 13, W: 13, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
}

func BenchmarkConv(b *testing.B) {
	for _, name := range []string{"conv1", "conv2"} {
		s := benchConvShapes[name]
		for _, threads := range []int{1, 2} {
			be, _ := New(backend.Options{Threads: threads})
			x, w, bias, y := be.Alloc(s.InLen()), be.Alloc(s.WeightLen()), be.Alloc(s.K), be.Alloc(s.OutLen())
			dx, dw := be.Alloc(s.InLen()), be.Alloc(s.WeightLen())
			flops := 2 * float64(s.N*s.K*s.C*s.KH*s.KW*s.OutH()*s.OutW())
			for _, pass := range []struct {
				name string
				run  func()
			}{
				{"forward", func() { be.Conv2d(x, w, bias, y, s) }},
				{"backward_data", func() { be.Conv2dBackwardData(y, w, dx, s) }},
				{"backward_filter", func() { be.Conv2dBackwardFilter(x, y, dw, bias, s) }},
			} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", name, pass.name, threads), func(b *testing.B) {
					for b.Loop() {
						pass.run()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			be.Close()
		}
	}
}

// TestConvRandomShapes checks the convolutions against ref on random small
// shapes (empty batches and channel counts, kernels larger than the
// image, every stride and padding up to 2) at every level, with 1 and 3
// threads.
func TestConvRandomShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, l := range Supported() {
		for _, threads := range []int{1, 3} {
			be, err := New(backend.Options{Threads: threads, Level: l.String()})
			if err != nil {
				t.Fatal(err)
			}
			c := refCheck{t, be, rng}
			for range 100 {
				s := backend.ConvShape{N: rng.IntN(4), C: rng.IntN(5), H: 1 + rng.IntN(9), W: 1 + rng.IntN(9), K: rng.IntN(6),
					KH: 1 + rng.IntN(4), KW: 1 + rng.IntN(4), StrideH: 1 + rng.IntN(2), StrideW: 1 + rng.IntN(2),
					PadH: rng.IntN(3), PadW: rng.IntN(3)}
				if s.Valid() == nil {
					c.conv(s)
				}
			}
			be.Close()
		}
	}
}

// TestMaxPoolTiesAndNaN checks that max pooling picks the element that
// PyTorch picks among equal values and NaNs (ref's rule), in the 2 x 2
// stride-2 kernels of every level and the general loops: where the
// gradient goes, and the sign of a zero maximum (the first of equal
// zeros).
func TestMaxPoolTiesAndNaN(t *testing.T) {
	for _, l := range Supported() {
		be, err := New(backend.Options{Threads: 1, Level: l.String()})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range []backend.PoolShape{
			{N: 4, C: 3, H: 9, W: 11, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
			{N: 4, C: 3, H: 10, W: 36, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
			{N: 4, C: 3, H: 9, W: 11, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		} {
			// Mostly 0 and 1, so that most windows hold a tie for the
			// maximum; zeros of both signs, infinities and NaNs.
			x, dy := make([]float32, s.InLen()), make([]float32, s.OutLen())
			for i := range x {
				x[i] = tieValues[rng.IntN(len(tieValues))]
			}
			for i := range dy {
				dy[i] = float32(i + 1) // each window's gradient tells where it went
			}
			xb, dyb, y, dx := be.Alloc(len(x)), be.Alloc(len(dy)), be.Alloc(len(dy)), be.Alloc(len(x))
			be.Upload(xb, x)
			be.Upload(dyb, dy)
			be.MaxPool2d(xb, y, s)
			be.MaxPool2dBackward(xb, dyb, dx, s)
			got, gotDx := make([]float32, len(dy)), make([]float32, len(x))
			be.Download(got, y)
			be.Download(gotDx, dx)
			for i, w := range ref.MaxPool2d(x, s) {
				if g := float64(got[i]); !(g == w && math.Signbit(g) == math.Signbit(w)) && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Fatalf("%s %+v: MaxPool2d[%d] = %v, want %v", l, s, i, g, w)
				}
			}
			for i, w := range ref.MaxPool2dBackward(x, dy, s) {
				if g := float64(gotDx[i]); g != w {
					t.Fatalf("%s %+v: MaxPool2dBackward[%d] = %v, want %v", l, s, i, g, w)
				}
			}
		}
		be.Close()
	}
}

// convOutputs runs every convolution, pooling and transpose operation on
// fixed inputs with the given thread count and returns all the results.
func convOutputs(t *testing.T, threads int, s backend.ConvShape, ps backend.PoolShape) []float32 {
	t.Helper()
	be, err := New(backend.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	up := func(n int) backend.Buffer {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		b := be.Alloc(n)
		be.Upload(b, v)
		return b
	}
	x, w, bias, dy := up(s.InLen()), up(s.WeightLen()), up(s.K), up(s.OutLen())
	y, dx, dw, db := be.Alloc(s.OutLen()), be.Alloc(s.InLen()), up(s.WeightLen()), up(s.K)
	be.Conv2d(x, w, bias, y, s)
	be.Conv2dBackwardData(dy, w, dx, s)
	be.Conv2dBackwardFilter(x, dy, dw, db, s)
	px, pdy := up(ps.InLen()), up(ps.OutLen())
	py, pdx, ay, adx := be.Alloc(ps.OutLen()), be.Alloc(ps.InLen()), be.Alloc(ps.OutLen()), be.Alloc(ps.InLen())
	be.MaxPool2d(px, py, ps)
	be.MaxPool2dBackward(px, pdy, pdx, ps)
	be.AvgPool2d(px, ay, ps)
	be.AvgPool2dBackward(pdy, adx, ps)
	tr := be.Alloc(s.OutLen())
	be.TransposeBatch(y, tr, s.N, s.K, s.OutH()*s.OutW())
	var out []float32
	for _, b := range []backend.Buffer{y, dx, dw, db, py, pdx, ay, adx, tr} {
		v := make([]float32, b.Len())
		be.Download(v, b)
		out = append(out, v...)
	}
	return out
}

// TestConvThreadCountInvariant checks that the convolution and pooling
// operations give bit-identical results for any number of threads: the
// preset's second layer (wide rows), a strided and padded one (gathered
// rows), with batches that split unevenly.
func TestConvThreadCountInvariant(t *testing.T) {
	for _, c := range []struct {
		s  backend.ConvShape
		ps backend.PoolShape
	}{
		{backend.ConvShape{N: 13, C: 32, H: 13, W: 13, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
			backend.PoolShape{N: 13, C: 64, H: 11, W: 11, KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		{backend.ConvShape{N: 7, C: 5, H: 12, W: 10, K: 9, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1},
			backend.PoolShape{N: 7, C: 9, H: 6, W: 10, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	} {
		first := convOutputs(t, 1, c.s, c.ps)
		for _, threads := range []int{2, 3, 5} {
			got := convOutputs(t, threads, c.s, c.ps)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%+v: %d threads differ from 1 thread at output %d: %v vs %v", c.s, threads, i, got[i], first[i])
				}
			}
		}
	}
}

// TestConvNoAllocs checks that a training step's convolution, pooling and
// transpose operations allocate nothing once their scratch has grown.
func TestConvNoAllocs(t *testing.T) {
	be, _ := New(backend.Options{Threads: 2})
	defer be.Close()
	var steps []func()
	for _, name := range []string{"conv1", "conv2"} {
		s := benchConvShapes[name]
		ps := backend.PoolShape{N: s.N, C: s.K, H: s.OutH(), W: s.OutW(), KH: 2, KW: 2, StrideH: 2, StrideW: 2}
		x, w, bias, y := be.Alloc(s.InLen()), be.Alloc(s.WeightLen()), be.Alloc(s.K), be.Alloc(s.OutLen())
		dx, dw, py, tr := be.Alloc(s.InLen()), be.Alloc(s.WeightLen()), be.Alloc(ps.OutLen()), be.Alloc(s.OutLen())
		steps = append(steps, func() {
			be.Conv2d(x, w, bias, y, s)
			be.Conv2dBackwardData(y, w, dx, s)
			be.Conv2dBackwardFilter(x, y, dw, bias, s)
			be.MaxPool2d(y, py, ps)
			be.MaxPool2dBackward(y, py, tr, ps)
			be.AvgPool2d(y, py, ps)
			be.AvgPool2dBackward(py, tr, ps)
			be.TransposeBatch(y, tr, s.N, s.K, s.OutH()*s.OutW())
		})
	}
	step := func() {
		for _, f := range steps {
			f()
		}
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Errorf("a step of convolutions allocates %v times", n)
	}
}
