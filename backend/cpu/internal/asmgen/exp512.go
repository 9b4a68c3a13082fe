// The AVX-512 exp and what is built on it: sigmoid, tanh and GELU both
// ways (and, in xent512.go, the softmax cross-entropy of short rows).

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// exp512Consts broadcasts the constants of emitExp512 into registers, for
// a loop to load them once.
func exp512Consts() map[string]reg.VecVirtual {
	k := map[string]reg.VecVirtual{}
	for _, name := range []string{"hi", "lo", "min", "inf", "log2e", "ln2Hi", "ln2Lo", "p0", "p1", "p2", "p3", "p4", "p5", "one"} {
		k[name] = ZMM()
		VBROADCASTSS(expConst[name], k[name])
	}
	return k
}

// emitExpReduced512 is the part of e^x that every exp of the level
// shares: n = round(x*log2(e)), r = x - n*ln2 (in two steps, the first
// exact) and y = e^r by the polynomial. It returns n, still a float; the
// caller scales y by 2^n and handles the range. x must not be NaN-clamped
// here: the callers decide what x may be.
func emitExpReduced512(x, y reg.VecVirtual, k map[string]reg.VecVirtual) (n reg.VecVirtual) {
	c := func(name string) reg.VecVirtual { return k[name] }
	n, r, z := ZMM(), ZMM(), ZMM()
	VMULPS(c("log2e"), x, n)
	VRNDSCALEPS(U8(0), n, n) // to nearest, ties to even
	VMOVAPS(x, r)
	VFNMADD231PS(c("ln2Hi"), n, r) // r -= n*ln2Hi (exact)
	VFNMADD231PS(c("ln2Lo"), n, r) // r -= n*ln2Lo
	VMOVAPS(c("p0"), y)
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		VFMADD213PS(c(p), r, y) // y = y*r + p
	}
	VMULPS(r, r, z)
	VFMADD213PS(r, z, y) // y = y*r^2 + r
	VADDPS(c("one"), y, y)
	return n
}

// emitExp512 is emitExp on the 16 lanes of zmm registers, with the same
// operations in the same order, so the two agree bit for bit; k holds its
// constants (exp512Consts).
func emitExp512(x, y reg.VecVirtual, k map[string]reg.VecVirtual) {
	c := func(name string) reg.VecVirtual { return k[name] }
	xc := ZMM()
	// The operand order keeps a NaN x: VMINPS and VMAXPS return their
	// first operand here, x, when either is NaN.
	VMINPS(x, c("hi"), xc)
	VMAXPS(xc, c("lo"), xc)
	n := emitExpReduced512(xc, y, k)
	VCVTPS2DQ(n, n) // n is integral: exact
	VPSLLD(U8(23), n, n)
	VPADDD(n, y, y) // y *= 2^n
	// Where x < min, 0; where x > hi, +Inf. NaN is neither.
	keep, big := K(), K()
	VCMPPS(U8(0x15), c("min"), x, keep) // not x < min (true for NaN)
	VMOVAPS_Z(y, keep, y)
	VCMPPS(U8(0x1e), c("hi"), x, big) // x > hi, ordered
	VMOVAPS(c("inf"), big, y)
}

// actAVX512 writes the AVX-512 forms of sigmoidAVX2, geluAVX2 and tanhAVX2: the same
// operations on 16 lanes (the same bits), for any n, the last partial group
// of 16 under a mask.
func actAVX512() {
	for _, f := range []struct {
		name, doc string
		emit      func(x, y reg.VecVirtual, k map[string]reg.VecVirtual)
	}{
		{"sigmoidAVX512", "sigmoidAVX512 sets y = 1/(1+e^-x)", emitSigmoid512},
		{"geluAVX512", "geluAVX512 sets y = GELU(x) (the tanh form)", emitGELU512},
		{"tanhAVX512", "tanhAVX512 sets y = tanh(x)", emitTanh512},
	} {
		var k map[string]reg.VecVirtual
		loop512(f.name, "func(n int, x, y *float32)", f.doc+" for n floats.",
			func() {
				k = exp512Consts()
				for _, name := range []string{"sign", "gelu1", "gelu3"} {
					k[name] = ZMM()
					VBROADCASTSS(actConst[name], k[name])
				}
			},
			func(l group, p []reg.Register) {
				y := ZMM()
				f.emit(l.load(p[0]), y, k)
				l.store(y, p[1])
			}, "x", "y")
	}
}

