// The AVX-512 softmax cross-entropy of short rows (1 to 16 classes): 16
// rows at a time, one row per zmm register, for all the blocks of 16 rows
// of a chunk in one call.

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// xentAhead is how many blocks ahead of stage 1 xentRowsAVX512 prefetches.
const xentAhead = 4

// xentRowsAVX512 is the softmax cross-entropy of blocks*16 rows of cols <=
// 16 floats (x and y hold blocks*16*cols floats, row r at [r*cols:]), y
// may be x. Per block of 16 rows, in three stages:
//
//  1. the rows' maxima, for all 16 rows at once (reduce16), so that no
//     row waits on a tree of shuffles of its own, and z[label] picked from
//     each row's register by a permutation (an index is taken mod 16, so
//     no label can make the kernel read outside x);
//  2. e^(x-m) row by row (the lanes past cols masked off) into scratch on
//     the stack, its sums (reduce16 again), c/s, and the loss terms;
//  3. y = e^(x-m) * (c/s), minus c at the label, written once.
//
// The stages are pipelined: one trip of the loop runs stage 1 of block t,
// stage 2 of block t-1 and stage 3 of block t-2, which depend on nothing
// computed in the same trip, so that the core overlaps the chains of
// dependent steps (max, exp, sum, divide) of three blocks. Each stage keeps
// what the next reads in two slots of scratch, used in turn.
//
// Per row, the operations are those of softmaxExpAVX2 and the Go loop
// after it, in the same order, so the gradient has the same bits. The loss
// terms are kept in float64 lanes, lane r for row r of every block: the
// sums of m - z[label], and the products of s as a mantissa in [1, 2) and
// a sum of exponents (VGETMANTPD, VGETEXPPD, both exact), so that no
// product overflows. At the end out[0] is the sum of the 16 lanes' sums,
// out[1] the product of their mantissas and out[2] the sum of their
// exponents: the loss is out[0] + log(out[1]) + out[2]*ln 2.
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
	// Scratch: two slots, each with a block's m, z[label] (stage 1 to 2),
	// c/s and the 16 rows of e^(x-m) (stage 2 to 3); then the loss lanes
	// (two zmm each of sums, mantissas and exponents). e goes through the
	// stack, not y: a load of what a masked store wrote to y shortly
	// before, in a cache line the store left partly unwritten, is not
	// forwarded and waits (rows of 10 ran 1.5x slower).
	const (
		offM, offZL, offF, offE = 0, 64, 128, 192
		slotSize                = 192 + 16*64
	)
	local := AllocLocal(2*slotSize + 6*64)
	loss := local.Offset(2 * slotSize)
	lsum, lmant, lexp := loss, loss.Offset(128), loss.Offset(256)
	// cur, 0 or slotSize: the offset of the slot stage 1 writes and stage 3
	// reads in this trip; stage 2 reads and writes the other. They swap
	// after each trip.
	cur := GP64()
	XORQ(cur, cur)
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
	ids := ZMM() // 0, 1, ..., 15 as floats
	VCVTDQ2PS(iota, ids)
	k := exp512Consts()
	cv := ZMM()
	VBROADCASTSS(paramAddr("c"), cv)
	// Rows are rb bytes apart. px points at block t-1 in trip t (stage
	// 2's); row r of the block i blocks on is at px + (16i + r)*rb.
	rb, off := cols, GP64()
	SHLQ(U8(2), rb)
	IMUL3Q(U32(16), rb, off)
	SUBQ(off, px)
	row := func(i, r int) Mem {
		IMUL3Q(U32(16*i+r), rb, off)
		return Mem{Base: px, Index: off, Scale: 1}
	}
	// slot(o, d) is byte d of the slot at offset o.
	slot := func(o reg.Register, d int) Mem {
		m := local.Offset(d)
		m.Index, m.Scale = o, 1
		return m
	}
	// t counts the trips, 0 to blocks+1; pl points at block t's labels.
	t := GP64()
	XORQ(t, t)
	Label("xenttrip")

	// The lines of x and y a few blocks on, so that their misses overlap
	// the work (16 lines: a block of rows of 16; with shorter rows, more
	// than a block, which costs only redundant prefetches). A prefetch
	// past the end does not fault.
	IMUL3Q(U32(16*(1+xentAhead)), rb, off)
	for j := range 16 {
		PREFETCHT0(Mem{Base: px, Index: off, Scale: 1, Disp: 64 * j})
	}
	IMUL3Q(U32(16*xentAhead), rb, off)
	for j := range 16 {
		PREFETCHT0(Mem{Base: py, Index: off, Scale: 1, Disp: 64 * j})
	}

	// Stage 1, block t < blocks: m and z[label] into slot cur.
	CMPQ(t, nb)
	JAE(LabelRef("xentstage2"))
	{
		lab, zl := ZMM(), ZMM()
		VCVTTPS2DQ(Mem{Base: pl}, lab)
		VPXORD(zl, zl, zl)
		lane, laneBit := K(), GP32()
		VMOVUPS(reduce16(func(r int) reg.VecVirtual {
			x := ZMM()
			VBROADCASTSS(expConst["negInf"], x)
			VMOVUPS(row(1, r), mask, x) // -Inf in the lanes past cols
			MOVL(U32(1<<r), laneBit)
			KMOVW(laneBit, lane)
			VPERMPS(x, lab, lane, zl) // zl[r] = x[lab[r]]
			return x
		}, func(a, b, c Op) { VMAXPS(a, b, c) }), slot(cur, offM))
		VMOVUPS(zl, slot(cur, offZL))
	}

	// Stage 2, block t-1 (1 <= t <= blocks): e^(x-m), c/s and the loss
	// terms, from and into slot prev.
	Label("xentstage2")
	TESTQ(t, t)
	JZ(LabelRef("xentstage3"))
	CMPQ(t, nb)
	JA(LabelRef("xentstage3"))
	{
		prev := GP64()
		MOVQ(U32(slotSize), prev)
		SUBQ(cur, prev)
		s := reduce16(func(r int) reg.VecVirtual {
			x, e := ZMM(), ZMM()
			VMOVUPS_Z(row(0, r), mask, x)
			VSUBPS_BCST(slot(prev, offM+4*r), x, x)
			emitExpXent512(x, e, mask, k)
			VMOVUPS(e, slot(prev, offE+64*r))
			return e
		}, func(a, b, c Op) { VADDPS(a, b, c) })
		f := ZMM()
		VDIVPS(s, cv, f)
		VMOVUPS(f, slot(prev, offF))
		// The loss lanes, in float64: sum += m - z[label], mantissa *= s.
		for i := range 2 {
			m, z, sd, e := ZMM(), ZMM(), ZMM(), ZMM()
			VCVTPS2PD(slot(prev, offM+32*i), m)
			VCVTPS2PD(slot(prev, offZL+32*i), z)
			VSUBPD(z, m, m)
			VADDPD(lsum.Offset(64*i), m, m)
			VMOVUPD(m, lsum.Offset(64*i))
			if i == 0 {
				VCVTPS2PD(s.AsY(), sd)
			} else {
				VEXTRACTF32X8(U8(1), s, sd.AsY())
				VCVTPS2PD(sd.AsY(), sd)
			}
			VMULPD(lmant.Offset(64*i), sd, sd)
			VGETEXPPD(sd, e)
			VADDPD(lexp.Offset(64*i), e, e)
			VMOVUPD(e, lexp.Offset(64*i))
			VGETMANTPD(U8(0), sd, sd) // in [1, 2)
			VMOVUPD(sd, lmant.Offset(64*i))
		}
	}

	// Stage 3, block t-2 (t >= 2): y = e^(x-m)*(c/s), minus c at the
	// label, from slot cur.
	Label("xentstage3")
	CMPQ(t, U8(2))
	JB(LabelRef("xentnext"))
	for r := range 16 {
		y, hit := ZMM(), K()
		VMOVUPS(slot(cur, offE+64*r), y)
		VMULPS_BCST(slot(cur, offF+4*r), y, y)
		VCMPPS_BCST(U8(0), Mem{Base: pl, Disp: 4*r - 128}, ids, hit) // the label's lane
		VSUBPS(cv, y, hit, y)
		VMOVUPS(y, mask, Mem{Base: py})
		ADDQ(rb, py)
	}

	Label("xentnext")
	XORQ(U32(slotSize), cur)
	IMUL3Q(U32(16), rb, off)
	ADDQ(off, px)
	ADDQ(U8(64), pl)
	INCQ(t)
	// Another trip while t <= blocks+1.
	MOVQ(t, bits)
	DECQ(bits)
	CMPQ(bits, nb)
	JBE(LabelRef("xenttrip"))

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

