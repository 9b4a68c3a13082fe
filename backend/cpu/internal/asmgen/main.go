// Command asmgen writes the amd64 assembly kernels of package cpu with avo.
// Run through go generate in backend/cpu; the output is committed and CI
// checks that regenerating it changes nothing.
package main

import (
	"fmt"
	"math"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!noasm")
	gemmMicroAVX2(false)
	gemmMicroAVX2(true)
	packAAVX2()
	packBAVX2()
	adamAVX2()
	sgdAVX2()
	eltwiseAVX2()
	expAVX2()
	actAVX2()
	gemmMicroAVX512()
	packAAVX512()
	packBAVX512()
	Generate()
}

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
	blocks := GP64()
	MOVQ(k, blocks)
	SHRQ(U8(2), blocks)
	ANDQ(U8(unroll-1), k)
	TESTQ(blocks, blocks)
	JZ(LabelRef("tail"))
	Label("loop")
	Comment(fmt.Sprintf("%d rank-1 updates of the tile.", unroll))
	for p := 0; p < unroll; p++ {
		step(p)
	}
	if !strided {
		nextA(unroll)
	}
	ADDQ(U32(4*nr*unroll), pb)
	DECQ(blocks)
	JNZ(LabelRef("loop"))

	Label("tail")
	TESTQ(k, k)
	JZ(LabelRef("done"))
	Label("tailloop")
	step(0)
	if !strided {
		nextA(1)
	}
	ADDQ(U32(4*nr), pb)
	DECQ(k)
	JNZ(LabelRef("tailloop"))

	Label("done")
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
		rowAt := func(i int) Mem {
			base := src
			if i >= 4 {
				base, i = src4, i-4
			}
			switch i {
			case 0:
				return Mem{Base: base}
			case 3:
				return Mem{Base: base, Index: ld3, Scale: 1}
			default:
				return Mem{Base: base, Index: ld, Scale: uint8(i)}
			}
		}
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

