// Max pooling with 2 x 2 windows at stride 2, both ways.

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The kernels run over rows output rows of ow floats (y, dy) and the
// pairs of input rows below them (x, dx), input row 2r at float 2r*w and
// 2r+1 one row of w floats further, with w = 2*ow or 2*ow+1. A group of
// width outputs (8 for AVX2, 16 for AVX-512) reads 2*width floats of each
// input row, lo and hi, and splits them into the windows' four corners
// with VSHUFPS: a = evens of row 2r, b = odds, c and d those of row 2r+1.
// VSHUFPS works within 128-bit lanes, so the corners come out with the
// 64-bit pairs of outputs in an order of their own (the shuffled order:
// pairs 0 2 1 3 of a group of 8, 0 4 1 5 2 6 3 7 of 16); the forward result is
// put back in order with one VPERMPD, and backward, dy is put into the
// corners' order with one VPERMPD and the four gradients go back into
// rows with VUNPCKLPS and VUNPCKHPS, which undo the split in place.
//
// The choice is PyTorch's (maxAt in pooling.go): scanning a, b, c, d,
// the best so far is replaced by a value that is larger or NaN. Forward
// writes the chosen element itself (so the first of equal zeros, with its
// sign, and the last NaN, with its bits); backward writes dy to the chosen
// position and 0 to the others, and 0 in the unused last column of an odd
// w. The last partial group of a row runs under masks.

// poolRows writes the loop over rows of a 2 x 2 kernel: group(tail)
// emits one group of outputs at output index u and input index t
// (floats), the row's partial group with tail set; odd, when not nil,
// runs after each row whose w is odd, with the index of its unused column.
func poolRows(name string, width int, rs, t, u reg.GPVirtual, group func(tail bool), odd func(col reg.GPVirtual)) {
	rows, groups, w2 := Load(Param("rows"), GP64()), Load(Param("ow"), GP64()), Load(Param("w"), GP64())
	SHRQ(U8(log2(width)), groups)
	SHLQ(U8(1), w2)
	XORQ(rs, rs)
	XORQ(u, u)
	j := GP64()
	Label(name + "row")
	MOVQ(rs, t)
	MOVQ(groups, j)
	TESTQ(j, j)
	JZ(LabelRef(name + "tail"))
	Label(name + "group")
	group(false)
	ADDQ(U32(2*width), t)
	ADDQ(U32(width), u)
	DECQ(j)
	JNZ(LabelRef(name + "group"))
	Label(name + "tail")
	TESTQ(U32(width-1), paramAddr("ow"))
	JZ(LabelRef(name + "rowend"))
	group(true)
	k := GP64()
	MOVQ(paramAddr("ow"), k)
	ANDQ(U32(width-1), k)
	ADDQ(k, u)
	Label(name + "rowend")
	if odd != nil {
		TESTQ(U32(1), paramAddr("w"))
		JZ(LabelRef(name + "next"))
		col := GP64()
		MOVQ(paramAddr("ow"), col)
		LEAQ(Mem{Base: rs, Index: col, Scale: 2}, col)
		odd(col)
		Label(name + "next")
	}
	ADDQ(w2, rs)
	DECQ(rows)
	JNZ(LabelRef(name + "row"))
	VZEROUPPER()
	RET()
}

func log2(n int) int {
	l := 0
	for ; n > 1; n >>= 1 {
		l++
	}
	return l
}

// poolText starts a kernel: its pointer arguments, and the same pointers
// one input row (w floats) further for those of params named in below.
func poolText(name, sig, doc string, params []string, below map[string]bool) (p, p1 map[string]reg.GPVirtual) {
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	w := Load(Param("w"), GP64())
	p, p1 = map[string]reg.GPVirtual{}, map[string]reg.GPVirtual{}
	for _, n := range params {
		p[n] = Load(Param(n), GP64()).(reg.GPVirtual)
		if below[n] {
			p1[n] = GP64()
			LEAQ(Mem{Base: p[n], Index: w, Scale: 4}, p1[n])
		}
	}
	return p, p1
}

// The three tail masks of a row's partial group of k = ow mod width
// outputs: the first min(2k, width) floats of an input row (lo), the
// 2k - lo after them (hi), and the k outputs.
const (
	maskLo = iota
	maskHi
	maskOut
)

