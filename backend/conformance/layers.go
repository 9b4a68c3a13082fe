package conformance

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// Checks of the operations behind the Softmax, Dropout and BatchNorm
// layers.

// softmaxBackwardShapes are {rows, cols}.
var softmaxBackwardShapes = [][2]int{{0, 5}, {1, 1}, {1, 7}, {7, 1}, {3, 7}, {64, 10}, {1000, 100}, {2, 50001}}

// softmaxBackwardTol bounds the float32 error of y*(dy - dot): the dot
// product of a row (cols terms) and the few roundings around it.
func softmaxBackwardTol(y, dy []float32, rows, cols int) []float64 {
	tol := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		absDot, dot := 0.0, 0.0
		for j := 0; j < cols; j++ {
			p := float64(y[i*cols+j]) * float64(dy[i*cols+j])
			absDot += math.Abs(p)
			dot += p
		}
		for j := 0; j < cols; j++ {
			k := i*cols + j
			tol[k] = abs32(y[k])*(ref.Gamma(cols+2)*absDot+3*ref.Unit*(abs32(dy[k])+math.Abs(dot))) + 0x1p-148
		}
	}
	return tol
}

func checkSoftmaxBackward(s *suite) {
	type input struct {
		name       string
		rows, cols int
		x          []float32
	}
	var inputs []input
	for _, sh := range softmaxBackwardShapes {
		inputs = append(inputs, input{"", sh[0], sh[1], s.normal(sh[0]*sh[1], 3)})
	}
	// Saturated rows: y holds exact zeros and ones.
	const cols = 10
	big := s.normal(4*cols, 30)
	big[3] = 1000
	inputs = append(inputs, input{" saturated", 4, cols, big})
	for _, in := range inputs {
		rows, cols := in.rows, in.cols
		y := narrow(ref.Softmax(in.x, rows, cols))
		dy := s.normal(rows*cols, 1)
		want := ref.SoftmaxBackward(y, dy, rows, cols)
		tol := each(softmaxBackwardTol(y, dy, rows, cols))
		s.run(fmt.Sprintf("rows=%d cols=%d%s", rows, cols, in.name), func(c *tcase) {
			yb, dyb, dxb := c.in(y), c.in(dy), c.out(nans(rows*cols))
			c.b.SoftmaxBackward(yb.h, dyb.h, dxb.h, rows, cols)
			c.compare("dx", c.result("dx", dxb), want, tol)
		})
		s.run(fmt.Sprintf("rows=%d cols=%d%s dx==dy", rows, cols, in.name), func(c *tcase) {
			yb, dyb := c.in(y), c.out(dy)
			c.b.SoftmaxBackward(yb.h, dyb.h, dyb.h, rows, cols)
			c.compare("dx", c.result("dx", dyb), want, tol)
		})
	}
}

// dropoutSeeds include 0 and the largest seed, where seed + (i+1)*gamma
// wraps.
var dropoutSeeds = []uint64{0, 1, 0xdeadbeefcafef00d, math.MaxUint64}

// checkDropoutMask compares masks bit for bit: the mask is defined by the
// hash, so every backend must draw exactly the same one.
func checkDropoutMask(s *suite) {
	// p = -0 is p = 0 (everything kept, at 1). For p = 0.15, 1/(1-p) in
	// float32 arithmetic is an ulp away from the kept value, which is
	// 1/(1-p) in float64 rounded to float32.
	for _, seed := range dropoutSeeds {
		for _, p := range []float32{0, float32(math.Copysign(0, -1)), 0.1, 0.15, 0.5, 0.9, 0.999} {
			for _, n := range sizes {
				want := narrow(ref.DropoutMask(n, float64(p), seed))
				s.run(fmt.Sprintf("seed=%#x p=%g n=%d", seed, p, n), func(c *tcase) {
					mb := c.out(nans(n))
					c.b.DropoutMask(mb.h, n, p, seed)
					c.expectBits("mask", c.result("mask", mb), want)
				})
			}
		}
	}
	// p equal to a draw: that element is kept (dropped only where the draw
	// is below p).
	for _, seed := range dropoutSeeds {
		const n, at = 7, 3
		p := backend.DropoutUniform(seed, at)
		want := narrow(ref.DropoutMask(n, float64(p), seed))
		s.run(fmt.Sprintf("seed=%#x p=draw[%d]=%g n=%d", seed, at, p, n), func(c *tcase) {
			mb := c.out(nans(n))
			c.b.DropoutMask(mb.h, n, p, seed)
			c.expectBits("mask (the element drawn exactly at p is kept)", c.result("mask", mb), want)
		})
	}
}