// paramAddr is the stack address of the named scalar argument, for
// instructions that read it from memory directly.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// returnAddr is the stack address of result i, for a VEX store (Store
// writes a float32 with the SSE MOVSS).
func returnAddr(i int) Mem {
	b, err := ReturnIndex(i).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// adamAVX2 is the Adam/AdamW update, 8 parameters per iteration; n must be a
// multiple of 8. c points at the first field of an adamConsts. Its Go equivalent is adamGeneric:
//
//	p := p[i]*decay; g := g[i] + coupled*p
//	m[i] = beta1*m[i] + (1-beta1)*g
//	v[i] = beta2*v[i] + (1-beta2)*g*g
//	p[i] = p - stepSize*m[i] / (sqrt(v[i])*invSqrtBC2 + eps)
func adamAVX2() {
	TEXT("adamAVX2", NOSPLIT, "func(n int, param, grad, m, v, c *float32)")
	Pragma("noescape")
	Doc("adamAVX2 applies one Adam update to n (a multiple of 8) parameters.")
	n := Load(Param("n"), GP64())
	pp := Load(Param("param"), GP64()) // not "p" and "g": g names the goroutine register in Go assembly
	pg := Load(Param("grad"), GP64())
	pm := Load(Param("m"), GP64())
	pv := Load(Param("v"), GP64())
	pc := Load(Param("c"), GP64())
	// The constants in adamConsts order.
	names := []string{"beta1", "oneMinusBeta1", "beta2", "oneMinusBeta2", "stepSize", "invSqrtBC2", "eps", "decay", "coupled"}
	k := map[string]reg.VecVirtual{}
	for i, name := range names {
		k[name] = YMM()
		VBROADCASTSS(Mem{Base: pc, Disp: 4 * i}, k[name])
	}
	i := GP64()
	XORQ(i, i)
	Label("adamloop")
	CMPQ(i, n)
	JGE(LabelRef("adamdone"))
	at := func(base reg.Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
	p, g, m, v, t := YMM(), YMM(), YMM(), YMM(), YMM()
	VMULPS(at(pp), k["decay"], p)
	VMOVUPS(at(pg), g)
	VFMADD231PS(p, k["coupled"], g) // g += coupled*p
	VMULPS(at(pm), k["beta1"], m)
	VFMADD231PS(g, k["oneMinusBeta1"], m) // m = beta1*m + (1-beta1)*g
	VMULPS(g, g, t)
	VMULPS(at(pv), k["beta2"], v)
	VFMADD231PS(t, k["oneMinusBeta2"], v) // v = beta2*v + (1-beta2)*g*g
	VMOVUPS(m, at(pm))
	VMOVUPS(v, at(pv))
	VSQRTPS(v, t)
	VFMADD213PS(k["eps"], k["invSqrtBC2"], t) // t = sqrt(v)*invSqrtBC2 + eps
	VDIVPS(t, m, t)                           // t = m / t
	VFNMADD231PS(t, k["stepSize"], p)         // p -= stepSize*t
	VMOVUPS(p, at(pp))
	ADDQ(U8(8), i)
	JMP(LabelRef("adamloop"))
	Label("adamdone")
	VZEROUPPER()
	RET()
}

// sgdAVX2 writes the SGD update, 8 parameters per iteration, one function
// per form of the update; n must be a multiple of 8 and c points at an
// sgdConsts (lr, momentum, weight decay). Its Go equivalent is sgdGeneric,
// with the same multiplications and additions (no fused ones), so the two
// agree bit for bit:
//
//	g := grad[i] + wd*p[i]
//	sgdMomentumAVX2: v[i] = mu*v[i] + g; g = v[i]
//	sgdNesterovAVX2: v[i] = mu*v[i] + g; g = g + mu*v[i]
//	p[i] -= lr*g
func sgdAVX2() {
	for _, form := range []string{"Plain", "Momentum", "Nesterov"} {
		name := "sgd" + form + "AVX2"
		TEXT(name, NOSPLIT, "func(n int, param, grad, v, c *float32)")
		Pragma("noescape")
		Doc(name + " applies one SGD update (" + strings.ToLower(form) + ") to n (a multiple of 8) parameters.")
		n := Load(Param("n"), GP64())
		pp, pg := Load(Param("param"), GP64()), Load(Param("grad"), GP64())
		pv, pc := Load(Param("v"), GP64()), Load(Param("c"), GP64())
		lr, mu, wd := YMM(), YMM(), YMM()
		VBROADCASTSS(Mem{Base: pc}, lr)
		VBROADCASTSS(Mem{Base: pc, Disp: 4}, mu)
		VBROADCASTSS(Mem{Base: pc, Disp: 8}, wd)
		i := GP64()
		XORQ(i, i)
		Label(name + "loop")
		CMPQ(i, n)
		JGE(LabelRef(name + "done"))
		at := func(base reg.Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
		p, g, t := YMM(), YMM(), YMM()
		VMOVUPS(at(pp), p)
		VMULPS(p, wd, g)
		VADDPS(at(pg), g, g) // g = grad + wd*p
		if form != "Plain" {
			v := YMM()
			VMULPS(at(pv), mu, v)
			VADDPS(g, v, v) // v = mu*v + g
			VMOVUPS(v, at(pv))
			if form == "Nesterov" {
				VMULPS(v, mu, t)
				VADDPS(t, g, g) // g = g + mu*v
			} else {
				g = v
			}
		}
		VMULPS(g, lr, t)
		VSUBPS(t, p, p) // p -= lr*g
		VMOVUPS(p, at(pp))
		ADDQ(U8(8), i)
		JMP(LabelRef(name + "loop"))
		Label(name + "done")
		VZEROUPPER()
		RET()
	}
}

// eltwiseLoop writes a function named name, with Go signature sig, that
// runs body on each group of 8 floats of n (a multiple of 8): i is the
// index of the group's first float, ptrs the pointer arguments named by
// params, zero a register of zeros.
func eltwiseLoop(name, sig, doc string, body func(i reg.Register, ptrs []reg.Register, zero reg.VecVirtual), params ...string) {
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	n := Load(Param("n"), GP64())
	var ptrs []reg.Register
	for _, p := range params {
		ptrs = append(ptrs, Load(Param(p), GP64()))
	}
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

// The constants of the float32 exp, each repeated in the 8 lanes of a ymm
// register, and the masks of a row's last partial group of 8.
var (
	expConst map[string]Mem
	tailMask Mem
)

// expConsts lays out the constants of emitExp in read-only data. The split
// of ln 2 and the polynomial are Cephes expf's: ln2Hi has 9 significant
// bits, so n*ln2Hi is exact for |n| <= 128, and the polynomial
// 1 + r + r^2*P(r) approximates e^r on [-ln2/2, ln2/2] to under 1 ulp.
func expConsts() {
	lnMin := math.Nextafter32(float32(math.Log(0x1p-126)), 0) // the least x with a normal e^x
	consts := []struct {
		name string
		v    float32
	}{
		{"hi", 88.72283}, // the greatest float32 below ln(MaxFloat32)
		{"lo", -88},      // inputs are clamped to [lo, hi] before the reduction
		{"min", lnMin},   // below it, e^x is not a normal float32: 0
		{"inf", float32(math.Inf(1))},
		{"log2e", math.Log2E},
		{"ln2Hi", 0.693359375},
		{"ln2Lo", -2.12194440e-4},
		{"p0", 1.9875691500e-4},
		{"p1", 1.3981999507e-3},
		{"p2", 8.3334519073e-3},
		{"p3", 4.1665795894e-2},
		{"p4", 1.6666665459e-1},
		{"p5", 5.0000001201e-1},
		{"one", 1},
		{"negInf", float32(math.Inf(-1))},
	}
	base := GLOBL("expconsts", RODATA|NOPTR)
	expConst = map[string]Mem{}
	for i, c := range consts {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(math.Float32bits(c.v)))
		}
		expConst[c.name] = base.Offset(32 * i)
	}
	// Eight all-ones words then eight zero words: the 8 words from word 8-k
	// on enable the first k lanes.
	tailMask = GLOBL("tailmask", RODATA|NOPTR)
	for l := 0; l < 16; l++ {
		v := uint32(0)
		if l < 8 {
			v = 0xffffffff
		}
		DATA(4*l, U32(v))
	}
}

// emitExp sets y = e^x on 8 lanes, with at most 2 ulp of error (1 measured)
// where e^x is a normal float32: n = round(x*log2(e)), r = x - n*ln2 in two
// steps, e^r by the polynomial, and 2^n added to the exponent of e^r
// (in [0.7, 1.42], so the sum stays in range for n in [-126, 128]). x below
// ln(MinFloat32) gives 0, above ln(MaxFloat32) +Inf; NaN stays NaN. x is
// not changed.
func emitExp(x, y reg.VecVirtual) {
	c := expConst
	xc, n, r, z, t := YMM(), YMM(), YMM(), YMM(), YMM()
	// The operand order keeps a NaN x: VMINPS and VMAXPS return their
	// first operand here, x, when either is NaN.
	VMOVUPS(c["hi"], xc)
	VMINPS(x, xc, xc)
	VMOVUPS(c["lo"], t)
	VMAXPS(xc, t, xc)
	VMULPS(c["log2e"], xc, n)
	VROUNDPS(U8(0), n, n) // to nearest, ties to even
	VMOVAPS(xc, r)
	VFNMADD231PS(c["ln2Hi"], n, r) // r -= n*ln2Hi (exact)
	VFNMADD231PS(c["ln2Lo"], n, r) // r -= n*ln2Lo
	VMOVUPS(c["p0"], y)
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		VFMADD213PS(c[p], r, y) // y = y*r + p
	}
	VMULPS(r, r, z)
	VFMADD213PS(r, z, y) // y = y*r^2 + r
	VADDPS(c["one"], y, y)
	VCVTPS2DQ(n, n) // n is integral: exact
	VPSLLD(U8(23), n, n)
	VPADDD(n, y, y) // y *= 2^n
	// Where x < min, 0; where x > hi, +Inf. Both compares are false for NaN.
	VCMPPS(U8(0x11), c["min"], x, t) // x < min, ordered, quiet
	VANDNPS(y, t, y)
	VCMPPS(U8(0x1e), c["hi"], x, t) // x > hi, ordered, quiet
	VBLENDVPS(t, c["inf"], y, y)
}

// expAVX2 writes the float32 exp kernels:
//
//	expAVX2:         y[i] = e^x[i], n a multiple of 8 (the exp on its own)
//	softmaxExpAVX2:  m = max(x); s = sum(e^(x-m)); y[i] = c*e^(x[i]-m)/s, for any n >= 1
//
// softmaxExpAVX2 is one row of a softmax, scaled by c; its Go equivalent is
// softmaxExpGeneric. A partial last group of 8 is loaded and
// stored under a mask, so nothing past x[n-1] or y[n-1] is touched.
func expAVX2() {
	expConsts()

	TEXT("expAVX2", NOSPLIT, "func(n int, x, y *float32)")
	Pragma("noescape")
	Doc("expAVX2 sets y = e^x for n (a multiple of 8) floats.")
	{
		n := Load(Param("n"), GP64())
		px, py := Load(Param("x"), GP64()), Load(Param("y"), GP64())
		i := GP64()
		XORQ(i, i)
		Label("exploop")
		CMPQ(i, n)
		JGE(LabelRef("expdone"))
		x, y := YMM(), YMM()
		VMOVUPS(Mem{Base: px, Index: i, Scale: 4}, x)
		emitExp(x, y)
		VMOVUPS(y, Mem{Base: py, Index: i, Scale: 4})
		ADDQ(U8(8), i)
		JMP(LabelRef("exploop"))
		Label("expdone")
		VZEROUPPER()
		RET()
	}

	TEXT("softmaxExpAVX2", NOSPLIT, "func(n int, x, y *float32, c float32) (m, s float32)")
	Pragma("noescape")
	Doc("softmaxExpAVX2 sets y = c*e^(x-m)/s, where m = max(x) and s is the sum of the",
		"e^(x-m), and returns m and s, for n >= 1 floats.")
	n := Load(Param("n"), GP64())
	px, py := Load(Param("x"), GP64()), Load(Param("y"), GP64())
	// body: the floats in whole groups of 8; mask enables the n-body
	// floats of the partial group, if any.
	body, rest, mask := GP64(), GP64(), YMM()
	MOVQ(n, body)
	ANDQ(I8(-8), body)
	MOVQ(n, rest)
	ANDQ(U8(7), rest)
	NEGQ(rest)
	masks := GP64()
	LEAQ(tailMask.Offset(32), masks)
	VMOVUPS(Mem{Base: masks, Index: rest, Scale: 4}, mask)
	// horizontal reduces v across its lanes with op, leaving the result in
	// every lane.
	horizontal := func(v reg.VecVirtual, op func(a, b, c Op)) {
		t := YMM()
		VPERM2F128(U8(0x01), v, v, t)
		op(t, v, v)
		VPERMILPS(U8(0x4e), v, t)
		op(t, v, v)
		VPERMILPS(U8(0xb1), v, t)
		op(t, v, v)
	}

	// pass emits one loop over the row: step on each whole group of 8 at
	// index i, then, with tail set, on the partial group if there is one.
	// load and store move a group, the partial one under the mask.
	i := GP64()
	pass := func(name string, step func(tail bool)) {
		XORQ(i, i)
		Label(name + "loop")
		CMPQ(i, body)
		JGE(LabelRef(name + "tail"))
		step(false)
		ADDQ(U8(8), i)
		JMP(LabelRef(name + "loop"))
		Label(name + "tail")
		CMPQ(i, n)
		JGE(LabelRef(name + "done"))
		step(true)
		Label(name + "done")
	}
	at := func(base reg.Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
	load := func(tail bool, base reg.Register, v reg.VecVirtual) {
		if tail {
			VMASKMOVPS(at(base), mask, v)
		} else {
			VMOVUPS(at(base), v)
		}
	}
	store := func(tail bool, v reg.VecVirtual, base reg.Register) {
		if tail {
			VMASKMOVPS(v, mask, at(base))
		} else {
			VMOVUPS(v, at(base))
		}
	}

	Comment("m = max(x)")
	m := YMM()
	VMOVUPS(expConst["negInf"], m)
	pass("smax", func(tail bool) {
		t := YMM()
		load(tail, px, t)
		if tail {
			ninf := YMM()
			VMOVUPS(expConst["negInf"], ninf)
			VBLENDVPS(mask, t, ninf, t) // -Inf in the lanes past n
		}
		VMAXPS(t, m, m)
	})
	horizontal(m, func(a, b, c Op) { VMAXPS(a, b, c) })

	Comment("y = e^(x-m), s = sum(y)")
	s := YMM()
	VXORPS(s, s, s)
	x, y := YMM(), YMM()
	pass("sexp", func(tail bool) {
		load(tail, px, x)
		VSUBPS(m, x, x)
		emitExp(x, y)
		if tail {
			VANDPS(mask, y, y) // 0 in the lanes past n, out of the sum
		}
		store(tail, y, py)
		VADDPS(y, s, s)
	})
	horizontal(s, func(a, b, c Op) { VADDPS(a, b, c) })

	Comment("y *= c/s")
	f := YMM()
	VBROADCASTSS(paramAddr("c"), f)
	VDIVPS(s, f, f)
	pass("sscale", func(tail bool) {
		load(tail, py, y)
		VMULPS(y, f, y)
		store(tail, y, py)
	})
	VMOVSS(m.AsX(), returnAddr(0))
	VMOVSS(s.AsX(), returnAddr(1))
	VZEROUPPER()
	RET()
}

// The constants of the activations, each repeated in the 8 lanes of a ymm
// register.
var actConst map[string]Mem

// actConsts lays out the constants of the activations in read-only data.
// t0..t4 are the odd polynomial of Cephes tanhf for |x| < 0.625:
// tanh(x) = x + x^3*T(x^2), to about 1 ulp.
func actConsts() {
	geluC := math.Sqrt(2 / math.Pi)
	consts := []struct {
		name string
		v    uint32
	}{
		{"sign", 0x80000000},
		{"abs", 0x7fffffff},
		{"two", math.Float32bits(2)},
		{"tanhSmall", math.Float32bits(0.625)},
		{"t4", math.Float32bits(-5.70498872745e-3)},
		{"t3", math.Float32bits(2.06390887954e-2)},
		{"t2", math.Float32bits(-5.37397155531e-2)},
		{"t1", math.Float32bits(1.33314422036e-1)},
		{"t0", math.Float32bits(-3.33332819422e-1)},
		{"gelu1", math.Float32bits(float32(2 * geluC))},
		{"gelu3", math.Float32bits(float32(2 * geluC * 0.044715))},
		{"gelu3x3", math.Float32bits(float32(3 * 2 * geluC * 0.044715))},
		{"geluMaxSq", math.Float32bits(1e8)},
	}
	base := GLOBL("actconsts", RODATA|NOPTR)
	actConst = map[string]Mem{}
	for i, c := range consts {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(c.v))
		}
		actConst[c.name] = base.Offset(32 * i)
	}
}

