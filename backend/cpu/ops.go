package cpu

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// elementGrain is the fewest elements worth handing to another worker: below
// it the hand-off costs more than the loop.
const elementGrain = 1 << 13

// runElem runs an elementwise job over [0, n), split across the workers.
func (be *Backend) runElem(j elemJob, n int) {
	be.opMu.Lock()
	defer be.opMu.Unlock()
	ej := &be.jobs.elem
	*ej = j
	be.pool.parallelFor(n, elementGrain, 16, ej)
	*ej = elemJob{}
}

// reduceChunk is the fixed piece size of parallel reductions. The partial
// sums are combined in piece order, so a sum does not depend on the number of
// threads.
const reduceChunk = 1 << 14

func (be *Backend) AddBias(x, bias backend.Buffer, rows, cols int) {
	xs, bs := be.f(x, rows*cols, "AddBias x"), be.f(bias, cols, "AddBias bias")
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.bias
	*j = biasJob{add: be.kern.add, xs: xs, bias: bs, cols: cols}
	be.pool.parallelFor(rows, rowGrain(cols), 1, j)
	*j = biasJob{}
}

// rowGrain is the fewest rows of cols elements worth a worker.
func rowGrain(cols int) int { return max(1, elementGrain/max(cols, 1)) }

// runRows runs j over the rows of a rows x cols matrix, split across
// workers.
func (be *Backend) runRows(j rowsJob, rows, cols int) {
	be.opMu.Lock()
	defer be.opMu.Unlock()
	rj := &be.jobs.rows
	*rj = j
	rj.k, rj.cols = be.kern, cols
	be.pool.parallelFor(rows, rowGrain(cols), 1, rj)
	*rj = rowsJob{}
}

func (be *Backend) BiasActivate(act backend.Activation, slope float32, z, bias, y backend.Buffer, rows, cols int) {
	zs, bs := be.f(z, rows*cols, "BiasActivate z"), be.f(bias, cols, "BiasActivate bias")
	ys := be.f(y, rows*cols, "BiasActivate y")
	be.runRows(rowsJob{op: rowsBiasActivate, act: act, slope: slope, x: zs, y: ys, bias: bs}, rows, cols)
}

func (be *Backend) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	xs, ys := be.f(x, n, "Activate x"), be.f(y, n, "Activate y")
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.act
	*j = actJob{k: be.kern, act: act, slope: slope, x: xs, y: ys}
	be.pool.parallelFor(n, elementGrain, 16, j)
	*j = actJob{}
}

func (be *Backend) ActivateBackward(act backend.Activation, slope float32, x, y, dy, dx backend.Buffer, n int) {
	xs, ys := be.f(x, n, "ActivateBackward x"), be.f(y, n, "ActivateBackward y")
	dys, dxs := be.f(dy, n, "ActivateBackward dy"), be.f(dx, n, "ActivateBackward dx")
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.act
	*j = actJob{k: be.kern, act: act, slope: slope, backward: true, x: xs, y: ys, dy: dys, dx: dxs}
	be.pool.parallelFor(n, elementGrain, 16, j)
	*j = actJob{}
}

const geluC = 0.7978845608028654 // sqrt(2/pi)

// activate and activateBackward take the level's kernels for the
// activations that have SIMD forms: ReLU and GELU both ways, Sigmoid and
// Tanh forward. Work is split in multiples of 16 elements, so a level computes
// each element the same way whatever the number of threads.
func activate(k *kernels, act backend.Activation, slope float32, x, y []float32) {
	y = y[:len(x)]
	switch act {
	case backend.Identity:
		copy(y, x)
	case backend.ReLU:
		k.relu(x, y)
	case backend.LeakyReLU:
		for i, v := range x {
			if v <= 0 {
				v *= slope
			}
			y[i] = v
		}
	case backend.Sigmoid:
		k.sigmoid(x, y)
	case backend.Tanh:
		k.tanh(x, y)
	case backend.GELU:
		k.gelu(x, y)
	default:
		panic(fmt.Sprintf("cpu: unknown activation %v", act))
	}
}

func activateBackward(k *kernels, act backend.Activation, slope float32, x, y, dy, dx []float32) {
	n := len(x)
	y, dy, dx = y[:n], dy[:n], dx[:n]
	switch act {
	case backend.Identity:
		copy(dx, dy)
	case backend.ReLU:
		k.reluBackward(x, dy, dx)
	case backend.LeakyReLU:
		for i, v := range x {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = slope * dy[i]
			}
		}
	case backend.Sigmoid:
		for i, s := range y {
			dx[i] = dy[i] * s * (1 - s)
		}
	case backend.Tanh:
		for i, t := range y {
			dx[i] = dy[i] * (1 - t*t)
		}
	case backend.GELU:
		k.geluBackward(x, dy, dx)
	default:
		panic(fmt.Sprintf("cpu: unknown activation %v", act))
	}
}

