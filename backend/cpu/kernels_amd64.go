//go:build amd64 && !noasm

package cpu

import "unsafe"

//go:generate go run ./internal/asmgen -pkg cpu -out gemm_amd64.s -stubs gemm_amd64_stubs.go

func init() {
	kernelTable[AVX2] = &avx2Kernels
}

// avx2Kernels: the 6x16 micro-kernel keeps a B sliver (kc x 16) in a 32 KiB
// L1 and a packed A block (mc x kc) in L2; nc keeps the B panel in L3.
var avx2Kernels = kernels{
	mr: 6, nr: 16,
	gemmMicro:        gemmMicroAVX2Checked,
	gemmMicroStrided: gemmMicroAVX2StridedChecked,
	mc:               144, kc: 256, nc: 4080,
	adam: adamAVX2Go,

	relu:         reluAVX2Go,
	reluBackward: reluBackwardAVX2Go,
	add:          addAVX2Go,
}

// The elementwise wrappers run the assembly on whole groups of 8 and the
// generic loop on the rest.

func reluAVX2Go(x, y []float32) {
	n := len(x)
	_ = y[:n]
	if body := n &^ 7; body > 0 {
		reluAVX2(body, &x[0], &y[0])
	}
	reluGeneric(x[n&^7:], y[n&^7:n])
}

func reluBackwardAVX2Go(x, dy, dx []float32) {
	n := len(x)
	_, _ = dy[:n], dx[:n]
	if body := n &^ 7; body > 0 {
		reluBackwardAVX2(body, &x[0], &dy[0], &dx[0])
	}
	reluBackwardGeneric(x[n&^7:], dy[n&^7:n], dx[n&^7:n])
}

func addAVX2Go(x, y []float32) {
	n := len(x)
	_ = y[:n]
	if body := n &^ 7; body > 0 {
		addAVX2(body, &x[0], &y[0])
	}
	addGeneric(x[n&^7:], y[n&^7:n])
}

// adamAVX2Go runs the assembly on whole groups of 8 and the generic loop on
// the rest.
func adamAVX2Go(p, g, m, v []float32, c *adamConsts) {
	n := len(p)
	_, _, _ = g[:n], m[:n], v[:n]
	body := n &^ 7
	if body > 0 {
		adamAVX2(body, &p[0], &g[0], &m[0], &v[0], &c.beta1)
	}
	adamGeneric(p[body:], g[body:n], m[body:n], v[body:n], c)
}

// gemmMicroAVX2Checked checks the slice bounds that the assembly relies on,
// then calls it.
func gemmMicroAVX2Checked(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[:6*k]
	_ = b[:16*k]
	_ = c[5*ldc+15]
	gemmMicroAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), &c[0], ldc, alpha, beta)
}

// gemmMicroAVX2StridedChecked checks that the last element of A the
// assembly reads, (5, k-1), is in the slice, then calls it.
func gemmMicroAVX2StridedChecked(k int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32) {
	if k > 0 {
		_ = a[5*rsA+(k-1)*csA]
	}
	_ = b[:16*k]
	_ = c[5*ldc+15]
	gemmMicroAVX2Strided(k, unsafe.SliceData(a), rsA, csA, unsafe.SliceData(b), &c[0], ldc, alpha, beta)
}
