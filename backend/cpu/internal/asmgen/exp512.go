// The AVX-512 exp and what is built on it: the softmax cross-entropy of 16
// short rows at a time, sigmoid, tanh and GELU both ways.

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

// emitExp512 is emitExp on the 16 lanes of zmm registers, with the same
// operations in the same order, so the two agree bit for bit; k holds its
// constants (exp512Consts).
func emitExp512(x, y reg.VecVirtual, k map[string]reg.VecVirtual) {
	c := func(name string) reg.VecVirtual { return k[name] }
	xc, n, r, z := ZMM(), ZMM(), ZMM(), ZMM()
	// The operand order keeps a NaN x: VMINPS and VMAXPS return their
	// first operand here, x, when either is NaN.
	VMINPS(x, c("hi"), xc)
	VMAXPS(xc, c("lo"), xc)
	VMULPS(c("log2e"), xc, n)
	VRNDSCALEPS(U8(0), n, n) // to nearest, ties to even
	VMOVAPS(xc, r)
	VFNMADD231PS(c("ln2Hi"), n, r) // r -= n*ln2Hi (exact)
	VFNMADD231PS(c("ln2Lo"), n, r) // r -= n*ln2Lo
	VMOVAPS(c("p0"), y)
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		VFMADD213PS(c(p), r, y) // y = y*r + p
	}
	VMULPS(r, r, z)
	VFMADD213PS(r, z, y) // y = y*r^2 + r
	VADDPS(c("one"), y, y)
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

// xentRowsAVX512 is the softmax cross-entropy of 16 rows of cols <= 16
// floats (x and y hold 16*cols floats, row r at [r*cols:]), y may be x. The
// rows' maxima and sums are taken for all 16 rows at once (reduce16), so
// no row waits on a tree of shuffles of its own; the exps run row by row
// (each row in one zmm register, the lanes past cols masked off) into
// scratch on the stack, and y is written once at the end. z[label] is
// gathered before anything is written. Per row, y = e^(x-m) * (c/s) and y[label] -= c, the same
// operations in the same order as softmaxExpAVX2 and the Go loop after it,
// so the gradient has the same bits; out[0] is the float64 sum of
// m - z[label] and out[1] the float64 product of s (each s is in [1, 16]:
// the product of 16 stays below 2^64).
func xentRowsAVX512() {
	iota := GLOBL("iota16", RODATA|NOPTR)
	for l := 0; l < 16; l++ {
		DATA(4*l, U32(l))
	}
	TEXT("xentRowsAVX512", 0, "func(cols int, x, labels, y *float32, c float32, out *float64)")
	Pragma("noescape")
	Doc("xentRowsAVX512 is the softmax cross-entropy of 16 rows of 1 <= cols <= 16 floats: it sets",
		"y = c*e^(x-m)/s row by row, minus c at the row's label (labels: 16 class indices below",
		"cols, as floats), and stores the sum of m - x[label] in out[0] and the product of s in",
		"out[1], both in float64.")
	cols := Load(Param("cols"), GP64())
	px, pl, py := Load(Param("x"), GP64()), Load(Param("labels"), GP64()), Load(Param("y"), GP64())
	pout := Load(Param("out"), GP64())
	// Scratch: the rows' m, c/s, labels as integers, z[label] and s, and
	// the 16 rows of e^(x-m). e goes through the stack, not y: a load of
	// what a masked store wrote to y shortly before, in a cache line the
	// store left partly unwritten, is not forwarded and waits (rows of 10
	// ran 1.5x slower).
	local := AllocLocal(5*64 + 16*64)
	lm, lf, llab, lzl, ls := local, local.Offset(64), local.Offset(128), local.Offset(192), local.Offset(256)
	le := local.Offset(320)
	// mask: the cols lanes of a row.
	bits, mask := GP64(), K()
	MOVQ(U32(1), bits)
	SHLXQ(cols, bits, bits)
	DECQ(bits)
	KMOVW(bits.(reg.GPVirtual).As32(), mask)
	// The labels, and z[label] at x + 4*(r*cols + label).
	ids, lab := ZMM(), ZMM()
	VMOVDQU32(iota, ids)
	VCVTTPS2DQ(Mem{Base: pl}, lab)
	VMOVDQU32(lab, llab)
	idx, zl, all := ZMM(), ZMM(), K()
	VPBROADCASTD(cols.(reg.GPVirtual).As32(), idx)
	VPMULLD(ids, idx, idx)
	VPADDD(lab, idx, idx)
	KXNORW(all, all, all)
	VGATHERDPS(Mem{Base: px, Index: idx, Scale: 4}, all, zl)
	VMOVUPS(zl, lzl)
	SHLQ(U8(2), cols) // bytes per row
	// The rows of x are loaded at p, in the order reduce16 asks for them;
	// y is written at q.
	p, q := GP64(), GP64()
	at := func(base reg.Register, r int) Mem {
		IMUL3Q(U32(r), cols, p)
		return Mem{Base: base, Index: p, Scale: 1}
	}
	VMOVUPS(reduce16(func(r int) reg.VecVirtual {
		x := ZMM()
		VBROADCASTSS(expConst["negInf"], x)
		VMOVUPS(at(px, r), mask, x) // -Inf in the lanes past cols
		return x
	}, func(a, b, c Op) { VMAXPS(a, b, c) }), lm)
	// e^(x-m), summed as it is made.
	k := exp512Consts()
	s := reduce16(func(r int) reg.VecVirtual {
		x, e := ZMM(), ZMM()
		VMOVUPS_Z(at(px, r), mask, x)
		VSUBPS_BCST(lm.Offset(4*r), x, x)
		emitExp512(x, e, k)
		VMOVUPS_Z(e, mask, e) // 0 past cols, for the sum
		VMOVUPS(e, le.Offset(64*r))
		return e
	}, func(a, b, c Op) { VADDPS(a, b, c) })
	VMOVUPS(s, ls)
	cv, f := ZMM(), ZMM()
	VBROADCASTSS(paramAddr("c"), cv)
	VDIVPS(s, cv, f)
	VMOVUPS(f, lf)
	// y = y*(c/s), minus c at the label.
	MOVQ(py, q)
	for r := range 16 {
		y, hit := ZMM(), K()
		VMOVUPS(le.Offset(64*r), y)
		VMULPS_BCST(lf.Offset(4*r), y, y)
		VPCMPEQD_BCST(llab.Offset(4*r), ids, hit)
		VSUBPS(cv, y, hit, y)
		VMOVUPS(y, mask, Mem{Base: q})
		ADDQ(cols, q)
	}
	// The loss terms in float64.
	halves := func(v Mem) (reg.VecVirtual, reg.VecVirtual) {
		lo, hi := ZMM(), ZMM()
		VCVTPS2PD(v, lo)
		VCVTPS2PD(v.Offset(32), hi)
		return lo, hi
	}
	m0, m1 := halves(lm)
	z0, z1 := halves(lzl)
	VSUBPD(z0, m0, m0)
	VSUBPD(z1, m1, m1)
	VADDPD(m1, m0, m0)
	reduce8PD(m0, func(a, b, c Op) { VADDPD(a, b, c) })
	VMOVSD(m0.AsX(), Mem{Base: pout})
	s0, s1 := halves(ls)
	VMULPD(s1, s0, s0)
	reduce8PD(s0, func(a, b, c Op) { VMULPD(a, b, c) })
	VMOVSD(s0.AsX(), Mem{Base: pout, Disp: 8})
	VZEROUPPER()
	RET()
}

