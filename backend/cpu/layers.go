package cpu

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// The operations behind the Softmax, Dropout and BatchNorm layers. Column
// statistics are summed in float64, each column by one worker in row
// order, so that results do not depend on the thread count.

func (be *Backend) SoftmaxBackward(y, dy, dx backend.Buffer, rows, cols int) {
	backend.CheckSizes("cpu", "SoftmaxBackward", rows, cols)
	ys := be.f(y, rows*cols, "SoftmaxBackward y")
	dys, dxs := be.f(dy, rows*cols, "SoftmaxBackward dy"), be.f(dx, rows*cols, "SoftmaxBackward dx")
	be.rows(rows, cols, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yr, dyr, dxr := ys[i*cols:(i+1)*cols], dys[i*cols:(i+1)*cols], dxs[i*cols:(i+1)*cols]
			dot := 0.0
			for j, v := range yr {
				dot += float64(v) * float64(dyr[j])
			}
			// dx may be dy: each element is read before it is written.
			for j, v := range yr {
				dxr[j] = float32(float64(v) * (float64(dyr[j]) - dot))
			}
		}
	})
}

func (be *Backend) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	ms := be.f(mask, n, "DropoutMask mask")
	backend.CheckDropoutP("cpu", p)
	if p == 0 {
		p = 0 // -0 becomes +0, for the bit comparison below
	}
	keep := math.Float32bits(float32(1 / (1 - float64(p))))
	// Non-negative float32 values order as their bit patterns do, so
	// u < p is the sign of bits(u) - bits(p) (both below 2^31): the select
	// needs no branch, which p near 0.5 would mispredict half the time.
	pBits := int32(math.Float32bits(p))
	be.each(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			drop := uint32((int32(math.Float32bits(backend.DropoutUniform(seed, i))) - pBits) >> 31)
			ms[i] = math.Float32frombits(keep &^ drop)
		}
	})
}

// columns runs fn over column ranges of a rows x cols matrix, split across
// workers as SumRows splits them: each column is handled whole by one
// worker.
func (be *Backend) columns(rows, cols int, fn func(lo, hi int)) {
	grain := max(16, elementGrain/max(rows, 1))
	be.pool.parallelFor(cols, grain, 16, funcJob(func(_, lo, hi int) { fn(lo, hi) }))
}

func (be *Backend) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	const op = "BatchNormForward"
	backend.CheckSizes("cpu", op, rows, cols)
	xs, ys := be.f(x, rows*cols, op+" x"), be.f(y, rows*cols, op+" y")
	gs, bs := be.f(gamma, cols, op+" gamma"), be.f(beta, cols, op+" beta")
	ms, ss := be.f(mean, cols, op+" mean"), be.f(invStd, cols, op+" invStd")
	rms, rvs := be.f(runMean, cols, op+" runMean"), be.f(runVar, cols, op+" runVar")
	backend.CheckBatchNormRows("cpu", rows, training)
	if rows == 0 || cols == 0 {
		return
	}
	// y[i,j] = (x[i,j] - shift[j])*scale[j] + beta[j], with the unrounded
	// float64 mean and gamma*invStd.
	shift, scale := make([]float64, cols), make([]float64, cols)
	n, mom, e := float64(rows), float64(momentum), float64(eps)
	if training {
		be.columns(rows, cols, func(lo, hi int) {
			w := hi - lo
			acc := make([]float64, 2*w)
			sum, sq := acc[:w], acc[w:]
			for i := 0; i < rows; i++ {
				for j, v := range xs[i*cols+lo : i*cols+hi] {
					sum[j] += float64(v)
				}
			}
			for j := range sum {
				sum[j] /= n
			}
			for i := 0; i < rows; i++ {
				for j, v := range xs[i*cols+lo : i*cols+hi] {
					d := float64(v) - sum[j]
					sq[j] += d * d
				}
			}
			for j := 0; j < w; j++ {
				c := lo + j
				m, variance := sum[j], sq[j]/n
				s := 1 / math.Sqrt(variance+e)
				ms[c], ss[c] = float32(m), float32(s)
				rms[c] = float32((1-mom)*float64(rms[c]) + mom*m)
				rvs[c] = float32((1-mom)*float64(rvs[c]) + mom*variance*n/(n-1))
				shift[c], scale[c] = m, float64(gs[c])*s
			}
		})
	} else {
		for c := 0; c < cols; c++ {
			s := 1 / math.Sqrt(float64(rvs[c])+e)
			ms[c], ss[c] = rms[c], float32(s)
			shift[c], scale[c] = float64(rms[c]), float64(gs[c])*s
		}
	}
	bs = bs[:cols]
	be.rows(rows, cols, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, yr := xs[i*cols:(i+1)*cols], ys[i*cols:(i+1)*cols]
			for j, v := range xr {
				yr[j] = float32((float64(v)-shift[j])*scale[j] + float64(bs[j]))
			}
		}
	})
}

