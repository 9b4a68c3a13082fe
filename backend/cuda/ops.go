//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/fastnn/fastnn/backend"
)

// launchArgs is cuLaunchKernel's kernelParams: ptrs[i] points at vals[i],
// which holds argument i in its low bytes (little-endian), so one 8-byte
// slot serves pointers, 64-bit and 32-bit values alike.
type launchArgs struct {
	vals [24]uint64
	ptrs [24]uintptr
	n    int
}

func (a *launchArgs) init() {
	for i := range a.vals {
		a.ptrs[i] = uintptr(unsafe.Pointer(&a.vals[i]))
	}
}

func (a *launchArgs) reset() *launchArgs        { a.n = 0; return a }
func (a *launchArgs) u64(v uint64) *launchArgs  { a.vals[a.n] = v; a.n++; return a }
func (a *launchArgs) buf(b *buffer) *launchArgs { return a.u64(b.ptr) }
func (a *launchArgs) i64(v int) *launchArgs     { return a.u64(uint64(v)) }
func (a *launchArgs) i32(v int) *launchArgs     { return a.u64(uint64(uint32(int32(v)))) }
func (a *launchArgs) f32(v float32) *launchArgs { return a.u64(uint64(math.Float32bits(v))) }
func (a *launchArgs) flag(v bool) *launchArgs {
	if v {
		return a.i32(1)
	}
	return a.i32(0)
}

// args starts the parameter list of the next launch (inside begin/end).
func (be *Backend) args() *launchArgs { return be.h.args.reset() }

// launch queues fn on the stream with grid x threads blocks (one
// dimension each) and the parameters in be.h.args.
func (be *Backend) launch(name string, fn uintptr, grid, threads int) {
	be.must(be.drv.call("cuLaunchKernel("+name+")", be.drv.launchKernel, fn,
		uintptr(grid), 1, 1, uintptr(threads), 1, 1, 0, be.stream,
		uintptr(unsafe.Pointer(&be.h.args.ptrs[0])), 0))
	be.checkLaunch(name)
}

// KernelError is a fault found by waiting for one kernel or cuBLAS call
// ($FASTNN_CUDA_SYNC=1): it names the kernel that caused it.
type KernelError struct {
	Kernel string
	Err    error
}

func (e *KernelError) Error() string { return "cuda: kernel " + e.Kernel + " failed: " + e.Err.Error() }
func (e *KernelError) Unwrap() error { return e.Err }

// checkLaunch, with EnvSync set, waits for the work just queued, so that a
// fault in it is reported as that kernel's.
func (be *Backend) checkLaunch(name string) {
	if !be.syncEach {
		return
	}
	if err := be.drv.call("cuStreamSynchronize", be.drv.streamSynchronize, be.stream); err != nil {
		panic(be.fail(&KernelError{Kernel: name, Err: err}))
	}
}

// gridFor is the grid of a grid-stride kernel over n elements: enough
// blocks to fill the device, no more (the loop covers the rest).
func (be *Backend) gridFor(n int) int {
	return max(1, min((n+block-1)/block, 8*max(be.smCount, 1)*(2048/block)))
}

// rowThreads is the block size of a one-block-per-row kernel: a multiple
// of the warp size covering cols, at most block.
func rowThreads(cols int) int { return min(block, max(32, (cols+31)/32*32)) }

// elementwise queues a grid-stride kernel whose arguments are already set.
func (be *Backend) elementwise(name string, fn uintptr, n int) {
	be.launch(name, fn, be.gridFor(n), block)
}

// Gemm runs cublasSgemm on the row-major operands through the transpose
// identity: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T,
// so cuBLAS gets B as its first operand, A as its second, and n, m swapped.
func (be *Backend) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	checkSize("Gemm", m, n, k)
	ab, bb, cb := be.buf(a, m*k, "Gemm a"), be.buf(b, k*n, "Gemm b"), be.buf(c, m*n, "Gemm c")
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		// C = beta*C, as BLAS defines it (and without reading C when beta is 0).
		if beta == 0 {
			be.Fill(c, 0, m*n)
		} else if beta != 1 {
			be.Scale(c, beta, m*n)
		}
		return
	}
	be.begin()
	defer be.end()
	be.gemm(transA, transB, m, n, k, alpha, ab.ptr, bb.ptr, beta, cb.ptr)
}

