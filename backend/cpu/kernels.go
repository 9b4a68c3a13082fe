package cpu

import "math"

// kernels is the table of the routines that differ between SIMD levels.
// Every level fills every entry; a level that has no faster form of a
// routine reuses the generic one. The generic table is the reference shape
// the SIMD tables are tested against.
type kernels struct {
	// mr x nr is the register tile of the GEMM micro-kernel.
	mr, nr int
	// gemmMicro computes the full tile C = alpha*A*B + beta*C, where A is a
	// packed mr x k sliver (column p at a[p*mr:]), B a packed k x nr sliver
	// (row p at b[p*nr:]), and C is mr x nr with row stride ldc. With
	// beta == 0, C is only written.
	gemmMicro func(k int, a, b, c []float32, ldc int, alpha, beta float32)
	// gemmMicroStrided, when a level has it, reads A in place, element
	// (r, p) at a[r*rsA + p*csA], so that full tiles need no packed A.
	gemmMicroStrided func(k int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32)
	// gemmMicroEdge, when a level has it, computes only the top-left
	// rows x cols part of the tile of gemmMicro (same packed slivers)
	// straight into C, and reports whether it has a kernel of that shape;
	// edge tiles without one go through a full tile in a buffer.
	gemmMicroEdge func(rows, cols, k int, a, b, c []float32, ldc int, alpha, beta float32) bool
	// gemmMicroStridedEdge, when a level has it, is gemmMicroStrided for
	// the full rows and the first cols columns of the tile, as
	// gemmMicroEdge is for packed A, and reports whether it has a kernel
	// of that width; edge tiles without one go through a full tile.
	gemmMicroStridedEdge func(cols, k int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32) bool
	// mc, kc, nc block the GEMM loops for the caches: a packed A block
	// (mc x kc) stays in L2, a B sliver (kc x nr) in L1, a packed B panel
	// (kc x nc) in L3.
	mc, kc, nc int
	// pack packs one full sliver of A (w = mr) or B (w = nr) for
	// gemmMicro: packSliverGeneric with n == w.
	pack func(dst, src []float32, ld, kc, w int, alongK bool)
	// packEdge, where not nil, packs an edge sliver of n < w rows or
	// columns as packSliverGeneric does, and reports false for the
	// shapes it has no kernel for (the generic loop packs those).
	packEdge func(dst, src []float32, ld, kc, w, n int, alongK bool) bool

	// adam applies one Adam/AdamW update to a range of parameters, sgd
	// one SGD update (vs is unused without momentum).
	adam func(p, g, m, v []float32, c *adamConsts)
	sgd  func(ps, gs, vs []float32, c *sgdConsts)
	// addF64 sets acc += float64(x), on len(x) elements: SumRows's column
	// sums, one row at a time.
	addF64 func(x []float32, acc []float64)
	// relu sets y = max(x, 0); reluBackward sets dx = dy where x > 0, else
	// 0; add sets y += x (the bias add). All on len(x) elements.
	relu         func(x, y []float32)
	reluBackward func(x, dy, dx []float32)
	add          func(x, y []float32)
	// softmaxExp is one row of a softmax, scaled: with m = max(x) and s
	// the sum of the e^(x-m), it sets y = c*e^(x-m)/s on len(x) >= 1
	// elements (y may be x) and returns m and s.
	softmaxExp func(x, y []float32, c float32) (m float32, s float64)
	// xentRows, where a level has it (nil elsewhere), is the softmax
	// cross-entropy of len(labels) rows of 1 <= cols <= 16 floats, in
	// blocks of 16 (len(labels) is a multiple of 16; x and y hold
	// len(labels)*cols, y may be x): per row, y = softmaxExp's
	// c*e^(x-m)/s, minus c at the row's label, with the same bits as
	// softmaxExp and that subtraction; out[0] = the float64 sum of
	// m - x[label], and the float64 product of s is out[1] * 2^out[2].
	// labels holds class indices below cols.
	xentRows func(x, labels, y []float32, cols int, c float32, out *[3]float64)
	// badLabel, where a level has it (nil elsewhere: badLabelGeneric),
	// returns the index of the first of labels that is not a class index
	// below cols, or -1.
	badLabel func(labels []float32, cols int) int
	// sigmoid, tanh and gelu set y = f(x) on len(x) elements (y may be
	// x); gelu is GELU's tanh form.
	sigmoid, tanh, gelu func(x, y []float32)
	// geluBackward sets dx = dy*GELU'(x) on len(x) elements.
	geluBackward func(x, dy, dx []float32)
	// maxPool2x2 is max pooling with 2 x 2 windows at stride 2, no
	// padding, over rows output rows of ow floats: output row r, at
	// y[r*ow:], from input rows 2r and 2r+1, at x[2r*w:] and x[(2r+1)*w:],
	// where w = 2*ow or 2*ow+1. Each output is the element at maxAt's
	// position (PyTorch's choice), with its bits. maxPool2x2Backward
	// writes the 2*rows input rows of dx (laid out as x) fully: dy at
	// that position of each window, 0 elsewhere. See maxPool2x2Generic.
	maxPool2x2         func(x, y []float32, rows, ow, w int)
	maxPool2x2Backward func(x, dy, dx []float32, rows, ow, w int)
}

