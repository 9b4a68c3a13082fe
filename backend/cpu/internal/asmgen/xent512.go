// The AVX-512 softmax cross-entropy of short rows (1 to 16 classes): 16
// rows at a time, one row per zmm register, for all the blocks of 16 rows
// of a chunk in one call.

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// xentRowsAVX512 is the softmax cross-entropy of blocks*16 rows of cols <=
// 16 floats (x and y hold blocks*16*cols floats, row r at [r*cols:]), y
// may be x. Per block of 16 rows: the rows' maxima and sums are taken for
// all 16 rows at once (reduce16), so no row waits on a tree of shuffles of
// its own; z[label] is picked from each row's register by a permutation
// (an index is taken mod 16, so no label can make the kernel read outside
// x); the exps run row by row (the lanes past cols masked off) into
// scratch on the stack, and y is written once at the end. Per row, y =
// e^(x-m) * (c/s) and y[label] -= c, the same operations in the same order
// as softmaxExpAVX2 and the Go loop after it, so the gradient has the same
// bits. The loss terms are kept in float64 lanes, lane r for row r of
// every block: the sums of m - z[label], and the products of s as a
// mantissa in [1, 2) and a sum of exponents (VGETMANTPD, VGETEXPPD, both
// exact), so that no product overflows. At the end out[0] is the sum of
// the 16 lanes' sums, out[1] the product of their mantissas and out[2] the
// sum of their exponents: the loss is out[0] + log(out[1]) + out[2]*ln 2.
func xentRowsAVX512() {
	iota := GLOBL("iota16", RODATA|NOPTR)
	for l := 0; l < 16; l++ {
		DATA(4*l, U32(l))
	}
	ones := GLOBL("onef64", RODATA|NOPTR)
	DATA(0, U64(0x3ff0000000000000))
	TEXT("xentRowsAVX512", 0, "func(cols, blocks int, x, labels, y *float32, c float32, out *float64)")
	Pragma("noescape")
	Doc("xentRowsAVX512 is the softmax cross-entropy of blocks >= 1 blocks of 16 rows of",
		"1 <= cols <= 16 floats: it sets y = c*e^(x-m)/s row by row, minus c at the row's label",
		"(labels: a class index below cols per row, as floats), and stores in out[0] the sum of",
		"m - x[label], and the product of s as out[1] * 2^out[2], all in float64.")
	cols := Load(Param("cols"), GP64())
	nb := Load(Param("blocks"), GP64())
	px, pl, py := Load(Param("x"), GP64()), Load(Param("labels"), GP64()), Load(Param("y"), GP64())
	// Scratch: a block's m, c/s, labels as integers, z[label] and s, the
	// 16 rows of e^(x-m), and the loss lanes (two zmm each of sums, mantissas
	// and exponents). e goes through the stack, not y: a load of what a
	// masked store wrote to y shortly before, in a cache line the store
	// left partly unwritten, is not forwarded and waits (rows of 10 ran
	// 1.5x slower).
	local := AllocLocal(5*64 + 16*64 + 6*64)
	lm, lf, llab, lzl, ls := local, local.Offset(64), local.Offset(128), local.Offset(192), local.Offset(256)
	le := local.Offset(320)
	lsum, lmant, lexp := local.Offset(320+16*64), local.Offset(320+18*64), local.Offset(320+20*64)
	// The loss lanes start at sum 0, product 1 = 1 * 2^0.
	zero, one := ZMM(), ZMM()
	VPXORD(zero, zero, zero)
	VBROADCASTSD(ones, one)
	for i := range 2 {
		VMOVUPD(zero, lsum.Offset(64*i))
		VMOVUPD(one, lmant.Offset(64*i))
		VMOVUPD(zero, lexp.Offset(64*i))
	}
	// mask: the cols lanes of a row.
	bits, mask := GP64(), K()
	MOVQ(U32(1), bits)
	SHLXQ(cols, bits, bits)
	DECQ(bits)
	KMOVW(bits.(reg.GPVirtual).As32(), mask)
	ids := ZMM()
	VMOVDQU32(iota, ids)
	k := exp512Consts()
	cv := ZMM()
	VBROADCASTSS(paramAddr("c"), cv)
	// Rows: rb bytes apart. Row 4k+i of a block is at b[i] + k*4*rb.
	rb, rb4, rb12 := cols, GP64(), GP64()
	SHLQ(U8(2), rb)
	MOVQ(rb, rb4)
	SHLQ(U8(2), rb4)
	LEAQ(Mem{Base: rb4, Index: rb4, Scale: 2}, rb12)
	b := []reg.GPVirtual{px.(reg.GPVirtual), GP64(), GP64(), GP64()}
	at := func(r int) Mem {
		m := Mem{Base: b[r%4]}
		switch r / 4 {
		case 1, 2:
			m.Index, m.Scale = rb4, uint8(r/4)
		case 3:
			m.Index, m.Scale = rb12, 1
		}
		return m
	}
	Label("xentblock")
	LEAQ(Mem{Base: px, Index: rb, Scale: 1}, b[1])
	LEAQ(Mem{Base: px, Index: rb, Scale: 2}, b[2])
	LEAQ(Mem{Base: b[2], Index: rb, Scale: 1}, b[3])
	// The labels, and z[label] of row r into lane r of zl.
	lab, zl := ZMM(), ZMM()
	VCVTTPS2DQ(Mem{Base: pl}, lab)
	VMOVDQU32(lab, llab)
	VPXORD(zl, zl, zl)
	lane, laneBit := K(), GP32()
	VMOVUPS(reduce16(func(r int) reg.VecVirtual {
		x := ZMM()
		VBROADCASTSS(expConst["negInf"], x)
		VMOVUPS(at(r), mask, x) // -Inf in the lanes past cols
		MOVL(U32(1<<r), laneBit)
		KMOVW(laneBit, lane)
		VPERMPS(x, lab, lane, zl) // zl[r] = x[lab[r]]
		return x
	}, func(a, b, c Op) { VMAXPS(a, b, c) }), lm)
	VMOVUPS(zl, lzl)
	// e^(x-m), summed as it is made.
	s := reduce16(func(r int) reg.VecVirtual {
		x, e := ZMM(), ZMM()
		VMOVUPS_Z(at(r), mask, x)
		VSUBPS_BCST(lm.Offset(4*r), x, x)
		emitExp512(x, e, k)
		VMOVUPS_Z(e, mask, e) // 0 past cols, for the sum
		VMOVUPS(e, le.Offset(64*r))
		return e
	}, func(a, b, c Op) { VADDPS(a, b, c) })
	VMOVUPS(s, ls)
	f := ZMM()
	VDIVPS(s, cv, f)
	VMOVUPS(f, lf)
	// y = y*(c/s), minus c at the label.
	for r := range 16 {
		y, hit := ZMM(), K()
		VMOVUPS(le.Offset(64*r), y)
		VMULPS_BCST(lf.Offset(4*r), y, y)
		VPCMPEQD_BCST(llab.Offset(4*r), ids, hit)
		VSUBPS(cv, y, hit, y)
		VMOVUPS(y, mask, Mem{Base: py})
		ADDQ(rb, py)
	}
	// The loss lanes, in float64: sum += m - z[label], mantissa *= s.
	for i := range 2 {
		m, z, sd, e := ZMM(), ZMM(), ZMM(), ZMM()
		VCVTPS2PD(lm.Offset(32*i), m)
		VCVTPS2PD(lzl.Offset(32*i), z)
		VSUBPD(z, m, m)
		VADDPD(lsum.Offset(64*i), m, m)
		VMOVUPD(m, lsum.Offset(64*i))
		VCVTPS2PD(ls.Offset(32*i), sd)
		VMULPD(lmant.Offset(64*i), sd, sd)
		VGETEXPPD(sd, e)
		VADDPD(lexp.Offset(64*i), e, e)
		VMOVUPD(e, lexp.Offset(64*i))
		VGETMANTPD(U8(0), sd, sd) // in [1, 2)
		VMOVUPD(sd, lmant.Offset(64*i))
	}
	LEAQ(Mem{Base: px, Index: rb4, Scale: 4}, px)
	ADDQ(U8(64), pl)
	DECQ(nb)
	JNZ(LabelRef("xentblock"))
	// The 16 lanes of each into one.
	pout := Load(Param("out"), GP64())
	sum, mant, exp := ZMM(), ZMM(), ZMM()
	VMOVUPD(lsum, sum)
	VADDPD(lsum.Offset(64), sum, sum)
	reduce8PD(sum, func(a, b, c Op) { VADDPD(a, b, c) })
	VMOVSD(sum.AsX(), Mem{Base: pout})
	VMOVUPD(lmant, mant)
	VMULPD(lmant.Offset(64), mant, mant)
	reduce8PD(mant, func(a, b, c Op) { VMULPD(a, b, c) })
	VMOVSD(mant.AsX(), Mem{Base: pout, Disp: 8})
	VMOVUPD(lexp, exp)
	VADDPD(lexp.Offset(64), exp, exp)
	reduce8PD(exp, func(a, b, c Op) { VADDPD(a, b, c) })
	VMOVSD(exp.AsX(), Mem{Base: pout, Disp: 16})
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
