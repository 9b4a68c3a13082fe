package cpu

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// The losses other than the softmax cross-entropy run serially: their inputs
// are one batch of outputs (rows x classes), far below the size where
// splitting pays. Sums are in float64.

func (be *Backend) SoftmaxCrossEntropy(logits, labels, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("cpu", "SoftmaxCrossEntropy", rows, cols)
	zs := be.f(logits, rows*cols, "SoftmaxCrossEntropy logits")
	ls := be.f(labels, rows, "SoftmaxCrossEntropy labels")
	gs := be.f(grad, rows*cols, "SoftmaxCrossEntropy grad")
	out := be.f(lossSum, 1, "SoftmaxCrossEntropy lossSum")
	badLabel := badLabelGeneric
	if be.kern.badLabel != nil {
		badLabel = be.kern.badLabel
	}
	if i := badLabel(ls, cols); i >= 0 {
		panic(fmt.Sprintf("cpu: SoftmaxCrossEntropy: label %v of row %d is not a class index below %d", ls[i], i, cols))
	}
	// Chunks of about reduceChunk elements, whole rows each.
	chunkRows := max(1, reduceChunk/max(cols, 1))
	pieces := (rows + chunkRows - 1) / chunkRows
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.xent
	*j = xentJob{k: be.kern, zs: zs, ls: ls, gs: gs, rows: rows, cols: cols, chunkRows: chunkRows,
		scale: float32(1 / float64(rows)), partial: partials(j.partial, pieces), blocks: j.blocks}
	if len(j.blocks) < be.threads {
		j.blocks = make([]xentBlock, be.threads)
	}
	be.pool.parallelFor(pieces, 1, 1, j)
	total := sumInOrder(j.partial)
	*j = xentJob{partial: j.partial, blocks: j.blocks}
	out[0] = float32(float64(out[0]) + total)
}

func (be *Backend) BCEWithLogits(logits, targets, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("cpu", "BCEWithLogits", rows, cols)
	n := rows * cols
	zs, ts := be.f(logits, n, "BCEWithLogits logits"), be.f(targets, n, "BCEWithLogits targets")
	gs, out := be.f(grad, n, "BCEWithLogits grad"), be.f(lossSum, 1, "BCEWithLogits lossSum")
	scale := 1 / float64(n)
	total := 0.0
	for i, zf := range zs {
		z, t := float64(zf), float64(ts[i])
		// max(z,0) - z*t + log(1 + exp(-|z|)) is log(1+exp(z)) - z*t without overflow.
		total += math.Max(z, 0) - z*t + math.Log1p(math.Exp(-math.Abs(z)))
		gs[i] = float32((1/(1+math.Exp(-z)) - t) * scale)
	}
	out[0] = float32(float64(out[0]) + total/float64(cols))
}

func (be *Backend) MSE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("cpu", "MSE", rows, cols)
	n := rows * cols
	ps, ts := be.f(pred, n, "MSE pred"), be.f(target, n, "MSE target")
	gs, out := be.f(grad, n, "MSE grad"), be.f(lossSum, 1, "MSE lossSum")
	scale := 2 / float64(n)
	total := 0.0
	for i, p := range ps {
		d := float64(p) - float64(ts[i])
		total += d * d
		gs[i] = float32(d * scale)
	}
	out[0] = float32(float64(out[0]) + total/float64(cols))
}

func (be *Backend) MAE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("cpu", "MAE", rows, cols)
	n := rows * cols
	ps, ts := be.f(pred, n, "MAE pred"), be.f(target, n, "MAE target")
	gs, out := be.f(grad, n, "MAE grad"), be.f(lossSum, 1, "MAE lossSum")
	scale := float32(1 / float64(n))
	total := 0.0
	for i, p := range ps {
		d := p - ts[i]
		total += math.Abs(float64(d))
		switch {
		case d > 0:
			gs[i] = scale
		case d < 0:
			gs[i] = -scale
		default:
			gs[i] = 0
		}
	}
	out[0] = float32(float64(out[0]) + total/float64(cols))
}

