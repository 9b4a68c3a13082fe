package conformance

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// optimSteps is the number of optimizer steps run in a row. Each step is
// compared with the reference step applied to the state the backend held
// before it, so that the tolerance covers one step's rounding.
const optimSteps = 3

func checkSGDStep(s *suite) {
	cfgs := []backend.SGDConfig{
		{LR: 0.1},
		{LR: 0.1, Momentum: 0.9},
		{LR: 0.1, Momentum: 0.9, Nesterov: true},
		{LR: 0.05, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, WeightDecay: 0.01, Nesterov: true},
	}
	for _, cfg := range cfgs {
		for _, n := range sizes {
			p0 := s.normal(n, 1)
			grads := make([][]float32, optimSteps)
			for i := range grads {
				grads[i] = s.normal(n, 1)
			}
			name := fmt.Sprintf("lr=%g momentum=%g nesterov=%v weight_decay=%g n=%d", cfg.LR, cfg.Momentum, cfg.Nesterov, cfg.WeightDecay, n)
			s.run(name, func(c *tcase) {
				pb := c.out(p0)
				// Without momentum the velocity is unused: NaNs in it must
				// neither be read nor be overwritten.
				vb := c.in(nans(n))
				if cfg.Momentum != 0 {
					vb = c.out(make([]float32, n))
				}
				p, v := p0, make([]float32, n)
				lr, mom, wd := float64(cfg.LR), float64(cfg.Momentum), float64(cfg.WeightDecay)
				for step, g := range grads {
					gb := c.in(g)
					c.b.SGDStep(pb.h, gb.h, vb.h, n, cfg)
					var vIn []float32
					if mom != 0 {
						vIn = v
					}
					wantP, wantV := ref.SGDStep(p, g, vIn, cfg)
					tolP, tolV := make([]float64, n), make([]float64, n)
					for i := range tolP {
						gAbs := abs32(g[i]) + wd*abs32(p[i])
						vAbs := mom*abs32(v[i]) + gAbs
						stepAbs := gAbs
						if mom != 0 {
							stepAbs = vAbs
							if cfg.Nesterov {
								stepAbs = gAbs + mom*vAbs
							}
						}
						tolP[i] = 8 * ref.Unit * (abs32(p[i]) + lr*stepAbs)
						tolV[i] = 8 * ref.Unit * vAbs
					}
					p = c.result("param", pb)
					c.compare(fmt.Sprintf("param after step %d", step+1), p, wantP, each(tolP))
					if mom != 0 {
						v = c.result("velocity", vb)
						c.compare(fmt.Sprintf("velocity after step %d", step+1), v, wantV, each(tolV))
					}
					if len(c.msgs) > 0 {
						return
					}
				}
			})
		}
	}
}

func checkAdamStep(s *suite) {
	cfgs := []backend.AdamConfig{
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Decoupled: true},
		{LR: 0.1, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1},
		{LR: 0.1, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1, Decoupled: true},
	}
	for _, cfg := range cfgs {
		for _, n := range sizes {
			p0 := s.normal(n, 1)
			grads := make([][]float32, optimSteps)
			for i := range grads {
				grads[i] = s.normal(n, 0.1)
				for j := i; j < n; j += 7 {
					grads[i][j] = 0
				}
			}
			kind := "Adam"
			if cfg.Decoupled {
				kind = "AdamW"
			}
			name := fmt.Sprintf("%s lr=%g beta1=%g beta2=%g eps=%g weight_decay=%g n=%d", kind, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, n)
			s.run(name, func(c *tcase) {
				pb, mb, vb := c.out(p0), c.out(make([]float32, n)), c.out(make([]float32, n))
				p, m, v := p0, make([]float32, n), make([]float32, n)
				lr, b1, b2 := float64(cfg.LR), float64(cfg.Beta1), float64(cfg.Beta2)
				eps, wd := float64(cfg.Eps), float64(cfg.WeightDecay)
				for step, g := range grads {
					cfg := cfg
					cfg.Step = step + 1
					gb := c.in(g)
					c.b.AdamStep(pb.h, gb.h, mb.h, vb.h, n, cfg)
					wantP, wantM, wantV := ref.AdamStep(p, g, m, v, cfg)
					bc1 := 1 - math.Pow(b1, float64(cfg.Step))
					bc2 := 1 - math.Pow(b2, float64(cfg.Step))
					tolP, tolM, tolV := make([]float64, n), make([]float64, n), make([]float64, n)
					for i := range tolP {
						pAbs, gAbs := abs32(p[i]), abs32(g[i])
						if cfg.Decoupled {
							pAbs *= 1 - lr*wd
						} else {
							gAbs += wd * pAbs
						}
						mAbs := b1*abs32(m[i]) + (1-b1)*gAbs
						tolM[i] = 8 * ref.Unit * mAbs
						// g may cancel (grad against WeightDecay*param): its
						// error is relative to gAbs, not to g.
						tolV[i] = 8 * ref.Unit * (b2*abs32(v[i]) + (1-b2)*gAbs*gAbs)
						// The update is lr*mhat/(sqrt(vhat)+eps); a float32
						// bias correction 1-beta2^step alone may be off by
						// 1e-5 relative.
						update := lr * (mAbs / bc1) / (math.Sqrt(wantV[i]/bc2) + eps)
						tolP[i] = 8*ref.Unit*pAbs + 1e-4*update
					}
					p = c.result("param", pb)
					m = c.result("m", mb)
					v = c.result("v", vb)
					c.compare(fmt.Sprintf("param after step %d", cfg.Step), p, wantP, each(tolP))
					c.compare(fmt.Sprintf("m after step %d", cfg.Step), m, wantM, each(tolM))
					c.compare(fmt.Sprintf("v after step %d", cfg.Step), v, wantV, each(tolV))
					if len(c.msgs) > 0 {
						return
					}
				}
			})
		}
	}
}