// bnShapes are {rows, cols}: the smallest batch, odd sizes, a layer's
// usual shape, tall and wide matrices (split across workers by rows or by
// columns).
var bnShapes = [][2]int{{2, 1}, {3, 7}, {128, 256}, {1000, 3}, {4096, 40}, {16, 5000}}

// bnConfig is one setting of the forward pass.
type bnConfig struct {
	momentum, eps float32
}

var bnConfigs = []bnConfig{{0.1, 1e-5}, {0, 1e-5}, {0.1, 0}}

// bnInput returns a rows x cols matrix whose columns have their own scale
// (0.14 to 7.4) and an offset of up to 3 scales, so that the mean does not
// vanish and x-mean cancels. With constColumn and more than one column,
// column 0 is constant (zero variance: invStd is 1/sqrt(eps)).
func (s *suite) bnInput(rows, cols int, constColumn bool) []float32 {
	x := make([]float32, rows*cols)
	for j := 0; j < cols; j++ {
		scale := math.Exp(4*s.rng.Float64() - 2)
		off := scale * (6*s.rng.Float64() - 3)
		for i := 0; i < rows; i++ {
			x[i*cols+j] = float32(off + scale*s.rng.NormFloat64())
		}
		if constColumn && j == 0 && cols > 1 {
			for i := 0; i < rows; i++ {
				x[i*cols] = float32(off)
			}
		}
	}
	return x
}

// bnStats returns, for each column, the float64 mean, the biased
// variance, and the sum of |x|.
func bnStats(x []float32, rows, cols int) (mean, variance, absSum []float64) {
	mean, variance, absSum = make([]float64, cols), make([]float64, cols), make([]float64, cols)
	for j := 0; j < cols; j++ {
		for i := 0; i < rows; i++ {
			mean[j] += float64(x[i*cols+j])
			absSum[j] += abs32(x[i*cols+j])
		}
		mean[j] /= float64(rows)
		for i := 0; i < rows; i++ {
			d := float64(x[i*cols+j]) - mean[j]
			variance[j] += d * d
		}
		variance[j] /= float64(rows)
	}
	return mean, variance, absSum
}

// bnForwardTol holds the tolerances of the forward results.
type bnForwardTol struct {
	y, mean, invStd, runMean, runVar []float64
}

// bnForwardTolerances bounds the float32 error of a forward pass that sums
// each column in float32 (rows terms) and computes the variance in two
// passes; the variance error is relative to the variance itself, plus the
// square of the mean's error. y may be computed as (x-mean)*invStd*gamma +
// beta or in the fused form x*a + b, with a = gamma*invStd and
// b = beta - mean*a: both lose a few ulps of |x|+|mean| scaled by a.
func bnForwardTolerances(x, gamma, beta, runMean, runVar []float32, want ref.BatchNormOut, rows, cols int, cfg bnConfig, training bool) bnForwardTol {
	const u = ref.Unit
	n := float64(rows)
	mom := float64(cfg.momentum)
	t := bnForwardTol{
		y:    make([]float64, rows*cols),
		mean: make([]float64, cols), invStd: make([]float64, cols),
		runMean: make([]float64, cols), runVar: make([]float64, cols),
	}
	var variance, absSum []float64
	if training {
		_, variance, absSum = bnStats(x, rows, cols)
	}
	for j := 0; j < cols; j++ {
		m, s := want.Mean[j], want.InvStd[j]
		em := 0.0
		if training {
			em = ref.Gamma(rows+2) * absSum[j] / n
			ev := ref.Gamma(rows+4)*variance[j] + em*em
			t.mean[j] = em
			t.invStd[j] = s * (0.5*ev/(variance[j]+float64(cfg.eps)) + 8*u)
			if mom != 0 {
				unbiased := variance[j] * n / (n - 1)
				t.runMean[j] = 4*u*((1-mom)*abs32(runMean[j])+mom*math.Abs(m)) + mom*em
				t.runVar[j] = 4*u*((1-mom)*abs32(runVar[j])+mom*unbiased) + mom*ev*n/(n-1)
			}
		} else {
			t.invStd[j] = 8 * u * s
		}
		g := abs32(gamma[j])
		for i := 0; i < rows; i++ {
			xv := float64(x[i*cols+j])
			d := math.Abs(xv - m)
			t.y[i*cols+j] = g*s*(em+4*u*(math.Abs(xv)+math.Abs(m))) + g*d*t.invStd[j] + 4*u*(g*d*s+abs32(beta[j])) + 0x1p-140
		}
	}
	return t
}

