package cpu

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// Pooling and TransposeBatch split their work by planes (image, channel)
// or by images, each to one worker, through poolJob, kept in the Backend
// as the other jobs are, so that a step allocates nothing. Max pooling
// with 2 x 2 windows at stride 2 and no padding (the cnn preset's) has
// loops of its own; other shapes take the general ones.

// poolJob is the parallel loop of a pooling operation or TransposeBatch.
type poolJob struct {
	be              *Backend
	op              int
	s               backend.PoolShape
	x, y, dy, dx    []float32
	rows, cols      int     // TransposeBatch
	fast            bool    // max pooling, 2 x 2 windows at stride 2, no padding
	div             float32 // AvgPool: KH*KW
	outH, outW, inW int
}

const (
	poolMax = iota
	poolMaxBackward
	poolAvg
	poolAvgBackward
	poolTranspose
)

func (j *poolJob) run(w, lo, hi int) {
	if j.op == poolTranspose {
		n := j.rows * j.cols
		for b := lo; b < hi; b++ {
			transposePacked(j.be.kern, &j.be.scratch[w].trans, j.y[b*n:(b+1)*n], j.x[b*n:(b+1)*n], j.rows, j.cols)
		}
		return
	}
	if j.fast {
		j.pool2x2(lo, hi)
		return
	}
	hw, ohw := j.s.H*j.s.W, j.outH*j.outW
	for pl := lo; pl < hi; pl++ {
		switch j.op {
		case poolMax:
			maxPoolPlane(j.x[pl*hw:(pl+1)*hw], j.y[pl*ohw:(pl+1)*ohw], j.s, j.outH, j.outW)
		case poolMaxBackward:
			maxPoolPlaneBackward(j.x[pl*hw:(pl+1)*hw], j.dy[pl*ohw:(pl+1)*ohw], j.dx[pl*hw:(pl+1)*hw], j.s, j.outH, j.outW)
		case poolAvg:
			avgPoolPlane(j.x[pl*hw:(pl+1)*hw], j.y[pl*ohw:(pl+1)*ohw], j.s, j.outH, j.outW, j.div)
		case poolAvgBackward:
			avgPoolPlaneBackward(j.dy[pl*ohw:(pl+1)*ohw], j.dx[pl*hw:(pl+1)*hw], j.s, j.outH, j.outW, j.div)
		}
	}
}

// pool2x2 runs the level's 2 x 2 max pooling kernel on planes lo to hi:
// in one call when H is even, since the planes' pairs of rows then follow
// one another at a stride of 2W, else plane by plane, the last row of
// each unused (and cleared, backward).
func (j *poolJob) pool2x2(lo, hi int) {
	k := j.be.kern
	hw, ohw := j.s.H*j.s.W, j.outH*j.outW
	step := hi - lo
	if j.s.H%2 != 0 {
		step = 1
	}
	for pl := lo; pl < hi; pl += step {
		x, rows := j.x[pl*hw:(pl+step)*hw], step*j.outH
		if j.op == poolMax {
			k.maxPool2x2(x, j.y[pl*ohw:(pl+step)*ohw], rows, j.outW, j.inW)
			continue
		}
		dx := j.dx[pl*hw : (pl+step)*hw]
		k.maxPool2x2Backward(x, j.dy[pl*ohw:(pl+step)*ohw], dx, rows, j.outW, j.inW)
		clear(dx[2*rows*j.inW:])
	}
}

// runPool runs j over the planes (or TransposeBatch's matrices) under
// opMu, which guards be.jobs.
func (be *Backend) runPool(j poolJob, items, itemLen int) {
	be.opMu.Lock()
	defer be.opMu.Unlock()
	pj := &be.jobs.pool
	*pj = j
	pj.be = be
	be.pool.parallelFor(items, rowGrain(itemLen), 1, pj)
	*pj = poolJob{}
}

// poolBuffers checks s, then returns x (the input, or with fromOutput the
// output gradient) and y (the output, or the input gradient); the names
// are whole constants, since building them would allocate on every call.
// The lengths are computed after the check: OutH divides by the stride.
func (be *Backend) poolBuffers(op, xName, yName string, s backend.PoolShape, x, y backend.Buffer, fromOutput bool) (xs, ys []float32) {
	s.Check("cpu", op)
	xLen, yLen := s.InLen(), s.OutLen()
	if fromOutput {
		xLen, yLen = yLen, xLen
	}
	return be.f(x, xLen, xName), be.f(y, yLen, yName)
}

