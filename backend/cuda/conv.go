//go:build cuda

package cuda

import "github.com/fastnn/fastnn/backend"

// Convolutions as im2col + GEMM, in the CPU backend's layout
// (backend/cpu/conv.go). The patches of all N images are unrolled into one
// (N*OH*OW) x (C*KH*KW) matrix col, so that each direction is one cuBLAS
// product, W being the K x (C*KH*KW) weight matrix:
//
//	forward:         rows = col * W^T,  then transpose_batch: NHWC rows -> NCHW y, + bias
//	backward data:   rows = dy as NHWC, dcol = rows * W,  then col2im gathers dcol into dx
//	backward filter: rows = dy as NHWC, dW += rows^T * col,  dbias += column sums of rows
//
// col and rows are device memory that the backend keeps between calls and
// grows to the largest shape seen, so that a training step allocates
// nothing once warm; Close frees them with every other block. Their size
// is the batch's: N*OH*OW*C*KH*KW floats for col (about 140 MB for the
// second convolution of the CNN preset at batch 1024, nn's evaluation
// batch). The kernels are in kernels/fastnn.cu; all are grid-stride loops
// with one thread per output element (launched as elementwise does), the
// scatters written as gathers so that no atomics are needed and results
// repeat bit for bit.

// convScratch holds the convolutions' scratch blocks.
type convScratch struct{ col, rows scratchBlock }

// scratchBlock is a block of the allocator that the backend keeps.
type scratchBlock struct {
	ptr   uint64
	class int
}

// scratch returns s's device pointer after growing it, if need be, to n
// floats (inside begin/end). The smaller block goes back to the allocator:
// work already queued on it runs before any later use, the stream being
// one.
func (be *Backend) scratch(s *scratchBlock, n int) uint64 {
	if class := sizeClass(4 * n); class > s.class {
		p, err := be.pool.get(class)
		be.must(err)
		if s.ptr != 0 {
			be.pool.put(s.ptr, s.class)
		}
		*s = scratchBlock{p, class}
	}
	return s.ptr
}

// product returns the product of sizes, panicking as checkSize does when a
// size or a partial product is out of range (so it cannot overflow).
func product(op string, sizes ...int) int {
	n := 1
	for _, s := range sizes {
		checkSize(op, s)
		n *= s
		checkSize(op, n)
	}
	return n
}

// checkExtents checks, beyond the shape's own Check, that every extent and
// the padded input fit the kernels' 32-bit coordinates (see fastnn.cu).
func checkExtents(op string, n, c, h, w, kh, kw, sh, sw, ph, pw int) {
	checkSize(op, n, c, h, w, kh, kw, sh, sw, ph, pw)
	checkSize(op, h+2*ph, w+2*pw)
}

// convSizes checks s and every element count the kernels index, and
// returns the output pixels per image (OH*OW) and the patch length
// (C*KH*KW).
func convSizes(op string, s backend.ConvShape) (p, ckk int) {
	s.Check("cuda", op)
	checkExtents(op, s.N, s.C, s.H, s.W, s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW)
	checkSize(op, s.K)
	p, ckk = product(op, s.OutH(), s.OutW()), product(op, s.C, s.KH, s.KW)
	product(op, s.N, s.C, s.H, s.W)
	product(op, s.N, s.K, p)
	product(op, s.K, ckk)
	product(op, s.N, p, ckk)
	return p, ckk
}

// poolSizes checks s and the element counts of x and y.
func poolSizes(op string, s backend.PoolShape) {
	s.Check("cuda", op)
	checkExtents(op, s.N, s.C, s.H, s.W, s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW)
	product(op, s.N, s.C, s.H, s.W)
	product(op, s.N, s.C, s.OutH(), s.OutW())
}

// geom appends the kernels' GEOM_PARAMS (see fastnn.cu).
func (a *launchArgs) geom(n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow int) *launchArgs {
	for _, v := range [...]int{n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow} {
		a.i32(v)
	}
	return a
}

func (a *launchArgs) conv(s backend.ConvShape) *launchArgs {
	return a.geom(s.N, s.C, s.H, s.W, s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW, s.OutH(), s.OutW())
}

func (a *launchArgs) pool(s backend.PoolShape) *launchArgs {
	return a.geom(s.N, s.C, s.H, s.W, s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW, s.OutH(), s.OutW())
}

// transpose queues y[b,j,i] = x[b,i,j] (+ bias[j] unless bias is 0) for
// batch rows x cols matrices, inside begin/end.
func (be *Backend) transpose(x, y, bias uint64, batch, rows, cols int) {
	be.args().u64(x).u64(y).u64(bias).i32(batch).i32(rows).i32(cols)
	be.elementwise("transpose_batch", be.fn.transposeBatch, batch*rows*cols)
}

// im2col queues the patch matrix of x into col, inside begin/end.
func (be *Backend) im2col(x, col uint64, s backend.ConvShape, n int) {
	be.args().u64(x).u64(col).conv(s)
	be.elementwise("im2col", be.fn.im2col, n)
}

// optional is the device pointer of an optional buffer (checked as buf
// checks it), 0 when b is nil: the kernels' null.
func (be *Backend) optional(b backend.Buffer, n int, what string) uint64 {
	if b == nil {
		return 0
	}
	return be.buf(b, n, what).ptr
}

