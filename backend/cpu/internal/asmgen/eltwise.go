// The bandwidth-bound elementwise kernels: ReLU, bias add, column sums.

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// loopTEXT starts a function of n floats (its first argument) and loads
// n and the pointer arguments named by params.
func loopTEXT(name, sig, doc string, params []string) (n reg.Register, ptrs []reg.Register) {
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	n = Load(Param("n"), GP64())
	for _, p := range params {
		ptrs = append(ptrs, Load(Param(p), GP64()))
	}
	return n, ptrs
}

// eltwiseLoop writes a function named name, with Go signature sig, that
// runs body on each group of 8 floats of n (a multiple of 8): i is the
// index of the group's first float, ptrs the pointer arguments named by
// params, zero a register of zeros.
func eltwiseLoop(name, sig, doc string, body func(i reg.Register, ptrs []reg.Register, zero reg.VecVirtual), params ...string) {
	n, ptrs := loopTEXT(name, sig, doc, params)
	zero := YMM()
	VXORPS(zero, zero, zero)
	i := GP64()
	XORQ(i, i)
	Label(name + "loop")
	CMPQ(i, n)
	JGE(LabelRef(name + "done"))
	body(i, ptrs, zero)
	ADDQ(U8(8), i)
	JMP(LabelRef(name + "loop"))
	Label(name + "done")
	VZEROUPPER()
	RET()
}

// eltwiseAVX2 writes the bandwidth-bound kernels of the ReLU layer and the
// bias add, 8 floats per step; n must be a multiple of 8 (the Go side runs
// the tail). Their Go equivalents:
//
//	reluAVX2:         y[i] = max(x[i], 0)        (a NaN in x stays NaN)
//	reluBackwardAVX2: dx[i] = dy[i] if x[i] > 0 else 0
//	addAVX2:          y[i] += x[i]
//	addF64AVX2:       acc[i] += float64(x[i])  (SumRows's column sums)
func eltwiseAVX2() {
	loop := eltwiseLoop
	at := func(base, i reg.Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
	loop("reluAVX2", "func(n int, x, y *float32)", "reluAVX2 sets y = max(x, 0) for n (a multiple of 8) floats.",
		func(i reg.Register, p []reg.Register, zero reg.VecVirtual) {
			v := YMM()
			VMAXPS(at(p[0], i), zero, v) // max(0, x): the second operand, x, wins ties and NaNs
			VMOVUPS(v, at(p[1], i))
		}, "x", "y")
	loop("reluBackwardAVX2", "func(n int, x, dy, dx *float32)", "reluBackwardAVX2 sets dx = dy where x > 0, else 0, for n (a multiple of 8) floats.",
		func(i reg.Register, p []reg.Register, zero reg.VecVirtual) {
			x, mask, v := YMM(), YMM(), YMM()
			VMOVUPS(at(p[0], i), x)
			VCMPPS(U8(0x1e), zero, x, mask) // x > 0, ordered: false for NaN
			VANDPS(at(p[1], i), mask, v)
			VMOVUPS(v, at(p[2], i))
		}, "x", "dy", "dx")
	loop("addF64AVX2", "func(n int, x *float32, acc *float64)", "addF64AVX2 sets acc += float64(x) for n (a multiple of 8) floats.",
		func(i reg.Register, p []reg.Register, _ reg.VecVirtual) {
			for h := 0; h < 2; h++ {
				v := YMM()
				VCVTPS2PD(Mem{Base: p[0], Index: i, Scale: 4, Disp: 16 * h}, v)
				VADDPD(Mem{Base: p[1], Index: i, Scale: 8, Disp: 32 * h}, v, v)
				VMOVUPD(v, Mem{Base: p[1], Index: i, Scale: 8, Disp: 32 * h})
			}
		}, "x", "acc")
	loop("addAVX2", "func(n int, x, y *float32)", "addAVX2 sets y += x for n (a multiple of 8) floats.",
		func(i reg.Register, p []reg.Register, _ reg.VecVirtual) {
			v := YMM()
			VMOVUPS(at(p[1], i), v)
			VADDPS(at(p[0], i), v, v)
			VMOVUPS(v, at(p[1], i))
		}, "x", "y")
}