// kernelTable holds the kernels of each level compiled into this build;
// nil where a level has none (a noasm build, another architecture).
var kernelTable = [...]*kernels{
	Generic: &genericKernels,
	AVX2:    nil,
	AVX512:  nil,
	NEON:    nil,
}

var genericKernels = kernels{
	mr: 4, nr: 4,
	gemmMicro: gemmMicroGeneric4x4,
	mc:        128, kc: 256, nc: 4096,
	pack: packGeneric,
	adam: adamGeneric,
	sgd:  sgdGeneric,

	relu:         reluGeneric,
	reluBackward: reluBackwardGeneric,
	add:          addGeneric,
	addF64:       addF64Generic,
	softmaxExp:   softmaxExpGeneric,
	sigmoid:      sigmoidGeneric,
	tanh:         tanhGeneric,
	gelu:         geluGeneric,
	geluBackward: geluBackwardGeneric,

	maxPool2x2:         maxPool2x2Generic,
	maxPool2x2Backward: maxPool2x2BackwardGeneric,
}

func packGeneric(dst, src []float32, ld, kc, w int, alongK bool) {
	packSliverGeneric(dst, src, ld, kc, w, w, alongK)
}

func reluGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

func reluBackwardGeneric(x, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

func addF64Generic(x []float32, acc []float64) {
	acc = acc[:len(x)]
	for i, v := range x {
		acc[i] += float64(v)
	}
}

func addGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += v
	}
}

// badLabelGeneric returns the index of the first of labels that is not an
// integer in [0, cols), or -1.
func badLabelGeneric(labels []float32, cols int) int {
	for i, l := range labels {
		if label := int(l); label < 0 || label >= cols || float32(label) != l {
			return i
		}
	}
	return -1
}

// softmaxExpGeneric computes e^(x-m) in float64 with math.Exp and sums it
// in float64.
func softmaxExpGeneric(x, y []float32, c float32) (m float32, s float64) {
	y = y[:len(x)]
	m = x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	for j, v := range x {
		e := math.Exp(float64(v - m))
		y[j] = float32(e)
		s += e
	}
	f := float64(c) / s
	for j := range y {
		y[j] = float32(float64(y[j]) * f)
	}
	return m, s
}

// sigmoidGeneric, tanhGeneric, geluGeneric and geluBackwardGeneric compute in float64 with the
// math package.
func sigmoidGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

func tanhGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = float32(math.Tanh(float64(v)))
	}
}

func geluGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		u := float64(v)
		y[i] = float32(0.5 * u * (1 + math.Tanh(geluC*(u+0.044715*u*u*u))))
	}
}

func geluBackwardGeneric(x, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		u := float64(v)
		t := math.Tanh(geluC * (u + 0.044715*u*u*u))
		d := 0.5*(1+t) + 0.5*u*(1-t*t)*geluC*(1+3*0.044715*u*u)
		dx[i] = float32(float64(dy[i]) * d)
	}
}

// Cache sizes assumed where cpuid reports none (a 32 KiB L1d, a 512 KiB
// L2, a 32 MiB L3: this project's reference machine).
const (
	defaultL1 = 32 << 10
	defaultL2 = 512 << 10
	defaultL3 = 32 << 20
)

// blockSizes derives the GEMM blocking of an mr x nr micro-kernel from the
// data cache sizes in bytes (0: unknown), in the BLIS manner:
//
//   - kc: a B sliver (kc x nr floats) fills half of L1, leaving room for
//     the A sliver and C tile streaming through;
//   - mc: a packed A block (mc x kc) fills 9/32 of L2, so that it stays
//     resident while the B slivers stream past;
//   - nc: a packed B panel (kc x nc) fills an eighth of L3, which is
//     shared with the other cores.
//
// kc alone decides the summation order (see gemmStrip), so two machines
// with different L1 sizes may round differently; one machine always gives
// the same bits for any thread count. With the default caches this gives
// the avx2 level mc 144, kc 256, nc 4096.
func blockSizes(mr, nr, l1, l2, l3 int) (mc, kc, nc int) {
	if l1 <= 0 {
		l1 = defaultL1
	}
	if l2 <= 0 {
		l2 = defaultL2
	}
	if l3 <= 0 {
		l3 = defaultL3
	}
	kc = min(max(l1/2/(4*nr)/8*8, 64), 512)
	mc = min(max(l2*9/32/(4*kc)/mr*mr, 4*mr), 1020/mr*mr)
	nc = min(max(l3/8/(4*kc)/nr*nr, 16*nr), 8192/nr*nr)
	return mc, kc, nc
}