func poolJobOf(op int, s backend.PoolShape) poolJob {
	return poolJob{op: op, s: s, outH: s.OutH(), outW: s.OutW(), inW: s.W, div: float32(s.KH * s.KW),
		fast: (op == poolMax || op == poolMaxBackward) &&
			s.KH == 2 && s.KW == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadH == 0 && s.PadW == 0}
}

// window is the input row and column range of output (i, j), clipped to
// the input.
func window(s backend.PoolShape, i, j int) (h0, h1, w0, w1 int) {
	h0, w0 = i*s.StrideH-s.PadH, j*s.StrideW-s.PadW
	return max(h0, 0), min(h0+s.KH, s.H), max(w0, 0), min(w0+s.KW, s.W)
}

// maxAt is the index within the plane of the window's maximum, PyTorch's
// choice (see backend.Convolver.MaxPool2dBackward).
func maxAt(plane []float32, s backend.PoolShape, i, j int) int {
	h0, h1, w0, w1 := window(s, i, j)
	best, at := float32(math.Inf(-1)), h0*s.W+w0
	for h := h0; h < h1; h++ {
		for w := w0; w < w1; w++ {
			if v := plane[h*s.W+w]; v > best || v != v {
				best, at = v, h*s.W+w
			}
		}
	}
	return at
}

func maxPoolPlane(x, y []float32, s backend.PoolShape, oh, ow int) {
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			y[i*ow+j] = x[maxAt(x, s, i, j)]
		}
	}
}

func maxPoolPlaneBackward(x, dy, dx []float32, s backend.PoolShape, oh, ow int) {
	clear(dx)
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			dx[maxAt(x, s, i, j)] += dy[i*ow+j]
		}
	}
}

// The 2 x 2 loops are branch-free where they can be: with random data a
// branch on which element is the largest is mispredicted half the time,
// which made them several times slower.

// maxPool2x2Generic is maxPoolPlane for 2 x 2 windows at stride 2, no
// padding (see kernels.maxPool2x2): each output is the window's element
// at maxAt2x2, as in maxPoolPlane and PyTorch. That is the builtin max but
// for a zero maximum, the first of the equal zeros with its sign (max
// gives +0 if any is +0), and a NaN, the last one with its bits.
func maxPool2x2Generic(x, y []float32, rows, ow, w int) {
	for i := 0; i < rows; i++ {
		r0, r1, out := x[2*i*w:2*i*w+2*ow], x[(2*i+1)*w:(2*i+1)*w+2*ow], y[i*ow:(i+1)*ow]
		for j := range out {
			a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
			m := max(a, b, c, d)
			if m == 0 || m != m { // which zero, which NaN
				m = [4]float32{a, b, c, d}[maxAt2x2(a, b, c, d)]
			}
			out[j] = m
		}
	}
}

// maxPool2x2BackwardGeneric is maxPoolPlaneBackward for 2 x 2 windows at
// stride 2, no padding (see kernels.maxPool2x2Backward): the windows do
// not overlap, so each takes one store into the cleared rows.
func maxPool2x2BackwardGeneric(x, dy, dx []float32, rows, ow, w int) {
	clear(dx[:2*rows*w])
	for i := 0; i < rows; i++ {
		r0, r1 := x[2*i*w:2*i*w+2*ow], x[(2*i+1)*w:(2*i+1)*w+2*ow]
		for j, v := range dy[i*ow : (i+1)*ow] {
			at := maxAt2x2(r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1])
			dx[(2*i+at>>1)*w+2*j+at&1] = v
		}
	}
}

// maxAt2x2 is the index (0 a, 1 b, 2 c, 3 d) in the window a b over c d
// of maxAt's choice: the first element equal to the maximum, or when the
// window holds a NaN, its last NaN. The choices compile to conditional
// moves; the rare NaN case is a call, so that maxAt2x2 is inlined.
func maxAt2x2(a, b, c, d float32) int {
	m := max(a, b, c, d)
	if m != m {
		return lastNaN2x2(b, c, d)
	}
	at := pick(c == m, 2, 3)
	at = pick(b == m, 1, at)
	return pick(a == m, 0, at)
}