func (be *Backend) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	const op = "Conv2d"
	p, ckk := convSizes(op, s)
	xb, wb, yb := be.buf(x, s.InLen(), op+" x"), be.buf(weight, s.WeightLen(), op+" weight"), be.buf(y, s.OutLen(), op+" y")
	bp := be.optional(bias, s.K, op+" bias")
	if s.N == 0 || s.K == 0 {
		return
	}
	be.begin()
	defer be.end()
	rows := be.scratch(&be.conv.rows, s.N*p*s.K)
	if ckk == 0 { // no input channels: y is the bias
		be.fill(rows, 0, s.N*p*s.K)
	} else {
		col := be.scratch(&be.conv.col, s.N*p*ckk)
		be.im2col(xb.ptr, col, s, s.N*p*ckk)
		be.gemm(false, true, s.N*p, s.K, ckk, 1, col, wb.ptr, 0, rows)
	}
	be.transpose(rows, yb.ptr, bp, s.N, p, s.K)
}

func (be *Backend) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape) {
	const op = "Conv2dBackwardData"
	p, ckk := convSizes(op, s)
	dyb, wb, dxb := be.buf(dy, s.OutLen(), op+" dy"), be.buf(weight, s.WeightLen(), op+" weight"), be.buf(dx, s.InLen(), op+" dx")
	if s.InLen() == 0 {
		return
	}
	be.begin()
	defer be.end()
	if s.K == 0 { // no filter sees x
		be.fill(dxb.ptr, 0, s.InLen())
		return
	}
	rows, col := be.scratch(&be.conv.rows, s.N*p*s.K), be.scratch(&be.conv.col, s.N*p*ckk)
	be.transpose(dyb.ptr, rows, 0, s.N, s.K, p)
	be.gemm(false, false, s.N*p, ckk, s.K, 1, rows, wb.ptr, 0, col)
	be.args().u64(col).buf(dxb).conv(s)
	be.elementwise("col2im", be.fn.col2im, s.InLen())
}

func (be *Backend) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	const op = "Conv2dBackwardFilter"
	p, ckk := convSizes(op, s)
	xb, dyb, dwb := be.buf(x, s.InLen(), op+" x"), be.buf(dy, s.OutLen(), op+" dy"), be.buf(dWeight, s.WeightLen(), op+" dWeight")
	dbp := be.optional(dBias, s.K, op+" dBias")
	if s.N == 0 || s.K == 0 {
		return
	}
	be.begin()
	defer be.end()
	rows := be.scratch(&be.conv.rows, s.N*p*s.K)
	be.transpose(dyb.ptr, rows, 0, s.N, s.K, p)
	if ckk > 0 {
		col := be.scratch(&be.conv.col, s.N*p*ckk)
		be.im2col(xb.ptr, col, s, s.N*p*ckk)
		be.gemm(true, false, s.K, ckk, s.N*p, 1, rows, col, 1, dwb.ptr)
	}
	if dbp != 0 {
		be.sumRows(rows, dbp, s.N*p, s.K, 1)
	}
}

// poolKernel queues one of the pooling kernels over n elements, its arguments
// the buffers then the geometry.
func (be *Backend) poolKernel(name string, fn uintptr, s backend.PoolShape, n int, bufs ...*buffer) {
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	a := be.args()
	for _, b := range bufs {
		a.buf(b)
	}
	a.pool(s)
	be.elementwise(name, fn, n)
}

func (be *Backend) MaxPool2d(x, y backend.Buffer, s backend.PoolShape) {
	const op = "MaxPool2d"
	poolSizes(op, s)
	xb, yb := be.buf(x, s.InLen(), op+" x"), be.buf(y, s.OutLen(), op+" y")
	be.poolKernel("max_pool", be.fn.maxPool, s, s.OutLen(), xb, yb)
}

func (be *Backend) MaxPool2dBackward(x, dy, dx backend.Buffer, s backend.PoolShape) {
	const op = "MaxPool2dBackward"
	poolSizes(op, s)
	xb, dyb, dxb := be.buf(x, s.InLen(), op+" x"), be.buf(dy, s.OutLen(), op+" dy"), be.buf(dx, s.InLen(), op+" dx")
	be.poolKernel("max_pool_backward", be.fn.maxPoolBackward, s, s.InLen(), xb, dyb, dxb)
}

func (be *Backend) AvgPool2d(x, y backend.Buffer, s backend.PoolShape) {
	const op = "AvgPool2d"
	poolSizes(op, s)
	xb, yb := be.buf(x, s.InLen(), op+" x"), be.buf(y, s.OutLen(), op+" y")
	be.poolKernel("avg_pool", be.fn.avgPool, s, s.OutLen(), xb, yb)
}

func (be *Backend) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape) {
	const op = "AvgPool2dBackward"
	poolSizes(op, s)
	dyb, dxb := be.buf(dy, s.OutLen(), op+" dy"), be.buf(dx, s.InLen(), op+" dx")
	be.poolKernel("avg_pool_backward", be.fn.avgPoolBackward, s, s.InLen(), dyb, dxb)
}

func (be *Backend) TransposeBatch(x, y backend.Buffer, batch, rows, cols int) {
	const op = "TransposeBatch"
	backend.CheckSizes("cuda", op, batch, rows, cols)
	n := product(op, batch, rows, cols)
	xb, yb := be.buf(x, n, op+" x"), be.buf(y, n, op+" y")
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.transpose(xb.ptr, yb.ptr, 0, batch, rows, cols)
}

var _ backend.Convolver = (*Backend)(nil)
