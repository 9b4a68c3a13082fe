// The AVX2 GEMM micro-kernel and the pieces the micro-kernels share.

package main

import (
	"fmt"
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The AVX2 micro-kernel's tile: 6 rows x 16 columns, twelve 8-float ymm
// accumulators, leaving 4 of the 16 ymm registers for one broadcast of A
// and two rows of B.
const (
	mr = 6
	nr = 16
)

// gemmMicroAVX2 is the AVX2+FMA micro-kernel. Its Go equivalent:
//
//	for p := 0; p < k; p++ {
//		for r := 0; r < 6; r++ {
//			for j := 0; j < 16; j++ {
//				acc[r][j] += a[p*6+r] * b[p*16+j]
//			}
//		}
//	}
//	for r, j: c[r*ldc+j] = alpha*acc[r][j] + beta*c[r*ldc+j]  (c not read when beta == 0)
//
// The strided form reads A in place instead of from a packed sliver: element
// (r, p) at a[r*rsA + p*csA]. Row-major A (rsA = lda, csA = 1) and
// transposed A (rsA = 1, csA = m) then need no packing.
func gemmMicroAVX2(strided bool) {
	if strided {
		TEXT("gemmMicroAVX2Strided", NOSPLIT, "func(k int, a *float32, rsA, csA int, b, c *float32, ldc int, alpha, beta float32)")
		Pragma("noescape")
		Doc("gemmMicroAVX2Strided is gemmMicroAVX2 with A read in place: element (r, p)",
			"at a[r*rsA + p*csA].")
	} else {
		TEXT("gemmMicroAVX2", NOSPLIT, "func(k int, a, b, c *float32, ldc int, alpha, beta float32)")
		Pragma("noescape")
		Doc("gemmMicroAVX2 computes the 6x16 tile C = alpha*A*B + beta*C from a packed",
			"6 x k sliver of A (column p at a[6p:]) and a packed k x 16 sliver of B (row p",
			"at b[16p:]); C has row stride ldc elements. C is not read when beta == 0.")
	}
	k := Load(Param("k"), GP64())
	pa := Load(Param("a"), GP64())
	pb := Load(Param("b"), GP64())
	// aAt addresses A(r, p) for the p-th step of an unrolled iteration;
	// nextA moves pa past `steps` steps.
	aAt := func(p, r int) Mem { return Mem{Base: pa, Disp: 4 * (mr*p + r)} }
	nextA := func(steps int) { ADDQ(U32(4*mr*steps), pa) }
	if strided {
		// Rows 0..5 sit at pa + {0, 1, 2, 3, 4, 5}*rs: three index
		// registers and the scales 1, 2 and 4 reach them all. pa moves by
		// cs each step, so every step addresses at displacement 0.
		rs, cs := Load(Param("rsA"), GP64()), Load(Param("csA"), GP64())
		SHLQ(U8(2), rs)
		SHLQ(U8(2), cs)
		rs3, rs5 := GP64(), GP64()
		LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
		LEAQ(Mem{Base: rs, Index: rs, Scale: 4}, rs5)
		rows := []Mem{{Base: pa}, {Base: pa, Index: rs, Scale: 1}, {Base: pa, Index: rs, Scale: 2},
			{Base: pa, Index: rs3, Scale: 1}, {Base: pa, Index: rs, Scale: 4}, {Base: pa, Index: rs5, Scale: 1}}
		aAt = func(_, r int) Mem { return rows[r] }
		nextA = func(int) { ADDQ(cs, pa) }
	}

	pc, ldc := prefetchTile(mr, nr)

	var acc [mr][2]reg.VecVirtual
	for r := range acc {
		for h := range acc[r] {
			acc[r][h] = YMM()
			VXORPS(acc[r][h], acc[r][h], acc[r][h])
		}
	}

	// The loop runs unroll steps of k per iteration, so that the loop
	// control is a small share of the instructions the front end issues;
	// the remaining k mod unroll steps run one at a time.
	const unroll = 4
	b0, b1, a := YMM(), YMM(), YMM()
	step := func(p int) {
		VMOVUPS(Mem{Base: pb, Disp: 4 * nr * p}, b0)
		VMOVUPS(Mem{Base: pb, Disp: 4*nr*p + 32}, b1)
		for r := 0; r < mr; r++ {
			VBROADCASTSS(aAt(p, r), a)
			VFMADD231PS(b0, a, acc[r][0])
			VFMADD231PS(b1, a, acc[r][1])
		}
		if strided {
			nextA(1)
		}
	}
	kLoop(k, unroll, func() {}, step, func(steps int) {
		if !strided {
			nextA(steps)
		}
		ADDQ(U32(4*nr*steps), pb)
	})
	rows := make([][]reg.VecVirtual, mr)
	for r := range acc {
		rows[r] = acc[r][:]
	}
	tileEpilogue(rows, YMM, 32, pc, ldc)
}

// prefetchTile loads the arguments c and ldc (in bytes) of a micro-kernel
// with an mr x nr tile, and asks for the tile of C, so that it has arrived
// from wherever it is (C is often far larger than the caches) by the time
// the loop ends: every cache line a row of the tile can touch.
func prefetchTile(mr, nr int) (pc, ldc reg.Register) {
	pc = Load(Param("c"), GP64())
	ldc = Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // elements to bytes
	row := GP64()
	MOVQ(pc, row)
	for r := 0; r < mr; r++ {
		for d := 0; d < 4*nr-4; d += 64 {
			PREFETCHT0(Mem{Base: row, Disp: d})
		}
		PREFETCHT0(Mem{Base: row, Disp: 4*nr - 4})
		if r < mr-1 {
			ADDQ(ldc, row)
		}
	}
	return pc, ldc
}

// tileEpilogue ends a micro-kernel: C = alpha*acc + beta*C for the tile
// held in acc (acc[r][h] is vector h of row r, vbytes wide; vec allocates
// a register of that width), C at pc with row stride ldc bytes. C is not
// read when beta == 0.
func tileEpilogue(acc [][]reg.VecVirtual, vec func() reg.VecVirtual, vbytes int, pc, ldc reg.Register) {
	// Only VEX-encoded instructions from here on: a legacy SSE instruction
	// (MOVSS, XORPS, UCOMISS) while the upper halves of the ymm registers
	// are dirty costs hundreds of cycles per call on the CPUs measured.
	alpha := vec()
	VBROADCASTSS(paramAddr("alpha"), alpha)
	for r := range acc {
		for h := range acc[r] {
			VMULPS(alpha, acc[r][h], acc[r][h])
		}
	}
	betaX, zero := XMM(), XMM()
	VMOVSS(paramAddr("beta"), betaX)
	VXORPS(zero, zero, zero)
	VUCOMISS(zero, betaX)
	JNE(LabelRef("accumulate"))
	JP(LabelRef("accumulate")) // beta is NaN: let it propagate as BLAS would

	Comment("beta == 0: C is only written.")
	row := GP64()
	MOVQ(pc, row)
	for r := range acc {
		for h := range acc[r] {
			VMOVUPS(acc[r][h], Mem{Base: row, Disp: vbytes * h})
		}
		if r < len(acc)-1 {
			ADDQ(ldc, row)
		}
	}
	VZEROUPPER()
	RET()

	Label("accumulate")
	Comment("C = alpha*acc + beta*C")
	beta := vec()
	VBROADCASTSS(betaX, beta)
	for r := range acc {
		for h := range acc[r] {
			VFMADD231PS(Mem{Base: pc, Disp: vbytes * h}, beta, acc[r][h])
			VMOVUPS(acc[r][h], Mem{Base: pc, Disp: vbytes * h})
		}
		if r < len(acc)-1 {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()
}

// kLoop emits a micro-kernel's loop over k: iterations of unroll (a power
// of two) steps, each step(p) one rank-1 update, then the k mod unroll
// steps left one at a time; head starts each unrolled iteration
// (prefetches) and advance(steps) moves the operands' pointers on. k is
// consumed. It ends at the label "done".
func kLoop(k reg.Register, unroll int, head func(), step func(p int), advance func(steps int)) {
	blocks := GP64()
	MOVQ(k, blocks)
	SHRQ(U8(bits.TrailingZeros(uint(unroll))), blocks)
	ANDQ(U8(unroll-1), k)
	TESTQ(blocks, blocks)
	JZ(LabelRef("tail"))
	Label("loop")
	Comment(fmt.Sprintf("%d rank-1 updates of the tile.", unroll))
	head()
	for p := 0; p < unroll; p++ {
		step(p)
	}
	advance(unroll)
	DECQ(blocks)
	JNZ(LabelRef("loop"))

	Label("tail")
	TESTQ(k, k)
	JZ(LabelRef("done"))
	Label("tailloop")
	step(0)
	advance(1)
	DECQ(k)
	JNZ(LabelRef("tailloop"))

	Label("done")
}
