// Package ref is a plain-Go reference for every operation of
// backend.Backend. It takes float32 inputs, as a backend stores them,
// computes and accumulates in float64, and returns float64 results, so that
// a backend's float32 results can be compared with it under a tolerance
// (see Close and GemmErrorBound).
//
// The code is written for clarity, not speed: the obvious loops, with the
// formulas of the doc comments in package backend (PyTorch semantics). The
// functions never modify their inputs; they return new slices.
//
// Sizes follow the backend's conventions: matrices are row-major and densely
// packed, and an input may be longer than the operation needs, never
// shorter (a short input panics).
package ref

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// Unit is the unit roundoff of float32, 2^-24: the largest relative error
// of rounding a real number (in the normal range) to the nearest float32.
const Unit = 0x1p-24

// Gamma returns n*Unit/(1-n*Unit), the classical bound on the relative error
// accumulated by n successive float32 roundings (Higham's gamma_n). It
// returns +Inf when n*Unit >= 1.
func Gamma(n int) float64 {
	if n <= 0 {
		return 0
	}
	nu := float64(n) * Unit
	if nu >= 1 {
		return math.Inf(1)
	}
	return nu / (1 - nu)
}

// Close reports whether got matches want within |got-want| <= atol +
// rtol*|want|. NaN is never close to anything; equal values (including
// equal infinities) are always close, and an infinity is close only to
// itself.
func Close(got float32, want, atol, rtol float64) bool {
	g := float64(got)
	if math.IsNaN(g) || math.IsNaN(want) {
		return false
	}
	if g == want {
		return true
	}
	if math.IsInf(g, 0) || math.IsInf(want, 0) {
		return false
	}
	return math.Abs(g-want) <= atol+rtol*math.Abs(want)
}

func need(op, name string, x []float32, n int) {
	if n < 0 {
		panic(fmt.Sprintf("ref.%s: negative size %d", op, n))
	}
	if len(x) < n {
		panic(fmt.Sprintf("ref.%s: %s has %d elements, need %d", op, name, len(x), n))
	}
}

