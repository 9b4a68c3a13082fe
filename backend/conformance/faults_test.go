package conformance

import (
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// Each type below is the fake backend with one operation broken in a way a
// real kernel could be. TestFaultsDetected asserts that the checks meant to
// catch each fault fail, and that checks of unrelated operations still pass.

type gemmIgnoresBeta struct{ fake }

func (f gemmIgnoresBeta) Gemm(tA, tB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	f.fake.Gemm(tA, tB, m, n, k, alpha, a, b, 0, c)
}

type gemmIgnoresTransB struct{ fake }

func (f gemmIgnoresTransB) Gemm(tA, tB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	f.fake.Gemm(tA, false, m, n, k, alpha, a, b, beta, c)
}

type gemmIgnoresTransA struct{ fake }

func (f gemmIgnoresTransA) Gemm(tA, tB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	f.fake.Gemm(false, tB, m, n, k, alpha, a, b, beta, c)
}

// gemmReadsC computes beta*C even when beta == 0, so NaNs in C propagate.
type gemmReadsC struct{ fake }

func (f gemmReadsC) Gemm(tA, tB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	old := snap(c, m*n)
	f.fake.Gemm(tA, tB, m, n, k, alpha, a, b, beta, c)
	if beta == 0 {
		cc := get(c, m*n)
		for i := range old {
			cc[i] += beta * old[i]
		}
	}
}

// gemmWritesTail zeroes one element past C, as a kernel writing whole
// blocks would.
type gemmWritesTail struct{ fake }

func (f gemmWritesTail) Gemm(tA, tB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	f.fake.Gemm(tA, tB, m, n, k, alpha, a, b, beta, c)
	if cc := get(c, m*n); len(cc) > m*n {
		cc[m*n] = 0
	}
}

// gemmCoarse rounds C to 11 significant bits, as a reduced-precision mode
// (float16 or TF32 inputs) would: the error exceeds the float32 bound.
type gemmCoarse struct{ fake }

func (f gemmCoarse) Gemm(tA, tB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	f.fake.Gemm(tA, tB, m, n, k, alpha, a, b, beta, c)
	cc := get(c, m*n)
	for i := 0; i < m*n; i++ {
		cc[i] = math.Float32frombits(math.Float32bits(cc[i]) &^ 0x1fff) // keep 10 mantissa bits
	}
}

type sumRowsIgnoresBeta struct{ fake }

func (f sumRowsIgnoresBeta) SumRows(x, out backend.Buffer, rows, cols int, beta float32) {
	f.fake.SumRows(x, out, rows, cols, 0)
}

// softmaxNoMax computes exp(x)/sum exp(x) in float32 without subtracting
// the row maximum.
type softmaxNoMax struct{ fake }

func (softmaxNoMax) Softmax(x, y backend.Buffer, rows, cols int) {
	xx := snap(x, rows*cols)
	yy := get(y, rows*cols)
	for i := 0; i < rows; i++ {
		var sum float32
		for j := 0; j < cols; j++ {
			yy[i*cols+j] = float32(math.Exp(float64(xx[i*cols+j])))
			sum += yy[i*cols+j]
		}
		for j := 0; j < cols; j++ {
			yy[i*cols+j] /= sum
		}
	}
}

type adamNoBiasCorrection struct{ fake }

func (adamNoBiasCorrection) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	pp, gg, mm, vv := get(param, n), get(grad, n), get(m, n), get(v, n)
	for i := 0; i < n; i++ {
		g := gg[i]
		if cfg.Decoupled {
			pp[i] *= 1 - cfg.LR*cfg.WeightDecay
		} else {
			g += cfg.WeightDecay * pp[i]
		}
		mm[i] = cfg.Beta1*mm[i] + (1-cfg.Beta1)*g
		vv[i] = cfg.Beta2*vv[i] + (1-cfg.Beta2)*g*g
		pp[i] -= cfg.LR * mm[i] / (float32(math.Sqrt(float64(vv[i]))) + cfg.Eps)
	}
}

type adamWAsAdam struct{ fake }

