package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The AVX-512 micro-kernel's tile: 12 rows x 32 columns, twenty-four
// 16-float zmm accumulators, two zmm registers for a row of B and one for
// a broadcast element of A (see gemmMicroAVX512Shape). Of the shapes that
// fit 32 zmm registers (12x32, 8x48, 14x32, 6x64) this one was the fastest
// measured on the reference machine (see docs/BENCHMARKS.md) and is also
// BLIS's skx shape, transposed.
const (
	mr512 = 12
	nr512 = 32
)

// gemmMicroAVX512 is the AVX-512 micro-kernel; its Go equivalent is that
// of gemmMicroAVX2 with a 12x32 tile:
//
//	for p := 0; p < k; p++ {
//		for r := 0; r < 12; r++ {
//			for j := 0; j < 32; j++ {
//				acc[r][j] += a[p*12+r] * b[p*32+j]
//			}
//		}
//	}
//	for r, j: c[r*ldc+j] = alpha*acc[r][j] + beta*c[r*ldc+j]  (c not read when beta == 0)
//
// Each element of C is summed in the order of p, one FMA per step, as in
// the AVX2 kernel; only kc (see blockSizes) makes the levels round apart.
func gemmMicroAVX512() {
	gemmMicroAVX512Shape("gemmMicroAVX512", mr512, nr512, false)
	gemmMicroAVX512Shape("gemmMicroAVX512Strided", mr512, nr512, true)
	gemmMicroAVX512Shape("gemmMicroAVX512Stridedx12x16", mr512, 16, true)
}

// edgeShapes512 are the edge micro-kernels' shapes (rows x columns): the
// top-left part of the 12x32 tile, read from the same packed slivers
// (strides 12 and 32), for the edge tiles of common sizes (M a multiple of
// 4, N of 16: 784 = 24*32 + 16, 128 = 10*12 + 8, 256 = 21*12 + 4), which
// would otherwise run the full tile into a buffer and copy its valid part.
var edgeShapes512 = [][2]int{{12, 16}, {8, 32}, {8, 16}, {4, 32}, {4, 16}}

// gemmMicroAVX512Edge writes the edge micro-kernels, named
// gemmMicroAVX512x<rows>x<cols>.
func gemmMicroAVX512Edge() {
	for _, s := range edgeShapes512 {
		gemmMicroAVX512Shape(fmt.Sprintf("gemmMicroAVX512x%dx%d", s[0], s[1]), s[0], s[1], false)
	}
}

// gemmMicroAVX512Shape writes a micro-kernel for the top-left rows x cols
// (cols 16 or 32) part of the 12x32 tile, reading the packed slivers of
// gemmMicroAVX512.
func gemmMicroAVX512Shape(name string, rows, cols int, strided bool) {
	nv := cols / 16 // zmm vectors per row of the tile
	if strided {
		TEXT(name, NOSPLIT, "func(k int, a *float32, rsA, csA int, b, c *float32, ldc int, alpha, beta float32)")
	} else {
		TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, ldc int, alpha, beta float32)")
	}
	Pragma("noescape")
	if strided {
		Doc(fmt.Sprintf("%s is gemmMicroAVX512 with A read in place: element (r, p)", name),
			fmt.Sprintf("at a[r*rsA + p*csA]; the top-left %dx%d part of the tile.", rows, cols))
	} else if rows == mr512 && cols == nr512 {
		Doc(fmt.Sprintf("%s computes the %dx%d tile C = alpha*A*B + beta*C from a packed", name, mr512, nr512),
			fmt.Sprintf("%d x k sliver of A (column p at a[%dp:]) and a packed k x %d sliver of B (row p", mr512, mr512, nr512),
			fmt.Sprintf("at b[%dp:]); C has row stride ldc elements. C is not read when beta == 0.", nr512))
	} else {
		Doc(fmt.Sprintf("%s is gemmMicroAVX512 for the top-left %dx%d part of the tile only.", name, rows, cols))
	}
	k := Load(Param("k"), GP64())
	pa := Load(Param("a"), GP64())
	pb := Load(Param("b"), GP64())
	// aAt addresses A(r, p) for the p-th step of an unrolled iteration;
	// nextA moves A past `steps` steps.
	aAt := func(p, r int) Mem { return Mem{Base: pa, Disp: 4 * (mr512*p + r)} }
	nextA := func(steps int) { ADDQ(U32(4*mr512*steps), pa) }
	if strided {
		// Rows 0..11 sit at pa + r*rs: three bases (rows 0, 4 and 8),
		// each with the offsets 0, rs, 2rs and 3rs. The bases move by cs
		// each step, so every step addresses at displacement 0.
		rs, cs := Load(Param("rsA"), GP64()), Load(Param("csA"), GP64())
		SHLQ(U8(2), rs)
		SHLQ(U8(2), cs)
		rs3, pa4, pa8 := GP64(), GP64(), GP64()
		LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
		LEAQ(Mem{Base: pa, Index: rs, Scale: 4}, pa4)
		LEAQ(Mem{Base: pa, Index: rs, Scale: 8}, pa8)
		aAt = func(_, r int) Mem { return stridedRow([]reg.Register{pa, pa4, pa8}, rs, rs3, r) }
		nextA = func(int) {
			ADDQ(cs, pa)
			ADDQ(cs, pa4)
			ADDQ(cs, pa8)
		}
	}
	pc, ldc := prefetchTile(rows, cols)

	acc := make([][]reg.VecVirtual, rows)
	for r := range acc {
		acc[r] = make([]reg.VecVirtual, nv)
		for h := range acc[r] {
			acc[r][h] = ZMM()
			VPXORD(acc[r][h], acc[r][h], acc[r][h])
		}
	}

	const unroll = 4
	b := make([]reg.VecVirtual, nv)
	for h := range b {
		b[h] = ZMM()
	}
	// A row of two vectors broadcasts its element of A once into a
	// register for both FMAs: broadcasting it from memory in each FMA
	// makes 26 loads per step of k instead of 14, and on the Zen 5
	// measured the load pipes then held the 12x32 tile to 197 GFLOP/s in
	// L1, against 219 with the register (BenchmarkMicroKernel, k = 256).
	// One register serves every row: the core renames it, so the next
	// row's load does not wait for this row's FMAs.
	a := ZMM()
	step := func(p int) {
		for h := range b {
			VMOVUPS(Mem{Base: pb, Disp: 4 * (nr512*p + 16*h)}, b[h])
		}
		for r := 0; r < rows; r++ {
			at := aAt(p, r)
			if nv == 1 {
				VFMADD231PS_BCST(at, b[0], acc[r][0])
				continue
			}
			VBROADCASTSS(at, a)
			for h := range b {
				VFMADD231PS(a, b[h], acc[r][h])
			}
		}
		if strided {
			nextA(1)
		}
	}
	kLoop(k, unroll, func() {
		// The packed A sliver streams from L2: ask for it a few iterations
		// ahead (each iteration reads 3 cache lines of it).
		for d := 0; d < 4*mr512*unroll && !strided; d += 64 {
			PREFETCHT0(Mem{Base: pa, Disp: 4*mr512*unroll*4 + d})
		}
	}, step, func(steps int) {
		if !strided {
			nextA(steps)
		}
		ADDQ(U32(4*nr512*steps), pb)
	})
	tileEpilogue(acc, ZMM, 64, pc, ldc)
}

