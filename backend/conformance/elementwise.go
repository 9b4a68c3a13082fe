package conformance

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// actSpecials are inputs every activation sees: zeros (the kink of ReLU),
// small values, and large ones where sigmoid and tanh saturate and a naive
// formula overflows.
var actSpecials = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 1e-3, -1e-3, 1e-30, -1e-30,
	3, -3, 5, -5, 30, -30, 100, -100,
}

// actCase is an activation with the slope passed to the backend. Only
// LeakyReLU uses its slope; the others get a non-zero one they must ignore.
type actCase struct {
	act   backend.Activation
	slope float32
}

func (a actCase) String() string {
	if a.act == backend.LeakyReLU {
		return fmt.Sprintf("%v(slope=%g)", a.act, a.slope)
	}
	return a.act.String()
}

func actCases() []actCase {
	var out []actCase
	for _, act := range backend.Activations() {
		if act == backend.LeakyReLU {
			out = append(out, actCase{act, 0.01}, actCase{act, 0.2})
		} else {
			out = append(out, actCase{act, 0.3})
		}
	}
	return out
}

// actTol is the tolerance of f(x): exact for the piecewise-linear
// functions (up to the rounding of slope*x), rtol 1e-5 for the
// transcendental ones, plus an absolute term for GELU, whose tanh form
// cancels in float32 for negative x.
func actTol(act backend.Activation, x []float32, want []float64) func(int) float64 {
	switch act {
	case backend.Identity, backend.ReLU:
		return rel(want, 0, 0)
	case backend.LeakyReLU:
		return rel(want, 0, 2*ref.Unit)
	case backend.GELU:
		return func(i int) float64 { return 1e-6*(1+abs32(x[i])) + 1e-5*math.Abs(want[i]) }
	}
	return rel(want, 1e-6, 1e-5)
}

// actGradTol is the tolerance of dy*f'(x). A kernel may compute f'(x) from
// y = f(x) rounded to float32 (1-y^2, y(1-y)), which costs an absolute
// error of a few float32 ulps of 1 in f'; GELU's derivative scales that
// error by about |x|.
func actGradTol(act backend.Activation, x, dy []float32, want []float64) func(int) float64 {
	switch act {
	case backend.Identity, backend.ReLU:
		return rel(want, 0, 0)
	case backend.LeakyReLU:
		return rel(want, 0, 2*ref.Unit)
	case backend.GELU:
		return func(i int) float64 { return 1e-5*abs32(dy[i])*(1+abs32(x[i])) + 1e-5*math.Abs(want[i]) }
	}
	return func(i int) float64 { return 2e-6*abs32(dy[i]) + 1e-5*math.Abs(want[i]) }
}

// matShapes are {rows, cols} for the row-wise operations.
var matShapes = [][2]int{{0, 5}, {1, 1}, {7, 3}, {33, 65}, {1000, 100}}

func checkAddBias(s *suite) {
	for _, sh := range matShapes {
		rows, cols := sh[0], sh[1]
		s.run(fmt.Sprintf("rows=%d cols=%d", rows, cols), func(c *tcase) {
			x, bias := s.normal(rows*cols, 2), s.normal(cols, 1)
			xb, bb := c.out(x), c.in(bias)
			c.b.AddBias(xb.h, bb.h, rows, cols)
			want := ref.AddBias(x, bias, rows, cols)
			c.compare("x", c.result("x", xb), want, rel(want, 0, 2*ref.Unit))
		})
	}
}

func checkBiasActivate(s *suite) {
	for _, ac := range actCases() {
		for _, sh := range matShapes {
			rows, cols := sh[0], sh[1]
			z := withSpecials(s.normal(rows*cols, 3), actSpecials)
			bias := s.normal(cols, 0.5)
			zWant, _ := ref.BiasActivate(ac.act, float64(ac.slope), z, bias, rows, cols)
			// The kernel applies f to z+bias rounded to float32.
			z32 := narrow(zWant)
			yWant := ref.Activate(ac.act, float64(ac.slope), z32)
			s.run(fmt.Sprintf("%v rows=%d cols=%d", ac, rows, cols), func(c *tcase) {
				zb, bb, yb := c.out(z), c.in(bias), c.out(s.normal(rows*cols, 1))
				c.b.BiasActivate(ac.act, ac.slope, zb.h, bb.h, yb.h, rows, cols)
				c.compare("z", c.result("z", zb), zWant, rel(zWant, 0, 2*ref.Unit))
				c.compare("y", c.result("y", yb), yWant, actTol(ac.act, z32, yWant))
			})
			if ac.act == backend.Identity {
				s.run(fmt.Sprintf("%v rows=%d cols=%d y==z", ac, rows, cols), func(c *tcase) {
					zb, bb := c.out(z), c.in(bias)
					c.b.BiasActivate(ac.act, ac.slope, zb.h, bb.h, zb.h, rows, cols)
					c.compare("z", c.result("z", zb), zWant, rel(zWant, 0, 2*ref.Unit))
				})
			}
		}
	}
}