// emitExpNegAbs sets e = e^-|x| (in [0, 1]; NaN for NaN) and one = 1 on
// 8 lanes: the part of the sigmoid that cannot overflow.
func emitExpNegAbs(x reg.VecVirtual) (e, one reg.VecVirtual) {
	a := YMM()
	e, one = YMM(), YMM()
	VORPS(actConst["sign"], x, a) // -|x|
	emitExp(a, e)
	VMOVUPS(expConst["one"], one)
	return e, one
}

// emitSigmoid sets y = 1/(1+e^-x) on 8 lanes, without overflow: with
// e = e^-|x|, y = 1/(1+e) for x >= 0 and e/(1+e) for x < 0 (the sign
// bit of x chooses, so -0 takes the second form, which gives the same
// 1/2). NaN stays NaN; x is not changed.
func emitSigmoid(x, y reg.VecVirtual) {
	e, one := emitExpNegAbs(x)
	a := YMM()
	VBLENDVPS(x, e, one, a) // the numerator: e where x < 0, else 1
	VADDPS(one, e, e)
	VDIVPS(e, a, y)
}

// emitTanh sets y = tanh(x) on 8 lanes: with a = |x|, the polynomial
// a + a^3*T(a^2) for a < 0.625 and 1 - 2/(e^(2a)+1) above (which is 1
// once e^(2a) overflows to +Inf), then the sign of x. NaN stays NaN; x
// is not changed.
func emitTanh(x, y reg.VecVirtual) {
	c := actConst
	a, s, p, e, t := YMM(), YMM(), YMM(), YMM(), YMM()
	VANDPS(c["abs"], x, a)
	VMULPS(a, a, s)
	VMOVUPS(c["t4"], p)
	for _, k := range []string{"t3", "t2", "t1", "t0"} {
		VFMADD213PS(c[k], s, p) // p = p*s + k
	}
	VMULPS(s, p, p)
	VFMADD213PS(a, a, p) // p = p*a + a
	VADDPS(a, a, t)
	emitExp(t, e)
	VADDPS(expConst["one"], e, e)
	VMOVUPS(c["two"], t)
	VDIVPS(e, t, t) // 2/(e^(2a)+1)
	VMOVUPS(expConst["one"], e)
	VSUBPS(t, e, e)                        // 1 - 2/(e^(2a)+1)
	VCMPPS(U8(0x11), c["tanhSmall"], a, t) // a < 0.625, ordered: false for NaN
	VBLENDVPS(t, p, e, y)
	VANDPS(c["sign"], x, t)
	VORPS(t, y, y)
}