// geluBackwardAVX512 writes the AVX-512 form of geluBackwardAVX2.
func geluBackwardAVX512() {
	var k map[string]reg.VecVirtual
	loop512("geluBackwardAVX512", "func(n int, x, dy, dx *float32)",
		"geluBackwardAVX512 sets dx = dy*GELU'(x) (the tanh form) for n floats.",
		func() {
			k = exp512Consts()
			k["sign"] = ZMM()
			VBROADCASTSS(actConst["sign"], k["sign"])
		},
		func(l group, p []reg.Register) {
			dx := ZMM()
			emitGELUBackward512(l.load(p[0]), l.load(p[1]), dx, k)
			l.store(dx, p[2])
		}, "x", "dy", "dx")
}

// emitGELUBackward512 is emitGELUBackward on 16 lanes; k holds the
// constants of the exp and sign, the others are broadcast where used.
func emitGELUBackward512(x, dy, dx reg.VecVirtual, k map[string]reg.VecVirtual) {
	c := func(name string) reg.VecVirtual {
		v := ZMM()
		VBROADCASTSS(actConst[name], v)
		return v
	}
	sq, z, zp := ZMM(), ZMM(), ZMM()
	VMULPS(x, x, sq)
	VMINPS(c("geluMaxSq"), sq, sq)
	VMOVAPS(c("gelu3"), z)
	VFMADD213PS(c("gelu1"), sq, z) // 2c*(1 + 0.044715x^2)
	VMULPS(x, z, z)
	VMOVAPS(c("gelu3x3"), zp)
	VFMADD213PS(c("gelu1"), sq, zp) // z' = 2c*(1 + 3*0.044715x^2)
	VMULPS(x, zp, zp)
	a, e := ZMM(), ZMM()
	VORPS(k["sign"], z, a) // -|z|
	emitExp512(a, e, k)
	r, sg, neg := ZMM(), ZMM(), K()
	VADDPS(k["one"], e, r)
	VDIVPS(r, k["one"], r) // 1/(1+e)
	VMULPS(r, e, sg)
	VPMOVD2M(z, neg)
	VBLENDMPS(sg, r, neg, sg) // s: e/(1+e) where z < 0, else 1/(1+e)
	VMULPS(r, e, e)
	VMULPS(r, e, e)        // s*(1-s)
	VFMADD213PS(sg, zp, e) // s + x*z'*s*(1-s)
	VMULPS(dy, e, dx)
}

// emitSigmoid512 is emitSigmoid on 16 lanes; k holds the constants.
func emitSigmoid512(x, y reg.VecVirtual, k map[string]reg.VecVirtual) {
	a, e, neg := ZMM(), ZMM(), K()
	VORPS(k["sign"], x, a) // -|x|
	emitExp512(a, e, k)
	VPMOVD2M(x, neg)               // the sign bits of x
	VBLENDMPS(e, k["one"], neg, a) // the numerator: e where x < 0, else 1
	VADDPS(k["one"], e, e)
	VDIVPS(e, a, y)
}

// emitGELU512 is emitGELU on 16 lanes; k holds the constants.
func emitGELU512(x, y reg.VecVirtual, k map[string]reg.VecVirtual) {
	s, z := ZMM(), ZMM()
	VMULPS(x, x, s)
	VMOVAPS(k["gelu3"], z)
	VFMADD213PS(k["gelu1"], s, z) // 2c*(1 + 0.044715x^2)
	VMULPS(x, z, z)
	emitSigmoid512(z, s, k)
	VMULPS(x, s, y)
}

// emitTanh512 is emitTanh on 16 lanes; k holds the constants of the exp
// and sign, the others are broadcast where used (32 registers do not hold
// them all).
func emitTanh512(x, y reg.VecVirtual, k map[string]reg.VecVirtual) {
	c := func(name string) reg.VecVirtual {
		v := ZMM()
		VBROADCASTSS(actConst[name], v)
		return v
	}
	a, s, p, e, t, small := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), K()
	VANDPS(c("abs"), x, a)
	VMULPS(a, a, s)
	VMOVAPS(c("t4"), p)
	for _, name := range []string{"t3", "t2", "t1", "t0"} {
		VFMADD213PS(c(name), s, p) // p = p*s + name
	}
	VMULPS(s, p, p)
	VFMADD213PS(a, a, p) // p = p*a + a
	VADDPS(a, a, t)
	emitExp512(t, e, k)
	VADDPS(k["one"], e, e)
	VDIVPS(e, c("two"), t)                     // 2/(e^(2a)+1)
	VSUBPS(t, k["one"], e)                     // 1 - 2/(e^(2a)+1)
	VCMPPS(U8(0x11), c("tanhSmall"), a, small) // a < 0.625, ordered: false for NaN
	VBLENDMPS(p, e, small, y)
	VANDPS(k["sign"], x, t)
	VORPS(t, y, y)
}
