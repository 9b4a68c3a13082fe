// The AVX-512 forms of the bandwidth-bound training kernels: ReLU, bias
// add, column sums (and, in optim.go, Adam and SGD), 16 floats per step and the last partial
// group of 16 under a mask, so that they run on any n.

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// lanes512 is the group one step of an AVX-512 loop handles.
type lanes512 struct {
	i    reg.Register      // index of the group's first float
	tail bool              // the partial last group, under mask
	mask reg.OpmaskVirtual // its lanes below n (when tail)
}

// at is the group's address in the float32 array at base.
func (l lanes512) at(base reg.Register) Mem { return Mem{Base: base, Index: l.i, Scale: 4} }

// load reads the group from base; lanes past n read 0.
func (l lanes512) load(base reg.Register) reg.VecVirtual {
	v := ZMM()
	if l.tail {
		VMOVUPS_Z(l.at(base), l.mask, v)
	} else {
		VMOVUPS(l.at(base), v)
	}
	return v
}

// store writes v to the group at base, nothing past n.
func (l lanes512) store(v reg.VecVirtual, base reg.Register) {
	if l.tail {
		VMOVUPS(v, l.mask, l.at(base))
	} else {
		VMOVUPS(v, l.at(base))
	}
}

func (l lanes512) vec() reg.VecVirtual { return ZMM() }

// loop512 writes a function named name, with Go signature sig (n first),
// that runs body on each whole group of 16 floats of n and then, under a
// mask, on the partial group if there is one. setup runs once before the
// loop (loading constants); ptrs are the pointer arguments named by params.
func loop512(name, sig, doc string, setup func(), body func(l group, ptrs []reg.Register), params ...string) {
	n, ptrs := loopTEXT(name, sig, doc, params)
	if setup != nil {
		setup()
	}
	body16, i := GP64(), GP64()
	MOVQ(n, body16)
	ANDQ(I8(-16), body16)
	XORQ(i, i)
	Label(name + "loop")
	CMPQ(i, body16)
	JGE(LabelRef(name + "tail"))
	body(lanes512{i: i}, ptrs)
	ADDQ(U8(16), i)
	JMP(LabelRef(name + "loop"))
	Label(name + "tail")
	CMPQ(i, n)
	JGE(LabelRef(name + "done"))
	// mask = 1<<(n-i) - 1: the n mod 16 lanes left.
	rest, bits, mask := GP64(), GP64(), K()
	MOVQ(n, rest)
	SUBQ(i, rest)
	MOVQ(U32(1), bits)
	SHLXQ(rest, bits, bits)
	DECQ(bits)
	KMOVW(bits.(reg.GPVirtual).As32(), mask)
	body(lanes512{i: i, tail: true, mask: mask}, ptrs)
	Label(name + "done")
	VZEROUPPER()
	RET()
}

// eltwiseAVX512 writes the AVX-512 forms of the kernels of eltwiseAVX2,
// with the same Go equivalents, for any n.
func eltwiseAVX512() {
	var zero reg.VecVirtual
	setZero := func() {
		zero = ZMM()
		VPXORD(zero, zero, zero)
	}
	loop512("reluAVX512", "func(n int, x, y *float32)", "reluAVX512 sets y = max(x, 0) for n floats.", setZero,
		func(l group, p []reg.Register) {
			x := l.load(p[0])
			VMAXPS(x, zero, x) // max(0, x): the second operand, x, wins ties and NaNs
			l.store(x, p[1])
		}, "x", "y")
	loop512("reluBackwardAVX512", "func(n int, x, dy, dx *float32)", "reluBackwardAVX512 sets dx = dy where x > 0, else 0, for n floats.", setZero,
		func(l group, p []reg.Register) {
			x, dy, pos, v := l.load(p[0]), l.load(p[1]), K(), ZMM()
			VCMPPS(U8(0x1e), zero, x, pos) // x > 0, ordered: false for NaN
			VMOVAPS_Z(dy, pos, v)
			l.store(v, p[2])
		}, "x", "dy", "dx")
	loop512("addAVX512", "func(n int, x, y *float32)", "addAVX512 sets y += x for n floats.", nil,
		func(l group, p []reg.Register) {
			x, y := l.load(p[0]), l.load(p[1])
			VADDPS(x, y, y)
			l.store(y, p[1])
		}, "x", "y")
	loop512("addF64AVX512", "func(n int, x *float32, acc *float64)", "addF64AVX512 sets acc += float64(x) for n floats.", nil,
		func(g group, p []reg.Register) {
			l := g.(lanes512)
			x := l.load(p[0])
			lo, hi := ZMM(), ZMM()
			VCVTPS2PD(x.AsY(), lo)
			VEXTRACTF32X8(U8(1), x, hi.AsY())
			VCVTPS2PD(hi.AsY(), hi)
			for h, v := range []reg.VecVirtual{lo, hi} {
				at := Mem{Base: p[1], Index: l.i, Scale: 8, Disp: 64 * h}
				if !l.tail {
					VADDPD(at, v, v)
					VMOVUPD(v, at)
					continue
				}
				m := K() // the mask's 8 bits of this half
				if h == 0 {
					KMOVW(l.mask, m)
				} else {
					KSHIFTRW(U8(8), l.mask, m)
				}
				acc := ZMM()
				VMOVUPD_Z(at, m, acc)
				VADDPD(acc, v, v)
				VMOVUPD(v, m, at)
			}
		}, "x", "acc")
}
