package ref

import (
	"math"
)

// opA returns element (i, p) of op(A), where op(A) is m x k.
func opA(transA bool, a []float32, m, k, i, p int) float64 {
	if transA { // A is stored k x m
		return float64(a[p*m+i])
	}
	return float64(a[i*k+p])
}

// opB returns element (p, j) of op(B), where op(B) is k x n.
func opB(transB bool, b []float32, k, n, p, j int) float64 {
	if transB { // B is stored n x k
		return float64(b[j*k+p])
	}
	return float64(b[p*n+j])
}

// Gemm returns C = alpha*op(A)*op(B) + beta*C as an m x n matrix (m*n
// elements). op(A) is m x k: A is stored m x k, or k x m when transA is set.
// op(B) is k x n: B is stored k x n, or n x k when transB is set. With
// beta == 0, c is not read (it may be nil, and NaNs in it do not propagate).
func Gemm(transA, transB bool, m, n, k int, alpha float64, a, b []float32, beta float64, c []float32) []float64 {
	dims("Gemm", m, n, k)
	need("Gemm", "a", a, m*k)
	need("Gemm", "b", b, k*n)
	if beta != 0 {
		need("Gemm", "c", c, m*n)
	}
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			sum := 0.0
			for p := 0; p < k; p++ {
				sum += opA(transA, a, m, k, i, p) * opB(transB, b, k, n, p, j)
			}
			v := alpha * sum
			if beta != 0 {
				v += beta * float64(c[i*n+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// GemmErrorBound returns, for each element of the m x n result of Gemm with
// the same arguments, a bound on the error of a float32 implementation:
//
//	Gamma(k+4) * (|alpha| * sum_p |op(A)[i,p] * op(B)[p,j]| + |beta * C[i,j]|)
//
// This is the worst-case bound of a float32 dot product of length k (k
// roundings, whatever the summation order, with or without fused
// multiply-adds) plus the roundings of the scaling by alpha and beta and of
// the final addition, so it grows with k. As in Gemm, c is not read when
// beta == 0.
func GemmErrorBound(transA, transB bool, m, n, k int, alpha float64, a, b []float32, beta float64, c []float32) []float64 {
	dims("GemmErrorBound", m, n, k)
	need("GemmErrorBound", "a", a, m*k)
	need("GemmErrorBound", "b", b, k*n)
	if beta != 0 {
		need("GemmErrorBound", "c", c, m*n)
	}
	g := Gamma(k + 4)
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			abs := 0.0
			for p := 0; p < k; p++ {
				abs += math.Abs(opA(transA, a, m, k, i, p) * opB(transB, b, k, n, p, j))
			}
			s := math.Abs(alpha) * abs
			if beta != 0 {
				s += math.Abs(beta * float64(c[i*n+j]))
			}
			out[i*n+j] = g * s
		}
	}
	return out
}
