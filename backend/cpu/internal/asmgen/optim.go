// The optimizer updates: Adam and SGD.

package main

import (
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

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
