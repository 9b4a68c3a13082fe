// The packing of A and B slivers for the AVX2 micro-kernel, and the
// transposes the AVX-512 packing shares.

package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// packTEXT starts a packing function, func(kc int, src *float32, ld int,
// dst *float32), and loads its arguments, ld in bytes.
func packTEXT(name, doc string) (kc, src, ld, dst reg.Register) {
	TEXT(name, NOSPLIT, "func(kc int, src *float32, ld int, dst *float32)")
	Pragma("noescape")
	Doc(doc)
	kc, src = Load(Param("kc"), GP64()), Load(Param("src"), GP64())
	ld, dst = Load(Param("ld"), GP64()), Load(Param("dst"), GP64())
	SHLQ(U8(2), ld)
	return kc, src, ld, dst
}

// packAAVX2 writes the packing of a full 6-row sliver of row-major A for the
// micro-kernel: dst[p*6+r] = src[r*ld+p] for r < 6 and p < kc, kc a
// multiple of 8 (the Go side packs the rest). Its Go equivalent is
// packSliverGeneric with alongK. Eight steps of k at a time: rows 0..3 are
// transposed in 4x4 blocks, rows 4 and 5 interleaved in pairs.
func packAAVX2() {
	kc, src, ld, dst := packTEXT("packANAVX2", "packANAVX2 transposes 6 rows of kc (a multiple of 8) floats, src[r*ld+p] to dst[6p+r].")
	SHRQ(U8(3), kc)
	JZ(LabelRef("packandone"))
	ld3, src4 := GP64(), GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	LEAQ(Mem{Base: src, Index: ld, Scale: 4}, src4)
	Label("packanloop")
	rowMem := []Mem{{Base: src}, {Base: src, Index: ld, Scale: 1}, {Base: src, Index: ld, Scale: 2},
		{Base: src, Index: ld3, Scale: 1}, {Base: src4}, {Base: src4, Index: ld, Scale: 1}}
	u := transpose4x8(func(i int) Mem { return rowMem[i] }) // rows 0..3
	var r [2]reg.VecVirtual
	for i := range r {
		r[i] = YMM()
		VMOVUPS(rowMem[4+i], r[i])
	}
	var t [6]reg.VecVirtual
	t[4], t[5] = YMM(), YMM()
	VUNPCKLPS(r[1], r[0], t[4]) // elements 0, 1 of rows 4, 5 interleaved | 4, 5
	VUNPCKHPS(r[1], r[0], t[5]) // 2, 3 | 6, 7
	// Rows 4 and 5 of element j are the 64-bit pair j of t[4] (j = 0, 1, 4,
	// 5 as pairs 0..3) or of t[5] (j = 2, 3, 6, 7).
	hi4, hi5 := XMM(), XMM()
	VEXTRACTF128(U8(1), t[4], hi4)
	VEXTRACTF128(U8(1), t[5], hi5)
	pair := func(j int, m Mem) {
		var x reg.Register = t[4+(j/2)%2].AsX()
		if j >= 4 {
			x = []reg.Register{hi4, hi5}[(j/2)%2]
		}
		if j%2 == 0 {
			VMOVLPS(x, m)
		} else {
			VMOVHPS(x, m)
		}
	}
	for j := 0; j < 8; j++ {
		at := Mem{Base: dst, Disp: 4 * 6 * j}
		if j < 4 {
			VMOVUPS(u[j].AsX(), at)
		} else {
			VEXTRACTF128(U8(1), u[j-4], at)
		}
		pair(j, at.Offset(16))
	}
	ADDQ(U8(32), src)
	ADDQ(U8(32), src4)
	ADDQ(U8(4*6*8), dst)
	DECQ(kc)
	JNZ(LabelRef("packanloop"))
	Label("packandone")
	VZEROUPPER()
	RET()
}

// packBAVX2 writes the packing of full 16-column slivers of B for the
// micro-kernel: dst[p*16+c] = op(B)[p][c] for p < kc, c < 16. Their Go
// equivalent is packSliverGeneric (alongK when transposed).
//
//	packBNAVX2: B is k x n, row p of the sliver at src[p*ld:], 16 contiguous floats.
//	packBTAVX2: B is n x k (op(B) = B^T), column c of the sliver at src[c*ld:],
//	            contiguous along k; kc must be a multiple of 8 (the Go side packs the rest).
func packBAVX2() {
	packBN("packBNAVX2", nr, YMM, 32)
	packBT("packBTAVX2", nr)
}

