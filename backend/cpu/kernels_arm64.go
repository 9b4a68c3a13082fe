//go:build arm64 && !noasm

package cpu

import (
	"math"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

// Cache sizes assumed for the neon level where cpuid reports none, as it
// usually does on arm64 (Linux exposes no cache geometry to user space
// there): a 64 KiB L1d and 1 MiB L2 per core and a 32 MiB shared L3, the
// Neoverse N1/V1/V2 cores of Graviton 2-4 and Ampere Altra. Apple's cores
// have more (128 KiB L1d on the performance cores, an L2 of 4-16 MiB per
// cluster), so these sizes are safe there too, if not the largest blocks
// those caches would hold.
const (
	neonL1 = 64 << 10
	neonL2 = 1 << 20
	neonL3 = 32 << 20
)

func init() {
	c := cpuid.CPU.Cache
	k := &neonKernels
	k.mc, k.kc, k.nc = blockSizes(k.mr, k.nr, knownOr(c.L1D, neonL1), knownOr(c.L2, neonL2), knownOr(c.L3, neonL3))
	kernelTable[NEON] = k
}

// knownOr returns size, a cache size cpuid reported, or def where cpuid
// knows none: it reports -1 (not 0) for an unknown size, which arm64 Linux
// gives for every level.
func knownOr(size, def int) int {
	if size > 0 {
		return size
	}
	return def
}

// neonKernels: NEON assembly for the GEMM micro-kernel, the bias add, ReLU
// (both ways), SGD, Adam, the column sums, the softmax's exp, the sigmoid,
// tanh and GELU (both ways); the generic Go loop for packing.
//
// The 8x12 micro-kernel holds its tile in 24 of the 32 vector
// registers. With the default caches blockSizes gives kc 512 (a 24 KiB B
// sliver in half of L1), mc 144 (a 288 KiB packed A block in 9/32 of L2)
// and nc 2040 (a 4 MiB B panel in an eighth of L3).
var neonKernels = kernels{
	mr: 8, nr: 12,
	gemmMicro: gemmMicroNEONChecked,
	mc:        144, kc: 512, nc: 2040,
	pack: packGeneric,
	adam: adamNEONGo,
	sgd:  sgdNEONGo,

	relu:         unaryNEONGo(reluNEON, reluGeneric),
	reluBackward: reluBackwardNEONGo,
	add:          unaryNEONGo(addNEON, addGeneric),
	addF64:       addF64NEONGo,
	softmaxExp:   softmaxExpNEONGo,
	sigmoid:      unaryNEONGo(sigmoidNEON, sigmoidGeneric),
	tanh:         unaryNEONGo(tanhNEON, tanhGeneric),
	gelu:         unaryNEONGo(geluNEON, geluGeneric),
	geluBackward: geluBackwardNEONGo,

	maxPool2x2:         maxPool2x2Generic,
	maxPool2x2Backward: maxPool2x2BackwardGeneric,
}

// gemmMicroNEON is in gemm_arm64.s.
//
//go:noescape
func gemmMicroNEON(k int, a, b, c *float32, ldc int, alpha, beta float32)

// gemmMicroNEONChecked checks the slice bounds that the assembly relies on,
// then calls it.
func gemmMicroNEONChecked(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[:8*k]
	_ = b[:12*k]
	_ = c[7*ldc+11]
	gemmMicroNEON(k, unsafe.SliceData(a), unsafe.SliceData(b), &c[0], ldc, alpha, beta)
}

// The elementwise kernels in gemm_arm64.s; n is a multiple of 4, > 0.
//
//go:noescape
func addNEON(n int, x, y *float32)

//go:noescape
func reluNEON(n int, x, y *float32)

//go:noescape
func reluBackwardNEON(n int, x, dy, dx *float32)

//go:noescape
func addF64NEON(n int, x *float32, acc *float64)

//go:noescape
func sgdNEON(n int, param, grad, v *float32, c *sgdConsts)

//go:noescape
func softmaxExpNEON(n int, x, y *float32, m float32) (s float32)

//go:noescape
func sigmoidNEON(n int, x, y *float32)

//go:noescape
func tanhNEON(n int, x, y *float32)

//go:noescape
func geluNEON(n int, x, y *float32)

//go:noescape
func geluBackwardNEON(n int, x, dy, dx *float32)

//go:noescape
func adamNEON(n int, param, grad, m, v *float32, c *adamConsts)

// The wrappers run the assembly on whole groups of 4 and the generic loop
// on the rest.

// unaryNEONGo wraps a kernel of x and y (y = f(x) or y += x).
func unaryNEONGo(asm func(n int, x, y *float32), generic func(x, y []float32)) func(x, y []float32) {
	return func(x, y []float32) {
		n := len(x)
		_ = y[:n]
		if body := n &^ 3; body > 0 {
			asm(body, &x[0], &y[0])
		}
		generic(x[n&^3:], y[n&^3:n])
	}
}

func reluBackwardNEONGo(x, dy, dx []float32) {
	n := len(x)
	_, _ = dy[:n], dx[:n]
	if body := n &^ 3; body > 0 {
		reluBackwardNEON(body, &x[0], &dy[0], &dx[0])
	}
	reluBackwardGeneric(x[n&^3:], dy[n&^3:n], dx[n&^3:n])
}

func geluBackwardNEONGo(x, dy, dx []float32) {
	n := len(x)
	_, _ = dy[:n], dx[:n]
	if body := n &^ 3; body > 0 {
		geluBackwardNEON(body, &x[0], &dy[0], &dx[0])
	}
	geluBackwardGeneric(x[n&^3:], dy[n&^3:n], dx[n&^3:n])
}

func addF64NEONGo(x []float32, acc []float64) {
	n := len(x)
	_ = acc[:n]
	if body := n &^ 3; body > 0 {
		addF64NEON(body, &x[0], &acc[0])
	}
	addF64Generic(x[n&^3:], acc[n&^3:n])
}

func sgdNEONGo(ps, gs, vs []float32, c *sgdConsts) {
	n := len(ps)
	_ = gs[:n]
	if c.momentum != 0 {
		_ = vs[:n]
	}
	body := n &^ 3
	if body > 0 {
		v := &ps[0] // not read without momentum
		if c.momentum != 0 {
			v = &vs[0]
		}
		sgdNEON(body, &ps[0], &gs[0], v, c)
	}
	if c.momentum != 0 {
		vs = vs[body:n]
	}
	sgdGeneric(ps[body:], gs[body:n], vs, c)
}

func adamNEONGo(p, g, m, v []float32, c *adamConsts) {
	n := len(p)
	_, _, _ = g[:n], m[:n], v[:n]
	body := n &^ 3
	if body > 0 {
		adamNEON(body, &p[0], &g[0], &m[0], &v[0], c)
	}
	adamGeneric(p[body:], g[body:n], m[body:n], v[body:n], c)
}

// softmaxExpNEONGo computes e^(x-m) with the float32 exp of the assembly on
// whole groups of 4, with math.Exp on the rest, and sums it in float32.
func softmaxExpNEONGo(x, y []float32, c float32) (m float32, s float64) {
	n := len(x)
	y = y[:n]
	m = x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var s32 float32
	body := n &^ 3
	if body > 0 {
		s32 = softmaxExpNEON(body, &x[0], &y[0], m)
	}
	for j := body; j < n; j++ {
		e := float32(math.Exp(float64(x[j] - m)))
		y[j] = e
		s32 += e
	}
	f := c / s32
	for j := range y {
		y[j] *= f
	}
	return m, float64(s32)
}