// emitExpXent512 sets e = e^x in the lanes of mask and 0 in the others,
// for x <= 0 or NaN (a softmax's x - max): emitExp512 with what such x
// need, and the same bits there. x <= 0 needs no clamp at hi and no +Inf;
// e^r * 2^n by VSCALEFPS is the exponent added to that of e^r, exact where
// the result is a normal float (all of x >= min), and it takes the zeroing
// of x < min and of the lanes past mask. Those lanes are all that the
// clamp at lo changed (-Inf would give NaN without it), so it goes too.
func emitExpXent512(x, e reg.VecVirtual, mask reg.OpmaskVirtual, k map[string]reg.VecVirtual) {
	c := func(name string) reg.VecVirtual { return k[name] }
	y := ZMM()
	n := emitExpReduced512(x, y, k)
	keep := K()
	VCMPPS(U8(0x15), c("min"), x, mask, keep) // not x < min (true for NaN), in mask
	VSCALEFPS_Z(n, y, keep, e)                // y * 2^n
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

// badLabelAVX512 writes the check of SoftmaxCrossEntropy's labels: 16 at
// a time, the last partial group under a mask, until a group holds one
// that is not an integer in [0, cols).
func badLabelAVX512() {
	TEXT("badLabelAVX512", NOSPLIT, "func(n int, labels *float32, cols int) int")
	Pragma("noescape")
	Doc("badLabelAVX512 returns the index of the first of n labels that is not a class index",
		"below cols (an integer in [0, cols), as a float), or -1.")
	n, pl := Load(Param("n"), GP64()), Load(Param("labels"), GP64())
	cv := ZMM()
	VPBROADCASTD(Load(Param("cols"), GP64()).(reg.GPVirtual).As32(), cv)
	i, bits, lanes := GP64(), GP64(), K()
	XORQ(i, i)
	Label("badlabelloop")
	// lanes: those of the group below n.
	MOVQ(n, bits)
	SUBQ(i, bits)
	JLE(LabelRef("badlabelnone"))
	CMPQ(bits, U8(16))
	JL(LabelRef("badlabelpart"))
	MOVQ(U32(16), bits)
	Label("badlabelpart")
	rest := GP64()
	MOVQ(U32(1), rest)
	SHLXQ(bits, rest, rest)
	DECQ(rest)
	KMOVW(rest.(reg.GPVirtual).As32(), lanes)
	l, t, back := ZMM(), ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: pl, Index: i, Scale: 4}, lanes, l)
	VCVTTPS2DQ(l, t) // out of range and NaN: 0x80000000, not below cols unsigned
	VCVTDQ2PS(t, back)
	whole, ok, bad := K(), K(), K()
	VCMPPS(U8(0), l, back, whole)    // equal, ordered: an integer (NaN is not)
	VPCMPUD(U8(1), cv, t, whole, ok) // and in [0, cols)
	KANDNW(lanes, ok, bad)           // lanes not ok
	KORTESTW(bad, bad)
	JNZ(LabelRef("badlabelfound"))
	ADDQ(U8(16), i)
	JMP(LabelRef("badlabelloop"))
	Label("badlabelfound")
	KMOVW(bad, bits.(reg.GPVirtual).As32())
	TZCNTL(bits.(reg.GPVirtual).As32(), bits.(reg.GPVirtual).As32())
	ADDQ(bits, i)
	Store(i, ReturnIndex(0))
	VZEROUPPER()
	RET()
	Label("badlabelnone")
	MOVQ(I32(-1), i)
	Store(i, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
