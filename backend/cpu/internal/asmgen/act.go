// The exp-based activations: sigmoid, tanh, GELU and its derivative.

package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

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