func (f adamWAsAdam) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	cfg.Decoupled = false
	f.fake.AdamStep(param, grad, m, v, n, cfg)
}

type sgdNesterovIgnored struct{ fake }

func (f sgdNesterovIgnored) SGDStep(param, grad, velocity backend.Buffer, n int, cfg backend.SGDConfig) {
	cfg.Nesterov = false
	f.fake.SGDStep(param, grad, velocity, n, cfg)
}

// sgdAlwaysMomentum runs v = Momentum*v + g even for Momentum 0, reading
// (and writing) the unused velocity.
type sgdAlwaysMomentum struct{ fake }

func (sgdAlwaysMomentum) SGDStep(param, grad, velocity backend.Buffer, n int, cfg backend.SGDConfig) {
	pp, gg, vv := get(param, n), get(grad, n), get(velocity, n)
	for i := 0; i < n; i++ {
		g := gg[i] + cfg.WeightDecay*pp[i]
		vv[i] = cfg.Momentum*vv[i] + g
		if cfg.Nesterov {
			g += cfg.Momentum * vv[i]
		} else {
			g = vv[i]
		}
		pp[i] -= cfg.LR * g
	}
}

type countCorrectOffByOne struct{ fake }

func (f countCorrectOffByOne) CountCorrect(x, labels, out backend.Buffer, rows, cols int) {
	f.fake.CountCorrect(x, labels, out, rows, cols)
	get(out, 1)[0]++
}

// countCorrectTiesHigh breaks ties toward the highest index.
type countCorrectTiesHigh struct{ fake }

func (f countCorrectTiesHigh) CountCorrect(x, labels, out backend.Buffer, rows, cols int) {
	if cols == 1 {
		f.fake.CountCorrect(x, labels, out, rows, cols)
		return
	}
	xx, ll := get(x, rows*cols), get(labels, rows)
	for i := 0; i < rows; i++ {
		best := 0
		for j := 1; j < cols; j++ {
			if xx[i*cols+j] >= xx[i*cols+best] {
				best = j
			}
		}
		if float32(best) == ll[i] {
			get(out, 1)[0]++
		}
	}
}

// countCorrectBinaryGE predicts 1 for x >= 0.
type countCorrectBinaryGE struct{ fake }

func (f countCorrectBinaryGE) CountCorrect(x, labels, out backend.Buffer, rows, cols int) {
	if cols != 1 {
		f.fake.CountCorrect(x, labels, out, rows, cols)
		return
	}
	xx, ll := get(x, rows), get(labels, rows)
	for i := 0; i < rows; i++ {
		pred := float32(0)
		if xx[i] >= 0 {
			pred = 1
		}
		if pred == ll[i] {
			get(out, 1)[0]++
		}
	}
}

type argmaxTiesHigh struct{ fake }

func (argmaxTiesHigh) ArgmaxRows(x, out backend.Buffer, rows, cols int) {
	xx, oo := get(x, rows*cols), get(out, rows)
	for i := 0; i < rows; i++ {
		best := 0
		for j := 1; j < cols; j++ {
			if xx[i*cols+j] >= xx[i*cols+best] {
				best = j
			}
		}
		oo[i] = float32(best)
	}
}

type mseGradMissing2 struct{ fake }

func (f mseGradMissing2) MSE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	f.fake.MSE(pred, target, grad, lossSum, rows, cols)
	gg := get(grad, rows*cols)
	for i := 0; i < rows*cols; i++ {
		gg[i] /= 2
	}
}

// maeGradSignGE gives +1/n where pred == target.
type maeGradSignGE struct{ fake }

func (f maeGradSignGE) MAE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	f.fake.MAE(pred, target, grad, lossSum, rows, cols)
	pp, tt, gg := get(pred, rows*cols), get(target, rows*cols), get(grad, rows*cols)
	for i := 0; i < rows*cols; i++ {
		if pp[i] == tt[i] {
			gg[i] = 1 / float32(rows*cols)
		}
	}
}

// ceLossOverwrites stores the loss sum instead of adding it.
type ceLossOverwrites struct{ fake }