// gemm queues cublasSgemm on row-major device matrices, as Gemm describes
// it, inside begin/end; m, n and k are at least 1.
func (be *Backend) gemm(transA, transB bool, m, n, k int, alpha float32, a, b uint64, beta float32, c uint64) {
	opA, lda := uintptr(cublasOpN), k
	if transA {
		opA, lda = cublasOpT, m
	}
	opB, ldb := uintptr(cublasOpN), n
	if transB {
		opB, ldb = cublasOpT, k
	}
	be.h.alpha, be.h.beta = alpha, beta
	be.must(be.blas.call("cublasSgemm_v2", be.blas.sgemm, be.handle, opB, opA,
		uintptr(n), uintptr(m), uintptr(k),
		uintptr(unsafe.Pointer(&be.h.alpha)), uintptr(b), uintptr(ldb),
		uintptr(a), uintptr(lda),
		uintptr(unsafe.Pointer(&be.h.beta)), uintptr(c), uintptr(n)))
	be.checkLaunch("cublasSgemm_v2")
}

func (be *Backend) AddBias(x, bias backend.Buffer, rows, cols int) {
	be.BiasActivate(backend.Identity, 0, x, bias, x, rows, cols)
}

func (be *Backend) BiasActivate(act backend.Activation, slope float32, z, bias, y backend.Buffer, rows, cols int) {
	checkSize("BiasActivate", rows, cols, rows*cols)
	zb, bb, yb := be.buf(z, rows*cols, "BiasActivate z"), be.buf(bias, cols, "BiasActivate bias"), be.buf(y, rows*cols, "BiasActivate y")
	checkActivation(act)
	if zb == yb && act != backend.Identity {
		panic(fmt.Sprintf("cuda: BiasActivate: y may be z only for identity, not %v", act))
	}
	if rows*cols == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().i32(int(act)).f32(slope).buf(zb).buf(bb).buf(yb).i64(rows).i64(cols)
	be.elementwise("bias_activate", be.fn.biasActivate, rows*cols)
}

func checkActivation(act backend.Activation) {
	if act < 0 || act > backend.GELU {
		panic(fmt.Sprintf("cuda: unknown activation %v", act))
	}
}

func (be *Backend) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	checkSize("Activate", n)
	xb, yb := be.buf(x, n, "Activate x"), be.buf(y, n, "Activate y")
	checkActivation(act)
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().i32(int(act)).f32(slope).buf(xb).buf(yb).i64(n)
	be.elementwise("activate", be.fn.activate, n)
}

func (be *Backend) ActivateBackward(act backend.Activation, slope float32, x, y, dy, dx backend.Buffer, n int) {
	checkSize("ActivateBackward", n)
	xb, yb := be.buf(x, n, "ActivateBackward x"), be.buf(y, n, "ActivateBackward y")
	dyb, dxb := be.buf(dy, n, "ActivateBackward dy"), be.buf(dx, n, "ActivateBackward dx")
	checkActivation(act)
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().i32(int(act)).f32(slope).buf(xb).buf(yb).buf(dyb).buf(dxb).i64(n)
	be.elementwise("activate_backward", be.fn.activateBackward, n)
}

// rowKernel queues a one-block-per-row kernel whose arguments are set.
func (be *Backend) rowKernel(name string, fn uintptr, rows, cols int) {
	be.launch(name, fn, rows, rowThreads(cols))
}

func (be *Backend) Softmax(x, y backend.Buffer, rows, cols int) {
	checkSize("Softmax", rows, cols, rows*cols)
	xb, yb := be.buf(x, rows*cols, "Softmax x"), be.buf(y, rows*cols, "Softmax y")
	if rows == 0 || cols == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(xb).buf(yb).i32(rows).i32(cols)
	be.rowKernel("softmax", be.fn.softmax, rows, cols)
}

func (be *Backend) SoftmaxBackward(y, dy, dx backend.Buffer, rows, cols int) {
	checkSize("SoftmaxBackward", rows, cols, rows*cols)
	yb, dyb, dxb := be.buf(y, rows*cols, "SoftmaxBackward y"), be.buf(dy, rows*cols, "SoftmaxBackward dy"), be.buf(dx, rows*cols, "SoftmaxBackward dx")
	if rows == 0 || cols == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(yb).buf(dyb).buf(dxb).i32(rows).i32(cols)
	be.rowKernel("softmax_backward", be.fn.softmaxBackward, rows, cols)
}