// tailLanes returns the lane counts of the tail masks in three new
// registers.
func tailLanes(width int) [3]reg.GPVirtual {
	k, lo, hi, full := GP64(), GP64(), GP64(), GP64()
	MOVQ(paramAddr("ow"), k)
	ANDQ(U32(width-1), k)
	LEAQ(Mem{Base: k, Index: k, Scale: 1}, hi) // 2k
	MOVQ(hi, lo)
	MOVQ(U32(width), full)
	CMPQ(lo, full)
	CMOVQGT(full, lo)
	SUBQ(lo, hi)
	return [3]reg.GPVirtual{lo, hi, k}
}

// poolCorners loads a group's two pairs of input rows (at input index t
// of x and x1) with load and splits them into the windows' corners, in
// registers of vec's width.
func poolCorners(load func(at Mem, which int) reg.VecVirtual, vec func() reg.VecVirtual, x, x1, t reg.GPVirtual) (a, b, c, d reg.VecVirtual) {
	split := func(base reg.GPVirtual) (ev, od reg.VecVirtual) {
		ev, od = vec(), vec()
		lo := load(Mem{Base: base, Index: t, Scale: 4}, maskLo)
		hi := load(Mem{Base: base, Index: t, Scale: 4, Disp: int(ev.Size())}, maskHi)
		VSHUFPS(U8(0x88), hi, lo, ev) // lo[0] lo[2] hi[0] hi[2] in each 128-bit lane
		VSHUFPS(U8(0xdd), hi, lo, od) // lo[1] lo[3] hi[1] hi[3]
		return ev, od
	}
	a, b = split(x)
	c, d = split(x1)
	return a, b, c, d
}

