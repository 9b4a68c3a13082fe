package conformance

import (
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// f32 is a backend that computes the way a plain float32 kernel does:
// every intermediate rounded to float32, sums accumulated sequentially in
// float32, and transcendental functions off by up to 2 ulps, as vectorized
// approximations are. The suite must accept it: this keeps the tolerances
// honest for real backends, where the fake (float64 inside, one rounding at
// the end) cannot.
type f32 struct{ fake }

// approx returns v moved by -2..2 ulps, deterministically in v. Zeros,
// infinities and the saturated values +-1 stay exact, as they do in the
// approximations real kernels use.
func approx(v float32) float32 {
	if v == 0 || v == 1 || v == -1 || math.IsInf(float64(v), 0) || math.IsNaN(float64(v)) {
		return v
	}
	bits := math.Float32bits(v)
	k := int32(bits%5) - 2
	return math.Float32frombits(uint32(int32(bits) + k))
}

func exp32(x float32) float32  { return approx(float32(math.Exp(float64(x)))) }
func log32(x float32) float32  { return approx(float32(math.Log(float64(x)))) }
func tanh32(x float32) float32 { return max(-1, min(1, approx(float32(math.Tanh(float64(x)))))) }
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

func sigmoid32(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + exp32(-x))
	}
	e := exp32(x)
	return e / (1 + e)
}

var geluC32 = float32(math.Sqrt(2 / math.Pi))

func act32(act backend.Activation, slope, x float32) float32 {
	switch act {
	case backend.ReLU:
		if x > 0 {
			return x
		}
		return 0
	case backend.LeakyReLU:
		if x > 0 {
			return x
		}
		return slope * x
	case backend.Sigmoid:
		return sigmoid32(x)
	case backend.Tanh:
		return tanh32(x)
	case backend.GELU:
		return 0.5 * x * (1 + tanh32(geluC32*(x+0.044715*x*x*x)))
	}
	return x
}

func (f32) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	backend.CheckSizes("f32", "Gemm", m, n, k)
	aa, bb, cc := get(a, m*k), get(b, k*n), get(c, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var sum float32
			for p := 0; p < k; p++ {
				av, bv := aa[i*k+p], bb[p*n+j]
				if transA {
					av = aa[p*m+i]
				}
				if transB {
					bv = bb[j*k+p]
				}
				sum += av * bv
			}
			v := alpha * sum
			if beta != 0 {
				v += beta * cc[i*n+j]
			}
			cc[i*n+j] = v
		}
	}
}

func (f32) AddBias(x, bias backend.Buffer, rows, cols int) {
	xx, bb := get(x, rows*cols), get(bias, cols)
	for i := 0; i < rows*cols; i++ {
		xx[i] += bb[i%cols]
	}
}

func (f f32) BiasActivate(act backend.Activation, slope float32, z, bias, y backend.Buffer, rows, cols int) {
	f.AddBias(z, bias, rows, cols)
	f.Activate(act, slope, z, y, rows*cols)
}

func (f32) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	xx, yy := get(x, n), get(y, n)
	for i := 0; i < n; i++ {
		yy[i] = act32(act, slope, xx[i])
	}
}

// ActivateBackward uses y for sigmoid and tanh, as kernels usually do.
func (f32) ActivateBackward(act backend.Activation, slope float32, x, y, dy, dx backend.Buffer, n int) {
	xx, yy, dyy, dxx := get(x, n), get(y, n), get(dy, n), get(dx, n)
	for i := 0; i < n; i++ {
		var d float32
		switch act {
		case backend.Identity:
			d = 1
		case backend.ReLU:
			if yy[i] > 0 {
				d = 1
			}
		case backend.LeakyReLU:
			d = slope
			if xx[i] > 0 {
				d = 1
			}
		case backend.Sigmoid:
			d = yy[i] * (1 - yy[i])
		case backend.Tanh:
			d = 1 - yy[i]*yy[i]
		case backend.GELU:
			v := xx[i]
			t := tanh32(geluC32 * (v + 0.044715*v*v*v))
			d = 0.5*(1+t) + 0.5*v*(1-t*t)*geluC32*(1+3*0.044715*v*v)
		}
		dxx[i] = dyy[i] * d
	}
}

func softmaxRow32(x, y []float32) {
	mx := x[0]
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float32
	for j, v := range x {
		y[j] = exp32(v - mx)
		sum += y[j]
	}
	for j := range y {
		y[j] /= sum
	}
}