func checkBatchNormForward(s *suite) {
	for _, cfg := range bnConfigs {
		for _, training := range []bool{true, false} {
			shapes := bnShapes
			if !training {
				shapes = append([][2]int{{1, 5}}, shapes...) // one row is fine in evaluation
			}
			for _, sh := range shapes {
				rows, cols := sh[0], sh[1]
				x := s.bnInput(rows, cols, cfg.eps != 0)
				gamma, beta := s.normal(cols, 1), s.normal(cols, 1)
				runMean, runVar := s.normal(cols, 1), s.uniform(cols, 0.5, 2)
				want := ref.BatchNormForward(x, gamma, beta, runMean, runVar, rows, cols, float64(cfg.momentum), float64(cfg.eps), training)
				tol := bnForwardTolerances(x, gamma, beta, runMean, runVar, want, rows, cols, cfg, training)
				name := fmt.Sprintf("training=%v momentum=%g eps=%g rows=%d cols=%d", training, cfg.momentum, cfg.eps, rows, cols)
				s.run(name, func(c *tcase) {
					xb, gb, bb := c.in(x), c.in(gamma), c.in(beta)
					yb, mb, sb := c.out(nans(rows*cols)), c.out(nans(cols)), c.out(nans(cols))
					// Without training the running statistics are inputs:
					// they must be left unchanged.
					rmb, rvb := c.in(runMean), c.in(runVar)
					if training {
						rmb, rvb = c.out(runMean), c.out(runVar)
					}
					c.b.BatchNormForward(xb.h, yb.h, gb.h, bb.h, mb.h, sb.h, rmb.h, rvb.h, rows, cols, cfg.momentum, cfg.eps, training)
					c.compare("y", c.result("y", yb), want.Y, each(tol.y))
					c.compare("mean", c.result("mean", mb), want.Mean, each(tol.mean))
					c.compare("invStd", c.result("invStd", sb), want.InvStd, each(tol.invStd))
					if training {
						note := ""
						if cfg.momentum == 0 {
							note = " (momentum 0: unchanged)"
						}
						c.compare("runMean"+note, c.result("runMean", rmb), want.RunMean, each(tol.runMean))
						c.compare("runVar"+note, c.result("runVar", rvb), want.RunVar, each(tol.runVar))
					}
				})
			}
			// No rows: nothing is written.
			const cols = 5
			gamma, beta := s.normal(cols, 1), s.normal(cols, 1)
			rm, rv := s.normal(cols, 1), s.uniform(cols, 0.5, 2)
			s.run(fmt.Sprintf("training=%v momentum=%g eps=%g rows=0 cols=%d", training, cfg.momentum, cfg.eps, cols), func(c *tcase) {
				gb, bb := c.in(gamma), c.in(beta)
				xb, yb := c.in(nil), c.out(nil)
				mb, sb := c.out(nans(cols)), c.out(nans(cols))
				rmb, rvb := c.out(rm), c.out(rv)
				c.b.BatchNormForward(xb.h, yb.h, gb.h, bb.h, mb.h, sb.h, rmb.h, rvb.h, 0, cols, cfg.momentum, cfg.eps, training)
				c.result("y", yb)
				c.expectBits("mean (rows = 0: not written)", c.result("mean", mb), nans(cols))
				c.expectBits("invStd (rows = 0: not written)", c.result("invStd", sb), nans(cols))
				c.expectBits("runMean (rows = 0: unchanged)", c.result("runMean", rmb), rm)
				c.expectBits("runVar (rows = 0: unchanged)", c.result("runVar", rvb), rv)
			})
		}
	}
	// Training on one row is a programmer error (no variance), as in
	// PyTorch: it must panic.
	const cols = 3
	x, gamma, beta := s.normal(cols, 1), s.normal(cols, 1), s.normal(cols, 1)
	rm, rv := s.normal(cols, 1), s.uniform(cols, 0.5, 2)
	s.run(fmt.Sprintf("training=true rows=1 cols=%d (must panic)", cols), func(c *tcase) {
		xb, gb, bb := c.in(x), c.in(gamma), c.in(beta)
		yb, mb, sb := c.out(nans(cols)), c.out(nans(cols)), c.out(nans(cols))
		rmb, rvb := c.out(rm), c.out(rv)
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			c.b.BatchNormForward(xb.h, yb.h, gb.h, bb.h, mb.h, sb.h, rmb.h, rvb.h, 1, cols, 0.1, 1e-5, true)
			c.b.Download(make([]float32, 1), yb.h) // an asynchronous backend may report the error here
			return false
		}()
		if !panicked {
			c.failf("training on one row did not panic")
		}
	})
}