func (f ceLossOverwrites) SoftmaxCrossEntropy(logits, labels, grad, lossSum backend.Buffer, rows, cols int) {
	get(lossSum, 1)[0] = 0
	f.fake.SoftmaxCrossEntropy(logits, labels, grad, lossSum, rows, cols)
}

// ceGradNotMean forgets the 1/rows of the mean reduction.
type ceGradNotMean struct{ fake }

func (f ceGradNotMean) SoftmaxCrossEntropy(logits, labels, grad, lossSum backend.Buffer, rows, cols int) {
	f.fake.SoftmaxCrossEntropy(logits, labels, grad, lossSum, rows, cols)
	gg := get(grad, rows*cols)
	for i := 0; i < rows*cols; i++ {
		gg[i] *= float32(rows)
	}
}

// bceNaive computes the loss as z - z*t + log(1 + exp(-z)) in float32,
// which overflows for large negative logits.
type bceNaive struct{ fake }

func (bceNaive) BCEWithLogits(logits, targets, grad, lossSum backend.Buffer, rows, cols int) {
	n := rows * cols
	zz, tt := snap(logits, n), snap(targets, n)
	_, g := ref.BCEWithLogits(zz, tt, rows, cols)
	store(get(grad, n), g)
	var sum float32
	for i := 0; i < n; i++ {
		e := float32(math.Exp(float64(-zz[i])))
		sum += (zz[i] - zz[i]*tt[i] + float32(math.Log(float64(1+e)))) / float32(cols)
	}
	get(lossSum, 1)[0] += sum
}

type sumSquaresOverwrites struct{ fake }

func (f sumSquaresOverwrites) SumSquares(x backend.Buffer, n int, out backend.Buffer) {
	get(out, 1)[0] = 0
	f.fake.SumSquares(x, n, out)
}

// reluBackwardGE passes the gradient through at x == 0.
type reluBackwardGE struct{ fake }

func (f reluBackwardGE) ActivateBackward(act backend.Activation, slope float32, x, y, dy, dx backend.Buffer, n int) {
	if act != backend.ReLU {
		f.fake.ActivateBackward(act, slope, x, y, dy, dx, n)
		return
	}
	xx, dyy, dxx := get(x, n), snap(dy, n), get(dx, n)
	for i := 0; i < n; i++ {
		dxx[i] = 0
		if xx[i] >= 0 {
			dxx[i] = dyy[i]
		}
	}
}

// geluBackwardWrong drops the factor 3 of d/dx (x + 0.044715 x^3).
type geluBackwardWrong struct{ fake }

func (f geluBackwardWrong) ActivateBackward(act backend.Activation, slope float32, x, y, dy, dx backend.Buffer, n int) {
	if act != backend.GELU {
		f.fake.ActivateBackward(act, slope, x, y, dy, dx, n)
		return
	}
	xx, dyy, dxx := get(x, n), snap(dy, n), get(dx, n)
	c := math.Sqrt(2 / math.Pi)
	for i := 0; i < n; i++ {
		v := float64(xx[i])
		t := math.Tanh(c * (v + 0.044715*v*v*v))
		dxx[i] = dyy[i] * float32(0.5*(1+t)+0.5*v*(1-t*t)*c*(1+0.044715*v*v))
	}
}

type leakyFixedSlope struct{ fake }

func (f leakyFixedSlope) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	f.fake.Activate(act, 0.01, x, y, n)
}

// reluUsesSlope treats ReLU as LeakyReLU with the (ignored) slope.
type reluUsesSlope struct{ fake }

func (f reluUsesSlope) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	if act == backend.ReLU {
		act = backend.LeakyReLU
	}
	f.fake.Activate(act, slope, x, y, n)
}

// tanhNaive computes (e^2x - 1)/(e^2x + 1) in float32: NaN for large x.
type tanhNaive struct{ fake }

func (f tanhNaive) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	if act != backend.Tanh {
		f.fake.Activate(act, slope, x, y, n)
		return
	}
	xx, yy := snap(x, n), get(y, n)
	for i := 0; i < n; i++ {
		e := float32(math.Exp(2 * float64(xx[i])))
		yy[i] = (e - 1) / (e + 1)
	}
}