func (f32) Softmax(x, y backend.Buffer, rows, cols int) {
	xx, yy := get(x, rows*cols), get(y, rows*cols)
	for i := 0; i < rows; i++ {
		softmaxRow32(xx[i*cols:(i+1)*cols], yy[i*cols:(i+1)*cols])
	}
}

// SoftmaxBackward sums each row's dy*y sequentially in float32.
func (f32) SoftmaxBackward(y, dy, dx backend.Buffer, rows, cols int) {
	backend.CheckSizes("f32", "SoftmaxBackward", rows, cols)
	yy, dyy, dxx := get(y, rows*cols), get(dy, rows*cols), get(dx, rows*cols)
	for i := 0; i < rows; i++ {
		var dot float32
		for j := i * cols; j < (i+1)*cols; j++ {
			dot += dyy[j] * yy[j]
		}
		for j := i * cols; j < (i+1)*cols; j++ {
			dxx[j] = yy[j] * (dyy[j] - dot)
		}
	}
}

// DropoutMask is exact by definition: the same in every backend.
func (f32) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	mm := get(mask, n)
	backend.CheckDropoutP("f32", p)
	keep := float32(1 / (1 - float64(p)))
	for i := 0; i < n; i++ {
		mm[i] = keep
		if backend.DropoutUniform(seed, i) < p {
			mm[i] = 0
		}
	}
}

// BatchNormForward sums each column sequentially in float32 (the mean,
// then the squared deviations from it), takes an approximate reciprocal
// square root, and computes y in the fused form x*a + b with
// a = gamma*invStd and b = beta - mean*a.
func (f32) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	backend.CheckSizes("f32", "BatchNormForward", rows, cols)
	xx, yy := get(x, rows*cols), get(y, rows*cols)
	gg, bb, mm, ss := get(gamma, cols), get(beta, cols), get(mean, cols), get(invStd, cols)
	rm, rv := get(runMean, cols), get(runVar, cols)
	backend.CheckBatchNormRows("f32", rows, training)
	if rows == 0 {
		return
	}
	n := float32(rows)
	for j := 0; j < cols; j++ {
		var m, v float32
		if training {
			for i := 0; i < rows; i++ {
				m += xx[i*cols+j]
			}
			m /= n
			for i := 0; i < rows; i++ {
				d := xx[i*cols+j] - m
				v += d * d
			}
			v /= n
			rm[j] = (1-momentum)*rm[j] + momentum*m
			rv[j] = (1-momentum)*rv[j] + momentum*(v*n/float32(rows-1))
		} else {
			m, v = rm[j], rv[j]
		}
		s := approx(1 / sqrt32(v+eps))
		mm[j], ss[j] = m, s
		a := gg[j] * s
		b := bb[j] - m*a
		for i := 0; i < rows; i++ {
			yy[i*cols+j] = xx[i*cols+j]*a + b
		}
	}
}

// BatchNormBackward sums each column sequentially in float32.
func (f32) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
	xx, dyy, dxx := get(x, rows*cols), get(dy, rows*cols), get(dx, rows*cols)
	gg, mm, ss := get(gamma, cols), get(mean, cols), get(invStd, cols)
	dg, db := get(dGamma, cols), get(dBeta, cols)
	n := float32(rows)
	for j := 0; j < cols; j++ {
		var sumDy, sumDyXhat float32
		for i := 0; i < rows; i++ {
			d := dyy[i*cols+j]
			sumDy += d
			sumDyXhat += d * ((xx[i*cols+j] - mm[j]) * ss[j])
		}
		dg[j] += sumDyXhat
		db[j] += sumDy
		k := gg[j] * ss[j] / n
		for i := 0; i < rows; i++ {
			xhat := (xx[i*cols+j] - mm[j]) * ss[j]
			dxx[i*cols+j] = k * (n*dyy[i*cols+j] - sumDy - xhat*sumDyXhat)
		}
	}
}

func (f32) Axpy(alpha float32, x, y backend.Buffer, n int) {
	xx, yy := get(x, n), get(y, n)
	for i := 0; i < n; i++ {
		yy[i] += float32(alpha * xx[i])
	}
}

func (f32) SumRows(x, out backend.Buffer, rows, cols int, beta float32) {
	xx, oo := get(x, rows*cols), get(out, cols)
	for j := 0; j < cols; j++ {
		var sum float32
		for i := 0; i < rows; i++ {
			sum += xx[i*cols+j]
		}
		if beta != 0 {
			sum += beta * oo[j]
		}
		oo[j] = sum
	}
}

