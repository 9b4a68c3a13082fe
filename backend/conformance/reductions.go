package conformance

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend/ref"
)

func checkSumRows(s *suite) {
	shapes := [][2]int{{0, 5}, {1, 1}, {7, 3}, {64, 10}, {1000, 100}, {3, 33335}, {100003, 1}}
	for _, beta := range []float32{0, 1, 0.5} {
		for _, sh := range shapes {
			rows, cols := sh[0], sh[1]
			x, out0 := s.normal(rows*cols, 1), s.normal(cols, 1)
			want := ref.SumRows(x, rows, cols, float64(beta), out0)
			// Worst-case float32 summation error over rows terms.
			tol := make([]float64, cols)
			for j := range tol {
				abs := math.Abs(float64(beta) * float64(out0[j]))
				for i := 0; i < rows; i++ {
					abs += abs32(x[i*cols+j])
				}
				tol[j] = ref.Gamma(rows+2) * abs
			}
			s.run(fmt.Sprintf("rows=%d cols=%d beta=%g", rows, cols, beta), func(c *tcase) {
				xb, ob := c.in(x), c.out(out0)
				c.b.SumRows(xb.h, ob.h, rows, cols, beta)
				c.compare("out", c.result("out", ob), want, each(tol))
			})
		}
	}
}

func checkSumSquares(s *suite) {
	for _, prefill := range []float32{1.5, -2} {
		for _, n := range sizes {
			x := s.normal(n, 1)
			sum := ref.SumSquares(x)
			want := float64(prefill) + sum
			tol := ref.Gamma(n+2) * (sum + math.Abs(float64(prefill)))
			s.run(fmt.Sprintf("n=%d out[0]=%g", n, prefill), func(c *tcase) {
				xb, ob := c.in(x), c.out([]float32{prefill})
				c.b.SumSquares(xb.h, n, ob.h)
				c.scalar("out[0] (accumulated onto its previous value)", c.result("out", ob)[0], want, tol)
			})
		}
	}
}

// argmaxInput returns a rows x cols matrix whose rows cycle through four
// kinds: two equal maxima (a tie), all elements equal, all negative, and
// plain random.
func (s *suite) argmaxInput(rows, cols int) []float32 {
	x := s.normal(rows*cols, 1)
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		switch i % 4 {
		case 0:
			if cols >= 2 {
				mx := row[0]
				for _, v := range row {
					mx = max(mx, v)
				}
				j1 := s.rng.IntN(cols - 1)
				j2 := j1 + 1 + s.rng.IntN(cols-1-j1)
				row[j1], row[j2] = mx+1, mx+1
			}
		case 1:
			v := float32(s.rng.NormFloat64())
			for j := range row {
				row[j] = v
			}
		case 2:
			for j := range row {
				row[j] -= 10
			}
		}
	}
	return x
}

// argmaxShapes are {rows, cols}.
var argmaxShapes = [][2]int{{0, 3}, {1, 1}, {5, 1}, {1, 2}, {7, 3}, {64, 129}, {1000, 10}, {2, 50001}}

func checkArgmaxRows(s *suite) {
	for _, sh := range argmaxShapes {
		rows, cols := sh[0], sh[1]
		x := s.argmaxInput(rows, cols)
		want := make([]float64, rows)
		for i, j := range ref.ArgmaxRows(x, rows, cols) {
			want[i] = float64(j)
		}
		s.run(fmt.Sprintf("rows=%d cols=%d", rows, cols), func(c *tcase) {
			xb, ob := c.in(x), c.out(filled(rows, -7))
			c.b.ArgmaxRows(xb.h, ob.h, rows, cols)
			c.compare("out (ties go to the lowest index)", c.result("out", ob), want, rel(want, 0, 0))
		})
	}
}

func checkCountCorrect(s *suite) {
	for _, sh := range argmaxShapes {
		rows, cols := sh[0], sh[1]
		if cols < 2 {
			continue // the binary form, checked by CountCorrectBinary
		}
		x := s.argmaxInput(rows, cols)
		am := ref.ArgmaxRows(x, rows, cols)
		labels := make([]float32, rows)
		for i := range labels {
			row := x[i*cols : (i+1)*cols]
			switch s.rng.IntN(4) {
			case 0: // right
				labels[i] = float32(am[i])
			case 1: // the last of the maxima: wrong when the row has a tie
				last := 0
				for j, v := range row {
					if v == row[am[i]] {
						last = j
					}
				}
				labels[i] = float32(last)
			case 2: // wrong
				labels[i] = float32((am[i] + 1) % cols)
			default:
				labels[i] = float32(s.rng.IntN(cols))
			}
		}
		const prefill = 2
		want := float64(prefill + ref.CountCorrect(x, labels, rows, cols))
		s.run(fmt.Sprintf("rows=%d cols=%d", rows, cols), func(c *tcase) {
			xb, lb, ob := c.in(x), c.in(labels), c.out([]float32{prefill})
			c.b.CountCorrect(xb.h, lb.h, ob.h, rows, cols)
			c.scalar("out[0] (accumulated onto 2)", c.result("out", ob)[0], want, 0)
		})
	}
}

func checkCountCorrectBinary(s *suite) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 100, -100}
	for _, rows := range sizes {
		x := withSpecials(s.normal(rows, 1), specials)
		labels := make([]float32, rows)
		for i := range labels {
			labels[i] = float32(s.rng.IntN(2))
		}
		const prefill = 2
		want := float64(prefill + ref.CountCorrect(x, labels, rows, 1))
		s.run(fmt.Sprintf("rows=%d cols=1", rows), func(c *tcase) {
			xb, lb, ob := c.in(x), c.in(labels), c.out([]float32{prefill})
			c.b.CountCorrect(xb.h, lb.h, ob.h, rows, 1)
			c.scalar("out[0] (accumulated onto 2; the prediction is x > 0)", c.result("out", ob)[0], want, 0)
		})
	}
}