// biasActivateKeepsZ writes y = f(z + bias) but leaves z without the bias.
type biasActivateKeepsZ struct{ fake }

func (f biasActivateKeepsZ) BiasActivate(act backend.Activation, slope float32, z, bias, y backend.Buffer, rows, cols int) {
	zz := get(z, rows*cols)
	zb, _ := ref.BiasActivate(act, float64(slope), zz, get(bias, cols), rows, cols)
	store(get(y, rows*cols), ref.Activate(act, float64(slope), narrow(zb)))
}

// addBiasWrongIndex adds bias[i mod cols] (the row index) instead of bias[j].
type addBiasWrongIndex struct{ fake }

func (addBiasWrongIndex) AddBias(x, bias backend.Buffer, rows, cols int) {
	xx, bb := get(x, rows*cols), get(bias, cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			xx[i*cols+j] += bb[i%cols]
		}
	}
}

// addClearsFirst zeroes c before accumulating a and b into it, which is
// wrong when c aliases an input.
type addClearsFirst struct{ fake }

func (addClearsFirst) Add(a, b, c backend.Buffer, n int) {
	aa, bb, cc := get(a, n), get(b, n), get(c, n)
	for i := 0; i < n; i++ {
		cc[i] = 0
		cc[i] += aa[i]
		cc[i] += bb[i]
	}
}

type mulAdds struct{ fake }

func (f mulAdds) Mul(a, b, c backend.Buffer, n int) { f.fake.Add(a, b, c, n) }

// scaleWholeBuffer ignores n and scales the whole buffer.
type scaleWholeBuffer struct{ fake }

func (f scaleWholeBuffer) Scale(x backend.Buffer, alpha float32, n int) {
	f.fake.Scale(x, alpha, x.Len())
}

type axpyWrongSign struct{ fake }

func (f axpyWrongSign) Axpy(alpha float32, x, y backend.Buffer, n int) { f.fake.Axpy(-alpha, x, y, n) }

type fillShort struct{ fake }

func (f fillShort) Fill(x backend.Buffer, v float32, n int) { f.fake.Fill(x, v, max(n-1, 0)) }

// copyWholeBuffer ignores n and copies as much as both buffers hold.
type copyWholeBuffer struct{ fake }

func (f copyWholeBuffer) Copy(dst, src backend.Buffer, n int) {
	f.fake.Copy(dst, src, min(dst.Len(), src.Len()))
}

// downloadLosesNegativeZero adds 0 on the way out, turning -0 into +0.
type downloadLosesNegativeZero struct{ fake }

func (f downloadLosesNegativeZero) Download(dst []float32, src backend.Buffer) {
	f.fake.Download(dst, src)
	for i := range dst {
		dst[i] += 0
	}
}

// allocRecycles hands out freed buffers without zeroing them.
type allocRecycles struct {
	fake
	pool *[]*fakeBuf
}

func (f allocRecycles) Alloc(n int) backend.Buffer {
	for i, b := range *f.pool {
		if len(b.data) >= n {
			*f.pool = append((*f.pool)[:i], (*f.pool)[i+1:]...)
			return &fakeBuf{data: b.data[:n]}
		}
	}
	return f.fake.Alloc(n)
}

func (f allocRecycles) Free(b backend.Buffer) {
	f.fake.Free(b)
	*f.pool = append(*f.pool, b.(*fakeBuf))
}

// mulPanics panics, as a kernel with a bad bounds check would: the check
// must report it as a failure, not crash.
type mulPanics struct{ fake }

func (mulPanics) Mul(a, b, c backend.Buffer, n int) { panic("index out of range") }

// softmaxBackwardNoSum computes dx = y*dy, forgetting the row sum.
type softmaxBackwardNoSum struct{ fake }

func (softmaxBackwardNoSum) SoftmaxBackward(y, dy, dx backend.Buffer, rows, cols int) {
	store(get(dx, rows*cols), ref.Mul(get(y, rows*cols)[:rows*cols], get(dy, rows*cols)))
}

