package ref

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

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
	backend.CheckDropoutP("ref", p)
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
	backend.CheckBatchNormRows("ref", rows, training)
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
