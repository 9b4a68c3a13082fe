package conformance

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// Checks of backend.Convolver, the operations behind the convolution and
// pooling layers. They need a backend that implements Convolver: on one
// that does not, they return ErrNoConvolver, which Run reports as a
// skipped subtest.
//
// The tolerances of the sums are the worst-case float32 bounds of their
// length, whatever the order of summation: a sum of n products is within
// Gamma(n+4) times the same sum of their magnitudes, which is the operation
// itself applied to |inputs| (padding terms are exact zeros and add no
// rounding). An algorithm that trades accuracy for speed (Winograd, FFT,
// reduced-precision tensor cores) fails them, as it fails Gemm's.

// ErrNoConvolver is the error (see errors.Is) a check of a Convolver
// operation returns for a backend that does not implement
// backend.Convolver. Run skips such checks; a backend that implements
// Convolver calls RequireConvolver in its tests, so that the skip cannot
// hide a lost implementation.
var ErrNoConvolver = errors.New("the backend does not implement backend.Convolver")

// RequireConvolver fails t at once unless b implements backend.Convolver.
func RequireConvolver(t testing.TB, b backend.Backend) {
	t.Helper()
	if _, ok := b.(backend.Convolver); !ok {
		t.Fatalf("%s (%T): %v: its convolution and pooling checks would be skipped", b.Name(), b, ErrNoConvolver)
	}
}

// conv returns the case's backend as a Convolver; the conv checks run only
// on one.
func (c *tcase) conv() backend.Convolver { return c.b.(backend.Convolver) }