func (be *Backend) SGDStep(param, grad, velocity backend.Buffer, n int, cfg backend.SGDConfig) {
	ps, gs := be.f(param, n, "SGDStep param"), be.f(grad, n, "SGDStep grad")
	var vs []float32
	if cfg.Momentum != 0 {
		vs = be.f(velocity, n, "SGDStep velocity")
	}
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.sgd
	*j = sgdJob{k: be.kern, ps: ps, gs: gs, vs: vs,
		c: sgdConsts{lr: cfg.LR, momentum: cfg.Momentum, weightDecay: cfg.WeightDecay, nesterov: cfg.Nesterov}}
	be.pool.parallelFor(n, elementGrain, 16, j)
	*j = sgdJob{}
}

func (be *Backend) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	backend.CheckAdamStep("cpu", cfg.Step)
	ps, gs := be.f(param, n, "AdamStep param"), be.f(grad, n, "AdamStep grad")
	ms, vs := be.f(m, n, "AdamStep m"), be.f(v, n, "AdamStep v")
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.adam
	*j = adamJob{k: be.kern, ps: ps, gs: gs, ms: ms, vs: vs, c: newAdamConsts(cfg)}
	be.pool.parallelFor(n, elementGrain, 16, j)
	*j = adamJob{}
}

// sgdConsts are the scalars of an SGD update, laid out for the assembly
// kernels (which read the three floats by offset: keep the order).
type sgdConsts struct {
	lr, momentum, weightDecay float32
	nesterov                  bool
}

// sgdGeneric is the plain-Go SGD update of one range of parameters; vs is
// only read with momentum.
func sgdGeneric(ps, gs, vs []float32, c *sgdConsts) {
	lr, mu, wd := c.lr, c.momentum, c.weightDecay
	gs = gs[:len(ps)]
	if mu != 0 {
		vs = vs[:len(ps)]
	}
	for i := range ps {
		g := gs[i] + wd*ps[i]
		if mu != 0 {
			v := mu*vs[i] + g
			vs[i] = v
			if c.nesterov {
				g += mu * v
			} else {
				g = v
			}
		}
		ps[i] -= lr * g
	}
}

// adamConsts are the per-step scalars of an Adam update, laid out for the
// assembly kernels (which read them by offset: keep the order).
type adamConsts struct {
	beta1, oneMinusBeta1, beta2, oneMinusBeta2 float32
	stepSize                                   float32 // lr / (1 - beta1^step)
	invSqrtBC2                                 float32 // 1 / sqrt(1 - beta2^step)
	eps                                        float32
	decay                                      float32 // AdamW: 1 - lr*wd; Adam: 1
	coupled                                    float32 // Adam: wd (added to the gradient); AdamW: 0
}

func newAdamConsts(cfg backend.AdamConfig) adamConsts {
	s := cfg.Scalars()
	return adamConsts{
		beta1: cfg.Beta1, oneMinusBeta1: 1 - cfg.Beta1, beta2: cfg.Beta2, oneMinusBeta2: 1 - cfg.Beta2,
		stepSize: s.StepSize, invSqrtBC2: s.InvSqrtBC2, eps: cfg.Eps, decay: s.Decay, coupled: s.Coupled,
	}
}

// adamGeneric is the plain-Go Adam update of one range of parameters.
func adamGeneric(ps, gs, ms, vs []float32, c *adamConsts) {
	gs, ms, vs = gs[:len(ps)], ms[:len(ps)], vs[:len(ps)]
	for i := range ps {
		p := ps[i] * c.decay
		g := gs[i] + c.coupled*p
		mi := c.beta1*ms[i] + c.oneMinusBeta1*g
		vi := c.beta2*vs[i] + c.oneMinusBeta2*g*g
		ms[i], vs[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))*c.invSqrtBC2 + c.eps
		ps[i] = p - c.stepSize*mi/denom
	}
}
