package cpu

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// Every operation that runs a parallel loop keeps the loop's state in
// one of these structs, owned by the Backend and used under its opMu, so
// that an operation allocates nothing: handing a pointer to a long-lived
// struct to the pool needs no closure on the heap (a closure passed to the
// workers as a job escapes, and costs an allocation per call).
type jobs struct {
	gemm    gemmJob
	bias    biasJob
	act     actJob
	elem    elemJob
	rows    rowsJob
	bn      batchNormJob
	sumRows sumRowsJob
	fill    fillJob
	sgd     sgdJob
	adam    adamJob
	sumSq   sumSqJob
	xent    xentJob
	pool    poolJob
	gather  gatherJob
}

// sumSqJob sums squares in fixed pieces of reduceChunk elements, each into
// its slot of partial; the caller adds the slots in order, so the total does
// not depend on the thread count. partial is kept between calls.
type sumSqJob struct {
	xs      []float32
	n       int
	partial []float64
}

func (j *sumSqJob) run(_, lo, hi int) {
	for p := lo; p < hi; p++ {
		acc := 0.0
		for _, v := range j.xs[p*reduceChunk : min((p+1)*reduceChunk, j.n)] {
			acc += float64(v) * float64(v)
		}
		j.partial[p] = acc
	}
}

// gatherJob copies rows idx[lo:hi] of src, width floats each, to rows lo
// to hi of dst (UploadRows).
type gatherJob struct {
	dst, src []float32
	width    int
	idx      []int
}

func (j *gatherJob) run(_, lo, hi int) {
	w := j.width
	for i, r := range j.idx[lo:hi] {
		copy(j.dst[(lo+i)*w:(lo+i+1)*w], j.src[r*w:(r+1)*w])
	}
}

// gemmJob computes strips of C: along N when splitN (reading op(A) in
// place where the level can, when inPlaceA), else along M.
type gemmJob struct {
	be               *Backend
	g                gemmArgs
	splitN, inPlaceA bool
}

func (j *gemmJob) run(w, lo, hi int) {
	if j.splitN {
		j.be.gemmStrip(w, j.g, 0, j.g.m, lo, hi, j.inPlaceA)
	} else {
		j.be.gemmStrip(w, j.g, lo, hi, 0, j.g.n, false)
	}
}

// biasJob adds bias to rows [lo, hi) of x.
type biasJob struct {
	add      func(x, y []float32)
	xs, bias []float32
	cols     int
}

func (j *biasJob) run(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		j.add(j.bias, j.xs[i*j.cols:(i+1)*j.cols])
	}
}

// actJob applies an activation (forward) or its derivative (backward).
type actJob struct {
	k            *kernels
	act          backend.Activation
	slope        float32
	backward     bool
	x, y, dy, dx []float32
}

func (j *actJob) run(_, lo, hi int) {
	if j.backward {
		activateBackward(j.k, j.act, j.slope, j.x[lo:hi], j.y[lo:hi], j.dy[lo:hi], j.dx[lo:hi])
	} else {
		activate(j.k, j.act, j.slope, j.x[lo:hi], j.y[lo:hi])
	}
}

// sumRowsJob sums columns [lo, hi) over all rows, in row order, into the
// worker's float64 scratch.
type sumRowsJob struct {
	be         *Backend
	xs, out    []float32
	rows, cols int
	beta       float32
}

func (j *sumRowsJob) run(w, lo, hi int) {
	s := &j.be.scratch[w]
	if cap(s.acc) < hi-lo {
		s.acc = make([]float64, hi-lo)
	}
	acc := s.acc[:hi-lo]
	clear(acc)
	for i := 0; i < j.rows; i++ {
		j.be.kern.addF64(j.xs[i*j.cols+lo:i*j.cols+hi], acc)
	}
	for c, v := range acc {
		if j.beta == 0 {
			j.out[lo+c] = float32(v)
		} else {
			j.out[lo+c] = float32(v + float64(j.beta)*float64(j.out[lo+c]))
		}
	}
}

// elemJob is the elementwise loop of Add, Mul, Scale, Axpy and
// DropoutMask over [lo, hi).
type elemJob struct {
	op      int
	a, b, c []float32
	alpha   float32 // Scale, Axpy
	keep    uint32  // DropoutMask: the bits of 1/(1-p)
	pBits   int32   // DropoutMask: the bits of p
	seed    uint64  // DropoutMask
}

const (
	elemAdd     = iota // c = a + b
	elemMul            // c = a * b
	elemScale          // a *= alpha
	elemAxpy           // b += alpha*a
	elemDropout        // a = the mask
)

func (j *elemJob) run(_, lo, hi int) {
	as, bs, cs := j.a, j.b, j.c
	switch j.op {
	case elemAdd:
		for i := lo; i < hi; i++ {
			cs[i] = as[i] + bs[i]
		}
	case elemMul:
		for i := lo; i < hi; i++ {
			cs[i] = as[i] * bs[i]
		}
	case elemScale:
		alpha := j.alpha
		for i := lo; i < hi; i++ {
			as[i] *= alpha
		}
	case elemAxpy:
		alpha := j.alpha
		for i := lo; i < hi; i++ {
			bs[i] += alpha * as[i]
		}
	case elemDropout:
		keep, pBits, seed := j.keep, j.pBits, j.seed
		for i := lo; i < hi; i++ {
			drop := uint32((int32(math.Float32bits(backend.DropoutUniform(seed, i))) - pBits) >> 31)
			as[i] = math.Float32frombits(keep &^ drop)
		}
	}
}