func (f32) SumSquares(x backend.Buffer, n int, out backend.Buffer) {
	xx, oo := get(x, n), get(out, 1)
	var sum float32
	for i := 0; i < n; i++ {
		sum += xx[i] * xx[i]
	}
	oo[0] += sum
}

func (f32) SoftmaxCrossEntropy(logits, labels, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("f32", "SoftmaxCrossEntropy", rows, cols)
	xx, ll, gg, ls := get(logits, rows*cols), get(labels, rows), get(grad, rows*cols), get(lossSum, 1)
	var total float32
	for i := 0; i < rows; i++ {
		row := xx[i*cols : (i+1)*cols]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var sum float32
		for _, v := range row {
			sum += exp32(v - mx)
		}
		label := int(ll[i])
		total += mx + log32(sum) - row[label]
		g := gg[i*cols : (i+1)*cols]
		softmaxRow32(row, g)
		g[label] -= 1
		for j := range g {
			g[j] /= float32(rows)
		}
	}
	ls[0] += total
}

func (f32) BCEWithLogits(logits, targets, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("f32", "BCEWithLogits", rows, cols)
	n := rows * cols
	zz, tt, gg, ls := get(logits, n), get(targets, n), get(grad, n), get(lossSum, 1)
	var total float32
	for i := 0; i < n; i++ {
		z, t := zz[i], tt[i]
		l := max(z, 0) - z*t + approx(float32(math.Log1p(float64(exp32(-float32(math.Abs(float64(z))))))))
		total += l / float32(cols)
		gg[i] = (sigmoid32(z) - t) / float32(n)
	}
	ls[0] += total
}

func (f32) MSE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("f32", "MSE", rows, cols)
	n := rows * cols
	pp, tt, gg, ls := get(pred, n), get(target, n), get(grad, n), get(lossSum, 1)
	var total float32
	scale := 2 / float32(n)
	for i := 0; i < n; i++ {
		d := pp[i] - tt[i]
		total += d * d / float32(cols)
		gg[i] = scale * d
	}
	ls[0] += total
}

func (f32) MAE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	backend.CheckSizes("f32", "MAE", rows, cols)
	n := rows * cols
	pp, tt, gg, ls := get(pred, n), get(target, n), get(grad, n), get(lossSum, 1)
	var total float32
	inv := 1 / float32(n)
	for i := 0; i < n; i++ {
		d := pp[i] - tt[i]
		gg[i] = 0
		switch {
		case d > 0:
			total += d / float32(cols)
			gg[i] = inv
		case d < 0:
			total -= d / float32(cols)
			gg[i] = -inv
		}
	}
	ls[0] += total
}

func (f32) SGDStep(param, grad, velocity backend.Buffer, n int, cfg backend.SGDConfig) {
	pp, gg := get(param, n), get(grad, n)
	var vv []float32
	if cfg.Momentum != 0 {
		vv = get(velocity, n)
	}
	for i := 0; i < n; i++ {
		g := gg[i] + cfg.WeightDecay*pp[i]
		if cfg.Momentum != 0 {
			vv[i] = cfg.Momentum*vv[i] + g
			if cfg.Nesterov {
				g += cfg.Momentum * vv[i]
			} else {
				g = vv[i]
			}
		}
		pp[i] -= cfg.LR * g
	}
}

func (f32) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	pp, gg, mm, vv := get(param, n), get(grad, n), get(m, n), get(v, n)
	backend.CheckAdamStep("f32", cfg.Step)
	p1, p2 := float32(1), float32(1)
	for s := 0; s < cfg.Step; s++ {
		p1 *= cfg.Beta1
		p2 *= cfg.Beta2
	}
	bc1, bc2 := 1-p1, 1-p2
	stepSize := cfg.LR / bc1
	sqrtBC2 := sqrt32(bc2)
	for i := 0; i < n; i++ {
		g := gg[i]
		if cfg.Decoupled {
			pp[i] *= 1 - cfg.LR*cfg.WeightDecay
		} else {
			g += cfg.WeightDecay * pp[i]
		}
		mm[i] = cfg.Beta1*mm[i] + (1-cfg.Beta1)*g
		vv[i] = cfg.Beta2*vv[i] + (1-cfg.Beta2)*g*g
		pp[i] -= stepSize * mm[i] / (sqrt32(vv[i])/sqrtBC2 + cfg.Eps)
	}
}

// TestFloat32BackendPasses runs the suite on f32.
func TestFloat32BackendPasses(t *testing.T) {
	Run(t, f32{})
}