func dims(op string, sizes ...int) {
	for _, s := range sizes {
		if s < 0 {
			panic(fmt.Sprintf("ref.%s: negative size %d", op, s))
		}
	}
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// opA returns element (i, p) of op(A), where op(A) is m x k.
func opA(transA bool, a []float32, m, k, i, p int) float64 {
	if transA { // A is stored k x m
		return float64(a[p*m+i])
	}
	return float64(a[i*k+p])
}

// opB returns element (p, j) of op(B), where op(B) is k x n.
func opB(transB bool, b []float32, k, n, p, j int) float64 {
	if transB { // B is stored n x k
		return float64(b[j*k+p])
	}
	return float64(b[p*n+j])
}

// Gemm returns C = alpha*op(A)*op(B) + beta*C as an m x n matrix (m*n
// elements). op(A) is m x k: A is stored m x k, or k x m when transA is set.
// op(B) is k x n: B is stored k x n, or n x k when transB is set. With
// beta == 0, c is not read (it may be nil, and NaNs in it do not propagate).
func Gemm(transA, transB bool, m, n, k int, alpha float64, a, b []float32, beta float64, c []float32) []float64 {
	dims("Gemm", m, n, k)
	need("Gemm", "a", a, m*k)
	need("Gemm", "b", b, k*n)
	if beta != 0 {
		need("Gemm", "c", c, m*n)
	}
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			sum := 0.0
			for p := 0; p < k; p++ {
				sum += opA(transA, a, m, k, i, p) * opB(transB, b, k, n, p, j)
			}
			v := alpha * sum
			if beta != 0 {
				v += beta * float64(c[i*n+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// GemmErrorBound returns, for each element of the m x n result of Gemm with
// the same arguments, a bound on the error of a float32 implementation:
//
//	Gamma(k+4) * (|alpha| * sum_p |op(A)[i,p] * op(B)[p,j]| + |beta * C[i,j]|)
//
// This is the worst-case bound of a float32 dot product of length k (k
// roundings, whatever the summation order, with or without fused
// multiply-adds) plus the roundings of the scaling by alpha and beta and of
// the final addition, so it grows with k. As in Gemm, c is not read when
// beta == 0.
func GemmErrorBound(transA, transB bool, m, n, k int, alpha float64, a, b []float32, beta float64, c []float32) []float64 {
	dims("GemmErrorBound", m, n, k)
	need("GemmErrorBound", "a", a, m*k)
	need("GemmErrorBound", "b", b, k*n)
	if beta != 0 {
		need("GemmErrorBound", "c", c, m*n)
	}
	g := Gamma(k + 4)
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			abs := 0.0
			for p := 0; p < k; p++ {
				abs += math.Abs(opA(transA, a, m, k, i, p) * opB(transB, b, k, n, p, j))
			}
			s := math.Abs(alpha) * abs
			if beta != 0 {
				s += math.Abs(beta * float64(c[i*n+j]))
			}
			out[i*n+j] = g * s
		}
	}
	return out
}

// AddBias returns x[i,j] + bias[j] for the rows x cols matrix x.
func AddBias(x, bias []float32, rows, cols int) []float64 {
	dims("AddBias", rows, cols)
	need("AddBias", "x", x, rows*cols)
	need("AddBias", "bias", bias, cols)
	out := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[i*cols+j] = float64(x[i*cols+j]) + float64(bias[j])
		}
	}
	return out
}

// BiasActivate returns both results of the fused operation: z, the
// pre-activation z[i,j] + bias[j], and y = f(z).
func BiasActivate(act backend.Activation, slope float64, z, bias []float32, rows, cols int) (zOut, y []float64) {
	zOut = AddBias(z, bias, rows, cols)
	y = make([]float64, len(zOut))
	for i, v := range zOut {
		y[i] = Apply(act, slope, v)
	}
	return zOut, y
}

// geluC is sqrt(2/pi), the constant of GELU's tanh form.
var geluC = math.Sqrt(2 / math.Pi)

// Sigmoid returns 1/(1+exp(-x)), computed without overflow for any x.
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Apply returns f(x) for one value. slope is used by LeakyReLU alone.
func Apply(act backend.Activation, slope, x float64) float64 {
	switch act {
	case backend.Identity:
		return x
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
		return Sigmoid(x)
	case backend.Tanh:
		return math.Tanh(x)
	case backend.GELU:
		return 0.5 * x * (1 + math.Tanh(geluC*(x+0.044715*x*x*x)))
	}
	panic(fmt.Sprintf("ref: unknown activation %v", act))
}

// Derivative returns f'(x) for one value. At the kink of ReLU and LeakyReLU
// (x == 0) it follows PyTorch: the derivative is that of the x <= 0 side,
// 0 for ReLU and slope for LeakyReLU.
func Derivative(act backend.Activation, slope, x float64) float64 {
	switch act {
	case backend.Identity:
		return 1
	case backend.ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case backend.LeakyReLU:
		if x > 0 {
			return 1
		}
		return slope
	case backend.Sigmoid:
		s := Sigmoid(x)
		return s * (1 - s)
	case backend.Tanh:
		t := math.Tanh(x)
		return 1 - t*t
	case backend.GELU:
		t := math.Tanh(geluC * (x + 0.044715*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*geluC*(1+3*0.044715*x*x)
	}
	panic(fmt.Sprintf("ref: unknown activation %v", act))
}

// Activate returns f(x[i]) for every element of x.
func Activate(act backend.Activation, slope float64, x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = Apply(act, slope, float64(v))
	}
	return out
}

// ActivateBackward returns dy[i] * f'(x[i]) for every element of x.
func ActivateBackward(act backend.Activation, slope float64, x, dy []float32) []float64 {
	need("ActivateBackward", "dy", dy, len(x))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(dy[i]) * Derivative(act, slope, float64(v))
	}
	return out
}

// Softmax returns softmax(x[i,:]) for each row of the rows x cols matrix x,
// computed as exp(x - max) / sum exp(x - max), which cannot overflow.
func Softmax(x []float32, rows, cols int) []float64 {
	dims("Softmax", rows, cols)
	need("Softmax", "x", x, rows*cols)
	out := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		sum := 0.0
		for j, v := range row {
			e := math.Exp(float64(v) - mx)
			out[i*cols+j] = e
			sum += e
		}
		for j := range row {
			out[i*cols+j] /= sum
		}
	}
	return out
}

// SoftmaxBackward returns dx[i,j] = y[i,j] * (dy[i,j] - sum_k dy[i,k]*y[i,k])
// for the rows x cols matrices y (the softmax output) and dy.
func SoftmaxBackward(y, dy []float32, rows, cols int) []float64 {
	dims("SoftmaxBackward", rows, cols)
	need("SoftmaxBackward", "y", y, rows*cols)
	need("SoftmaxBackward", "dy", dy, rows*cols)
	out := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		dot := 0.0
		for j := 0; j < cols; j++ {
			dot += float64(dy[i*cols+j]) * float64(y[i*cols+j])
		}
		for j := 0; j < cols; j++ {
			out[i*cols+j] = float64(y[i*cols+j]) * (float64(dy[i*cols+j]) - dot)
		}
	}
	return out
}