func (be *Backend) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	checkSize("DropoutMask", n)
	mb := be.buf(mask, n, "DropoutMask mask")
	backend.CheckDropoutP("cuda", p)
	if n == 0 {
		return
	}
	keep := float32(1 / (1 - float64(p)))
	be.begin()
	defer be.end()
	be.args().buf(mb).i64(n).f32(p).u64(seed).f32(keep)
	be.elementwise("dropout_mask", be.fn.dropoutMask, n)
}

// columnGrid is the grid of a one-thread-per-column kernel.
func columnGrid(cols int) int { return max(1, (cols+block-1)/block) }

// columnSplit lays out a column kernel (see fastnn.cu): tiles of threads
// consecutive columns by chunks of rowsPerChunk rows, about four blocks per
// SM, each with at least minChunkRows rows. The layout depends only on the
// shape and the SM count, so the sums, added in chunk order, repeat.
type columnSplit struct{ threads, colBlocks, chunks, rowsPerChunk int }

const minChunkRows = 16

func (be *Backend) columnSplit(rows, cols int) columnSplit {
	threads := rowThreads(cols)
	colBlocks := (cols + threads - 1) / threads
	chunks := max(1, min(4*max(be.smCount, 1)/colBlocks, (rows+minChunkRows-1)/minChunkRows))
	rowsPerChunk := max(1, (rows+chunks-1)/chunks)
	chunks = max(1, (rows+rowsPerChunk-1)/rowsPerChunk)
	return columnSplit{threads, colBlocks, chunks, rowsPerChunk}
}

func (c columnSplit) grid() int { return c.colBlocks * c.chunks }

// launchColumns queues a column kernel whose arguments, but for the
// layout's rowsPerChunk and colBlocks, are set.
func (be *Backend) launchColumns(name string, fn uintptr, sp columnSplit) {
	be.h.args.i32(sp.rowsPerChunk).i32(sp.colBlocks)
	be.launch(name, fn, sp.grid(), sp.threads)
}

// workspace takes device memory for n float64s from the allocator, for
// the partial sums of the operation being queued (inside begin/end); done
// gives it back once the launches that use it are queued: work that takes
// it next is queued after them on the one stream.
func (be *Backend) workspace(n int) (ptr uint64, done func()) {
	class := sizeClass(8 * max(n, 1))
	p, err := be.pool.get(class)
	be.must(err)
	return p, func() { be.pool.put(p, class) }
}

func (be *Backend) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	const op = "BatchNormForward"
	checkSize(op, rows, cols, rows*cols)
	xb, yb := be.buf(x, rows*cols, op+" x"), be.buf(y, rows*cols, op+" y")
	gb, bb := be.buf(gamma, cols, op+" gamma"), be.buf(beta, cols, op+" beta")
	mb, sb := be.buf(mean, cols, op+" mean"), be.buf(invStd, cols, op+" invStd")
	rmb, rvb := be.buf(runMean, cols, op+" runMean"), be.buf(runVar, cols, op+" runVar")
	backend.CheckBatchNormRows("cuda", rows, training)
	if rows == 0 || cols == 0 {
		return
	}
	be.begin()
	defer be.end()
	sp := be.columnSplit(rows, cols)
	var sum, sq uint64 // the partial sums, in training only
	if training {
		var done func()
		sum, done = be.workspace(sp.chunks * cols)
		defer done()
		sq, done = be.workspace(sp.chunks * cols)
		defer done()
		be.args().buf(xb).u64(sum).i32(rows).i32(cols)
		be.launchColumns("col_sums", be.fn.colSums, sp)
		be.args().buf(xb).u64(sum).u64(sq).i32(rows).i32(cols)
		be.launchColumns("col_sq_devs", be.fn.colSqDevs, sp)
	}
	be.args().buf(xb).buf(yb).buf(gb).buf(bb).buf(mb).buf(sb).buf(rmb).buf(rvb).u64(sum).u64(sq).
		i32(rows).i32(cols).i32(sp.rowsPerChunk).i32(sp.colBlocks).f32(momentum).f32(eps).flag(training)
	be.launch("batchnorm_forward", be.fn.batchnormForward, sp.grid(), sp.threads)
}