// rowsJob is the loop over rows [lo, hi) of BiasActivate, Softmax and
// SoftmaxBackward.
type rowsJob struct {
	k          *kernels
	op         int
	act        backend.Activation // BiasActivate
	slope      float32
	x, y, bias []float32 // BiasActivate: z, y, bias; Softmax: x, y
	dy, dx     []float32 // SoftmaxBackward (y is the forward output)
	cols       int
}

const (
	rowsBiasActivate = iota
	rowsSoftmax
	rowsSoftmaxBackward
)

func (j *rowsJob) run(_, lo, hi int) {
	k, cols := j.k, j.cols
	for i := lo; i < hi; i++ {
		switch j.op {
		case rowsBiasActivate:
			row := j.x[i*cols : (i+1)*cols]
			k.add(j.bias, row)
			activate(k, j.act, j.slope, row, j.y[i*cols:(i+1)*cols])
		case rowsSoftmax:
			softmaxRow(k, j.x[i*cols:(i+1)*cols], j.y[i*cols:(i+1)*cols])
		case rowsSoftmaxBackward:
			yr, dyr, dxr := j.y[i*cols:(i+1)*cols], j.dy[i*cols:(i+1)*cols], j.dx[i*cols:(i+1)*cols]
			dot := 0.0
			for c, v := range yr {
				dot += float64(v) * float64(dyr[c])
			}
			// dx may be dy: each element is read before it is written.
			for c, v := range yr {
				dxr[c] = float32(float64(v) * (float64(dyr[c]) - dot))
			}
		}
	}
}

type fillJob struct {
	xs []float32
	v  float32
}

func (j *fillJob) run(_, lo, hi int) {
	s := j.xs[lo:hi]
	if j.v == 0 {
		clear(s)
		return
	}
	for i := range s {
		s[i] = j.v
	}
}

type sgdJob struct {
	k          *kernels
	ps, gs, vs []float32
	c          sgdConsts
}

func (j *sgdJob) run(_, lo, hi int) {
	var vs []float32
	if j.c.momentum != 0 {
		vs = j.vs[lo:hi]
	}
	j.k.sgd(j.ps[lo:hi], j.gs[lo:hi], vs, &j.c)
}

type adamJob struct {
	k              *kernels
	ps, gs, ms, vs []float32
	c              adamConsts
}

func (j *adamJob) run(_, lo, hi int) {
	j.k.adam(j.ps[lo:hi], j.gs[lo:hi], j.ms[lo:hi], j.vs[lo:hi], &j.c)
}

// xentJob is the softmax cross-entropy of fixed chunks of chunkRows rows,
// each chunk's loss into its slot of partial, which the caller adds in
// order: like sumSqJob, the total does not depend on the thread count.
// A chunk's loss is the sum of max - z[label] plus the log of the product
// of the rows' sums of exponentials, kept as a float64 and a power of 2,
// so that a chunk takes one logarithm rather than one per row.
type xentJob struct {
	k                     *kernels
	zs, ls, gs            []float32
	rows, cols, chunkRows int
	scale                 float32 // 1/rows
	partial               []float64
	blocks                []xentBlock // one per worker, kept between calls
}

// xentBlock is a worker's output of xentRows: kept in the job, since an
// array on the stack passed to a kernel through the table would escape to
// the heap on every call.
type xentBlock struct{ out [3]float64 }

func (j *xentJob) run(w, lo, hi int) {
	cols := j.cols
	b := &j.blocks[w]
	for p := lo; p < hi; p++ {
		acc, prod, exp2 := 0.0, 1.0, 0
		i, end := p*j.chunkRows, min((p+1)*j.chunkRows, j.rows)
		// The chunk's whole blocks of 16 rows in one call, where the level
		// has xentRows.
		if n := (end - i) &^ 15; j.k.xentRows != nil && n > 0 && cols <= xentRowsMaxCols {
			j.k.xentRows(j.zs[i*cols:(i+n)*cols], j.ls[i:i+n], j.gs[i*cols:(i+n)*cols], cols, j.scale, &b.out)
			acc, prod, exp2 = b.out[0], b.out[1], int(b.out[2])
			i += n
		}
		// The rows left, one at a time: a row's loss is m - z[label] +
		// log(s).
		for ; i < end; i++ {
			// z[label] is read first: g may be z.
			z, g := j.zs[i*cols:(i+1)*cols], j.gs[i*cols:(i+1)*cols]
			label := int(j.ls[i])
			zl := z[label]
			m, s := j.k.softmaxExp(z, g, j.scale) // g = softmax(z)/rows
			g[label] -= j.scale
			acc -= float64(zl)
			acc += float64(m)
			// s >= 1 (the maximum's e^0): the product only grows.
			if prod *= s; prod > 0x1p500 {
				frac, e := math.Frexp(prod)
				prod, exp2 = frac, exp2+e
			}
		}
		j.partial[p] = acc + math.Log(prod) + float64(exp2)*math.Ln2
	}
}

// xentRowsMaxCols is the widest row xentRows takes: one row per
// register.
const xentRowsMaxCols = 16
