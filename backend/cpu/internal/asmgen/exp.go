// The float32 exp and the softmax row built on it.

package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

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
	horizontal := func(v reg.VecVirtual, op func(a, b, c Op)) { across(v, op, YMM) }

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

// across reduces v (a ymm or zmm register; vec allocates one as wide)
// across its lanes with op, leaving the result in every lane.
func across(v reg.VecVirtual, op func(a, b, c Op), vec func() reg.VecVirtual) {
	t := vec()
	if v.Size() == 64 {
		VSHUFF32X4(U8(0x4e), v, v, t) // swap the 256-bit halves
		op(t, v, v)
		VSHUFF32X4(U8(0xb1), v, v, t) // swap the 128-bit quarters in pairs
	} else {
		VPERM2F128(U8(0x01), v, v, t) // swap the 128-bit halves
	}
	op(t, v, v)
	VPERMILPS(U8(0x4e), v, t)
	op(t, v, v)
	VPERMILPS(U8(0xb1), v, t)
	op(t, v, v)
}