func (be *Backend) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
	const op = "BatchNormBackward"
	checkSize(op, rows, cols, rows*cols)
	xb, dyb, dxb := be.buf(x, rows*cols, op+" x"), be.buf(dy, rows*cols, op+" dy"), be.buf(dx, rows*cols, op+" dx")
	gb, mb, sb := be.buf(gamma, cols, op+" gamma"), be.buf(mean, cols, op+" mean"), be.buf(invStd, cols, op+" invStd")
	dgb, dbb := be.buf(dGamma, cols, op+" dGamma"), be.buf(dBeta, cols, op+" dBeta")
	if rows == 0 || cols == 0 {
		return
	}
	be.begin()
	defer be.end()
	sp := be.columnSplit(rows, cols)
	sumDy, done := be.workspace(sp.chunks * cols)
	defer done()
	sumDyXhat, done := be.workspace(sp.chunks * cols)
	defer done()
	be.args().buf(xb).buf(dyb).buf(mb).buf(sb).u64(sumDy).u64(sumDyXhat).i32(rows).i32(cols)
	be.launchColumns("batchnorm_backward_sums", be.fn.batchnormBackwardSums, sp)
	be.args().buf(xb).buf(dyb).buf(dxb).buf(gb).buf(mb).buf(sb).buf(dgb).buf(dbb).u64(sumDy).u64(sumDyXhat).i32(rows).i32(cols)
	be.launchColumns("batchnorm_backward", be.fn.batchnormBackward, sp)
}

// binary queues c = f(a, b) for the elementwise kernels add and mul.
func (be *Backend) binary(name string, fn uintptr, a, b, c backend.Buffer, n int) {
	checkSize(name, n)
	ab, bb, cb := be.buf(a, n, name+" a"), be.buf(b, n, name+" b"), be.buf(c, n, name+" c")
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(ab).buf(bb).buf(cb).i64(n)
	be.elementwise(name, fn, n)
}

func (be *Backend) Add(a, b, c backend.Buffer, n int) { be.binary("add", be.fn.add, a, b, c, n) }
func (be *Backend) Mul(a, b, c backend.Buffer, n int) { be.binary("mul", be.fn.mul, a, b, c, n) }

func (be *Backend) Scale(x backend.Buffer, alpha float32, n int) {
	checkSize("Scale", n)
	xb := be.buf(x, n, "Scale x")
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(xb).f32(alpha).i64(n)
	be.elementwise("scale", be.fn.scale, n)
}

func (be *Backend) Axpy(alpha float32, x, y backend.Buffer, n int) {
	checkSize("Axpy", n)
	xb, yb := be.buf(x, n, "Axpy x"), be.buf(y, n, "Axpy y")
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().f32(alpha).buf(xb).buf(yb).i64(n)
	be.elementwise("axpy", be.fn.axpy, n)
}

func (be *Backend) SumRows(x, out backend.Buffer, rows, cols int, beta float32) {
	checkSize("SumRows", rows, cols, rows*cols)
	xb, ob := be.buf(x, rows*cols, "SumRows x"), be.buf(out, cols, "SumRows out")
	if cols == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.sumRows(xb.ptr, ob.ptr, rows, cols, beta)
}

// sumRows queues SumRows on device pointers, inside begin/end.
func (be *Backend) sumRows(x, out uint64, rows, cols int, beta float32) {
	sp := be.columnSplit(rows, cols)
	part, done := be.workspace(sp.chunks * cols)
	defer done()
	be.args().u64(x).u64(part).i32(rows).i32(cols)
	be.launchColumns("col_sums", be.fn.colSums, sp)
	be.args().u64(part).u64(out).i32(sp.chunks).i32(cols).f32(beta)
	be.launch("sum_rows", be.fn.sumRows, columnGrid(cols), block)
}

func (be *Backend) SumSquares(x backend.Buffer, n int, out backend.Buffer) {
	checkSize("SumSquares", n)
	xb, ob := be.buf(x, n, "SumSquares x"), be.buf(out, 1, "SumSquares out")
	if xb == ob {
		panic("cuda: SumSquares: out may not be x")
	}
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(xb).i64(n).buf(ob)
	be.elementwise("sum_squares", be.fn.sumSquares, n)
}

func (be *Backend) ArgmaxRows(x, out backend.Buffer, rows, cols int) {
	checkSize("ArgmaxRows", rows, cols, rows*cols)
	xb, ob := be.buf(x, rows*cols, "ArgmaxRows x"), be.buf(out, rows, "ArgmaxRows out")
	if rows == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(xb).buf(ob).i32(rows).i32(cols)
	be.launch("argmax_rows", be.fn.argmaxRows, columnGrid(rows), block)
}