// emitGELU sets y = GELU(x) in its tanh form on 8 lanes, as
// x*sigmoid(2c*(x + 0.044715x^3)) with c = sqrt(2/pi), which is
// 0.5x(1+tanh(c*(x + 0.044715x^3))) without its cancellation for x < 0.
func emitGELU(x, y reg.VecVirtual) {
	s, z := YMM(), YMM()
	VMULPS(x, x, s)
	VMOVUPS(actConst["gelu3"], z)
	VFMADD213PS(actConst["gelu1"], s, z) // 2c*(1 + 0.044715x^2)
	VMULPS(x, z, z)
	emitSigmoid(z, s)
	VMULPS(x, s, y)
}

// emitGELUBackward sets dx = dy*GELU'(x) on 8 lanes. With z as in
// emitGELU, s = sigmoid(z) and e = e^-|z|,
//
//	GELU'(x) = s + x*z'(x)*s*(1-s),  s*(1-s) = e/(1+e)^2,
//
// the second form free of the cancellation of 1-s. x^2 is capped at 1e8
// in z and z', where s*(1-s) is 0 anyway, so that large finite x give
// x*z'*0 = 0 rather than Inf*0. x and dy are not changed.
func emitGELUBackward(x, dy, dx reg.VecVirtual) {
	c := actConst
	sq, z, zp := YMM(), YMM(), YMM()
	VMULPS(x, x, sq)
	VMINPS(c["geluMaxSq"], sq, sq)
	VMOVUPS(c["gelu3"], z)
	VFMADD213PS(c["gelu1"], sq, z) // 2c*(1 + 0.044715x^2)
	VMULPS(x, z, z)
	VMOVUPS(c["gelu3x3"], zp)
	VFMADD213PS(c["gelu1"], sq, zp) // z' = 2c*(1 + 3*0.044715x^2)
	VMULPS(x, zp, zp)
	e, one := emitExpNegAbs(z)
	r, sg := YMM(), YMM()
	VADDPS(one, e, r)
	VDIVPS(r, one, r) // 1/(1+e)
	VMULPS(r, e, sg)
	VBLENDVPS(z, sg, r, sg) // s: e/(1+e) where z < 0, else 1/(1+e)
	VMULPS(r, e, e)
	VMULPS(r, e, e)        // s*(1-s)
	VFMADD213PS(sg, zp, e) // s + x*z'*s*(1-s)
	VMULPS(dy, e, dx)
}