// packAAVX512 writes the packing of a full 12-row sliver of row-major A
// for gemmMicroAVX512, packANAVX512: dst[p*12+r] = src[r*ld+p] for r < 12
// and p < kc, kc a multiple of 8 (the Go side packs the rest); its Go
// equivalent is packSliverGeneric with alongK. Eight steps of k at a time:
// rows 0..7 are transposed as an 8x8 block, rows 8..11 as a 4x8 one.
//
// It also writes the packing of edge slivers of 8 and 4 rows
// (packAN8AVX512, packAN4AVX512), the zero-padded 12-row slivers of
// packSliverGeneric with n = 8 or 4: a batch of 128 or 32 rows ends in an
// edge of 8 rows, one of 64, 100 or 256 in one of 4, and the generic loop
// spent as long on that edge as the assembly on the ten full slivers
// before it.
func packAAVX512() {
	for _, rows := range []int{12, 8, 4} {
		packAAVX512Rows(rows)
	}
}

func packAAVX512Rows(rows int) {
	name := "packANAVX512"
	doc := "packANAVX512 transposes 12 rows of kc (a multiple of 8) floats, src[r*ld+p] to dst[12p+r]."
	if rows < mr512 {
		name = fmt.Sprintf("packAN%dAVX512", rows)
		doc = fmt.Sprintf("%s transposes %d rows of kc (a multiple of 8) floats, src[r*ld+p] to dst[12p+r], and zeroes dst[12p+r] for %d <= r < 12.", name, rows, rows)
	}
	kc, src, ld, dst := packTEXT(name, doc)
	done, loop := name+"done", name+"loop"
	SHRQ(U8(3), kc)
	JZ(LabelRef(done))
	ld3, src4, src8 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	LEAQ(Mem{Base: src, Index: ld, Scale: 4}, src4)
	if rows > 8 {
		LEAQ(Mem{Base: src, Index: ld, Scale: 8}, src8)
	}
	var zero reg.VecVirtual
	if rows < mr512 {
		zero = YMM()
		VXORPS(zero, zero, zero)
	}
	Label(loop)
	rowAt := func(i int) Mem { return stridedRow([]reg.Register{src, src4, src8}, ld, ld3, i) }
	// fourRows stores the 4x8 transpose of rows r0..r0+3 at row r0 of
	// the eight steps of k.
	fourRows := func(r0 int) {
		u := transpose4x8(func(i int) Mem { return rowAt(r0 + i) })
		for j := 0; j < 8; j++ {
			at := Mem{Base: dst, Disp: 4*mr512*j + 4*r0}
			if j < 4 {
				VMOVUPS(u[j].AsX(), at)
			} else {
				VEXTRACTF128(U8(1), u[j-4], at)
			}
		}
	}
	if rows >= 8 {
		cols := transpose8x8(rowAt)
		for j, v := range cols {
			VMOVUPS(v, Mem{Base: dst, Disp: 4 * mr512 * j})
		}
		if rows == 12 {
			fourRows(8)
		}
	} else {
		fourRows(0)
	}
	for j := 0; j < 8 && rows < mr512; j++ { // the zero rows rows..11
		at := Mem{Base: dst, Disp: 4*mr512*j + 4*rows}
		if mr512-rows == 8 {
			VMOVUPS(zero, at)
		} else {
			VMOVUPS(zero.AsX(), at)
		}
	}
	ADDQ(U8(32), src)
	ADDQ(U8(32), src4)
	if rows > 8 {
		ADDQ(U8(32), src8)
	}
	ADDQ(U32(4*mr512*8), dst)
	DECQ(kc)
	JNZ(LabelRef(loop))
	Label(done)
	VZEROUPPER()
	RET()
}

// packBAVX512 writes the packing of full 32-column slivers of B for
// gemmMicroAVX512, as packBAVX2 does for 16 columns.
func packBAVX512() {
	packBN("packBNAVX512", nr512, ZMM, 64)
	packBT("packBTAVX512", nr512)
}
