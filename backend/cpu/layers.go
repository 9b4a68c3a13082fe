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
	be.runRows(rowsJob{op: rowsSoftmaxBackward, y: ys, dy: dys, dx: dxs}, rows, cols)
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
	be.runElem(elemJob{op: elemDropout, a: ms, keep: keep, pBits: pBits, seed: seed}, n)
}

// batchNormJob runs the passes of BatchNormForward and BatchNormBackward:
// the column passes (statistics, gradient sums) hand each column whole to
// one worker, as SumRows does, and the row passes apply per-column float64
// coefficients. The coefficients live in f64, kept between calls.
type batchNormJob struct {
	op                    int
	rows, cols            int
	n, mom, eps           float64 // rows, momentum, eps
	x, y, dy, dx          []float32
	gamma, beta           []float32
	mean, invStd          []float32
	runMean, runVar       []float32
	dGamma, dBeta         []float32
	sum, sq, shift, scale []float64 // cols each, slices of f64
	b, c                  []float64 // BatchNormBackward's, cols each
	f64                   []float64
}

const (
	bnStats     = iota // by columns: mean, invStd, running statistics, shift and scale
	bnNormalize        // by rows: y = (x - shift)*scale + beta
	bnGradSums         // by columns: sum dy and sum dy*xhat into sum and sq, dBeta and dGamma
	bnGrad             // by rows: dx = scale*dy - b - c*(x - shift)
)

// start sets the job's slices of f64 for cols columns (six of them, the
// last two for the backward pass only).
func (j *batchNormJob) start(cols int) {
	if cap(j.f64) < 6*cols {
		j.f64 = make([]float64, 6*cols)
	}
	f := j.f64[:6*cols]
	j.sum, j.sq, j.shift, j.scale = f[:cols], f[cols:2*cols], f[2*cols:3*cols], f[3*cols:4*cols]
	j.b, j.c = f[4*cols:5*cols], f[5*cols:]
}

func (j *batchNormJob) run(_, lo, hi int) {
	rows, cols := j.rows, j.cols
	switch j.op {
	case bnStats:
		sum, sq := j.sum[lo:hi], j.sq[lo:hi]
		clear(sum)
		clear(sq)
		for i := 0; i < rows; i++ {
			for c, v := range j.x[i*cols+lo : i*cols+hi] {
				sum[c] += float64(v)
			}
		}
		for c := range sum {
			sum[c] /= j.n
		}
		for i := 0; i < rows; i++ {
			for c, v := range j.x[i*cols+lo : i*cols+hi] {
				d := float64(v) - sum[c]
				sq[c] += d * d
			}
		}
		n, mom := j.n, j.mom
		for c := lo; c < hi; c++ {
			m, variance := sum[c-lo], sq[c-lo]/n
			s := 1 / math.Sqrt(variance+j.eps)
			j.mean[c], j.invStd[c] = float32(m), float32(s)
			j.runMean[c] = float32((1-mom)*float64(j.runMean[c]) + mom*m)
			j.runVar[c] = float32((1-mom)*float64(j.runVar[c]) + mom*variance*n/(n-1))
			j.shift[c], j.scale[c] = m, float64(j.gamma[c])*s
		}
	case bnNormalize:
		shift, scale, bs := j.shift, j.scale, j.beta
		for i := lo; i < hi; i++ {
			xr, yr := j.x[i*cols:(i+1)*cols], j.y[i*cols:(i+1)*cols]
			for c, v := range xr {
				yr[c] = float32((float64(v)-shift[c])*scale[c] + float64(bs[c]))
			}
		}
	case bnGradSums:
		sdy, sdx := j.sum[lo:hi], j.sq[lo:hi]
		clear(sdy)
		clear(sdx)
		m, s := j.mean[lo:hi], j.invStd[lo:hi]
		for i := 0; i < rows; i++ {
			dyr := j.dy[i*cols+lo : i*cols+hi]
			for c, v := range j.x[i*cols+lo : i*cols+hi] {
				d := float64(dyr[c])
				sdy[c] += d
				sdx[c] += d * (float64(v) - float64(m[c])) * float64(s[c])
			}
		}
		for c := range sdy {
			k := lo + c
			j.dBeta[k] = float32(float64(j.dBeta[k]) + sdy[c])
			j.dGamma[k] = float32(float64(j.dGamma[k]) + sdx[c])
		}
	case bnGrad:
		a, b, cf, m := j.scale, j.b, j.c, j.shift
		for i := lo; i < hi; i++ {
			xr, dyr, dxr := j.x[i*cols:(i+1)*cols], j.dy[i*cols:(i+1)*cols], j.dx[i*cols:(i+1)*cols]
			for c, v := range xr {
				dxr[c] = float32(a[c]*float64(dyr[c]) - b[c] - cf[c]*(float64(v)-m[c]))
			}
		}
	}
}

// byColumns runs the job over the columns of a rows x cols matrix, split
// across workers as SumRows splits them: each column is handled whole by
// one worker.
func (be *Backend) byColumns(j job, rows, cols int) {
	be.pool.parallelFor(cols, max(16, elementGrain/max(rows, 1)), 16, j)
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
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.bn
	*j = batchNormJob{rows: rows, cols: cols, n: float64(rows), mom: float64(momentum), eps: float64(eps),
		x: xs, y: ys, gamma: gs, beta: bs, mean: ms, invStd: ss, runMean: rms, runVar: rvs, f64: j.f64}
	j.start(cols)
	// y[i,j] = (x[i,j] - shift[j])*scale[j] + beta[j], with the unrounded
	// float64 mean and gamma*invStd.
	if training {
		j.op = bnStats
		be.byColumns(j, rows, cols)
	} else {
		for c := 0; c < cols; c++ {
			s := 1 / math.Sqrt(float64(rvs[c])+j.eps)
			ms[c], ss[c] = rms[c], float32(s)
			j.shift[c], j.scale[c] = float64(rms[c]), float64(gs[c])*s
		}
	}
	j.op = bnNormalize
	be.pool.parallelFor(rows, rowGrain(cols), 1, j)
	*j = batchNormJob{f64: j.f64}
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
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.bn
	*j = batchNormJob{rows: rows, cols: cols, n: float64(rows),
		x: xs, dy: dys, dx: dxs, gamma: gs, mean: ms, invStd: ss, dGamma: dgs, dBeta: dbs, f64: j.f64}
	j.start(cols)
	// Pass 1, by columns: sum_i dy and sum_i dy*xhat. Every column's sums
	// are complete before pass 2 writes dx, which may be dy.
	j.op = bnGradSums
	be.byColumns(j, rows, cols)
	// Pass 2, by rows: dx = gamma*invStd/rows * (rows*dy - sum dy - xhat*sum dy*xhat).
	// Per column, in float64: dx = a*dy - b - c*(x - mean), with
	// a = gamma*invStd (in scale), b = a*sum dy/rows,
	// c = a*invStd*sum(dy*xhat)/rows, and the mean in shift.
	n := j.n
	sumDy, sumDyXhat, a, b, c, m := j.sum, j.sq, j.scale, j.b, j.c, j.shift
	for k := range a {
		s := float64(ss[k])
		a[k] = float64(gs[k]) * s
		b[k] = a[k] * sumDy[k] / n
		c[k] = a[k] * s * sumDyXhat[k] / n
		m[k] = float64(ms[k])
	}
	j.op = bnGrad
	be.pool.parallelFor(rows, rowGrain(cols), 1, j)
	*j = batchNormJob{f64: j.f64}
}
