package ref

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// SGDStep returns the parameters and the velocity after one SGD step over
// param[0:len(param)], with PyTorch's semantics (dampening 0):
//
//	g = grad + WeightDecay*param
//	if Momentum != 0 { v = Momentum*v + g; if Nesterov { g = g + Momentum*v } else { g = v } }
//	param -= LR*g
//
// With Momentum == 0 the velocity is not read and newVelocity is nil.
func SGDStep(param, grad, velocity []float32, cfg backend.SGDConfig) (newParam, newVelocity []float64) {
	n := len(param)
	need("SGDStep", "grad", grad, n)
	lr, mom, wd := float64(cfg.LR), float64(cfg.Momentum), float64(cfg.WeightDecay)
	newParam = make([]float64, n)
	if mom != 0 {
		need("SGDStep", "velocity", velocity, n)
		newVelocity = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		p := float64(param[i])
		g := float64(grad[i]) + wd*p
		if mom != 0 {
			v := mom*float64(velocity[i]) + g
			newVelocity[i] = v
			if cfg.Nesterov {
				g += mom * v
			} else {
				g = v
			}
		}
		newParam[i] = p - lr*g
	}
	return newParam, newVelocity
}

// AdamStep returns the parameters and the first and second moments after
// one Adam (or, with cfg.Decoupled, AdamW) step over param[0:len(param)],
// with PyTorch's semantics:
//
//	AdamW: param *= 1 - LR*WeightDecay;  Adam: g = grad + WeightDecay*param
//	m = Beta1*m + (1-Beta1)*g
//	v = Beta2*v + (1-Beta2)*g*g
//	param -= LR * (m/(1-Beta1^Step)) / (sqrt(v/(1-Beta2^Step)) + Eps)
//
// cfg.Step is 1-based; a Step below 1 panics.
func AdamStep(param, grad, m, v []float32, cfg backend.AdamConfig) (newParam, newM, newV []float64) {
	n := len(param)
	need("AdamStep", "grad", grad, n)
	need("AdamStep", "m", m, n)
	need("AdamStep", "v", v, n)
	backend.CheckAdamStep("ref", cfg.Step)
	lr, b1, b2 := float64(cfg.LR), float64(cfg.Beta1), float64(cfg.Beta2)
	eps, wd := float64(cfg.Eps), float64(cfg.WeightDecay)
	bc1 := 1 - math.Pow(b1, float64(cfg.Step))
	bc2 := 1 - math.Pow(b2, float64(cfg.Step))
	newParam = make([]float64, n)
	newM = make([]float64, n)
	newV = make([]float64, n)
	for i := 0; i < n; i++ {
		p, g := float64(param[i]), float64(grad[i])
		if cfg.Decoupled {
			p *= 1 - lr*wd
		} else {
			g += wd * p
		}
		mi := b1*float64(m[i]) + (1-b1)*g
		vi := b2*float64(v[i]) + (1-b2)*g*g
		newM[i], newV[i] = mi, vi
		newParam[i] = p - lr*(mi/bc1)/(math.Sqrt(vi/bc2)+eps)
	}
	return newParam, newM, newV
}