func checkActivate(s *suite) {
	for _, ac := range actCases() {
		for _, n := range sizes {
			x := withSpecials(s.normal(n, 3), actSpecials)
			want := ref.Activate(ac.act, float64(ac.slope), x)
			tol := actTol(ac.act, x, want)
			s.run(fmt.Sprintf("%v n=%d", ac, n), func(c *tcase) {
				xb, yb := c.in(x), c.out(s.normal(n, 1))
				c.b.Activate(ac.act, ac.slope, xb.h, yb.h, n)
				c.compare("y", c.result("y", yb), want, tol)
			})
			s.run(fmt.Sprintf("%v n=%d y==x", ac, n), func(c *tcase) {
				xb := c.out(x)
				c.b.Activate(ac.act, ac.slope, xb.h, xb.h, n)
				c.compare("y", c.result("y", xb), want, tol)
			})
		}
	}
}

func checkActivateBackward(s *suite) {
	for _, ac := range actCases() {
		for _, n := range sizes {
			x := withSpecials(s.normal(n, 3), actSpecials)
			y := narrow(ref.Activate(ac.act, float64(ac.slope), x))
			dy := s.normal(n, 1)
			want := ref.ActivateBackward(ac.act, float64(ac.slope), x, dy)
			tol := actGradTol(ac.act, x, dy, want)
			s.run(fmt.Sprintf("%v n=%d", ac, n), func(c *tcase) {
				xb, yb, dyb, dxb := c.in(x), c.in(y), c.in(dy), c.out(s.normal(n, 1))
				c.b.ActivateBackward(ac.act, ac.slope, xb.h, yb.h, dyb.h, dxb.h, n)
				c.compare("dx", c.result("dx", dxb), want, tol)
			})
			s.run(fmt.Sprintf("%v n=%d dx==dy", ac, n), func(c *tcase) {
				xb, yb, dyb := c.in(x), c.in(y), c.out(dy)
				c.b.ActivateBackward(ac.act, ac.slope, xb.h, yb.h, dyb.h, dyb.h, n)
				c.compare("dx", c.result("dx", dyb), want, tol)
			})
		}
	}
}

// softmaxTol allows 1e-5 relative for exp plus the float32 error of the
// row sum.
func softmaxTol(want []float64, cols int) func(int) float64 {
	return rel(want, 1e-30, 1e-5+ref.Gamma(cols+8))
}

func checkSoftmax(s *suite) {
	type input struct {
		name       string
		rows, cols int
		x          []float32
	}
	var inputs []input
	for _, sh := range [][2]int{{1, 1}, {1, 7}, {7, 1}, {3, 7}, {64, 10}, {1000, 100}, {2, 50001}} {
		rows, cols := sh[0], sh[1]
		inputs = append(inputs, input{"", rows, cols, s.normal(rows*cols, 3)})
	}
	// Large logits: exp overflows (or underflows to 0/0) without the
	// subtraction of the row maximum.
	const cols = 10
	var big []float32
	for _, off := range []float32{1000, -1000, 88.8, -110} {
		big = append(big, s.normal(cols, 1)...)
		for j := len(big) - cols; j < len(big); j++ {
			big[j] += off
		}
	}
	alt := make([]float32, cols) // alternating +1000 and -1000
	for j := range alt {
		alt[j] = 1000 * float32(1-2*(j%2))
	}
	big = append(big, alt...)
	inputs = append(inputs, input{" large logits", len(big) / cols, cols, big})
	for _, in := range inputs {
		want := ref.Softmax(in.x, in.rows, in.cols)
		tol := softmaxTol(want, in.cols)
		s.run(fmt.Sprintf("rows=%d cols=%d%s", in.rows, in.cols, in.name), func(c *tcase) {
			xb, yb := c.in(in.x), c.out(s.normal(in.rows*in.cols, 1))
			c.b.Softmax(xb.h, yb.h, in.rows, in.cols)
			c.compare("y", c.result("y", yb), want, tol)
		})
		s.run(fmt.Sprintf("rows=%d cols=%d%s y==x", in.rows, in.cols, in.name), func(c *tcase) {
			xb := c.out(in.x)
			c.b.Softmax(xb.h, xb.h, in.rows, in.cols)
			c.compare("y", c.result("y", xb), want, tol)
		})
	}
}

