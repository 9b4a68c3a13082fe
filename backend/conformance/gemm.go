package conformance

import (
	"fmt"

	"github.com/fastnn/fastnn/backend/ref"
)

// gemmShapes are {m, n, k}: degenerate, odd, and not multiples of any block
// size a kernel may use.
var gemmShapes = [][3]int{
	{1, 1, 1}, {2, 3, 4}, {3, 5, 7}, {17, 13, 11}, {64, 64, 64},
	{67, 129, 255}, {130, 70, 300}, {1, 300, 1}, {300, 1, 300}, {1, 1, 300},
	{0, 4, 3}, {4, 0, 3},
	// Few columns and many rows, as a classifier's output layer: a backend
	// may compute the transpose.
	{128, 10, 256}, {97, 3, 40},
}

// gemmScalars are the values of alpha and beta. Shapes up to
// gemmSmallWork multiply-adds run every pair of them; larger ones run
// gemmLargePairs, to keep the float64 reference affordable.
var gemmScalars = []float32{0, 1, -1, 2.5}

const gemmSmallWork = 50000

var gemmLargePairs = [][2]float32{{1, 0}, {1, 1}, {2.5, -1}, {-1, 2.5}, {0, 1}}

// gemmPairs returns the {alpha, beta} pairs run for a shape.
func gemmPairs(m, n, k int) [][2]float32 {
	if m*n*k > gemmSmallWork {
		return gemmLargePairs
	}
	var out [][2]float32
	for _, alpha := range gemmScalars {
		for _, beta := range gemmScalars {
			out = append(out, [2]float32{alpha, beta})
		}
	}
	return out
}

var transposes = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

func gemmName(transA, transB bool, m, n, k int, alpha, beta float32) string {
	return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d alpha=%g beta=%g", transA, transB, m, n, k, alpha, beta)
}

// runGemm runs one Gemm and compares C with ref.Gemm within
// ref.GemmErrorBound. c0 is C's initial content.
func runGemm(c *tcase, transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c0 []float32) {
	ab, bb, cb := c.in(a), c.in(b), c.out(c0)
	c.b.Gemm(transA, transB, m, n, k, alpha, ab.h, bb.h, beta, cb.h)
	got := c.result("C", cb)
	want := ref.Gemm(transA, transB, m, n, k, float64(alpha), a, b, float64(beta), c0)
	tol := ref.GemmErrorBound(transA, transB, m, n, k, float64(alpha), a, b, float64(beta), c0)
	c.compare("C", got, want, each(tol))
}

// gemmCheck covers one transpose combination over every shape and the
// alpha and beta pairs of gemmPairs.
func gemmCheck(transA, transB bool) func(s *suite) {
	return func(s *suite) {
		for _, sh := range gemmShapes {
			m, n, k := sh[0], sh[1], sh[2]
			a, b, c0 := s.uniform(m*k, -1, 1), s.uniform(k*n, -1, 1), s.uniform(m*n, -1, 1)
			for _, ab := range gemmPairs(m, n, k) {
				alpha, beta := ab[0], ab[1]
				s.run(gemmName(transA, transB, m, n, k, alpha, beta), func(c *tcase) {
					runGemm(c, transA, transB, m, n, k, alpha, a, b, beta, c0)
				})
			}
		}
	}
}

// checkGemmK0 covers k == 0, where C = beta*C (and C = 0 for beta == 0,
// even over NaNs).
func checkGemmK0(s *suite) {
	for _, tr := range transposes {
		for _, sh := range [][2]int{{1, 1}, {3, 5}, {67, 129}} {
			m, n := sh[0], sh[1]
			for _, alpha := range []float32{1, 2.5} {
				for _, beta := range gemmScalars {
					c0 := s.uniform(m*n, -1, 1)
					if beta == 0 {
						c0 = nans(m * n)
					}
					s.run(gemmName(tr[0], tr[1], m, n, 0, alpha, beta), func(c *tcase) {
						runGemm(c, tr[0], tr[1], m, n, 0, alpha, nil, nil, beta, c0)
					})
				}
			}
		}
	}
}

// checkGemmBetaZeroNaN fills C with NaN: with beta == 0 it must not be read.
func checkGemmBetaZeroNaN(s *suite) {
	for _, tr := range transposes {
		for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 13, 11}, {33, 65, 127}, {1, 300, 1}, {300, 1, 300}, {97, 3, 40}} {
			m, n, k := sh[0], sh[1], sh[2]
			a, b := s.uniform(m*k, -1, 1), s.uniform(k*n, -1, 1)
			for _, alpha := range gemmScalars {
				s.run(gemmName(tr[0], tr[1], m, n, k, alpha, 0)+" C=NaN", func(c *tcase) {
					runGemm(c, tr[0], tr[1], m, n, k, alpha, a, b, 0, nans(m*n))
				})
			}
		}
	}
}