// reduce16 reduces each of 16 registers v[r] across its lanes with op
// and returns one register whose lane r holds v[r]'s result; row(r) emits
// the code that makes v[r]. The tree is
// across's (lanes j and j+8, then j+4, j+2 and j+1), so a sum has the same
// bits as across's on each row; it takes 45 instructions for the 16 rows
// where across takes 8 for one. Levels: 256-bit halves of rows i and i+4
// (and i+8, i+12) side by side; then 128-bit quarters, which leaves
// register i holding rows i, 4+i, 8+i and 12+i in its quarters; then pairs
// of floats and single floats, which bring rows 4k..4k+3 into quarter k.
func reduce16(row func(r int) reg.VecVirtual, op func(a, b, c Op)) reg.VecVirtual {
	pair := func(a, b reg.VecVirtual, shuf func(x, y, lo, hi reg.VecVirtual)) reg.VecVirtual {
		lo, hi := ZMM(), ZMM()
		shuf(a, b, lo, hi)
		op(hi, lo, lo)
		return lo
	}
	quarters := func(immLo, immHi uint8) func(a, b, lo, hi reg.VecVirtual) {
		return func(a, b, lo, hi reg.VecVirtual) {
			VSHUFF32X4(U8(immLo), b, a, lo)
			VSHUFF32X4(U8(immHi), b, a, hi)
		}
	}
	// Rows are asked for in the order they are combined, so that few are
	// live at once.
	p := make([]reg.VecVirtual, 4)
	for i := range 4 {
		// [a's lanes 0-7, b's lanes 0-7] and [a's 8-15, b's 8-15].
		w := pair(row(i), row(4+i), quarters(0x44, 0xee))
		w4 := pair(row(8+i), row(12+i), quarters(0x44, 0xee))
		// Quarters 0 and 2 of a, then of b; and quarters 1 and 3.
		p[i] = pair(w, w4, quarters(0x88, 0xdd))
	}
	halves := func(a, b, lo, hi reg.VecVirtual) {
		VUNPCKLPD(b, a, lo)
		VUNPCKHPD(b, a, hi)
	}
	ca, cb := pair(p[0], p[1], halves), pair(p[2], p[3], halves)
	return pair(ca, cb, func(a, b, lo, hi reg.VecVirtual) {
		VSHUFPS(U8(0x88), b, a, lo) // floats 0 and 2 of a, then of b
		VSHUFPS(U8(0xdd), b, a, hi) // floats 1 and 3
	})
}

// reduce8PD reduces the 8 float64 lanes of v with op into lane 0.
func reduce8PD(v reg.VecVirtual, op func(a, b, c Op)) {
	t := ZMM()
	VEXTRACTF64X4(U8(1), v, t.AsY())
	op(t.AsY(), v.AsY(), v.AsY())
	VEXTRACTF128(U8(1), v.AsY(), t.AsX())
	op(t.AsX(), v.AsX(), v.AsX())
	VPERMILPD(U8(1), v.AsX(), t.AsX())
	op(t.AsX(), v.AsX(), v.AsX())
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