// dropoutUnscaled keeps elements at 1 instead of 1/(1-p).
type dropoutUnscaled struct{ fake }

func (f dropoutUnscaled) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	f.fake.DropoutMask(mask, n, p, seed)
	mm := get(mask, n)
	for i := 0; i < n; i++ {
		if mm[i] != 0 {
			mm[i] = 1
		}
	}
}

// dropoutDropsAtP drops where the draw is <= p, not < p.
type dropoutDropsAtP struct{ fake }

func (f dropoutDropsAtP) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	f.fake.DropoutMask(mask, n, p, seed)
	mm := get(mask, n)
	for i := 0; i < n; i++ {
		if backend.DropoutUniform(seed, i) == p {
			mm[i] = 0
		}
	}
}

// dropoutKeepInFloat32 computes the kept value 1/(1-p) in float32
// arithmetic, which is off by an ulp for some p: the mask is defined bit
// for bit.
type dropoutKeepInFloat32 struct{ fake }

func (f dropoutKeepInFloat32) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	f.fake.DropoutMask(mask, n, p, seed)
	mm := get(mask, n)
	one := float32(1)
	keep := one / (one - p)
	for i := 0; i < n; i++ {
		if mm[i] != 0 {
			mm[i] = keep
		}
	}
}

// bnBiasedRunVar moves the running variance toward the biased batch
// variance instead of the unbiased one.
type bnBiasedRunVar struct{ fake }

func (f bnBiasedRunVar) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	rv0 := snap(runVar, cols)
	f.fake.BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar, rows, cols, momentum, eps, training)
	if !training || rows < 2 {
		return
	}
	_, variance, _ := bnStats(get(x, rows*cols), rows, cols)
	rv := get(runVar, cols)
	for j := 0; j < cols; j++ {
		rv[j] = float32((1-float64(momentum))*float64(rv0[j]) + float64(momentum)*variance[j])
	}
}

// bnEvalUsesBatchStats normalises with the batch statistics in evaluation
// too (but leaves the running statistics alone).
type bnEvalUsesBatchStats struct{ fake }

func (f bnEvalUsesBatchStats) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	if training || rows < 2 {
		f.fake.BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar, rows, cols, momentum, eps, training)
		return
	}
	out := ref.BatchNormForward(get(x, rows*cols), get(gamma, cols), get(beta, cols), get(runMean, cols), get(runVar, cols), rows, cols, 0, float64(eps), true)
	store(get(y, rows*cols), out.Y)
	store(get(mean, cols), out.Mean)
	store(get(invStd, cols), out.InvStd)
}

// bnOneRowAccepted returns quietly (as if the batch were empty) when
// training on one row.
type bnOneRowAccepted struct{ fake }

func (f bnOneRowAccepted) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	if training && rows == 1 {
		return
	}
	f.fake.BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar, rows, cols, momentum, eps, training)
}

// bnBackwardNoXhat drops the xhat*sum(dy*xhat) term of dx.
type bnBackwardNoXhat struct{ fake }

func (f bnBackwardNoXhat) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
	dyy := snap(dy, rows*cols) // dx may be dy
	gg, ss := get(gamma, cols), get(invStd, cols)
	f.fake.BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta, rows, cols)
	dxx := get(dx, rows*cols)
	for j := 0; j < cols; j++ {
		sum := 0.0
		for i := 0; i < rows; i++ {
			sum += float64(dyy[i*cols+j])
		}
		k := float64(gg[j]) * float64(ss[j]) / float64(rows)
		for i := 0; i < rows; i++ {
			dxx[i*cols+j] = float32(k * (float64(rows)*float64(dyy[i*cols+j]) - sum))
		}
	}
}

// bnBackwardOverwritesGrads stores dGamma and dBeta instead of adding to
// them.
type bnBackwardOverwritesGrads struct{ fake }

func (f bnBackwardOverwritesGrads) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
	clear(get(dGamma, cols)[:cols])
	clear(get(dBeta, cols)[:cols])
	f.fake.BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta, rows, cols)
}

