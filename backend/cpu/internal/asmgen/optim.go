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
func adamAVX2() { adam("adamAVX2", "n (a multiple of 8)", loopAVX2) }

// adamAVX512 is adamAVX2 16 parameters at a time, for any n.
func adamAVX512() { adam("adamAVX512", "n", loop512) }

// groupLoop writes a loop over groups of floats (loopAVX2, loop512).
type groupLoop func(name, sig, doc string, setup func(), body func(l group, ptrs []reg.Register), params ...string)

// group is one step of a groupLoop: load and store move a group of floats
// between memory and a register, vec allocates a register as wide.
type group interface {
	load(base reg.Register) reg.VecVirtual
	store(v reg.VecVirtual, base reg.Register)
	vec() reg.VecVirtual
}

func adam(name, count string, loop groupLoop) {
	names := []string{"beta1", "oneMinusBeta1", "beta2", "oneMinusBeta2", "stepSize", "invSqrtBC2", "eps", "decay", "coupled"}
	k := map[string]reg.VecVirtual{}
	vec := YMM
	if name == "adamAVX512" {
		vec = ZMM
	}
	// The parameters are not "p" and "g": g names the goroutine register in Go assembly.
	loop(name, "func(n int, param, grad, m, v, c *float32)", name+" applies one Adam update to "+count+" parameters.",
		func() {
			pc := Load(Param("c"), GP64())
			// The constants in adamConsts order.
			for i, name := range names {
				k[name] = vec()
				VBROADCASTSS(Mem{Base: pc, Disp: 4 * i}, k[name])
			}
		},
		func(l group, ptr []reg.Register) {
			pp, pg, pm, pv := ptr[0], ptr[1], ptr[2], ptr[3]
			p, g, m, v, t := l.load(pp), l.load(pg), l.load(pm), l.load(pv), l.vec()
			VMULPS(p, k["decay"], p)
			VFMADD231PS(p, k["coupled"], g) // g += coupled*p
			VMULPS(m, k["beta1"], m)
			VFMADD231PS(g, k["oneMinusBeta1"], m) // m = beta1*m + (1-beta1)*g
			VMULPS(g, g, t)
			VMULPS(v, k["beta2"], v)
			VFMADD231PS(t, k["oneMinusBeta2"], v) // v = beta2*v + (1-beta2)*g*g
			l.store(m, pm)
			l.store(v, pv)
			VSQRTPS(v, t)
			VFMADD213PS(k["eps"], k["invSqrtBC2"], t) // t = sqrt(v)*invSqrtBC2 + eps
			VDIVPS(t, m, t)                           // t = m / t
			VFNMADD231PS(t, k["stepSize"], p)         // p -= stepSize*t
			l.store(p, pp)
		}, "param", "grad", "m", "v")
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
func sgdAVX2() { sgd("AVX2", "n (a multiple of 8)", loopAVX2, YMM) }

// sgdAVX512 is sgdAVX2 16 parameters at a time, for any n.
func sgdAVX512() { sgd("AVX512", "n", loop512, ZMM) }

func sgd(level, count string, loop groupLoop, vec func() reg.VecVirtual) {
	for _, form := range []string{"Plain", "Momentum", "Nesterov"} {
		name := "sgd" + form + level
		var lr, mu, wd reg.VecVirtual
		loop(name, "func(n int, param, grad, v, c *float32)",
			name+" applies one SGD update ("+strings.ToLower(form)+") to "+count+" parameters.",
			func() {
				pc := Load(Param("c"), GP64())
				lr, mu, wd = vec(), vec(), vec()
				VBROADCASTSS(Mem{Base: pc}, lr)
				VBROADCASTSS(Mem{Base: pc, Disp: 4}, mu)
				VBROADCASTSS(Mem{Base: pc, Disp: 8}, wd)
			},
			func(l group, ptr []reg.Register) {
				pp, pg, pv := ptr[0], ptr[1], ptr[2]
				p, g, t := l.load(pp), l.vec(), l.vec()
				VMULPS(p, wd, g)
				VADDPS(l.load(pg), g, g) // g = grad + wd*p
				if form != "Plain" {
					v := l.load(pv)
					VMULPS(v, mu, v)
					VADDPS(g, v, v) // v = mu*v + g
					l.store(v, pv)
					if form == "Nesterov" {
						VMULPS(v, mu, t)
						VADDPS(t, g, g) // g = g + mu*v
					} else {
						g = v
					}
				}
				VMULPS(g, lr, t)
				VSUBPS(t, p, p) // p -= lr*g
				l.store(p, pp)
			}, "param", "grad", "v")
	}
}

// lanesAVX2 is a group of 8 floats at index i, for loopAVX2.
type lanesAVX2 struct{ i reg.Register }

func (l lanesAVX2) at(base reg.Register) Mem                  { return Mem{Base: base, Index: l.i, Scale: 4} }
func (l lanesAVX2) vec() reg.VecVirtual                       { return YMM() }
func (l lanesAVX2) store(v reg.VecVirtual, base reg.Register) { VMOVUPS(v, l.at(base)) }
func (l lanesAVX2) load(base reg.Register) reg.VecVirtual {
	v := YMM()
	VMOVUPS(l.at(base), v)
	return v
}

// loopAVX2 writes a function named name, with Go signature sig (n first,
// a multiple of 8), that runs body on each group of 8 floats. setup runs
// once before the loop; ptrs are the pointer arguments named by params.
func loopAVX2(name, sig, doc string, setup func(), body func(l group, ptrs []reg.Register), params ...string) {
	n, ptrs := loopTEXT(name, sig, doc, params)
	setup()
	i := GP64()
	XORQ(i, i)
	Label(name + "loop")
	CMPQ(i, n)
	JGE(LabelRef(name + "done"))
	body(lanesAVX2{i}, ptrs)
	ADDQ(U8(8), i)
	JMP(LabelRef(name + "loop"))
	Label(name + "done")
	VZEROUPPER()
	RET()
}