// lastNaN2x2 is the index of the last NaN of a window a b c d that holds
// one, given b, c and d.
func lastNaN2x2(b, c, d float32) int {
	at := pick(b != b, 1, 0)
	at = pick(c != c, 2, at)
	return pick(d != d, 3, at)
}

// pick is a if c, else b.
func pick[T int | uint32](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func avgPoolPlane(x, y []float32, s backend.PoolShape, oh, ow int, div float32) {
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			h0, h1, w0, w1 := window(s, i, j)
			sum := float32(0)
			for h := h0; h < h1; h++ {
				for w := w0; w < w1; w++ {
					sum += x[h*s.W+w]
				}
			}
			y[i*ow+j] = sum / div
		}
	}
}

func avgPoolPlaneBackward(dy, dx []float32, s backend.PoolShape, oh, ow int, div float32) {
	clear(dx)
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			h0, h1, w0, w1 := window(s, i, j)
			v := dy[i*ow+j] / div
			for h := h0; h < h1; h++ {
				for w := w0; w < w1; w++ {
					dx[h*s.W+w] += v
				}
			}
		}
	}
}

func (be *Backend) MaxPool2d(x, y backend.Buffer, s backend.PoolShape) {
	xs, ys := be.poolBuffers("MaxPool2d", "MaxPool2d x", "MaxPool2d y", s, x, y, false)
	j := poolJobOf(poolMax, s)
	j.x, j.y = xs, ys
	be.runPool(j, s.N*s.C, s.H*s.W)
}

func (be *Backend) MaxPool2dBackward(x, dy, dx backend.Buffer, s backend.PoolShape) {
	xs, dys := be.poolBuffers("MaxPool2dBackward", "MaxPool2dBackward x", "MaxPool2dBackward dy", s, x, dy, false)
	j := poolJobOf(poolMaxBackward, s)
	j.x, j.dy, j.dx = xs, dys, be.f(dx, s.InLen(), "MaxPool2dBackward dx")
	be.runPool(j, s.N*s.C, s.H*s.W)
}

func (be *Backend) AvgPool2d(x, y backend.Buffer, s backend.PoolShape) {
	xs, ys := be.poolBuffers("AvgPool2d", "AvgPool2d x", "AvgPool2d y", s, x, y, false)
	j := poolJobOf(poolAvg, s)
	j.x, j.y = xs, ys
	be.runPool(j, s.N*s.C, s.H*s.W)
}

func (be *Backend) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape) {
	dys, dxs := be.poolBuffers("AvgPool2dBackward", "AvgPool2dBackward dy", "AvgPool2dBackward dx", s, dy, dx, true)
	j := poolJobOf(poolAvgBackward, s)
	j.dy, j.dx = dys, dxs
	be.runPool(j, s.N*s.C, s.H*s.W)
}

func (be *Backend) TransposeBatch(x, y backend.Buffer, batch, rows, cols int) {
	backend.CheckSizes("cpu", "TransposeBatch", batch, rows, cols)
	xs, ys := be.f(x, batch*rows*cols, "TransposeBatch x"), be.f(y, batch*rows*cols, "TransposeBatch y")
	be.runPool(poolJob{be: be, op: poolTranspose, x: xs, y: ys, rows: rows, cols: cols}, batch, rows*cols)
}

// transposePacked writes the rows x cols matrix x as its cols x rows
// transpose, nr rows at a time with the level's transposing packing kernel,
// which leaves them as cols rows of nr floats (in place when rows is nr,
// else in tmp and copied into place), and the last rows with transpose.
func transposePacked(kt *kernels, tmp *[]float32, dst, x []float32, rows, cols int) {
	nr := kt.nr
	if rows == nr {
		kt.pack(dst, x, cols, cols, nr, true)
		return
	}
	full := rows / nr * nr
	if full > 0 {
		t := grow(tmp, cols*nr)
		for r0 := 0; r0 < full; r0 += nr {
			kt.pack(t, x[r0*cols:], cols, cols, nr, true)
			for p := 0; p < cols; p++ {
				copy(dst[p*rows+r0:p*rows+r0+nr], t[p*nr:p*nr+nr])
			}
		}
	}
	for i := full; i < rows; i++ {
		for j, v := range x[i*cols : (i+1)*cols] {
			dst[j*rows+i] = v
		}
	}
}
