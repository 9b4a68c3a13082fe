//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// The Convolver operations against package ref's float64 loops, on the
// emulator and, where there is one, on a GPU. Each result must lie within
// a bound that grows with the length of its sums: (terms+2) roundings of
// float32 (2^-24 each), twice over, times the sum of the absolute values of
// the terms, which is ref's result on the absolute values of the inputs.
// Outputs start as NaN, so that an element a kernel fails to write shows,
// and every buffer has a guard tail that must survive.

func TestConvolverEmulated(t *testing.T) {
	checkConvolver(t, openEmulated(t, backend.Options{}))
}

func TestConvolver(t *testing.T) {
	checkConvolver(t, openOrSkip(t, backend.Options{}))
}

var convShapes = []backend.ConvShape{
	{N: 2, C: 3, H: 7, W: 5, K: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, // odd sizes, "same" padding
	{N: 1, C: 5, H: 9, W: 8, K: 3, KH: 3, KW: 2, StrideH: 2, StrideW: 2, PadH: 1, PadW: 0}, // batch 1, stride 2
	{N: 3, C: 7, H: 5, W: 6, K: 5, KH: 1, KW: 1, StrideH: 1, StrideW: 1},                   // 1x1
	{N: 2, C: 2, H: 8, W: 7, K: 3, KH: 2, KW: 2, StrideH: 3, StrideW: 3},                   // pixels no window sees
	{N: 2, C: 3, H: 6, W: 7, K: 2, KH: 5, KW: 4, StrideH: 3, StrideW: 2, PadH: 2, PadW: 1}, // wide padding, uneven strides
	{N: 4, C: 13, H: 12, W: 11, K: 17, KH: 3, KW: 3, StrideH: 1, StrideW: 1},               // more than one grid of threads
	{N: 1, C: 1, H: 1, W: 1, K: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1},                   // one pixel
	{N: 2, C: 3, H: 4, W: 4, K: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, // a second call of a smaller shape
	{N: 0, C: 3, H: 5, W: 5, K: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1},                   // empty batch
	{N: 2, C: 0, H: 5, W: 4, K: 3, KH: 2, KW: 2, StrideH: 1, StrideW: 2},                   // no input channels
	{N: 2, C: 3, H: 5, W: 4, K: 0, KH: 2, KW: 2, StrideH: 1, StrideW: 1, PadH: 1},          // no filters
	{N: 9, C: 32, H: 13, W: 13, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1},               // the CNN preset's second layer
}

var poolShapes = []backend.PoolShape{
	{N: 2, C: 3, H: 7, W: 7, KH: 2, KW: 2, StrideH: 2, StrideW: 2},                   // odd size: the last row and column are dropped
	{N: 1, C: 5, H: 8, W: 9, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, // overlapping, padded
	{N: 3, C: 2, H: 5, W: 6, KH: 3, KW: 2, StrideH: 1, StrideW: 2, PadH: 1, PadW: 1}, // stride 1 rows, padding on both axes
	{N: 2, C: 7, H: 4, W: 4, KH: 4, KW: 4, StrideH: 1, StrideW: 1},                   // global pooling
	{N: 2, C: 3, H: 6, W: 5, KH: 3, KW: 3, StrideH: 3, StrideW: 1, PadH: 1, PadW: 1}, // padding at most half the window
	{N: 1, C: 1, H: 1, W: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
	{N: 0, C: 2, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
}

// guardTail is the length of every buffer's tail, and guardValue its
// contents, which no operation may change.
const guardTail = 5

var guardValue = float32(-12345.5)

// convTest allocates the buffers of one case and checks them afterwards.
type convTest struct {
	t      *testing.T
	be     *Backend
	name   string
	inputs map[backend.Buffer][]float32
	bufs   []backend.Buffer
}

func (c *convTest) alloc(v []float32) backend.Buffer {
	b := c.be.Alloc(len(v) + guardTail)
	all := append(append([]float32(nil), v...), make([]float32, guardTail)...)
	for i := range guardTail {
		all[len(v)+i] = guardValue
	}
	c.be.Upload(b, all)
	c.bufs = append(c.bufs, b)
	return b
}

// in is an input buffer: it must hold v, unchanged, at the end.
func (c *convTest) in(v []float32) backend.Buffer {
	b := c.alloc(v)
	c.inputs[b] = v
	return b
}

// out is an output buffer of n elements, NaN until written.
func (c *convTest) out(n int) backend.Buffer { return c.alloc(filled(n, float32(math.NaN()))) }

// get returns b's first n elements and checks its guard tail.
func (c *convTest) get(what string, b backend.Buffer, n int) []float32 {
	c.t.Helper()
	all := make([]float32, n+guardTail)
	c.be.Download(all, b)
	for i, v := range all[n:] {
		if v != guardValue {
			c.t.Errorf("%s: %s: guard element %d after the end is %v, want %v", c.name, what, i, v, guardValue)
			break
		}
	}
	return all[:n]
}

// done checks that the inputs are unchanged and frees the buffers.
func (c *convTest) done() {
	c.t.Helper()
	for b, want := range c.inputs {
		got := c.get("input", b, len(want))
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				c.t.Errorf("%s: an input changed: [%d] = %v, was %v", c.name, i, got[i], want[i])
				break
			}
		}
	}
	for _, b := range c.bufs {
		c.be.Free(b)
	}
}

// check compares got with want, element i within 2*(terms+2)*2^-24*abs[i].
func (c *convTest) check(what string, got []float32, want, abs []float64, terms int) {
	c.t.Helper()
	if len(got) != len(want) {
		c.t.Fatalf("%s: %s: %d values, want %d", c.name, what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		tol := 2 * float64(terms+2) * 0x1p-24 * abs[i]
		g := float64(got[i])
		if g == w || math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if !(math.Abs(g-w) <= tol) {
			if bad++; bad <= 5 {
				c.t.Errorf("%s: %s[%d] = %v, want %v (tolerance %.3g)", c.name, what, i, g, w, tol)
			}
		}
	}
	if bad > 5 {
		c.t.Errorf("%s: %s: %d of %d values wrong", c.name, what, bad, len(want))
	}
}

func filled(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func normal(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func abs(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func checkConvolver(t *testing.T, be *Backend) {
	rng := rand.New(rand.NewPCG(11, 7))
	newCase := func(name string) *convTest {
		return &convTest{t: t, be: be, name: name, inputs: map[backend.Buffer][]float32{}}
	}
	for _, s := range convShapes {
		c := newCase(fmt.Sprintf("%+v", s))
		x, w, b := normal(rng, s.InLen()), normal(rng, s.WeightLen()), normal(rng, s.K)
		dy, dw0, db0 := normal(rng, s.OutLen()), normal(rng, s.WeightLen()), normal(rng, s.K)
		xb, wb, bb, dyb := c.in(x), c.in(w), c.in(b), c.in(dy)
		taps, pixels := s.C*s.KH*s.KW, s.N*s.OutH()*s.OutW()

		for _, withBias := range []bool{true, false} {
			y := c.out(s.OutLen())
			var bias backend.Buffer
			var bv []float32
			if withBias {
				bias, bv = bb, b
			}
			be.Conv2d(xb, wb, bias, y, s)
			what := fmt.Sprintf("Conv2d (bias %v) y", withBias)
			if s.N == 0 || s.K == 0 {
				c.get(what, y, s.OutLen()) // only the guard: nothing to write
				continue
			}
			var absB []float32
			if withBias {
				absB = abs(b)
			}
			c.check(what, c.get(what, y, s.OutLen()), ref.Conv2d(x, w, bv, s), ref.Conv2d(abs(x), abs(w), absB, s), taps+1)
		}

		dx := c.out(s.InLen())
		be.Conv2dBackwardData(dyb, wb, dx, s)
		c.check("Conv2dBackwardData dx", c.get("dx", dx, s.InLen()),
			ref.Conv2dBackwardData(dy, w, s), ref.Conv2dBackwardData(abs(dy), abs(w), s), s.K*s.KH*s.KW)

		for _, withBias := range []bool{true, false} {
			dW, dB := c.alloc(dw0), c.alloc(db0)
			var dBias backend.Buffer
			var dbv, absDB []float32
			if withBias {
				dBias, dbv, absDB = dB, db0, abs(db0)
			}
			be.Conv2dBackwardFilter(xb, dyb, dW, dBias, s)
			wantW, wantB := ref.Conv2dBackwardFilter(x, dy, dw0, dbv, s)
			absW, absB := ref.Conv2dBackwardFilter(abs(x), abs(dy), abs(dw0), absDB, s)
			what := fmt.Sprintf("Conv2dBackwardFilter (dBias %v) ", withBias)
			c.check(what+"dWeight", c.get("dWeight", dW, s.WeightLen()), wantW, absW, pixels+1)
			gotB := c.get("dBias", dB, s.K)
			if withBias {
				c.check(what+"dBias", gotB, wantB, absB, pixels+1)
			} else {
				c.check(what+"dBias, which it may not touch", gotB, widen(db0), make([]float64, s.K), 0)
			}
		}
		c.done()
	}

	for _, s := range poolShapes {
		c := newCase(fmt.Sprintf("%+v", s))
		// Max pooling: few distinct values, so that windows have ties,
		// and a few NaNs and -infs (with a window of -infs where it fits).
		xm := make([]float32, s.InLen())
		for i := range xm {
			switch r := rng.IntN(40); {
			case r == 0:
				xm[i] = float32(math.NaN())
			case r == 1:
				xm[i] = float32(math.Inf(-1))
			default:
				xm[i] = float32(r % 3)
			}
		}
		if s.InLen() >= 2*s.W && s.W >= 2 {
			xm[0], xm[1], xm[s.W], xm[s.W+1] = float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))
		}
		x, dy := normal(rng, s.InLen()), normal(rng, s.OutLen())
		xmb, xb, dyb := c.in(xm), c.in(x), c.in(dy)
		window := s.KH * s.KW

		y := c.out(s.OutLen())
		be.MaxPool2d(xmb, y, s)
		c.check("MaxPool2d y", c.get("y", y, s.OutLen()), ref.MaxPool2d(xm, s), make([]float64, s.OutLen()), 0)

		dx := c.out(s.InLen())
		be.MaxPool2dBackward(xmb, dyb, dx, s)
		c.check("MaxPool2dBackward dx", c.get("dx", dx, s.InLen()),
			ref.MaxPool2dBackward(xm, dy, s), ref.MaxPool2dBackward(xm, abs(dy), s), window)

		y = c.out(s.OutLen())
		be.AvgPool2d(xb, y, s)
		c.check("AvgPool2d y", c.get("y", y, s.OutLen()), ref.AvgPool2d(x, s), ref.AvgPool2d(abs(x), s), window+1)

		dx = c.out(s.InLen())
		be.AvgPool2dBackward(dyb, dx, s)
		c.check("AvgPool2dBackward dx", c.get("dx", dx, s.InLen()),
			ref.AvgPool2dBackward(dy, s), ref.AvgPool2dBackward(abs(dy), s), 2*window)
		c.done()
	}

	for _, d := range [][3]int{{3, 5, 7}, {1, 1, 9}, {2, 33, 1}, {4, 64, 121}, {0, 3, 3}, {2, 0, 4}} {
		batch, rows, cols := d[0], d[1], d[2]
		c := newCase(fmt.Sprintf("TransposeBatch %v", d))
		x := normal(rng, batch*rows*cols)
		y := c.out(len(x))
		be.TransposeBatch(c.in(x), y, batch, rows, cols)
		c.check("y", c.get("y", y, len(x)), ref.TransposeBatch(x, batch, rows, cols), make([]float64, len(x)), 0)
		c.done()
	}
}

// TestConvNoAllocationEmulated: once warm, the convolutions take no new
// device memory, and a smaller shape reuses the scratch blocks.
func TestConvNoAllocationEmulated(t *testing.T) {
	be := openEmulated(t, backend.Options{})
	big := backend.ConvShape{N: 4, C: 6, H: 10, W: 9, K: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	small := big
	small.N, small.H = 3, 7
	x, w, b, y := be.Alloc(big.InLen()), be.Alloc(big.WeightLen()), be.Alloc(big.K), be.Alloc(big.OutLen())
	dx, dw := be.Alloc(big.InLen()), be.Alloc(big.WeightLen())
	step := func(s backend.ConvShape) {
		be.Conv2d(x, w, b, y, s)
		be.Conv2dBackwardData(y, w, dx, s)
		be.Conv2dBackwardFilter(x, y, dw, b, s)
	}
	step(big)
	if be.conv.col.ptr == 0 || be.conv.rows.ptr == 0 {
		t.Fatal("no scratch blocks after a convolution")
	}
	bytes, blocks := be.pool.bytes, len(be.pool.all)
	for _, s := range []backend.ConvShape{big, small, big} {
		step(s)
		if be.pool.bytes != bytes || len(be.pool.all) != blocks {
			t.Fatalf("after a warm step of %+v the allocator holds %d bytes in %d blocks, was %d in %d",
				s, be.pool.bytes, len(be.pool.all), bytes, blocks)
		}
	}
}

// TestConvPanicsEmulated: bad shapes, short buffers and sizes whose
// products would overflow panic with the operation's name, before any
// launch.
func TestConvPanicsEmulated(t *testing.T) {
	be := openEmulated(t, backend.Options{})
	x, y := be.Alloc(64), be.Alloc(64)
	ok := backend.ConvShape{N: 1, C: 1, H: 4, W: 4, K: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1}
	tooBig := ok
	tooBig.KH = 5
	huge := ok
	huge.N, huge.C = 1<<30, 1<<30 // each in range, but N*C*H*W wraps to 0 in int64
	for name, f := range map[string]func(){
		"Conv2d: kernel larger than the input": func() { be.Conv2d(x, y, nil, y, tooBig) },
		"Conv2d: short weight":                 func() { be.Conv2d(x, be.Alloc(8), nil, y, ok) },
		"Conv2dBackwardData: overflowing size": func() { be.Conv2dBackwardData(x, y, y, huge) },
		"Conv2dBackwardFilter: short dBias":    func() { be.Conv2dBackwardFilter(x, y, y, be.Alloc(0), ok) },
		"MaxPool2d: padding over half the window": func() {
			be.MaxPool2d(x, y, backend.PoolShape{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadH: 2})
		},
		"AvgPool2dBackward: overflowing size": func() {
			be.AvgPool2dBackward(x, y, backend.PoolShape{N: 1 << 30, C: 1 << 30, H: 4, W: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1})
		},
		"TransposeBatch: overflowing size": func() { be.TransposeBatch(x, y, 1<<30, 1<<30, 16) },
		"TransposeBatch: negative size":    func() { be.TransposeBatch(x, y, 2, -3, -4) },
	} {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				op, _, _ := strings.Cut(name, ":")
				if !strings.HasPrefix(msg, "cuda: ") || !strings.Contains(msg, op) {
					t.Errorf("%s: panicked with %v, want a message naming cuda and %s", name, r, op)
				}
			}()
			f()
		}()
	}
}

// TestPoolingMatchesCPUEmulated: the pooling kernels add in the CPU
// backend's order (window by window, row by row), so their results are
// the CPU's bit for bit, ties included (a NaN result is any NaN: the
// contract does not fix its payload).
func TestPoolingMatchesCPUEmulated(t *testing.T) {
	gpu := openEmulated(t, backend.Options{})
	host := openCPU(t)
	rng := rand.New(rand.NewPCG(5, 9))
	for _, s := range poolShapes {
		x, dy := normal(rng, s.InLen()), normal(rng, s.OutLen())
		for i := range x {
			if rng.IntN(3) == 0 {
				x[i] = float32(rng.IntN(2)) // ties
			}
		}
		if len(x) > 0 {
			x[len(x)/2] = float32(math.NaN())
		}
		run := func(be backend.Backend) [][]float32 {
			c := be.(backend.Convolver)
			xb, dyb, y, dx := be.Alloc(len(x)), be.Alloc(len(dy)), be.Alloc(len(dy)), be.Alloc(len(x))
			defer func() { be.Free(xb); be.Free(dyb); be.Free(y); be.Free(dx) }()
			be.Upload(xb, x)
			be.Upload(dyb, dy)
			var out [][]float32
			keep := func(b backend.Buffer, n int) {
				v := make([]float32, n)
				be.Download(v, b)
				out = append(out, v)
			}
			c.MaxPool2d(xb, y, s)
			keep(y, len(dy))
			c.MaxPool2dBackward(xb, dyb, dx, s)
			keep(dx, len(x))
			c.AvgPool2d(xb, y, s)
			keep(y, len(dy))
			c.AvgPool2dBackward(dyb, dx, s)
			keep(dx, len(x))
			return out
		}
		want, got := run(host), run(gpu)
		for k, op := range []string{"MaxPool2d", "MaxPool2dBackward", "AvgPool2d", "AvgPool2dBackward"} {
			for i := range want[k] {
				g, w := got[k][i], want[k][i]
				// A NaN is a NaN: the contract does not fix its payload.
				if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Errorf("%+v: %s [%d] = %v on the emulated GPU, %v on the CPU", s, op, i, got[k][i], want[k][i])
					break
				}
			}
		}
	}
}