func checkBatchNormBackward(s *suite) {
	const u = ref.Unit
	for _, sh := range append([][2]int{{0, 5}}, bnShapes...) {
		rows, cols := sh[0], sh[1]
		x := s.bnInput(rows, cols, true)
		gamma, dy := s.normal(cols, 1), s.normal(rows*cols, 1)
		dGamma0, dBeta0 := s.normal(cols, 1), s.normal(cols, 1)
		// The statistics the forward pass saved, as float32.
		mean, invStd := make([]float32, cols), filled(cols, 1)
		if rows > 0 {
			fwd := ref.BatchNormForward(x, gamma, gamma, filled(cols, 0), filled(cols, 1), rows, cols, 0.1, 1e-5, true)
			mean, invStd = narrow(fwd.Mean), narrow(fwd.InvStd)
		}
		dx, dGamma, dBeta := ref.BatchNormBackward(x, dy, gamma, mean, invStd, dGamma0, dBeta0, rows, cols)
		// The column sums of dy and dy*xhat are float32 sums of rows
		// terms; dx loses a few ulps of the magnitudes of its three terms.
		n := float64(rows)
		tolDx, tolDG, tolDB := make([]float64, rows*cols), make([]float64, cols), make([]float64, cols)
		for j := 0; j < cols; j++ {
			m, sd := float64(mean[j]), float64(invStd[j])
			absDy, absDyXhat, sumDy, sumDyXhat := 0.0, 0.0, 0.0, 0.0
			for i := 0; i < rows; i++ {
				d := float64(dy[i*cols+j])
				xhat := (float64(x[i*cols+j]) - m) * sd
				absDy += math.Abs(d)
				absDyXhat += math.Abs(d * xhat)
				sumDy += d
				sumDyXhat += d * xhat
			}
			tolDB[j] = ref.Gamma(rows+2) * (absDy + abs32(dBeta0[j]))
			tolDG[j] = ref.Gamma(rows+6) * (absDyXhat + abs32(dGamma0[j]))
			k := abs32(gamma[j]) * sd / n
			for i := 0; i < rows; i++ {
				xhat := math.Abs((float64(x[i*cols+j]) - m) * sd)
				tolDx[i*cols+j] = k*(ref.Gamma(rows+2)*absDy+xhat*ref.Gamma(rows+6)*absDyXhat+
					6*u*(n*abs32(dy[i*cols+j])+math.Abs(sumDy)+xhat*math.Abs(sumDyXhat))) + 0x1p-140
			}
		}
		for _, alias := range []bool{false, true} {
			name := fmt.Sprintf("rows=%d cols=%d", rows, cols)
			if alias {
				name += " dx==dy"
			}
			s.run(name, func(c *tcase) {
				xb, gb, mb, sb := c.in(x), c.in(gamma), c.in(mean), c.in(invStd)
				dgb, dbb := c.out(dGamma0), c.out(dBeta0)
				var dyb, dxb *buf
				if alias {
					dyb = c.out(dy)
					dxb = dyb
				} else {
					dyb, dxb = c.in(dy), c.out(nans(rows*cols))
				}
				c.b.BatchNormBackward(xb.h, dyb.h, dxb.h, gb.h, mb.h, sb.h, dgb.h, dbb.h, rows, cols)
				c.compare("dx", c.result("dx", dxb), dx, each(tolDx))
				c.compare("dGamma (accumulated onto its previous value)", c.result("dGamma", dgb), dGamma, each(tolDG))
				c.compare("dBeta (accumulated onto its previous value)", c.result("dBeta", dbb), dBeta, each(tolDB))
			})
		}
	}
}