// softmaxAcceptsShortY returns quietly when y is too short for the
// sizes given, instead of panicking.
type softmaxAcceptsShortY struct{ fake }

func (f softmaxAcceptsShortY) Softmax(x, y backend.Buffer, rows, cols int) {
	if y.Len() < rows*cols {
		return
	}
	f.fake.Softmax(x, y, rows, cols)
}

// adamStep0Unnamed panics on step 0 with a message that does not say
// which operation was called.
type adamStep0Unnamed struct{ fake }

func (f adamStep0Unnamed) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	if cfg.Step < 1 {
		panic("step must be >= 1")
	}
	f.fake.AdamStep(param, grad, m, v, n, cfg)
}

// fault is a broken backend, the checks that must catch it, and checks of
// operations it does not break, which must still pass.
type fault struct {
	name     string
	b        backend.Backend
	mustFail []string
	mustPass []string
}

func TestFaultsDetected(t *testing.T) {
	faults := []fault{
		{"gemm ignores beta", gemmIgnoresBeta{}, []string{"GemmNN", "GemmNT", "GemmTN", "GemmTT", "GemmK0"}, []string{"GemmBetaZeroNaN"}},
		{"gemm ignores transB", gemmIgnoresTransB{}, []string{"GemmNT", "GemmTT"}, []string{"GemmNN", "GemmTN"}},
		{"gemm ignores transA", gemmIgnoresTransA{}, []string{"GemmTN", "GemmTT"}, []string{"GemmNN", "GemmNT"}},
		{"gemm reads C with beta 0", gemmReadsC{}, []string{"GemmBetaZeroNaN", "GemmK0"}, []string{"GemmNN"}},
		{"gemm writes past C", gemmWritesTail{}, []string{"GemmNN", "GemmTT", "GemmK0"}, nil},
		{"gemm in reduced precision", gemmCoarse{}, []string{"GemmNN", "GemmNT", "GemmTN", "GemmTT"}, nil},
		{"SumRows ignores beta", sumRowsIgnoresBeta{}, []string{"SumRows"}, nil},
		{"Softmax without max subtraction", softmaxNoMax{}, []string{"Softmax"}, nil},
		{"Adam without bias correction", adamNoBiasCorrection{}, []string{"AdamStep"}, nil},
		{"AdamW as Adam", adamWAsAdam{}, []string{"AdamStep"}, nil},
		{"SGD ignores Nesterov", sgdNesterovIgnored{}, []string{"SGDStep"}, nil},
		{"SGD reads velocity without momentum", sgdAlwaysMomentum{}, []string{"SGDStep"}, nil},
		{"CountCorrect off by one", countCorrectOffByOne{}, []string{"CountCorrect", "CountCorrectBinary"}, nil},
		{"CountCorrect ties to the highest index", countCorrectTiesHigh{}, []string{"CountCorrect"}, []string{"CountCorrectBinary"}},
		{"CountCorrect binary predicts x >= 0", countCorrectBinaryGE{}, []string{"CountCorrectBinary"}, []string{"CountCorrect"}},
		{"ArgmaxRows ties to the highest index", argmaxTiesHigh{}, []string{"ArgmaxRows"}, nil},
		{"MSE grad missing the factor 2", mseGradMissing2{}, []string{"MSE"}, nil},
		{"MAE grad nonzero at equality", maeGradSignGE{}, []string{"MAE"}, nil},
		{"cross-entropy overwrites lossSum", ceLossOverwrites{}, []string{"SoftmaxCrossEntropy"}, nil},
		{"cross-entropy grad not divided by rows", ceGradNotMean{}, []string{"SoftmaxCrossEntropy"}, nil},
		{"BCE in the naive form", bceNaive{}, []string{"BCEWithLogits"}, nil},
		{"SumSquares overwrites out[0]", sumSquaresOverwrites{}, []string{"SumSquares"}, nil},
		{"ReLU backward passes x == 0", reluBackwardGE{}, []string{"ActivateBackward"}, nil},
		{"GELU backward wrong", geluBackwardWrong{}, []string{"ActivateBackward"}, []string{"Activate"}},
		{"LeakyReLU with a fixed slope", leakyFixedSlope{}, []string{"Activate"}, nil},
		{"ReLU uses the slope", reluUsesSlope{}, []string{"Activate"}, nil},
		{"tanh in the naive form", tanhNaive{}, []string{"Activate"}, nil},
		{"BiasActivate leaves z without the bias", biasActivateKeepsZ{}, []string{"BiasActivate"}, nil},
		{"AddBias indexes bias by row", addBiasWrongIndex{}, []string{"AddBias"}, nil},
		{"Add broken under aliasing", addClearsFirst{}, []string{"Add"}, nil},
		{"Mul adds", mulAdds{}, []string{"Mul"}, []string{"Add"}},
		{"Scale ignores n", scaleWholeBuffer{}, []string{"Scale"}, nil},
		{"Axpy subtracts", axpyWrongSign{}, []string{"Axpy"}, nil},
		{"Fill one short", fillShort{}, []string{"Fill"}, nil},
		{"Copy ignores n", copyWholeBuffer{}, []string{"Copy"}, nil},
		{"Download loses -0", downloadLosesNegativeZero{}, []string{"UploadDownload"}, nil},
		{"Alloc recycles without zeroing", allocRecycles{pool: new([]*fakeBuf)}, []string{"Alloc"}, nil},
		{"Mul panics", mulPanics{}, []string{"Mul"}, []string{"Add"}},
		{"SoftmaxBackward without the row sum", softmaxBackwardNoSum{}, []string{"SoftmaxBackward"}, []string{"Softmax"}},
		{"DropoutMask not scaled by 1/(1-p)", dropoutUnscaled{}, []string{"DropoutMask"}, nil},
		{"DropoutMask drops where the draw equals p", dropoutDropsAtP{}, []string{"DropoutMask"}, nil},
		{"DropoutMask computes 1/(1-p) in float32", dropoutKeepInFloat32{}, []string{"DropoutMask"}, nil},
		{"BatchNorm running var from the biased variance", bnBiasedRunVar{}, []string{"BatchNormForward"}, []string{"BatchNormBackward"}},
		{"BatchNorm evaluation with batch statistics", bnEvalUsesBatchStats{}, []string{"BatchNormForward"}, []string{"BatchNormBackward"}},
		{"BatchNorm training on one row accepted", bnOneRowAccepted{}, []string{"BatchNormForward"}, nil},
		{"BatchNorm backward without the xhat term", bnBackwardNoXhat{}, []string{"BatchNormBackward"}, []string{"BatchNormForward"}},
		{"BatchNorm backward overwrites dGamma and dBeta", bnBackwardOverwritesGrads{}, []string{"BatchNormBackward"}, nil},
		{"Softmax accepts a short y", softmaxAcceptsShortY{}, []string{"Panics"}, []string{"Softmax"}},
		{"AdamStep step 0 panics without naming the operation", adamStep0Unnamed{}, []string{"Panics"}, []string{"AdamStep"}},
	}
	faults = append(faults, convFaults()...)
	checks := map[string]Check{}
	for _, c := range Checks() {
		checks[c.Name] = c
	}
	covered := map[string]bool{}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			for _, name := range f.mustFail {
				c, ok := checks[name]
				if !ok {
					t.Fatalf("no check %q", name)
				}
				covered[name] = true
				wb, cb := counting(f.b)
				err := c.Run(wb)
				if cb.live != 0 {
					t.Errorf("check %s left %d buffers allocated after failing", name, cb.live)
				}
				if err == nil {
					t.Errorf("check %s passed a backend whose fault is: %s", name, f.name)
					continue
				}
				if testing.Verbose() {
					t.Logf("%s: %v", name, err)
				}
			}
			for _, name := range f.mustPass {
				if err := checks[name].Run(f.b); err != nil {
					t.Errorf("check %s failed on an operation that is not broken: %v", name, err)
				}
			}
		})
	}
	// Every check must be shown able to fail.
	for name := range checks {
		if !covered[name] {
			t.Errorf("no fault exercises check %s", name)
		}
	}
}
