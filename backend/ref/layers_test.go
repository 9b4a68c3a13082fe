package ref

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// TestDropoutUniformSplitMix64 checks backend.DropoutUniform against the
// published outputs of SplitMix64 (the reference C code of Steele, Lea and
// Flood, as in Vigna's xoshiro page) for seeds 0 and 1234567: draw i is the
// top 24 bits of output i+1.
func TestDropoutUniformSplitMix64(t *testing.T) {
	published := map[uint64][]uint64{
		0:       {0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f},
		1234567: {6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821},
	}
	for seed, outs := range published {
		for i, v := range outs {
			want := float32(v>>40) * 0x1p-24
			if got := backend.DropoutUniform(seed, i); got != want {
				t.Errorf("DropoutUniform(%d, %d) = %v, want %v (output %#x)", seed, i, got, want, v)
			}
		}
	}
}

// TestDropoutUniformPinned pins a few draws, computed once, so that the
// definition cannot drift: every backend's masks depend on it.
func TestDropoutUniformPinned(t *testing.T) {
	cases := []struct {
		seed uint64
		i    int
		bits uint32 // the draw times 2^24
	}{
		{0, 0, 14819496},
		{0, 1, 7239838},
		{0, 2, 443485},
		{1234567, 4, 14923828},
		{42, 1000000, 11555781},
		{0xffffffffffffffff, 123456789, 13427339},
		{0xdeadbeefcafef00d, 7, 16173403},
	}
	for _, c := range cases {
		want := float32(c.bits) * 0x1p-24
		if got := backend.DropoutUniform(c.seed, c.i); got != want {
			t.Errorf("DropoutUniform(%#x, %d) = %.9g, want %.9g", c.seed, c.i, got, want)
		}
	}
}

// TestDropoutMaskMatchesUniform checks that the sequential generator of
// DropoutMask draws what the counter-based backend.DropoutUniform draws.
func TestDropoutMaskMatchesUniform(t *testing.T) {
	const n = 20000
	for _, seed := range []uint64{0, 1, 42, 0x9E3779B97F4A7C15, math.MaxUint64} {
		for _, p := range []float32{0, 0.3, 0.5} {
			mask := DropoutMask(n, float64(p), seed)
			keep := 1 / (1 - float64(p))
			for i, m := range mask {
				u := backend.DropoutUniform(seed, i)
				if u < 0 || u >= 1 {
					t.Fatalf("DropoutUniform(%d, %d) = %v, outside [0, 1)", seed, i, u)
				}
				want := keep
				if u < p {
					want = 0
				}
				if m != want {
					t.Fatalf("seed %d p %v: mask[%d] = %v, want %v (draw %v)", seed, p, i, m, want, u)
				}
			}
		}
	}
}

// TestDropoutMaskStatistics checks that the fraction of dropped elements
// is p and the mean of the mask 1, each within 4 standard deviations.
func TestDropoutMaskStatistics(t *testing.T) {
	const n = 100000
	for _, seed := range []uint64{1, 2, 12345} {
		for _, p := range []float64{0.1, 0.5, 0.9} {
			mask := DropoutMask(n, p, seed)
			dropped, sum := 0, 0.0
			for _, m := range mask {
				if m == 0 {
					dropped++
				}
				sum += m
			}
			frac := float64(dropped) / n
			if sigma := math.Sqrt(p * (1 - p) / n); math.Abs(frac-p) > 4*sigma {
				t.Errorf("seed %d p %v: dropped %v of the elements, want %v within %.3g", seed, p, frac, p, 4*sigma)
			}
			// Each element is 1/(1-p) with probability 1-p: mean 1,
			// variance p/(1-p).
			if sigma := math.Sqrt(p / (1 - p) / n); math.Abs(sum/n-1) > 4*sigma {
				t.Errorf("seed %d p %v: mask mean %v, want 1 within %.3g", seed, p, sum/n, 4*sigma)
			}
		}
	}
	// Neighbouring seeds must not give shifted copies of one stream: the
	// draws of seed s+1 are not those of seed s moved by one element.
	same := 0
	for i := 0; i < 1000; i++ {
		if backend.DropoutUniform(7, i+1) == backend.DropoutUniform(8, i) {
			same++
		}
	}
	if same > 1 {
		t.Errorf("seeds 7 and 8 share %d of 1000 draws", same)
	}
}

func TestDropoutMaskEdges(t *testing.T) {
	nearAll(t, "p = 0", DropoutMask(5, 0, 3), []float64{1, 1, 1, 1, 1}, 0)
	if got := DropoutMask(0, 0.5, 3); len(got) != 0 {
		t.Errorf("n = 0: %v", got)
	}
	// p equal to a draw keeps that element: dropped only where u < p.
	u := backend.DropoutUniform(9, 4)
	if m := DropoutMask(5, float64(u), 9); m[4] == 0 {
		t.Errorf("element drawn exactly at p was dropped")
	}
	for _, p := range []float64{-0.1, 1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("DropoutMask with p = %v did not panic", p)
				}
			}()
			DropoutMask(3, p, 0)
		}()
	}
}