// actAVX2 writes the forward activations and GELU's backward pass, 8
// floats per step; n must be a multiple of 8 (the Go side runs the tail).
// Their Go equivalents are sigmoidGeneric, tanhGeneric, geluGeneric and
// geluBackwardGeneric, computed in float64; these are float32 throughout,
// within a few ulp.
func actAVX2() {
	actConsts()
	for _, f := range []struct {
		name, doc string
		emit      func(x, y reg.VecVirtual)
	}{
		{"sigmoidAVX2", "sigmoidAVX2 sets y = 1/(1+e^-x)", emitSigmoid},
		{"tanhAVX2", "tanhAVX2 sets y = tanh(x)", emitTanh},
		{"geluAVX2", "geluAVX2 sets y = GELU(x) (the tanh form)", emitGELU},
	} {
		eltwiseLoop(f.name, "func(n int, x, y *float32)", f.doc+" for n (a multiple of 8) floats.",
			func(i reg.Register, p []reg.Register, _ reg.VecVirtual) {
				x, y := YMM(), YMM()
				VMOVUPS(Mem{Base: p[0], Index: i, Scale: 4}, x)
				f.emit(x, y)
				VMOVUPS(y, Mem{Base: p[1], Index: i, Scale: 4})
			}, "x", "y")
	}
	eltwiseLoop("geluBackwardAVX2", "func(n int, x, dy, dx *float32)",
		"geluBackwardAVX2 sets dx = dy*GELU'(x) (the tanh form) for n (a multiple of 8) floats.",
		func(i reg.Register, p []reg.Register, _ reg.VecVirtual) {
			x, dy, dx := YMM(), YMM(), YMM()
			VMOVUPS(Mem{Base: p[0], Index: i, Scale: 4}, x)
			VMOVUPS(Mem{Base: p[1], Index: i, Scale: 4}, dy)
			emitGELUBackward(x, dy, dx)
			VMOVUPS(dx, Mem{Base: p[2], Index: i, Scale: 4})
		}, "x", "dy", "dx")
}