func (be *Backend) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
	const op = "BatchNormBackward"
	backend.CheckSizes("cpu", op, rows, cols)
	xs, dys, dxs := be.f(x, rows*cols, op+" x"), be.f(dy, rows*cols, op+" dy"), be.f(dx, rows*cols, op+" dx")
	gs, ms, ss := be.f(gamma, cols, op+" gamma"), be.f(mean, cols, op+" mean"), be.f(invStd, cols, op+" invStd")
	dgs, dbs := be.f(dGamma, cols, op+" dGamma"), be.f(dBeta, cols, op+" dBeta")
	if rows == 0 || cols == 0 {
		return
	}
	// Pass 1, by columns: sum_i dy and sum_i dy*xhat. Every column's sums
	// are complete before pass 2 writes dx, which may be dy.
	sums := make([]float64, 2*cols)
	sumDy, sumDyXhat := sums[:cols], sums[cols:]
	be.columns(rows, cols, func(lo, hi int) {
		sdy, sdx := sumDy[lo:hi], sumDyXhat[lo:hi]
		m, s := ms[lo:hi], ss[lo:hi]
		for i := 0; i < rows; i++ {
			dyr := dys[i*cols+lo : i*cols+hi]
			for j, v := range xs[i*cols+lo : i*cols+hi] {
				d := float64(dyr[j])
				sdy[j] += d
				sdx[j] += d * (float64(v) - float64(m[j])) * float64(s[j])
			}
		}
		for j := range sdy {
			c := lo + j
			dbs[c] = float32(float64(dbs[c]) + sdy[j])
			dgs[c] = float32(float64(dgs[c]) + sdx[j])
		}
	})
	// Pass 2, by rows: dx = gamma*invStd/rows * (rows*dy - sum dy - xhat*sum dy*xhat).
	// Per column, in float64: dx = a*dy - b - c*(x - mean), with
	// a = gamma*invStd, b = a*sum dy/rows, c = a*invStd*sum(dy*xhat)/rows.
	n := float64(rows)
	coef := make([]float64, 4*cols)
	a, b, c, m := coef[:cols], coef[cols:2*cols], coef[2*cols:3*cols], coef[3*cols:]
	for j := range a {
		s := float64(ss[j])
		a[j] = float64(gs[j]) * s
		b[j] = a[j] * sumDy[j] / n
		c[j] = a[j] * s * sumDyXhat[j] / n
		m[j] = float64(ms[j])
	}
	be.rows(rows, cols, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, dyr, dxr := xs[i*cols:(i+1)*cols], dys[i*cols:(i+1)*cols], dxs[i*cols:(i+1)*cols]
			for j, v := range xr {
				dxr[j] = float32(a[j]*float64(dyr[j]) - b[j] - c[j]*(float64(v)-m[j]))
			}
		}
	})
}