func TestBatchNormForwardByHand(t *testing.T) {
	// Column 0 is [1 2 3]: mean 2, biased variance 2/3, unbiased 1, so
	// with eps 0 xhat = (x-2)*sqrt(1.5) = [-1.2247, 0, 1.2247].
	// Column 1 is [10 10 16]: mean 12, variance 8, unbiased 12; with
	// gamma 2 and beta 1, y = 2*(x-12)/sqrt(8) + 1.
	x := []float32{1, 10, 2, 10, 3, 16}
	gamma, beta := []float32{1, 2}, []float32{0, 1}
	r := math.Sqrt(1.5)
	c1 := []float64{2*(-2)/math.Sqrt(8) + 1, 2*(-2)/math.Sqrt(8) + 1, 2*4/math.Sqrt(8) + 1}
	got := BatchNormForward(x, gamma, beta, []float32{0, 1}, []float32{1, 2}, 3, 2, 0.1, 0, true)
	nearAll(t, "y", got.Y, []float64{-r, c1[0], 0, c1[1], r, c1[2]}, 1e-12)
	nearAll(t, "mean", got.Mean, []float64{2, 12}, 1e-12)
	nearAll(t, "invStd", got.InvStd, []float64{r, 1 / math.Sqrt(8)}, 1e-12)
	// runMean = 0.9*[0 1] + 0.1*[2 12]; runVar = 0.9*[1 2] + 0.1*[1 12]
	// (the unbiased variance).
	nearAll(t, "runMean", got.RunMean, []float64{0.2, 2.1}, 1e-12)
	nearAll(t, "runVar", got.RunVar, []float64{1, 3}, 1e-12)

	// Momentum 0 leaves the running statistics as they were.
	got = BatchNormForward(x, gamma, beta, []float32{0, 1}, []float32{1, 2}, 3, 2, 0, 1e-5, true)
	nearAll(t, "runMean momentum 0", got.RunMean, []float64{0, 1}, 0)
	nearAll(t, "runVar momentum 0", got.RunVar, []float64{1, 2}, 0)

	// Two rows: [a b] has mean (a+b)/2, variance ((a-b)/2)^2, unbiased
	// (a-b)^2/2, and xhat = [-1, 1] (eps 0).
	got = BatchNormForward([]float32{5, 1}, []float32{1}, []float32{0}, []float32{0}, []float32{0}, 2, 1, 1, 0, true)
	nearAll(t, "2x1 y", got.Y, []float64{1, -1}, 1e-12)
	nearAll(t, "2x1 runVar (momentum 1)", got.RunVar, []float64{8}, 1e-12)

	// Evaluation: the running statistics, unchanged; mean = runMean.
	runMean, runVar := []float32{2, 12}, []float32{0.5, 8}
	got = BatchNormForward(x, gamma, beta, runMean, runVar, 3, 2, 0.1, 0, false)
	s := math.Sqrt(2)
	nearAll(t, "eval y", got.Y, []float64{-s, c1[0], 0, c1[1], s, c1[2]}, 1e-12)
	nearAll(t, "eval mean", got.Mean, []float64{2, 12}, 0)
	nearAll(t, "eval invStd", got.InvStd, []float64{s, 1 / math.Sqrt(8)}, 1e-12)
	nearAll(t, "eval runMean", got.RunMean, []float64{2, 12}, 0)
	nearAll(t, "eval runVar", got.RunVar, []float64{0.5, 8}, 0)
	// eps is added to the running variance: 1/sqrt(0.5 + 1).
	got = BatchNormForward(x, gamma, beta, runMean, runVar, 3, 2, 0.1, 1, false)
	near(t, "eval invStd eps 1", got.InvStd[0], 1/math.Sqrt(1.5), 1e-12)
	// One row is fine in evaluation.
	got = BatchNormForward([]float32{3}, []float32{2}, []float32{1}, []float32{2}, []float32{4}, 1, 1, 0.1, 0, false)
	nearAll(t, "eval one row", got.Y, []float64{2*(3-2)/2.0 + 1}, 1e-12)

	// No rows: nothing is written.
	got = BatchNormForward(nil, gamma, beta, runMean, runVar, 0, 2, 0.1, 0, true)
	if len(got.Y) != 0 || got.Mean != nil || got.InvStd != nil {
		t.Errorf("rows = 0: %+v, want no output", got)
	}
	nearAll(t, "rows 0 runVar", got.RunVar, []float64{0.5, 8}, 0)
}

func TestBatchNormForwardOneRowPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("training on one row did not panic")
		}
	}()
	BatchNormForward([]float32{1, 2}, []float32{1, 1}, []float32{0, 0}, []float32{0, 0}, []float32{1, 1}, 1, 2, 0.1, 1e-5, true)
}

func TestBatchNormBackwardByHand(t *testing.T) {
	// x = [1 2 3], dy = [1 0 0], gamma 1: s = sqrt(1.5), xhat = [-s 0 s],
	// sum dy = 1, sum dy*xhat = -s, and dx = s/3*(3dy - 1 + s*xhat)
	// = [s/6, -s/3, s/6].
	s := math.Sqrt(1.5)
	dx, dg, db := BatchNormBackward([]float32{1, 2, 3}, []float32{1, 0, 0}, []float32{1},
		[]float32{2}, []float32{float32(s)}, []float32{0.5}, []float32{0.25}, 3, 1)
	nearAll(t, "dx", dx, []float64{s / 6, -s / 3, s / 6}, 1e-7)
	nearAll(t, "dGamma (accumulated onto 0.5)", dg, []float64{0.5 - s}, 1e-7)
	nearAll(t, "dBeta (accumulated onto 0.25)", db, []float64{1.25}, 0)
	// A gradient that is constant down a column, or proportional to xhat,
	// does not reach x: normalisation removes both directions.
	dx, _, _ = BatchNormBackward([]float32{1, 2, 3}, []float32{4, 4, 4}, []float32{3},
		[]float32{2}, []float32{float32(s)}, []float32{0}, []float32{0}, 3, 1)
	nearAll(t, "dx of constant dy", dx, []float64{0, 0, 0}, 1e-12)
}

// gridValues returns n values that are multiples of 2^-6 in [-2, 2), so
// that a value plus or minus 2^-10 is exact in float32.
func gridValues(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.IntN(256)-128) / 64
	}
	return out
}

// TestBatchNormBackwardFiniteDifference checks the backward pass against
// central differences of L = sum dy*y through the training-mode forward.
func TestBatchNormBackwardFiniteDifference(t *testing.T) {
	const rows, cols, eps, h = 6, 3, 1e-3, 0x1p-10
	r := rand.New(rand.NewPCG(3, 4))
	x, gamma, beta, dy := gridValues(r, rows*cols), gridValues(r, cols), gridValues(r, cols), gridValues(r, rows*cols)
	zero := make([]float32, cols)
	loss := func() float64 {
		out := BatchNormForward(x, gamma, beta, zero, zero, rows, cols, 0.1, eps, true)
		l := 0.0
		for i, v := range out.Y {
			l += float64(dy[i]) * v
		}
		return l
	}
	diff := func(v *float32) float64 {
		old := *v
		*v = old + h
		up := loss()
		*v = old - h
		down := loss()
		*v = old
		return (up - down) / (2 * h)
	}
	fwd := BatchNormForward(x, gamma, beta, zero, zero, rows, cols, 0.1, eps, true)
	dx, dg, db := BatchNormBackward(x, dy, gamma, narrow(fwd.Mean), narrow(fwd.InvStd), zero, zero, rows, cols)
	for i := range x {
		near(t, "dx", dx[i], diff(&x[i]), 1e-4*(1+math.Abs(dx[i])))
	}
	for j := range gamma {
		near(t, "dGamma", dg[j], diff(&gamma[j]), 1e-4*(1+math.Abs(dg[j])))
		near(t, "dBeta", db[j], diff(&beta[j]), 1e-9)
	}
}

func TestSoftmaxBackward(t *testing.T) {
	// y = [0.25 0.75], dy = [1 0]: sum dy*y = 0.25, dx = [0.25*0.75, 0.75*-0.25].
	nearAll(t, "by hand", SoftmaxBackward([]float32{0.25, 0.75}, []float32{1, 0}, 1, 2), []float64{0.1875, -0.1875}, 0)
	// One column: y = 1, so dx = dy - dy = 0.
	nearAll(t, "one column", SoftmaxBackward([]float32{1, 1}, []float32{3, -2}, 2, 1), []float64{0, 0}, 0)

	// Central differences of L = sum dy*softmax(x).
	const rows, cols, h = 3, 5, 0x1p-10
	r := rand.New(rand.NewPCG(5, 6))
	x, dy := gridValues(r, rows*cols), gridValues(r, rows*cols)
	dx := SoftmaxBackward(narrow(Softmax(x, rows, cols)), dy, rows, cols)
	for i := range x {
		old := x[i]
		l := func() float64 {
			s := 0.0
			for k, v := range Softmax(x, rows, cols) {
				s += float64(dy[k]) * v
			}
			return s
		}
		x[i] = old + h
		up := l()
		x[i] = old - h
		down := l()
		x[i] = old
		near(t, "dx", dx[i], (up-down)/(2*h), 1e-5)
	}
}