// convShapes cover odd sizes, strides 2 and unequal strides, padding
// (unequal, and larger than the kernel needs: whole windows in the
// padding), 1x1 and non-square kernels, batch 1 and 0, channel counts that
// are not multiples of any block size, the empty channel counts that
// ConvShape allows, and the layers of PyTorch's classic MNIST network at a
// small batch.
var convShapes = []backend.ConvShape{
	{N: 2, C: 3, H: 7, W: 5, K: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	{N: 2, C: 3, H: 9, W: 9, K: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 8, W: 8, K: 2, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	{N: 3, C: 2, H: 10, W: 8, K: 3, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 1},
	{N: 2, C: 5, H: 6, W: 11, K: 3, KH: 2, KW: 4, StrideH: 1, StrideW: 3, PadW: 2},
	{N: 1, C: 2, H: 5, W: 4, K: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 3, PadW: 2},
	{N: 2, C: 3, H: 4, W: 7, K: 2, KH: 2, KW: 3, StrideH: 3, StrideW: 2, PadH: 2, PadW: 3},
	{N: 3, C: 5, H: 4, W: 6, K: 7, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
	{N: 2, C: 3, H: 7, W: 6, K: 4, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
	{N: 2, C: 2, H: 5, W: 5, K: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1, PadH: 1, PadW: 2},
	{N: 2, C: 3, H: 7, W: 5, K: 2, KH: 1, KW: 5, StrideH: 1, StrideW: 1, PadW: 2},
	{N: 2, C: 2, H: 6, W: 5, K: 3, KH: 5, KW: 1, StrideH: 1, StrideW: 1, PadH: 1},
	{N: 2, C: 2, H: 9, W: 9, K: 3, KH: 2, KW: 2, StrideH: 3, StrideW: 3},
	{N: 2, C: 3, H: 5, W: 6, K: 4, KH: 5, KW: 6, StrideH: 1, StrideW: 1},
	{N: 1, C: 1, H: 1, W: 1, K: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
	{N: 1, C: 1, H: 9, W: 8, K: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{N: 1, C: 5, H: 8, W: 7, K: 17, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{N: 2, C: 17, H: 6, W: 7, K: 33, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{N: 2, C: 33, H: 5, W: 5, K: 17, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	{N: 2, C: 1, H: 28, W: 28, K: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	{N: 2, C: 32, H: 13, W: 13, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	{N: 0, C: 3, H: 5, W: 5, K: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{N: 2, C: 0, H: 5, W: 4, K: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	{N: 2, C: 3, H: 5, W: 4, K: 0, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
}

func convName(s backend.ConvShape) string {
	return fmt.Sprintf("N=%d C=%d H=%d W=%d K=%d kernel=%dx%d stride=%dx%d pad=%dx%d",
		s.N, s.C, s.H, s.W, s.K, s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW)
}

func poolName(s backend.PoolShape) string {
	return fmt.Sprintf("N=%d C=%d H=%d W=%d window=%dx%d stride=%dx%d pad=%dx%d",
		s.N, s.C, s.H, s.W, s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW)
}

// magnitudes returns |x| (nil for nil), so that an operation applied to
// the magnitudes of its inputs gives the sum of |terms| of its error bound.
func magnitudes(x []float32) []float32 {
	if x == nil {
		return nil
	}
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(math.Abs(float64(v)))
	}
	return out
}

// bound returns g*abs[i] for every i.
func bound(g float64, abs []float64) []float64 {
	out := make([]float64, len(abs))
	for i, v := range abs {
		out[i] = g * v
	}
	return out
}

// biasNote names the two forms of an operation with an optional bias.
func biasNote(present bool) string {
	if present {
		return " with bias"
	}
	return " without bias"
}

// optIn uploads x as an input, or returns a nil Buffer for a nil x.
func (c *tcase) optIn(x []float32) backend.Buffer {
	if x == nil {
		return nil
	}
	return c.in(x).h
}

// checkConv2d: y = conv(x, weight) + bias, with and without bias, over y
// filled with NaN (every element must be written).
func checkConv2d(s *suite) {
	for _, sh := range convShapes {
		x, w, b := s.normal(sh.InLen(), 1), s.normal(sh.WeightLen(), 1), s.normal(sh.K, 1)
		for _, hasBias := range []bool{true, false} {
			bias := b
			if !hasBias {
				bias = nil
			}
			want := ref.Conv2d(x, w, bias, sh)
			tol := bound(ref.Gamma(sh.C*sh.KH*sh.KW+4), ref.Conv2d(magnitudes(x), magnitudes(w), magnitudes(bias), sh))
			s.run(convName(sh)+biasNote(hasBias), func(c *tcase) {
				xb, wb, bb := c.in(x), c.in(w), c.optIn(bias)
				yb := c.out(nans(sh.OutLen()))
				c.conv().Conv2d(xb.h, wb.h, bb, yb.h, sh)
				c.compare("y", c.result("y", yb), want, each(tol))
			})
		}
	}
}

// checkConv2dBackwardData: dx over NaN, so that pixels no window covers
// (strides larger than the kernel, rows the floor drops) must be written
// as 0. At most K*KH*KW products meet at one pixel.
func checkConv2dBackwardData(s *suite) {
	for _, sh := range convShapes {
		dy, w := s.normal(sh.OutLen(), 1), s.normal(sh.WeightLen(), 1)
		want := ref.Conv2dBackwardData(dy, w, sh)
		tol := bound(ref.Gamma(sh.K*sh.KH*sh.KW+4), ref.Conv2dBackwardData(magnitudes(dy), magnitudes(w), sh))
		s.run(convName(sh), func(c *tcase) {
			dyb, wb := c.in(dy), c.in(w)
			dxb := c.out(nans(sh.InLen()))
			c.conv().Conv2dBackwardData(dyb.h, wb.h, dxb.h, sh)
			c.compare("dx", c.result("dx", dxb), want, each(tol))
		})
	}
}

// checkConv2dBackwardFilter: dWeight and dBias accumulate onto non-zero
// previous values (N*OH*OW products each); with N == 0 they are unchanged,
// bit for bit.
func checkConv2dBackwardFilter(s *suite) {
	for _, sh := range convShapes {
		x, dy := s.normal(sh.InLen(), 1), s.normal(sh.OutLen(), 1)
		dw0, db := s.normal(sh.WeightLen(), 1), s.normal(sh.K, 1)
		for _, hasBias := range []bool{true, false} {
			db0 := db
			if !hasBias {
				db0 = nil
			}
			wantW, wantB := ref.Conv2dBackwardFilter(x, dy, dw0, db0, sh)
			absW, absB := ref.Conv2dBackwardFilter(magnitudes(x), magnitudes(dy), magnitudes(dw0), magnitudes(db0), sh)
			g := ref.Gamma(sh.N*sh.OutH()*sh.OutW() + 4)
			tolW, tolB := bound(g, absW), bound(g, absB)
			s.run(convName(sh)+biasNote(hasBias), func(c *tcase) {
				xb, dyb := c.in(x), c.in(dy)
				dwb := c.out(dw0)
				var dbb *buf
				var dbh backend.Buffer
				if hasBias {
					dbb = c.out(db0)
					dbh = dbb.h
				}
				c.conv().Conv2dBackwardFilter(xb.h, dyb.h, dwb.h, dbh, sh)
				dw := c.result("dWeight", dwb)
				if sh.N == 0 {
					c.expectBits("dWeight (N = 0: unchanged)", dw, dw0)
				} else {
					c.compare("dWeight (accumulated onto its previous value)", dw, wantW, each(tolW))
				}
				if !hasBias {
					return
				}
				dbGot := c.result("dBias", dbb)
				if sh.N == 0 {
					c.expectBits("dBias (N = 0: unchanged)", dbGot, db0)
				} else {
					c.compare("dBias (accumulated onto its previous value)", dbGot, wantB, each(tolB))
				}
			})
		}
	}
}

// poolShapes cover the usual 2x2 window, odd sizes whose last row and
// column no window covers, overlapping windows (stride < window, where
// gradients add), padding up to half the window, unequal windows, strides
// and padding, 1x1 windows, a window over the whole image (global
// pooling), strides larger than the window, batch 1 and 0, channel counts
// that are not multiples of any block size, and the pooling layers of
// PyTorch's classic MNIST network at a small batch.
var poolShapes = []backend.PoolShape{
	{N: 2, C: 3, H: 6, W: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 3, H: 7, W: 5, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 2, H: 7, W: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 1, C: 2, H: 6, W: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 9, W: 8, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 1},
	{N: 2, C: 2, H: 5, W: 10, KH: 2, KW: 4, StrideH: 1, StrideW: 3, PadW: 2},
	{N: 2, C: 2, H: 4, W: 7, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 5, W: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
	{N: 2, C: 3, H: 5, W: 4, KH: 1, KW: 1, StrideH: 2, StrideW: 3},
	{N: 2, C: 5, H: 5, W: 7, KH: 5, KW: 7, StrideH: 1, StrideW: 1},
	{N: 2, C: 2, H: 9, W: 9, KH: 2, KW: 2, StrideH: 3, StrideW: 3},
	{N: 1, C: 1, H: 1, W: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
	{N: 1, C: 17, H: 6, W: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 33, H: 5, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 32, H: 26, W: 26, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 64, H: 11, W: 11, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 0, C: 3, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 0, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
}

// maxPoolInput is one input of the max-pooling checks.
type maxPoolInput struct {
	name string
	x    []float32
}

// maxPoolInputs returns, for a shape, random values; values drawn from
// {-1, -0, 0, 1}, so that most windows hold ties (the gradient goes to
// the first maximum); and random values with NaN, -Inf and +Inf scattered
// among them and the second plane all -Inf (each window's maximum is -Inf,
// found at its first pixel inside the input).
func (s *suite) maxPoolInputs(sh backend.PoolShape) []maxPoolInput {
	n := sh.InLen()
	ties := make([]float32, n)
	levels := []float32{-1, float32(math.Copysign(0, -1)), 0, 1}
	for i := range ties {
		ties[i] = levels[s.rng.IntN(len(levels))]
	}
	specials := s.normal(n, 1)
	for i := range specials {
		switch r := s.rng.Float64(); {
		case r < 0.06:
			specials[i] = float32(math.NaN())
		case r < 0.16:
			specials[i] = float32(math.Inf(-1))
		case r < 0.19:
			specials[i] = float32(math.Inf(1))
		}
	}
	if plane := sh.H * sh.W; n >= 2*plane {
		copy(specials[plane:2*plane], filled(plane, float32(math.Inf(-1))))
	}
	return []maxPoolInput{
		{"random", s.normal(n, 1)},
		{"ties", ties},
		{"NaN and infinities", specials},
	}
}

// sameValues checks got[i] == want[i] exactly, NaN matching NaN (and -0
// matching 0: the maximum of a window holding both is either).
func (c *tcase) sameValues(what string, got []float32, want []float64) {
	if len(got) != len(want) {
		c.failf("%s: %d elements, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		g := float64(got[i])
		if g != want[i] && !(math.IsNaN(g) && math.IsNaN(want[i])) {
			c.failf("%s: [%d] = %g, want %g exactly", what, i, got[i], want[i])
			return
		}
	}
}

func checkMaxPool2d(s *suite) {
	for _, sh := range poolShapes {
		for _, in := range s.maxPoolInputs(sh) {
			want := ref.MaxPool2d(in.x, sh)
			s.run(poolName(sh)+" "+in.name, func(c *tcase) {
				xb, yb := c.in(in.x), c.out(nans(sh.OutLen()))
				c.conv().MaxPool2d(xb.h, yb.h, sh)
				c.sameValues("y", c.result("y", yb), want)
			})
		}
	}
}

// checkMaxPool2dBackward: dx over NaN (pixels that are no window's
// maximum get 0); where windows overlap, a pixel sums the gradients of
// the windows whose maximum it is (at most KH*KW of them).
func checkMaxPool2dBackward(s *suite) {
	for _, sh := range poolShapes {
		for _, in := range s.maxPoolInputs(sh) {
			dy := s.normal(sh.OutLen(), 1)
			want := ref.MaxPool2dBackward(in.x, dy, sh)
			tol := bound(ref.Gamma(sh.KH*sh.KW+1), ref.MaxPool2dBackward(in.x, magnitudes(dy), sh))
			s.run(poolName(sh)+" "+in.name, func(c *tcase) {
				xb, dyb, dxb := c.in(in.x), c.in(dy), c.out(nans(sh.InLen()))
				c.conv().MaxPool2dBackward(xb.h, dyb.h, dxb.h, sh)
				c.compare("dx", c.result("dx", dxb), want, each(tol))
			})
		}
	}
}

// checkAvgPool2d: the sum of a window (at most KH*KW terms, padding
// counted as zeros) and the division by KH*KW, or the product with its
// rounded reciprocal.
func checkAvgPool2d(s *suite) {
	for _, sh := range poolShapes {
		x := s.normal(sh.InLen(), 1)
		want := ref.AvgPool2d(x, sh)
		tol := bound(ref.Gamma(sh.KH*sh.KW+3), ref.AvgPool2d(magnitudes(x), sh))
		s.run(poolName(sh), func(c *tcase) {
			xb, yb := c.in(x), c.out(nans(sh.OutLen()))
			c.conv().AvgPool2d(xb.h, yb.h, sh)
			c.compare("y", c.result("y", yb), want, each(tol))
		})
	}
}

// checkAvgPool2dBackward: dx over NaN (pixels no window covers get 0).
func checkAvgPool2dBackward(s *suite) {
	for _, sh := range poolShapes {
		dy := s.normal(sh.OutLen(), 1)
		want := ref.AvgPool2dBackward(dy, sh)
		tol := bound(ref.Gamma(sh.KH*sh.KW+3), ref.AvgPool2dBackward(magnitudes(dy), sh))
		s.run(poolName(sh), func(c *tcase) {
			dyb, dxb := c.in(dy), c.out(nans(sh.InLen()))
			c.conv().AvgPool2dBackward(dyb.h, dxb.h, sh)
			c.compare("dx", c.result("dx", dxb), want, each(tol))
		})
	}
}

// transposeShapes are {batch, rows, cols}: empty, degenerate, odd, tall
// and wide, and BatchNorm2d's NCHW <-> NHWC of the classic network's
// feature maps at a small batch.
var transposeShapes = [][3]int{
	{0, 3, 5}, {2, 0, 5}, {2, 3, 0}, {1, 1, 1}, {2, 3, 5}, {3, 17, 33},
	{1, 1, 100}, {1, 100, 1}, {5, 33, 65}, {4, 32, 676}, {4, 676, 32}, {2, 64, 121},
}

// checkTransposeBatch compares bit for bit: a transpose moves values, it
// does not compute (NaN, infinities and -0 included).
func checkTransposeBatch(s *suite) {
	for _, sh := range transposeShapes {
		batch, rows, cols := sh[0], sh[1], sh[2]
		x := withSpecials(s.normal(batch*rows*cols, 1), memSpecials)
		want := narrow(ref.TransposeBatch(x, batch, rows, cols))
		s.run(fmt.Sprintf("batch=%d rows=%d cols=%d", batch, rows, cols), func(c *tcase) {
			xb, yb := c.in(x), c.out(nans(batch*rows*cols))
			c.conv().TransposeBatch(xb.h, yb.h, batch, rows, cols)
			c.expectBits("y", c.result("y", yb), want)
		})
	}
}
