//go:build amd64 && !noasm

package cpu

import (
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

//go:generate go run ./internal/asmgen -pkg cpu -out gemm_amd64.s -stubs gemm_amd64_stubs.go

func init() {
	c := cpuid.CPU.Cache
	k := &avx2Kernels
	k.mc, k.kc, k.nc = blockSizes(k.mr, k.nr, c.L1D, c.L2, c.L3)
	kernelTable[AVX2] = k
	k = avx512Kernels()
	k.mc, k.kc, k.nc = blockSizes(k.mr, k.nr, c.L1D, c.L2, c.L3)
	kernelTable[AVX512] = k
}

// avx2Kernels: the 6x16 micro-kernel keeps a B sliver (kc x 16) in L1 and a
// packed A block (mc x kc) in L2; nc keeps the B panel in L3. init sizes
// them from the caches cpuid reports (blockSizes); the values here are
// those of the default caches.
var avx2Kernels = kernels{
	mr: 6, nr: 16,
	gemmMicro:        gemmMicroAVX2Checked,
	gemmMicroStrided: gemmMicroAVX2StridedChecked,
	mc:               144, kc: 256, nc: 4096,
	pack: packAVX2Go,
	adam: adamAVX2Go,
	sgd:  sgdAVX2Go,

	relu:         reluAVX2Go,
	reluBackward: reluBackwardAVX2Go,
	add:          addAVX2Go,
	addF64:       addF64AVX2Go,
	softmaxExp:   softmaxExpAVX2Go,
	sigmoid:      sigmoidAVX2Go,
	tanh:         tanhAVX2Go,
	gelu:         geluAVX2Go,
	geluBackward: geluBackwardAVX2Go,

	maxPool2x2: func(x, y []float32, rows, ow, w int) { maxPool2x2Asm(maxPool2x2AVX2, x, y, rows, ow, w) },
	maxPool2x2Backward: func(x, dy, dx []float32, rows, ow, w int) {
		maxPool2x2BackwardAsm(maxPool2x2BackwardAVX2, x, dy, dx, rows, ow, w)
	},
}

// maxPool2x2Asm and maxPool2x2BackwardAsm check the shape and the slice
// bounds that a level's 2 x 2 max pooling kernel relies on, then call it:
// it reads and writes only whole pairs of rows (w floats each, the unused
// column of an odd w included), the last partial group of a row under
// masks.
func maxPool2x2Asm(asm func(x, y *float32, rows, ow, w int), x, y []float32, rows, ow, w int) {
	if rows <= 0 || ow <= 0 {
		return
	}
	checkPool2x2(ow, w)
	_, _ = x[2*rows*w-1], y[rows*ow-1]
	asm(&x[0], &y[0], rows, ow, w)
}

func maxPool2x2BackwardAsm(asm func(x, dy, dx *float32, rows, ow, w int), x, dy, dx []float32, rows, ow, w int) {
	if rows <= 0 || ow <= 0 {
		clear(dx[:2*max(rows, 0)*w])
		return
	}
	checkPool2x2(ow, w)
	_, _, _ = x[2*rows*w-1], dy[rows*ow-1], dx[2*rows*w-1]
	asm(&x[0], &dy[0], &dx[0], rows, ow, w)
}

func checkPool2x2(ow, w int) {
	if w != 2*ow && w != 2*ow+1 {
		panic("cpu: maxPool2x2: the input rows must have 2*ow or 2*ow+1 floats")
	}
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

// sigmoid, tanh and GELU (both ways) compute in float32 on the groups of 8
// (with the exp of expAVX2) and in float64 on the rest.
func sigmoidAVX2Go(x, y []float32) { actAVX2Go(sigmoidAVX2, sigmoidGeneric, x, y) }
func tanhAVX2Go(x, y []float32)    { actAVX2Go(tanhAVX2, tanhGeneric, x, y) }
func geluAVX2Go(x, y []float32)    { actAVX2Go(geluAVX2, geluGeneric, x, y) }

func geluBackwardAVX2Go(x, dy, dx []float32) {
	n := len(x)
	_, _ = dy[:n], dx[:n]
	if body := n &^ 7; body > 0 {
		geluBackwardAVX2(body, &x[0], &dy[0], &dx[0])
	}
	geluBackwardGeneric(x[n&^7:], dy[n&^7:n], dx[n&^7:n])
}

func actAVX2Go(asm func(n int, x, y *float32), generic func(x, y []float32), x, y []float32) {
	n := len(x)
	_ = y[:n]
	if body := n &^ 7; body > 0 {
		asm(body, &x[0], &y[0])
	}
	generic(x[n&^7:], y[n&^7:n])
}

func addF64AVX2Go(x []float32, acc []float64) {
	n := len(x)
	_ = acc[:n]
	if body := n &^ 7; body > 0 {
		addF64AVX2(body, &x[0], &acc[0])
	}
	addF64Generic(x[n&^7:], acc[n&^7:n])
}

// softmaxExpAVX2Go computes e^(x-m) with the float32 exp of expAVX2 and
// sums it in float32 lanes; the assembly loads and stores the last partial
// group of 8 under a mask.
func softmaxExpAVX2Go(x, y []float32, c float32) (m float32, s float64) {
	n := len(x)
	_ = y[n-1]
	m, s32 := softmaxExpAVX2(n, &x[0], &y[0], c)
	return m, float64(s32)
}

// sgdAVX2Go runs the assembly form of the update on whole groups of 8 and
// the generic loop on the rest.
func sgdAVX2Go(ps, gs, vs []float32, c *sgdConsts) {
	n := len(ps)
	_ = gs[:n]
	body := n &^ 7
	if body > 0 {
		switch {
		case c.momentum == 0:
			sgdPlainAVX2(body, &ps[0], &gs[0], &ps[0], &c.lr)
		case c.nesterov:
			_ = vs[:n]
			sgdNesterovAVX2(body, &ps[0], &gs[0], &vs[0], &c.lr)
		default:
			_ = vs[:n]
			sgdMomentumAVX2(body, &ps[0], &gs[0], &vs[0], &c.lr)
		}
	}
	if c.momentum != 0 {
		vs = vs[body:n]
	}
	sgdGeneric(ps[body:], gs[body:n], vs, c)
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

// packAVX2Go and packAVX512Go pack a full sliver of A (mr wide) or B (nr
// wide) for their level's micro-kernel.
func packAVX2Go(dst, src []float32, ld, kc, w int, alongK bool) {
	packAsm(&avx2Packers, dst, src, ld, kc, w, alongK)
}

func packAVX512Go(dst, src []float32, ld, kc, w int, alongK bool) {
	packAsm(&avx512Packers, dst, src, ld, kc, w, alongK)
}

// packEdgeAVX512Go packs the edge slivers of 8 and 4 rows of row-major A
// (alongK, w = 12) with the assembly over the multiple of 8 steps of k and
// the generic loop over the rest; it reports false for any other edge.
func packEdgeAVX512Go(dst, src []float32, ld, kc, w, n int, alongK bool) bool {
	var asm func(kc int, src *float32, ld int, dst *float32)
	switch {
	case !alongK || w != avx512Packers.mr || kc < 8:
		return false
	case n == 8:
		asm = packAN8AVX512
	case n == 4:
		asm = packAN4AVX512
	default:
		return false
	}
	dst = dst[:w*kc]
	_ = src[(n-1)*ld+kc-1]
	body := kc &^ 7
	asm(body, &src[0], ld, &dst[0])
	if body < kc {
		packSliverGeneric(dst[w*body:], src[body:], ld, kc-body, w, n, true)
	}
	return true
}

// packers are a level's packing kernels: bn copies rows of nr floats, bt
// and an transpose nr and mr rows over a multiple of 8 steps of k.
type packers struct {
	mr, nr     int
	bn, bt, an func(kc int, src *float32, ld int, dst *float32)
}

var (
	avx2Packers   = packers{mr: 6, nr: 16, bn: packBNAVX2, bt: packBTAVX2, an: packANAVX2}
	avx512Packers = packers{mr: 12, nr: 32, bn: packBNAVX512, bt: packBTAVX512, an: packANAVX512}
)

// packAsm packs a full sliver with the kernels of pk. Row-major B is
// copied nr floats at a time by the assembly, transposed A mr floats at a
// time in Go; a source that runs along k is transposed by the assembly
// over the multiple of 8 steps of k and by the generic loop over the rest.
func packAsm(pk *packers, dst, src []float32, ld, kc, w int, alongK bool) {
	if kc == 0 {
		return
	}
	dst = dst[:w*kc]
	var asm func(kc int, src *float32, ld int, dst *float32)
	switch {
	case w == pk.nr && !alongK:
		_ = src[(kc-1)*ld+w-1]
		pk.bn(kc, &src[0], ld, &dst[0])
		return
	case w == pk.mr && !alongK:
		_ = src[(kc-1)*ld+w-1]
		switch w { // fixed-size copies, without a call to memmove
		case 6:
			for p := 0; p < kc; p++ {
				*(*[6]float32)(dst[6*p:]) = *(*[6]float32)(src[p*ld:])
			}
		case 12:
			for p := 0; p < kc; p++ {
				*(*[12]float32)(dst[12*p:]) = *(*[12]float32)(src[p*ld:])
			}
		default:
			for p := 0; p < kc; p++ {
				copy(dst[w*p:w*p+w], src[p*ld:p*ld+w])
			}
		}
		return
	case w == pk.nr:
		asm = pk.bt
	case w == pk.mr:
		asm = pk.an
	default:
		packGeneric(dst, src, ld, kc, w, alongK)
		return
	}
	_ = src[(w-1)*ld+kc-1]
	body := kc &^ 7
	if body > 0 {
		asm(body, &src[0], ld, &dst[0])
	}
	if body < kc {
		packSliverGeneric(dst[w*body:], src[body:], ld, kc-body, w, w, true)
	}
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
	checkStridedTile(6, 16, k, a, rsA, csA, b, c, ldc)
	gemmMicroAVX2Strided(k, unsafe.SliceData(a), rsA, csA, unsafe.SliceData(b), &c[0], ldc, alpha, beta)
}

// avx512Kernels is the AVX2 table with the 12x32 micro-kernel, its
// packing, and the AVX-512 forms of the other kernels; the entries not
// replaced here (those without an AVX-512 form) stay AVX2's. init sizes
// the blocking from the caches (blockSizes), as for AVX2.
func avx512Kernels() *kernels {
	k := avx2Kernels
	k.mr, k.nr = 12, 32
	k.gemmMicro = gemmMicroAVX512Checked
	k.gemmMicroStrided = gemmMicroAVX512StridedChecked
	k.gemmMicroStridedEdge = gemmMicroAVX512StridedEdgeChecked
	k.gemmMicroEdge = gemmMicroAVX512EdgeChecked
	k.pack = packAVX512Go
	k.packEdge = packEdgeAVX512Go
	k.adam = adamAVX512Go
	k.sgd = sgdAVX512Go
	k.relu = func(x, y []float32) { unaryAVX512(reluAVX512, x, y) }
	k.add = func(x, y []float32) { unaryAVX512(addAVX512, x, y) }
	k.addF64 = addF64AVX512Go
	k.xentRows = xentRowsAVX512Go
	k.badLabel = badLabelAVX512Go
	k.sigmoid = func(x, y []float32) { unaryAVX512(sigmoidAVX512, x, y) }
	k.gelu = func(x, y []float32) { unaryAVX512(geluAVX512, x, y) }
	k.tanh = func(x, y []float32) { unaryAVX512(tanhAVX512, x, y) }
	k.geluBackward = func(x, dy, dx []float32) { binaryAVX512(geluBackwardAVX512, x, dy, dx) }
	k.reluBackward = func(x, dy, dx []float32) { binaryAVX512(reluBackwardAVX512, x, dy, dx) }
	// Rows narrower than 16 outputs (the cnn preset's 13 and 5) would run
	// only the masked partial group, which made the AVX-512 kernels 1.4 to
	// 2x slower than the AVX2 ones there (docs/BENCHMARKS.md).
	k.maxPool2x2 = func(x, y []float32, rows, ow, w int) {
		asm := maxPool2x2AVX512
		if ow < 16 {
			asm = maxPool2x2AVX2
		}
		maxPool2x2Asm(asm, x, y, rows, ow, w)
	}
	k.maxPool2x2Backward = func(x, dy, dx []float32, rows, ow, w int) {
		asm := maxPool2x2BackwardAVX512
		if ow < 16 {
			asm = maxPool2x2BackwardAVX2
		}
		maxPool2x2BackwardAsm(asm, x, dy, dx, rows, ow, w)
	}
	return &k
}

func xentRowsAVX512Go(x, labels, y []float32, cols int, c float32, out *[3]float64) {
	if cols < 1 || cols > 16 {
		panic("cpu: xentRowsAVX512Go: rows of 1 to 16 floats only")
	}
	rows := len(labels)
	if rows == 0 || rows%16 != 0 {
		panic("cpu: xentRowsAVX512Go: rows in whole blocks of 16 only")
	}
	// The kernel reads and writes only the rows: it picks x[label] out of
	// the row's register, so a bad label gives a wrong result but no
	// access outside x (SoftmaxCrossEntropy checks the labels first).
	_, _ = x[rows*cols-1], y[rows*cols-1]
	xentRowsAVX512(cols, rows/16, &x[0], &labels[0], &y[0], c, &out[0])
}

func badLabelAVX512Go(labels []float32, cols int) int {
	if len(labels) == 0 {
		return -1
	}
	if cols > 1<<30 { // the kernel compares with cols as an int32
		return badLabelGeneric(labels, cols)
	}
	return badLabelAVX512(len(labels), &labels[0], cols)
}

// The AVX-512 wrappers check the slice bounds and call the assembly on
// all n elements: it runs the last partial group of 16 under a mask.

func unaryAVX512(asm func(n int, x, y *float32), x, y []float32) {
	if n := len(x); n > 0 {
		_ = y[n-1]
		asm(n, &x[0], &y[0])
	}
}

func binaryAVX512(asm func(n int, x, dy, dx *float32), x, dy, dx []float32) {
	if n := len(x); n > 0 {
		_, _ = dy[n-1], dx[n-1]
		asm(n, &x[0], &dy[0], &dx[0])
	}
}

func addF64AVX512Go(x []float32, acc []float64) {
	if n := len(x); n > 0 {
		_ = acc[n-1]
		addF64AVX512(n, &x[0], &acc[0])
	}
}

func adamAVX512Go(p, g, m, v []float32, c *adamConsts) {
	if n := len(p); n > 0 {
		_, _, _ = g[n-1], m[n-1], v[n-1]
		adamAVX512(n, &p[0], &g[0], &m[0], &v[0], &c.beta1)
	}
}

func sgdAVX512Go(ps, gs, vs []float32, c *sgdConsts) {
	n := len(ps)
	if n == 0 {
		return
	}
	_ = gs[n-1]
	switch {
	case c.momentum == 0:
		sgdPlainAVX512(n, &ps[0], &gs[0], &ps[0], &c.lr)
	case c.nesterov:
		_ = vs[n-1]
		sgdNesterovAVX512(n, &ps[0], &gs[0], &vs[0], &c.lr)
	default:
		_ = vs[n-1]
		sgdMomentumAVX512(n, &ps[0], &gs[0], &vs[0], &c.lr)
	}
}

// gemmMicroAVX512Checked checks the slice bounds that the assembly relies
// on, then calls it.
func gemmMicroAVX512Checked(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[:12*k]
	_ = b[:32*k]
	_ = c[11*ldc+31]
	gemmMicroAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), &c[0], ldc, alpha, beta)
}

// gemmMicroAVX512StridedChecked checks that the last element of A the
// assembly reads, (11, k-1), is in the slice, then calls it.
func gemmMicroAVX512StridedChecked(k int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32) {
	checkStridedTile(12, 32, k, a, rsA, csA, b, c, ldc)
	gemmMicroAVX512Strided(k, unsafe.SliceData(a), rsA, csA, unsafe.SliceData(b), &c[0], ldc, alpha, beta)
}

// gemmMicroAVX512StridedEdgeChecked runs the strided kernel of the 12 x
// cols part of the tile, for the one edge shape of full rows that
// gemmMicroAVX512EdgeChecked has (12x16), and reports whether it did.
func gemmMicroAVX512StridedEdgeChecked(cols, k int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32) bool {
	if cols != 16 {
		return false
	}
	checkStridedTile(12, 16, k, a, rsA, csA, b, c, ldc)
	_ = b[:32*k] // the packed sliver keeps its 32-column stride
	gemmMicroAVX512Stridedx12x16(k, unsafe.SliceData(a), rsA, csA, unsafe.SliceData(b), &c[0], ldc, alpha, beta)
	return true
}

// checkStridedTile panics unless the slices hold what a strided mr x nr
// micro-kernel reads and writes: A's element (mr-1, k-1), k rows of the B
// sliver and C's element (mr-1, nr-1).
func checkStridedTile(mr, nr, k int, a []float32, rsA, csA int, b, c []float32, ldc int) {
	if k > 0 {
		_ = a[(mr-1)*rsA+(k-1)*csA]
	}
	_ = b[:nr*k]
	_ = c[(mr-1)*ldc+nr-1]
}

// gemmMicroAVX512EdgeChecked runs the edge micro-kernel of shape rows x
// cols, if there is one, after checking the slice bounds it relies on.
func gemmMicroAVX512EdgeChecked(rows, cols, k int, a, b, c []float32, ldc int, alpha, beta float32) bool {
	var f func(k int, a, b, c *float32, ldc int, alpha, beta float32)
	switch {
	case rows == 12 && cols == 16:
		f = gemmMicroAVX512x12x16
	case rows == 8 && cols == 32:
		f = gemmMicroAVX512x8x32
	case rows == 8 && cols == 16:
		f = gemmMicroAVX512x8x16
	case rows == 4 && cols == 32:
		f = gemmMicroAVX512x4x32
	case rows == 4 && cols == 16:
		f = gemmMicroAVX512x4x16
	default:
		return false
	}
	_ = a[:12*k]
	_ = b[:32*k]
	_ = c[(rows-1)*ldc+cols-1]
	f(k, unsafe.SliceData(a), unsafe.SliceData(b), &c[0], ldc, alpha, beta)
	return true
}