// DropoutMask returns the n-element inverted-dropout mask for drop
// probability p (a float32 widened, as the backend receives it) and seed:
// 0 where the element's uniform draw is below p, 1/(1-p) elsewhere.
//
// The draws come from a SplitMix64 generator started at seed, run forward
// one output per element (element i takes the (i+1)-th output's top 24
// bits, times 2^-24): the sequential form of backend.DropoutUniform, which
// computes the same draw from (seed, i) alone. p must be in [0, 1).
func DropoutMask(n int, p float64, seed uint64) []float64 {
	dims("DropoutMask", n)
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("ref.DropoutMask: p = %v, want 0 <= p < 1", p))
	}
	keep := 1 / (1 - p)
	out := make([]float64, n)
	state := seed
	for i := range out {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>40) / (1 << 24)
		if u >= p {
			out[i] = keep
		}
	}
	return out
}

// BatchNormOut holds the results of BatchNormForward, each as a backend
// writes it: Y (rows*cols), Mean and InvStd (cols; nil for rows == 0, when
// nothing is written), and the running statistics after the call, RunMean
// and RunVar (cols).
type BatchNormOut struct {
	Y, Mean, InvStd, RunMean, RunVar []float64
}

// BatchNormForward returns the results of batch normalisation of the
// columns of the rows x cols matrix x, with PyTorch's BatchNorm1d
// semantics. With training, the column mean and biased variance of the
// batch give Mean and InvStd = 1/sqrt(var+eps), and the running statistics
// move toward the mean and the unbiased variance var*rows/(rows-1) by
// momentum; training with rows == 1 panics. Without training, Mean = runMean and InvStd =
// 1/sqrt(runVar+eps), and the running statistics are returned unchanged.
// In both modes Y = gamma*(x-Mean)*InvStd + beta; rows == 0 changes
// nothing (Mean and InvStd are nil).
func BatchNormForward(x, gamma, beta, runMean, runVar []float32, rows, cols int, momentum, eps float64, training bool) BatchNormOut {
	dims("BatchNormForward", rows, cols)
	need("BatchNormForward", "x", x, rows*cols)
	need("BatchNormForward", "gamma", gamma, cols)
	need("BatchNormForward", "beta", beta, cols)
	need("BatchNormForward", "runMean", runMean, cols)
	need("BatchNormForward", "runVar", runVar, cols)
	if training && rows == 1 {
		panic("ref.BatchNormForward: training needs more than one row (one value per column has no variance)")
	}
	out := BatchNormOut{
		Y:       make([]float64, rows*cols),
		RunMean: widen(runMean[:cols]),
		RunVar:  widen(runVar[:cols]),
	}
	if rows == 0 {
		return out // a zero size: nothing is written
	}
	out.Mean, out.InvStd = make([]float64, cols), make([]float64, cols)
	n := float64(rows)
	for j := 0; j < cols; j++ {
		var mean, variance float64
		if training {
			for i := 0; i < rows; i++ {
				mean += float64(x[i*cols+j])
			}
			mean /= n
			for i := 0; i < rows; i++ {
				d := float64(x[i*cols+j]) - mean
				variance += d * d
			}
			variance /= n
			out.RunMean[j] = (1-momentum)*float64(runMean[j]) + momentum*mean
			out.RunVar[j] = (1-momentum)*float64(runVar[j]) + momentum*variance*n/(n-1)
		} else {
			mean, variance = float64(runMean[j]), float64(runVar[j])
		}
		invStd := 1 / math.Sqrt(variance+eps)
		out.Mean[j], out.InvStd[j] = mean, invStd
		for i := 0; i < rows; i++ {
			xhat := (float64(x[i*cols+j]) - mean) * invStd
			out.Y[i*cols+j] = float64(gamma[j])*xhat + float64(beta[j])
		}
	}
	return out
}