func (be *Backend) CountCorrect(x, labels, out backend.Buffer, rows, cols int) {
	checkSize("CountCorrect", rows, cols, rows*cols)
	xb, lb, ob := be.buf(x, rows*cols, "CountCorrect x"), be.buf(labels, rows, "CountCorrect labels"), be.buf(out, 1, "CountCorrect out")
	if rows == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(xb).buf(lb).buf(ob).i32(rows).i32(cols)
	be.launch("count_correct", be.fn.countCorrect, columnGrid(rows), block)
}

func (be *Backend) SoftmaxCrossEntropy(logits, labels, grad, lossSum backend.Buffer, rows, cols int) {
	const op = "SoftmaxCrossEntropy"
	checkSize(op, rows, cols, rows*cols)
	zb, lb := be.buf(logits, rows*cols, op+" logits"), be.buf(labels, rows, op+" labels")
	gb, ob := be.buf(grad, rows*cols, op+" grad"), be.buf(lossSum, 1, op+" lossSum")
	if rows == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(zb).buf(lb).buf(gb).buf(ob).i32(rows).i32(cols)
	be.rowKernel("softmax_xent", be.fn.softmaxXent, rows, cols)
}

// Loss codes of the pointwise_loss kernel (its LOSS_ enum).
const (
	lossBCEWithLogits = iota
	lossMSE
	lossMAE
)

// pointwiseLoss queues one of the losses that are a mean over every element.
func (be *Backend) pointwiseLoss(op string, loss int, x, t, grad, lossSum backend.Buffer, rows, cols int) {
	checkSize(op, rows, cols, rows*cols)
	n := rows * cols
	xb, tb := be.buf(x, n, op+" input"), be.buf(t, n, op+" target")
	gb, ob := be.buf(grad, n, op+" grad"), be.buf(lossSum, 1, op+" lossSum")
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().i32(loss).buf(xb).buf(tb).buf(gb).buf(ob).i64(n).i32(cols)
	be.elementwise(op, be.fn.pointwiseLoss, n)
}

func (be *Backend) BCEWithLogits(logits, targets, grad, lossSum backend.Buffer, rows, cols int) {
	be.pointwiseLoss("BCEWithLogits", lossBCEWithLogits, logits, targets, grad, lossSum, rows, cols)
}

func (be *Backend) MSE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	be.pointwiseLoss("MSE", lossMSE, pred, target, grad, lossSum, rows, cols)
}

func (be *Backend) MAE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	be.pointwiseLoss("MAE", lossMAE, pred, target, grad, lossSum, rows, cols)
}

func (be *Backend) SGDStep(param, grad, velocity backend.Buffer, n int, cfg backend.SGDConfig) {
	checkSize("SGDStep", n)
	pb, gb := be.buf(param, n, "SGDStep param"), be.buf(grad, n, "SGDStep grad")
	vel := uint64(0) // not read when momentum is 0
	if cfg.Momentum != 0 {
		vel = be.buf(velocity, n, "SGDStep velocity").ptr
	}
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.args().buf(pb).buf(gb).u64(vel).i64(n).f32(cfg.LR).f32(cfg.Momentum).f32(cfg.WeightDecay).flag(cfg.Nesterov)
	be.elementwise("sgd_step", be.fn.sgdStep, n)
}

func (be *Backend) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	checkSize("AdamStep", n)
	backend.CheckAdamStep("cuda", cfg.Step)
	pb, gb := be.buf(param, n, "AdamStep param"), be.buf(grad, n, "AdamStep grad")
	mb, vb := be.buf(m, n, "AdamStep m"), be.buf(v, n, "AdamStep v")
	if n == 0 {
		return
	}
	sc := cfg.Scalars()
	be.begin()
	defer be.end()
	be.args().buf(pb).buf(gb).buf(mb).buf(vb).i64(n).
		f32(cfg.Beta1).f32(1 - cfg.Beta1).f32(cfg.Beta2).f32(1 - cfg.Beta2).
		f32(sc.StepSize).f32(sc.InvSqrtBC2).f32(cfg.Eps).f32(sc.Decay).f32(sc.Coupled)
	be.elementwise("adam_step", be.fn.adamStep, n)
}