// maxPoolAVX2 writes maxPool2x2AVX2 and maxPool2x2BackwardAVX2.
func maxPoolAVX2() {
	if tailMask.Symbol.Name == "" {
		panic("asmgen: maxPoolAVX2 needs the tail masks of expConsts")
	}
	// masks stores the tail masks on the stack; mask reloads one.
	var local Mem
	masks := func() {
		local = AllocLocal(3 * 32)
		lanes, table, m := tailLanes(8), GP64(), YMM()
		LEAQ(tailMask.Offset(32), table)
		for i, n := range lanes {
			NEGQ(n)
			VMOVUPS(Mem{Base: table, Index: n, Scale: 4}, m)
			VMOVUPS(m, local.Offset(32*i))
		}
	}
	mask := func(which int) reg.VecVirtual {
		m := YMM()
		VMOVUPS(local.Offset(32*which), m)
		return m
	}
	load := func(tail bool, at Mem, which int) reg.VecVirtual {
		v := YMM()
		if tail {
			VMASKMOVPS(at, mask(which), v)
		} else {
			VMOVUPS(at, v)
		}
		return v
	}
	store := func(tail bool, v reg.VecVirtual, at Mem, which int) {
		if tail {
			VMASKMOVPS(v, mask(which), at)
		} else {
			VMOVUPS(v, at)
		}
	}
	corners := func(tail bool, x, x1, t reg.GPVirtual) (a, b, c, d reg.VecVirtual) {
		return poolCorners(func(at Mem, which int) reg.VecVirtual { return load(tail, at, which) }, YMM, x, x1, t)
	}
	rs, t, u := GP64(), GP64(), GP64()

	p, p1 := poolText("maxPool2x2AVX2", "func(x, y *float32, rows, ow, w int)",
		"maxPool2x2AVX2 is 2 x 2 max pooling at stride 2 over rows >= 1 output rows of ow >= 1 floats, w = 2*ow or 2*ow+1.",
		[]string{"x", "y"}, map[string]bool{"x": true})
	masks()
	poolRows("maxPool2x2AVX2", 8, rs, t, u, func(tail bool) {
		a, b, c, d := corners(tail, p["x"], p1["x"], t)
		best := a
		for _, v := range []reg.VecVirtual{b, c, d} {
			m, nan := YMM(), YMM()
			VMAXPS(best, v, m)       // v > best ? v : best
			VCMPPS(U8(3), v, v, nan) // v is NaN
			VBLENDVPS(nan, v, m, m)  // a NaN v replaces any best
			best = m
		}
		VPERMPD(U8(0xd8), best, best) // out of the shuffled order
		store(tail, best, Mem{Base: p["y"], Index: u, Scale: 4}, maskOut)
	}, nil)

	p, p1 = poolText("maxPool2x2BackwardAVX2", "func(x, dy, dx *float32, rows, ow, w int)",
		"maxPool2x2BackwardAVX2 is the gradient of maxPool2x2AVX2: it writes the 2*rows input rows of dx, dy at each window's max and 0 elsewhere.",
		[]string{"x", "dy", "dx"}, map[string]bool{"x": true, "dx": true})
	masks()
	poolRows("maxPool2x2BackwardAVX2", 8, rs, t, u, func(tail bool) {
		a, b, c, d := corners(tail, p["x"], p1["x"], t)
		g := load(tail, Mem{Base: p["dy"], Index: u, Scale: 4}, maskOut)
		VPERMPD(U8(0xd8), g, g) // into the shuffled order
		// take[i]: corner i+1 replaces the best so far (larger or NaN).
		var take [3]reg.VecVirtual
		best := a
		for i, v := range []reg.VecVirtual{b, c, d} {
			gt, nan := YMM(), YMM()
			VCMPPS(U8(0x1e), best, v, gt) // v > best, false with a NaN
			VCMPPS(U8(3), v, v, nan)
			VORPS(nan, gt, gt)
			take[i] = gt
			if i < 2 {
				m := YMM()
				VBLENDVPS(gt, v, best, m)
				best = m
			}
		}
		// The last corner taken gets g: d if taken, else c, else b, else a.
		gd, rest, gc, gb, ga := YMM(), YMM(), YMM(), YMM(), YMM()
		VANDPS(g, take[2], gd)
		VANDNPS(g, take[2], rest) // ~take & rest
		VANDPS(rest, take[1], gc)
		VANDNPS(rest, take[1], rest)
		VANDPS(rest, take[0], gb)
		VANDNPS(rest, take[0], ga)
		for i, pair := range [][2]reg.VecVirtual{{ga, gb}, {gc, gd}} {
			base := p["dx"]
			if i == 1 {
				base = p1["dx"]
			}
			lo, hi := YMM(), YMM()
			VUNPCKLPS(pair[1], pair[0], lo)
			VUNPCKHPS(pair[1], pair[0], hi)
			store(tail, lo, Mem{Base: base, Index: t, Scale: 4}, maskLo)
			store(tail, hi, Mem{Base: base, Index: t, Scale: 4, Disp: 32}, maskHi)
		}
	}, func(col reg.GPVirtual) {
		MOVL(U32(0), Mem{Base: p["dx"], Index: col, Scale: 4})
		MOVL(U32(0), Mem{Base: p1["dx"], Index: col, Scale: 4})
	})
}