// binaryCase runs c = op(a, b) with c separate and with every aliasing the
// contract allows: c == a, c == b, and a == b == c.
func binaryCase(s *suite, op func(b backend.Backend, a, bb, c backend.Buffer, n int), want func(a, b []float32) []float64) {
	for _, n := range sizes {
		a, b := s.uniform(n, -2, 2), s.uniform(n, -2, 2)
		wantAB, wantAA := want(a, b), want(a, a)
		s.run(fmt.Sprintf("n=%d", n), func(c *tcase) {
			ab, bb, cb := c.in(a), c.in(b), c.out(s.normal(n, 1))
			op(c.b, ab.h, bb.h, cb.h, n)
			c.compare("c", c.result("c", cb), wantAB, rel(wantAB, 0, 2*ref.Unit))
		})
		s.run(fmt.Sprintf("n=%d c==a", n), func(c *tcase) {
			ab, bb := c.out(a), c.in(b)
			op(c.b, ab.h, bb.h, ab.h, n)
			c.compare("c", c.result("c", ab), wantAB, rel(wantAB, 0, 2*ref.Unit))
		})
		s.run(fmt.Sprintf("n=%d c==b", n), func(c *tcase) {
			ab, bb := c.in(a), c.out(b)
			op(c.b, ab.h, bb.h, bb.h, n)
			c.compare("c", c.result("c", bb), wantAB, rel(wantAB, 0, 2*ref.Unit))
		})
		s.run(fmt.Sprintf("n=%d a==b==c", n), func(c *tcase) {
			ab := c.out(a)
			op(c.b, ab.h, ab.h, ab.h, n)
			c.compare("c", c.result("c", ab), wantAA, rel(wantAA, 0, 2*ref.Unit))
		})
	}
}

func checkAdd(s *suite) {
	binaryCase(s, func(b backend.Backend, x, y, z backend.Buffer, n int) { b.Add(x, y, z, n) }, ref.Add)
}

func checkMul(s *suite) {
	binaryCase(s, func(b backend.Backend, x, y, z backend.Buffer, n int) { b.Mul(x, y, z, n) }, ref.Mul)
}

func checkScale(s *suite) {
	for _, alpha := range []float32{0, 1, -1, 2.5, 0.125} {
		for _, n := range sizes {
			x := s.normal(n, 1)
			want := ref.Scale(x, float64(alpha))
			s.run(fmt.Sprintf("alpha=%g n=%d", alpha, n), func(c *tcase) {
				xb := c.out(x)
				c.b.Scale(xb.h, alpha, n)
				c.compare("x", c.result("x", xb), want, rel(want, 0, 2*ref.Unit))
			})
		}
	}
}

func checkAxpy(s *suite) {
	for _, alpha := range gemmScalars {
		for _, n := range sizes {
			x, y := s.normal(n, 1), s.normal(n, 1)
			want := ref.Axpy(float64(alpha), x, y)
			// One rounding of alpha*x (none with a fused multiply-add) and
			// one of the sum.
			tol := func(i int) float64 { return 3 * ref.Unit * (math.Abs(float64(alpha))*abs32(x[i]) + abs32(y[i])) }
			s.run(fmt.Sprintf("alpha=%g n=%d", alpha, n), func(c *tcase) {
				xb, yb := c.in(x), c.out(y)
				c.b.Axpy(alpha, xb.h, yb.h, n)
				c.compare("y", c.result("y", yb), want, tol)
			})
		}
	}
}

func checkFill(s *suite) {
	for _, v := range []float32{0, -1.5, 12.75} {
		for _, n := range sizes {
			s.run(fmt.Sprintf("v=%g n=%d", v, n), func(c *tcase) {
				xb := c.out(s.normal(n, 1))
				c.b.Fill(xb.h, v, n)
				want := ref.Fill(n, float64(v))
				c.compare("x", c.result("x", xb), want, rel(want, 0, 0))
			})
		}
	}
}