// BatchNormBackward returns the training-mode gradients of batch
// normalisation, from the mean and invStd the forward pass saved (float32,
// as a backend stores them): with xhat = (x-mean)*invStd,
//
//	dx[i,j]   = gamma[j]*invStd[j]/rows * (rows*dy[i,j] - sum_i dy[i,j] - xhat[i,j]*sum_i dy[i,j]*xhat[i,j])
//	newDGamma = dGamma + sum_i dy*xhat
//	newDBeta  = dBeta + sum_i dy
//
// dGamma and dBeta are the gradients accumulated so far.
func BatchNormBackward(x, dy, gamma, mean, invStd, dGamma, dBeta []float32, rows, cols int) (dx, newDGamma, newDBeta []float64) {
	dims("BatchNormBackward", rows, cols)
	need("BatchNormBackward", "x", x, rows*cols)
	need("BatchNormBackward", "dy", dy, rows*cols)
	for _, v := range []struct {
		name string
		s    []float32
	}{{"gamma", gamma}, {"mean", mean}, {"invStd", invStd}, {"dGamma", dGamma}, {"dBeta", dBeta}} {
		need("BatchNormBackward", v.name, v.s, cols)
	}
	dx = make([]float64, rows*cols)
	newDGamma, newDBeta = widen(dGamma[:cols]), widen(dBeta[:cols])
	n := float64(rows)
	for j := 0; j < cols; j++ {
		m, s := float64(mean[j]), float64(invStd[j])
		sumDy, sumDyXhat := 0.0, 0.0
		for i := 0; i < rows; i++ {
			d := float64(dy[i*cols+j])
			sumDy += d
			sumDyXhat += d * (float64(x[i*cols+j]) - m) * s
		}
		newDGamma[j] += sumDyXhat
		newDBeta[j] += sumDy
		k := float64(gamma[j]) * s / n
		for i := 0; i < rows; i++ {
			xhat := (float64(x[i*cols+j]) - m) * s
			dx[i*cols+j] = k * (n*float64(dy[i*cols+j]) - sumDy - xhat*sumDyXhat)
		}
	}
	return dx, newDGamma, newDBeta
}

// Add returns a[i] + b[i] for i < len(a).
func Add(a, b []float32) []float64 {
	need("Add", "b", b, len(a))
	out := make([]float64, len(a))
	for i := range a {
		out[i] = float64(a[i]) + float64(b[i])
	}
	return out
}

// Mul returns a[i] * b[i] for i < len(a).
func Mul(a, b []float32) []float64 {
	need("Mul", "b", b, len(a))
	out := make([]float64, len(a))
	for i := range a {
		out[i] = float64(a[i]) * float64(b[i])
	}
	return out
}

// Scale returns alpha * x[i].
func Scale(x []float32, alpha float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = alpha * float64(v)
	}
	return out
}

// Axpy returns y[i] + alpha*x[i] for i < len(y).
func Axpy(alpha float64, x, y []float32) []float64 {
	need("Axpy", "x", x, len(y))
	out := make([]float64, len(y))
	for i := range y {
		out[i] = float64(y[i]) + alpha*float64(x[i])
	}
	return out
}