// maxPoolAVX512 writes maxPool2x2AVX512 and maxPool2x2BackwardAVX512,
// maxPoolAVX2's kernels 16 outputs at a time; the permutations of the
// shuffled order take an index vector (poolperm).
func maxPoolAVX512() {
	perm := GLOBL("poolperm", RODATA|NOPTR)
	for i, q := range []int{0, 2, 4, 6, 1, 3, 5, 7, 0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(8*i, U64(q))
	}
	fromShuf, toShuf := perm, perm.Offset(64)

	var local Mem
	masks := func() {
		local = AllocLocal(3 * 8)
		lanes, bits := tailLanes(16), GP64()
		for i, n := range lanes {
			MOVQ(U32(1), bits)
			SHLXQ(n, bits, bits)
			DECQ(bits)
			MOVQ(bits, local.Offset(8*i))
		}
	}
	mask := func(which int) reg.OpmaskVirtual {
		m := K()
		KMOVW(local.Offset(8*which), m)
		return m
	}
	load := func(tail bool, at Mem, which int) reg.VecVirtual {
		v := ZMM()
		if tail {
			VMOVUPS_Z(at, mask(which), v)
		} else {
			VMOVUPS(at, v)
		}
		return v
	}
	store := func(tail bool, v reg.VecVirtual, at Mem, which int) {
		if tail {
			VMOVUPS(v, mask(which), at)
		} else {
			VMOVUPS(v, at)
		}
	}
	corners := func(tail bool, x, x1, t reg.GPVirtual) (a, b, c, d reg.VecVirtual) {
		return poolCorners(func(at Mem, which int) reg.VecVirtual { return load(tail, at, which) }, ZMM, x, x1, t)
	}
	rs, t, u := GP64(), GP64(), GP64()

	p, p1 := poolText("maxPool2x2AVX512", "func(x, y *float32, rows, ow, w int)",
		"maxPool2x2AVX512 is maxPool2x2AVX2 16 outputs at a time.",
		[]string{"x", "y"}, map[string]bool{"x": true})
	masks()
	idx := ZMM()
	VMOVUPS(fromShuf, idx)
	poolRows("maxPool2x2AVX512", 16, rs, t, u, func(tail bool) {
		a, b, c, d := corners(tail, p["x"], p1["x"], t)
		best := a
		for _, v := range []reg.VecVirtual{b, c, d} {
			num := K()
			VCMPPS(U8(7), v, v, num) // v is a number
			VMAXPS(best, v, num, v)  // there, v > best ? v : best; a NaN v stays
			best = v
		}
		out := ZMM()
		VPERMPD(best, idx, out)
		store(tail, out, Mem{Base: p["y"], Index: u, Scale: 4}, maskOut)
	}, nil)

	p, p1 = poolText("maxPool2x2BackwardAVX512", "func(x, dy, dx *float32, rows, ow, w int)",
		"maxPool2x2BackwardAVX512 is maxPool2x2BackwardAVX2 16 outputs at a time.",
		[]string{"x", "dy", "dx"}, map[string]bool{"x": true, "dx": true})
	masks()
	idx = ZMM()
	VMOVUPS(toShuf, idx)
	poolRows("maxPool2x2BackwardAVX512", 16, rs, t, u, func(tail bool) {
		a, b, c, d := corners(tail, p["x"], p1["x"], t)
		g := ZMM()
		VPERMPD(load(tail, Mem{Base: p["dy"], Index: u, Scale: 4}, maskOut), idx, g)
		var take [3]reg.OpmaskVirtual
		best := a
		for i, v := range []reg.VecVirtual{b, c, d} {
			gt, nan := K(), K()
			VCMPPS(U8(0x1e), best, v, gt) // v > best, false with a NaN
			VCMPPS(U8(3), v, v, nan)
			KORW(nan, gt, gt)
			take[i] = gt
			if i < 2 {
				VMOVAPS(v, gt, best) // best is a's register, then b's
			}
		}
		// d if taken, else c, else b, else a.
		sc, cd, sb, sa := K(), K(), K(), K()
		KANDNW(take[1], take[2], sc) // ~take[2] & take[1]
		KORW(take[1], take[2], cd)
		KANDNW(take[0], cd, sb)
		KORW(take[0], cd, sa)
		KNOTW(sa, sa)
		gd, gc, gb, ga := ZMM(), ZMM(), ZMM(), ZMM()
		VMOVAPS_Z(g, take[2], gd)
		VMOVAPS_Z(g, sc, gc)
		VMOVAPS_Z(g, sb, gb)
		VMOVAPS_Z(g, sa, ga)
		for i, pair := range [][2]reg.VecVirtual{{ga, gb}, {gc, gd}} {
			base := p["dx"]
			if i == 1 {
				base = p1["dx"]
			}
			lo, hi := ZMM(), ZMM()
			VUNPCKLPS(pair[1], pair[0], lo)
			VUNPCKHPS(pair[1], pair[0], hi)
			store(tail, lo, Mem{Base: base, Index: t, Scale: 4}, maskLo)
			store(tail, hi, Mem{Base: base, Index: t, Scale: 4, Disp: 64}, maskHi)
		}
	}, func(col reg.GPVirtual) {
		MOVL(U32(0), Mem{Base: p["dx"], Index: col, Scale: 4})
		MOVL(U32(0), Mem{Base: p1["dx"], Index: col, Scale: 4})
	})
}
