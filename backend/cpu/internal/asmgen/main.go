// Command asmgen writes the amd64 assembly kernels of package cpu with avo.
// Run through go generate in backend/cpu; the output is committed and CI
// checks that regenerating it changes nothing.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!noasm")
	gemmMicroAVX2(false)
	gemmMicroAVX2(true)
	adamAVX2()
	eltwiseAVX2()
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
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // elements to bytes
	// Only VEX-encoded instructions from here on: a legacy SSE instruction
	// (MOVSS, XORPS, UCOMISS) while the upper halves of the ymm registers
	// are dirty costs hundreds of cycles per call on the CPUs measured.
	alpha := YMM()
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
		VMOVUPS(acc[r][0], Mem{Base: row})
		VMOVUPS(acc[r][1], Mem{Base: row, Disp: 32})
		if r < mr-1 {
			ADDQ(ldc, row)
		}
	}
	VZEROUPPER()
	RET()

	Label("accumulate")
	Comment("C = alpha*acc + beta*C")
	beta := YMM()
	VBROADCASTSS(betaX, beta)
	for r := range acc {
		VFMADD231PS(Mem{Base: pc}, beta, acc[r][0])
		VFMADD231PS(Mem{Base: pc, Disp: 32}, beta, acc[r][1])
		VMOVUPS(acc[r][0], Mem{Base: pc})
		VMOVUPS(acc[r][1], Mem{Base: pc, Disp: 32})
		if r < mr-1 {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()
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

// eltwiseAVX2 writes the bandwidth-bound kernels of the ReLU layer and the
// bias add, 8 floats per step; n must be a multiple of 8 (the Go side runs
// the tail). Their Go equivalents:
//
//	reluAVX2:         y[i] = max(x[i], 0)        (a NaN in x stays NaN)
//	reluBackwardAVX2: dx[i] = dy[i] if x[i] > 0 else 0
//	addAVX2:          y[i] += x[i]
func eltwiseAVX2() {
	loop := func(name, sig, doc string, body func(i reg.Register, ptrs []reg.Register, zero reg.VecVirtual), params ...string) {
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
	loop("addAVX2", "func(n int, x, y *float32)", "addAVX2 sets y += x for n (a multiple of 8) floats.",
		func(i reg.Register, p []reg.Register, _ reg.VecVirtual) {
			v := YMM()
			VMOVUPS(at(p[1], i), v)
			VADDPS(at(p[0], i), v, v)
			VMOVUPS(v, at(p[1], i))
		}, "x", "y")
}