// packBN writes the packing of a full sliver of w columns of row-major B,
// in vectors of vbytes (vec allocates one): rows of w floats copied.
func packBN(name string, w int, vec func() reg.VecVirtual, vbytes int) {
	kc, src, ld, dst := packTEXT(name, fmt.Sprintf("%s copies kc rows of %d floats, src[p*ld:] to dst[%dp:].", name, w, w))
	TESTQ(kc, kc)
	JZ(LabelRef(name + "done"))
	Label(name + "loop")
	v := make([]reg.VecVirtual, 4*w/vbytes)
	for h := range v {
		v[h] = vec()
		VMOVUPS(Mem{Base: src, Disp: vbytes * h}, v[h])
	}
	for h := range v {
		VMOVUPS(v[h], Mem{Base: dst, Disp: vbytes * h})
	}
	ADDQ(ld, src)
	ADDQ(U32(4*w), dst)
	DECQ(kc)
	JNZ(LabelRef(name + "loop"))
	Label(name + "done")
	VZEROUPPER()
	RET()
}

// packBT writes the transposing packing of a full sliver of w columns (a
// multiple of 8) of B: B is n x k, column c of the sliver at src[c*ld:],
// contiguous along k; kc must be a multiple of 8. Eight columns at a
// time, as 8x8 blocks.
func packBT(name string, w int) {
	kc, src, ld, dst := packTEXT(name, fmt.Sprintf("%s transposes %d columns of kc (a multiple of 8) floats, src[c*ld+p] to dst[%dp+c].", name, w, w))
	SHRQ(U8(3), kc)
	JZ(LabelRef(name + "done"))
	// Rows c0..c0+7 of B^T start at src + {0..7}*ld: two bases, the
	// second at 4*ld, and the scales 1, 2 reach 0, 1, 2 and 3*ld from each.
	ld3, src4 := GP64(), GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	Label(name + "loop")
	for part := 0; part < w/8; part++ {
		MOVQ(src, src4)
		LEAQ(Mem{Base: src4, Index: ld, Scale: 4}, src4)
		rowAt := func(i int) Mem { return stridedRow([]reg.Register{src, src4}, ld, ld3, i) }
		cols := transpose8x8(rowAt)
		for j, v := range cols {
			VMOVUPS(v, Mem{Base: dst, Disp: 4*w*j + 32*part})
		}
		if part < w/8-1 {
			// The next part's rows start 8*ld further on.
			LEAQ(Mem{Base: src, Index: ld, Scale: 8}, src)
		}
	}
	// Back to row c0 and on to the next 8 values of k.
	if w == 16 {
		MOVQ(ld, src4)
		SHLQ(U8(3), src4)
	} else {
		IMUL3Q(U32(w-8), ld, src4)
	}
	SUBQ(src4, src)
	ADDQ(U8(32), src)
	ADDQ(U32(4*w*8), dst)
	DECQ(kc)
	JNZ(LabelRef(name + "loop"))
	Label(name + "done")
	VZEROUPPER()
	RET()
}

// stridedRow addresses row i of rows ld bytes apart, held as bases[i/4]
// (rows 0, 4, 8, ...) and the offsets 0, ld, 2*ld and ld3 = 3*ld from each:
// the scaled index reaches the first three, ld3 the fourth.
func stridedRow(bases []reg.Register, ld, ld3 reg.Register, i int) Mem {
	base := bases[i/4]
	switch i % 4 {
	case 0:
		return Mem{Base: base}
	case 3:
		return Mem{Base: base, Index: ld3, Scale: 1}
	default:
		return Mem{Base: base, Index: ld, Scale: uint8(i % 4)}
	}
}

// transpose8x8 loads 8 rows of 8 floats and returns the 8 columns, column j
// holding element j of every row.
func transpose8x8(row func(i int) Mem) [8]reg.VecVirtual {
	lo := transpose4x8(row)
	hi := transpose4x8(func(i int) Mem { return row(4 + i) })
	var out [8]reg.VecVirtual
	for j := 0; j < 4; j++ {
		out[j], out[j+4] = YMM(), YMM()
		VPERM2F128(U8(0x20), hi[j], lo[j], out[j])   // element j of rows 0..7
		VPERM2F128(U8(0x31), hi[j], lo[j], out[j+4]) // element j+4
	}
	return out
}

// transpose4x8 loads 4 rows of 8 floats; u[j] of the result holds element
// j of the 4 rows in its low half and element j+4 in its high half.
func transpose4x8(row func(i int) Mem) [4]reg.VecVirtual {
	var r, t, u [4]reg.VecVirtual
	for i := range r {
		r[i] = YMM()
		VMOVUPS(row(i), r[i])
	}
	for i := 0; i < 4; i += 2 {
		t[i], t[i+1] = YMM(), YMM()
		VUNPCKLPS(r[i+1], r[i], t[i])   // elements 0, 1 of rows i, i+1 interleaved | 4, 5
		VUNPCKHPS(r[i+1], r[i], t[i+1]) // 2, 3 | 6, 7
	}
	for h := 0; h < 2; h++ {
		u[2*h], u[2*h+1] = YMM(), YMM()
		VSHUFPS(U8(0x44), t[2+h], t[h], u[2*h])
		VSHUFPS(U8(0xee), t[2+h], t[h], u[2*h+1])
	}
	return u
}