// Fill returns n copies of v.
func Fill(n int, v float64) []float64 {
	dims("Fill", n)
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Copy returns dst with its first n elements replaced by src[0:n].
func Copy(dst, src []float32, n int) []float64 {
	need("Copy", "dst", dst, n)
	need("Copy", "src", src, n)
	out := widen(dst)
	for i := 0; i < n; i++ {
		out[i] = float64(src[i])
	}
	return out
}

// SumRows returns out[j] = beta*out[j] + sum_i x[i,j] for the rows x cols
// matrix x. With beta == 0, out is not read (it may be nil).
func SumRows(x []float32, rows, cols int, beta float64, out []float32) []float64 {
	dims("SumRows", rows, cols)
	need("SumRows", "x", x, rows*cols)
	if beta != 0 {
		need("SumRows", "out", out, cols)
	}
	res := make([]float64, cols)
	for j := 0; j < cols; j++ {
		sum := 0.0
		for i := 0; i < rows; i++ {
			sum += float64(x[i*cols+j])
		}
		if beta != 0 {
			sum += beta * float64(out[j])
		}
		res[j] = sum
	}
	return res
}

// SumSquares returns sum_i x[i]^2 (the amount a backend adds to out[0]).
func SumSquares(x []float32) float64 {
	sum := 0.0
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return sum
}

// ArgmaxRows returns, for each row of the rows x cols matrix x, the column
// index of its largest element; ties go to the lowest index.
func ArgmaxRows(x []float32, rows, cols int) []int {
	dims("ArgmaxRows", rows, cols)
	need("ArgmaxRows", "x", x, rows*cols)
	out := make([]int, rows)
	for i := 0; i < rows; i++ {
		best := 0
		for j := 1; j < cols; j++ {
			if x[i*cols+j] > x[i*cols+best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// CountCorrect returns the number of rows whose prediction matches the
// label. With cols > 1, x holds logits and labels[i] a class index: the
// prediction is the row's argmax (ties to the lowest index). With
// cols == 1, x holds one binary logit per row and labels[i] is 0 or 1: the
// prediction is 1 when x > 0, else 0.
func CountCorrect(x, labels []float32, rows, cols int) int {
	dims("CountCorrect", rows, cols)
	need("CountCorrect", "x", x, rows*cols)
	need("CountCorrect", "labels", labels, rows)
	count := 0
	if cols == 1 {
		for i := 0; i < rows; i++ {
			pred := float32(0)
			if x[i] > 0 {
				pred = 1
			}
			if pred == labels[i] {
				count++
			}
		}
		return count
	}
	for i, p := range ArgmaxRows(x, rows, cols) {
		if float32(p) == labels[i] {
			count++
		}
	}
	return count
}

// logSumExp returns log(sum_j exp(row[j])) computed as
// max + log(sum_j exp(row[j] - max)).
func logSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum)
}

// SoftmaxCrossEntropy returns the sum over rows of the cross-entropy
// loss_i = logsumexp(logits[i,:]) - logits[i,label_i], and the gradient of
// the batch mean, grad[i,j] = (softmax(logits[i,:])[j] - [j == label_i]) /
// rows. labels holds class indices stored as float32.
func SoftmaxCrossEntropy(logits, labels []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("SoftmaxCrossEntropy", rows, cols)
	need("SoftmaxCrossEntropy", "logits", logits, rows*cols)
	need("SoftmaxCrossEntropy", "labels", labels, rows)
	grad = Softmax(logits, rows, cols)
	for i := 0; i < rows; i++ {
		label := int(labels[i])
		if float32(label) != labels[i] || label < 0 || label >= cols {
			panic(fmt.Sprintf("ref.SoftmaxCrossEntropy: label %v of row %d is not a class index below %d", labels[i], i, cols))
		}
		row := logits[i*cols : (i+1)*cols]
		lossSum += logSumExp(row) - float64(row[label])
		grad[i*cols+label] -= 1
		for j := 0; j < cols; j++ {
			grad[i*cols+j] /= float64(rows)
		}
	}
	return lossSum, grad
}

// BCEWithLogits returns the sum over rows of the per-row mean binary
// cross-entropy, with the element loss in its stable form
//
//	l(z, t) = max(z, 0) - z*t + log1p(exp(-|z|))
//
// and the gradient of the batch mean, (sigmoid(z) - t) / (rows*cols).
func BCEWithLogits(logits, targets []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("BCEWithLogits", rows, cols)
	n := rows * cols
	need("BCEWithLogits", "logits", logits, n)
	need("BCEWithLogits", "targets", targets, n)
	grad = make([]float64, n)
	for i := 0; i < n; i++ {
		z, t := float64(logits[i]), float64(targets[i])
		lossSum += (math.Max(z, 0) - z*t + math.Log1p(math.Exp(-math.Abs(z)))) / float64(cols)
		grad[i] = (Sigmoid(z) - t) / float64(n)
	}
	return lossSum, grad
}

// MSE returns the sum over rows of the per-row mean of (pred-target)^2, and
// the gradient of the batch mean, 2*(pred-target) / (rows*cols).
func MSE(pred, target []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("MSE", rows, cols)
	n := rows * cols
	need("MSE", "pred", pred, n)
	need("MSE", "target", target, n)
	grad = make([]float64, n)
	for i := 0; i < n; i++ {
		d := float64(pred[i]) - float64(target[i])
		lossSum += d * d / float64(cols)
		grad[i] = 2 * d / float64(n)
	}
	return lossSum, grad
}

// MAE returns the sum over rows of the per-row mean of |pred-target|, and
// the gradient of the batch mean, sign(pred-target) / (rows*cols), which is
// 0 where pred == target.
func MAE(pred, target []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("MAE", rows, cols)
	n := rows * cols
	need("MAE", "pred", pred, n)
	need("MAE", "target", target, n)
	grad = make([]float64, n)
	for i := 0; i < n; i++ {
		d := float64(pred[i]) - float64(target[i])
		lossSum += math.Abs(d) / float64(cols)
		switch {
		case d > 0:
			grad[i] = 1 / float64(n)
		case d < 0:
			grad[i] = -1 / float64(n)
		}
	}
	return lossSum, grad
}

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
	if cfg.Step < 1 {
		panic(fmt.Sprintf("ref.AdamStep: step %d, want >= 1", cfg.Step))
	}
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