func (be *Backend) Softmax(x, y backend.Buffer, rows, cols int) {
	xs, ys := be.f(x, rows*cols, "Softmax x"), be.f(y, rows*cols, "Softmax y")
	be.runRows(rowsJob{op: rowsSoftmax, x: xs, y: ys}, rows, cols)
}

// softmaxRow writes softmax(x) into y (which may be x) and returns
// log(sum(exp(x))), computed stably around the row's maximum.
func softmaxRow(k *kernels, x, y []float32) (logSumExp float64) {
	if len(x) == 0 {
		return math.Inf(-1)
	}
	m, sum := k.softmaxExp(x, y, 1)
	return float64(m) + math.Log(sum)
}

func (be *Backend) Add(a, b, c backend.Buffer, n int) {
	as, bs, cs := be.f(a, n, "Add a"), be.f(b, n, "Add b"), be.f(c, n, "Add c")
	be.runElem(elemJob{op: elemAdd, a: as, b: bs, c: cs}, n)
}

func (be *Backend) Mul(a, b, c backend.Buffer, n int) {
	as, bs, cs := be.f(a, n, "Mul a"), be.f(b, n, "Mul b"), be.f(c, n, "Mul c")
	be.runElem(elemJob{op: elemMul, a: as, b: bs, c: cs}, n)
}

func (be *Backend) Scale(x backend.Buffer, alpha float32, n int) {
	xs := be.f(x, n, "Scale")
	be.runElem(elemJob{op: elemScale, a: xs, alpha: alpha}, n)
}

func (be *Backend) Axpy(alpha float32, x, y backend.Buffer, n int) {
	xs, ys := be.f(x, n, "Axpy x"), be.f(y, n, "Axpy y")
	be.runElem(elemJob{op: elemAxpy, a: xs, b: ys, alpha: alpha}, n)
}

func (be *Backend) Fill(x backend.Buffer, v float32, n int) {
	xs := be.f(x, n, "Fill")
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.fill
	*j = fillJob{xs: xs, v: v}
	be.pool.parallelFor(n, elementGrain, 16, j)
	*j = fillJob{}
}

func (be *Backend) SumRows(x, out backend.Buffer, rows, cols int, beta float32) {
	xs, os := be.f(x, rows*cols, "SumRows x"), be.f(out, cols, "SumRows out")
	// Split over columns so that each output is summed by one worker, in
	// row order: the result does not depend on the thread count.
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.sumRows
	*j = sumRowsJob{be: be, xs: xs, out: os, rows: rows, cols: cols, beta: beta}
	be.pool.parallelFor(cols, max(16, elementGrain/max(rows, 1)), 16, j)
	*j = sumRowsJob{}
}

func (be *Backend) SumSquares(x backend.Buffer, n int, out backend.Buffer) {
	xs, os := be.f(x, n, "SumSquares x"), be.f(out, 1, "SumSquares out")
	pieces := (n + reduceChunk - 1) / reduceChunk
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.sumSq
	j.xs, j.n, j.partial = xs, n, partials(j.partial, pieces)
	be.pool.parallelFor(pieces, 1, 1, j)
	j.xs = nil
	os[0] = float32(float64(os[0]) + sumInOrder(j.partial))
}

// partials returns p resized to n slots for the partial sums of a
// reduction, reallocated only when it is too small.
func partials(p []float64, n int) []float64 {
	if cap(p) < n {
		p = make([]float64, n)
	}
	return p[:n]
}

// sumInOrder adds the partial sums in slot order.
func sumInOrder(p []float64) float64 {
	total := 0.0
	for _, v := range p {
		total += v
	}
	return total
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

func (be *Backend) ArgmaxRows(x, out backend.Buffer, rows, cols int) {
	xs, os := be.f(x, rows*cols, "ArgmaxRows x"), be.f(out, rows, "ArgmaxRows out")
	for i := range rows {
		os[i] = float32(argmax(xs[i*cols : (i+1)*cols]))
	}
}

func (be *Backend) CountCorrect(x, labels, out backend.Buffer, rows, cols int) {
	xs, ls := be.f(x, rows*cols, "CountCorrect x"), be.f(labels, rows, "CountCorrect labels")
	os := be.f(out, 1, "CountCorrect out")
	correct := 0
	for i := range rows {
		var pred int
		if cols == 1 {
			if xs[i] > 0 {
				pred = 1
			}
		} else {
			pred = argmax(xs[i*cols : (i+1)*cols])
		}
		if float32(pred) == ls[i] {
			correct++
		}
	}
	os[0] += float32(correct)
}
