//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/kernels"
)

func init() {
	backend.Register("cuda", 100, func(o backend.Options) (backend.Backend, error) { return New(o) })
}

// EnvDevice selects the device ordinal (default 0).
const EnvDevice = "FASTNN_CUDA_DEVICE"

// EnvSync=1 waits for every kernel and cuBLAS call as it is queued, so
// that a fault is reported with the name of the kernel that caused it
// rather than by whichever later call finds it (as CUDA_LAUNCH_BLOCKING=1
// does for the runtime API). It costs the overlap of host and device.
const EnvSync = "FASTNN_CUDA_SYNC"

// Driver API constants (cuda.h).
const (
	streamNonBlocking  = 1 // CU_STREAM_NON_BLOCKING: no implicit sync with the legacy stream
	eventDisableTiming = 2 // CU_EVENT_DISABLE_TIMING: cheaper, for the upload slots
	eventDefault       = 0

	attrMultiprocessorCount    = 16 // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76

	jitErrorLogBuffer     = 5 // CU_JIT_ERROR_LOG_BUFFER
	jitErrorLogBufferSize = 6 // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
)

// block is the thread count of every launch but the row kernels'.
const block = 256

// Backend runs every operation on one CUDA device, in order, on one stream:
// cuBLAS for Gemm, the PTX kernels of package kernels for the rest, and
// driver copies and fills. Operations are queued and return at once;
// Download waits for the queue. A Backend may be used from several
// goroutines (its operations are serialised).
//
// Device failures inside an operation (a lost device, an illegal address
// reported by a later call) panic with *Error or *BLASError: the interface
// has no error path for them, and a device in that state cannot continue.
type Backend struct {
	mu sync.Mutex

	drv  *driver
	blas *blas

	device                     int32
	pc                         *primary // the device's primary context
	ctx, stream, module        uintptr
	handle                     uintptr // cublasHandle_t
	deviceName                 string
	smCount, ccMajor, ccMinor  int
	driverVersion, blasVersion int
	tf32                       bool
	syncEach                   bool // EnvSync

	fn kernelFuncs
	h  *hostState // memory the driver reads or writes through pointers

	pool        allocator
	up          [4]stagingSlot // pinned upload buffers, used round robin
	upAt        int
	down        pinned  // pinned download buffer
	start, stop uintptr // events for DeviceTime
	conv        convScratch

	closed bool
}

// hostState is heap memory whose addresses are handed to the driver: out
// parameters, cuBLAS's alpha and beta, and the kernel parameter block.
type hostState struct {
	u64   uint64
	i32   int32
	ptr   unsafe.Pointer
	f32   float32
	alpha float32
	beta  float32
	args  launchArgs
	name  [256]byte

	// cuModuleLoadDataEx's image, options and JIT error log.
	ptx     []byte
	jitOpts [2]int32
	jitVals [2]uintptr
	jitLog  [8192]byte
}

// kernelFuncs holds the CUfunction of every kernel.
type kernelFuncs struct {
	scale, axpy, add, mul, biasActivate, activate, activateBackward, dropoutMask uintptr
	sgdStep, adamStep, softmax, softmaxBackward, softmaxXent, sumRows            uintptr
	batchnormForward, batchnormBackward, sumSquares, argmaxRows, countCorrect    uintptr
	pointwiseLoss, colSums, colSqDevs, batchnormBackwardSums                     uintptr
	im2col, col2im, transposeBatch, maxPool, maxPoolBackward, avgPool            uintptr
	avgPoolBackward                                                              uintptr
}

func (f *kernelFuncs) table() map[string]*uintptr {
	return map[string]*uintptr{
		"scale": &f.scale, "axpy": &f.axpy, "add": &f.add, "mul": &f.mul,
		"bias_activate": &f.biasActivate, "activate": &f.activate,
		"activate_backward": &f.activateBackward, "dropout_mask": &f.dropoutMask,
		"sgd_step": &f.sgdStep, "adam_step": &f.adamStep,
		"softmax": &f.softmax, "softmax_backward": &f.softmaxBackward, "softmax_xent": &f.softmaxXent,
		"sum_rows": &f.sumRows, "batchnorm_forward": &f.batchnormForward,
		"batchnorm_backward": &f.batchnormBackward, "sum_squares": &f.sumSquares,
		"argmax_rows": &f.argmaxRows, "count_correct": &f.countCorrect,
		"pointwise_loss": &f.pointwiseLoss,
		"col_sums":       &f.colSums, "col_sq_devs": &f.colSqDevs, "batchnorm_backward_sums": &f.batchnormBackwardSums,
		"im2col": &f.im2col, "col2im": &f.col2im, "transpose_batch": &f.transposeBatch,
		"max_pool": &f.maxPool, "max_pool_backward": &f.maxPoolBackward,
		"avg_pool": &f.avgPool, "avg_pool_backward": &f.avgPoolBackward,
	}
}

// New opens the CUDA backend on device 0 (or $FASTNN_CUDA_DEVICE). It
// returns an error, never panics, when the driver, a device or cuBLAS is
// missing. Options.TF32 turns on TF32 tensor cores for Gemm.
func New(o backend.Options) (_ *Backend, err error) {
	drv, err := loadDriver()
	if err != nil {
		return nil, err
	}
	be := &Backend{drv: drv, h: new(hostState), tf32: o.TF32, syncEach: os.Getenv(EnvSync) == "1"}
	be.pool.be = be
	be.h.args.init()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		if err != nil {
			// A sticky fault while opening resets the context, as it does
			// later, so that the next New does not get it back broken.
			if err = be.fail(err); be.lost() == nil {
				be.release()
			}
		}
	}()
	if err = drv.call("cuInit", drv.init, 0); err != nil {
		return nil, err
	}
	if err = drv.call("cuDriverGetVersion", drv.driverGetVersion, be.outI32()); err != nil {
		return nil, err
	}
	be.driverVersion = int(be.h.i32)
	if err = drv.call("cuDeviceGetCount", drv.deviceGetCount, be.outI32()); err != nil {
		return nil, err
	}
	count := int(be.h.i32)
	ordinal := 0
	if s := os.Getenv(EnvDevice); s != "" {
		if ordinal, err = strconv.Atoi(s); err != nil || ordinal < 0 {
			return nil, fmt.Errorf("cuda: %s=%q is not a device ordinal", EnvDevice, s)
		}
	}
	if count == 0 {
		return nil, errNoDevice
	}
	if ordinal >= count {
		return nil, fmt.Errorf("cuda: %s=%d, but the machine has %d device(s)", EnvDevice, ordinal, count)
	}
	if err = drv.call("cuDeviceGet", drv.deviceGet, be.outI32(), uintptr(ordinal)); err != nil {
		return nil, err
	}
	be.device = be.h.i32
	if err = drv.call("cuDeviceGetName", drv.deviceGetName, uintptr(unsafe.Pointer(&be.h.name[0])), uintptr(len(be.h.name)), uintptr(be.device)); err != nil {
		return nil, err
	}
	be.deviceName = cString(unsafe.Pointer(&be.h.name[0]), len(be.h.name))
	for _, a := range []struct {
		attr int
		dst  *int
	}{{attrMultiprocessorCount, &be.smCount}, {attrComputeCapabilityMajor, &be.ccMajor}, {attrComputeCapabilityMinor, &be.ccMinor}} {
		if err = drv.call("cuDeviceGetAttribute", drv.deviceGetAttribute, be.outI32(), uintptr(a.attr), uintptr(be.device)); err != nil {
			return nil, err
		}
		*a.dst = int(be.h.i32)
	}
	if be.pc, err = primaryContext(drv, be.device); err != nil {
		return nil, err
	}
	be.ctx = be.pc.ctx
	if err = drv.call("cuCtxSetCurrent", drv.ctxSetCurrent, be.ctx); err != nil {
		return nil, err
	}
	if err = drv.call("cuStreamCreate", drv.streamCreate, be.outU64(), streamNonBlocking); err != nil {
		return nil, err
	}
	be.stream = uintptr(be.h.u64)
	if err = be.loadModule(); err != nil {
		return nil, err
	}
	for i := range be.up {
		if be.up[i].event, err = be.newEvent(eventDisableTiming); err != nil {
			return nil, err
		}
	}
	if be.start, err = be.newEvent(eventDefault); err != nil {
		return nil, err
	}
	if be.stop, err = be.newEvent(eventDefault); err != nil {
		return nil, err
	}
	if err = be.openBLAS(); err != nil {
		return nil, err
	}
	if err = be.blas.call("cublasSetStream_v2", be.blas.setStream, be.handle, be.stream); err != nil {
		return nil, err
	}
	mode := uintptr(cublasDefaultMath)
	if be.tf32 {
		mode = cublasTF32TensorOpMath
	}
	if err = be.blas.call("cublasSetMathMode", be.blas.setMathMode, be.handle, mode); err != nil {
		return nil, err
	}
	if err = be.blas.call("cublasGetVersion_v2", be.blas.version, be.handle, be.outI32()); err != nil {
		return nil, err
	}
	be.blasVersion = int(be.h.i32)
	return be, nil
}

// primaryContexts holds the primary context of each device this process has
// opened. A context is retained once and kept: releasing the last
// reference resets the device's primary context, which would leave stale
// the runtime state that cuBLAS keeps for it, and a later New in the same
// process would then fail (PyTorch, too, keeps its contexts for the life of
// the process). The exception is a sticky error (see lose), after which the
// context is reset and released, and the next New retains a fresh one.
var primaryContexts struct {
	sync.Mutex
	ctx map[int32]*primary
	out uint64
}

// primary is a device's primary context, shared by every Backend on it.
type primary struct {
	ctx  uintptr
	lost error // the sticky error that ended it; guarded by primaryContexts
}

func primaryContext(drv *driver, device int32) (*primary, error) {
	pc := &primaryContexts
	pc.Lock()
	defer pc.Unlock()
	if p, ok := pc.ctx[device]; ok {
		return p, nil
	}
	if err := drv.call("cuDevicePrimaryCtxRetain", drv.devicePrimaryCtxRetain, uintptr(unsafe.Pointer(&pc.out)), uintptr(device)); err != nil {
		return nil, err
	}
	if pc.ctx == nil {
		pc.ctx = map[int32]*primary{}
	}
	p := &primary{ctx: uintptr(pc.out)}
	pc.ctx[device] = p
	return p, nil
}

// stickyResult reports whether a CUresult leaves the context unusable: a
// kernel faulted, and every later call on the context returns the error.
func stickyResult(res int) bool {
	switch res {
	case 214, // CUDA_ERROR_ECC_UNCORRECTABLE
		700, // CUDA_ERROR_ILLEGAL_ADDRESS
		702, // CUDA_ERROR_LAUNCH_TIMEOUT
		710, // CUDA_ERROR_ASSERT
		714, // CUDA_ERROR_HARDWARE_STACK_ERROR
		715, // CUDA_ERROR_ILLEGAL_INSTRUCTION
		716, // CUDA_ERROR_MISALIGNED_ADDRESS
		717, // CUDA_ERROR_INVALID_ADDRESS_SPACE
		718, // CUDA_ERROR_INVALID_PC
		719: // CUDA_ERROR_LAUNCH_FAILED
		return true
	}
	return false
}

// fail returns err, and, when err is a sticky error, first gives up the
// device's primary context: it resets it (freeing everything on it, which
// is all lost anyway) and releases it, so that a Backend opened afterwards
// in this process gets a fresh context instead of the same error forever.
// Every Backend on the old context is lost: its operations panic with err,
// and its Close has nothing left to free.
func (be *Backend) fail(err error) error {
	var e *Error
	if !errors.As(err, &e) || !stickyResult(e.Result) || be.pc == nil {
		return err
	}
	pc := &primaryContexts
	pc.Lock()
	defer pc.Unlock()
	p := be.pc
	if p.lost != nil {
		return err
	}
	p.lost = err
	d := be.drv
	if rerr := d.call("cuDevicePrimaryCtxReset", d.devicePrimaryCtxReset, uintptr(be.device)); rerr != nil {
		p.lost = fmt.Errorf("%w (and resetting the device failed: %v)", err, rerr)
	} else if rerr := d.call("cuDevicePrimaryCtxRelease", d.devicePrimaryCtxRelease, uintptr(be.device)); rerr != nil {
		p.lost = fmt.Errorf("%w (and releasing the reset context failed: %v)", err, rerr)
	}
	if pc.ctx[be.device] == p {
		delete(pc.ctx, be.device)
	}
	return p.lost
}

// lost returns the sticky error that ended this backend's context, if any.
func (be *Backend) lost() error {
	if be.pc == nil {
		return nil
	}
	primaryContexts.Lock()
	defer primaryContexts.Unlock()
	return be.pc.lost
}

// openBLAS loads cuBLAS and creates the handle, trying the sonames from
// the newest the driver supports down: a libcublas.so.13 on a machine whose
// driver only runs CUDA 12 loads, but cannot create a handle.
func (be *Backend) openBLAS() error {
	driverMajor := be.driverVersion / 1000
	var names []string
	for _, n := range cublasLibraries {
		if major, ok := sonameMajor(n); !ok || major <= driverMajor {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("cuda: driver %d.%d is older than every cuBLAS this package supports (%v)",
			driverMajor, be.driverVersion%1000/10, cublasLibraries)
	}
	var errs []error
	for _, n := range names {
		b, err := loadBLAS([]string{n})
		if err == nil {
			err = b.call("cublasCreate_v2", b.create, be.outU64())
		}
		if err == nil {
			be.blas, be.handle = b, uintptr(be.h.u64)
			return nil
		}
		errs = append(errs, err)
		if os.Getenv(EnvLibCUBLAS) != "" {
			break // the named file is the only candidate
		}
	}
	return errors.Join(errs...)
}

// loadModule JIT-compiles the embedded PTX for this device and looks up
// every kernel; a JIT failure carries the compiler's log.
func (be *Backend) loadModule() error {
	h := be.h
	h.ptx = append([]byte(kernels.PTX), 0)
	h.jitOpts = [2]int32{jitErrorLogBuffer, jitErrorLogBufferSize}
	h.jitVals = [2]uintptr{uintptr(unsafe.Pointer(&h.jitLog[0])), uintptr(len(h.jitLog))}
	err := be.drv.call("cuModuleLoadDataEx", be.drv.moduleLoadDataEx, be.outU64(),
		uintptr(unsafe.Pointer(&h.ptx[0])), uintptr(len(h.jitOpts)),
		uintptr(unsafe.Pointer(&h.jitOpts[0])), uintptr(unsafe.Pointer(&h.jitVals[0])))
	h.ptx = nil
	if err != nil {
		return fmt.Errorf("%w; JIT log: %s", err, cString(unsafe.Pointer(&h.jitLog[0]), len(h.jitLog)))
	}
	be.module = uintptr(be.h.u64)
	for name, dst := range be.fn.table() {
		n := copy(h.name[:len(h.name)-1], name)
		h.name[n] = 0
		err := be.drv.call("cuModuleGetFunction("+name+")", be.drv.moduleGetFunction, be.outU64(), be.module, uintptr(unsafe.Pointer(&h.name[0])))
		if err != nil {
			return err
		}
		*dst = uintptr(be.h.u64)
	}
	return nil
}

func (be *Backend) newEvent(flags uintptr) (uintptr, error) {
	err := be.drv.call("cuEventCreate", be.drv.eventCreate, be.outU64(), flags)
	return uintptr(be.h.u64), err
}

// outU64 and outI32 point at the scratch out parameters.
func (be *Backend) outU64() uintptr { be.h.u64 = 0; return uintptr(unsafe.Pointer(&be.h.u64)) }
func (be *Backend) outI32() uintptr { be.h.i32 = 0; return uintptr(unsafe.Pointer(&be.h.i32)) }

func (be *Backend) Name() string { return "cuda" }

// Details names the device, its compute capability, the driver and cuBLAS
// versions and the GEMM math mode.
func (be *Backend) Details() string {
	mode := "fp32"
	if be.tf32 {
		mode = "tf32"
	}
	if be.syncEach {
		mode += ", " + EnvSync + "=1: synchronised after every launch"
	}
	v := be.blasVersion // major*10000 + minor*100 + patch
	return fmt.Sprintf("cuda %s (sm_%d%d, %d SMs), driver %d.%d, cuBLAS %d.%d.%d, gemm %s",
		be.deviceName, be.ccMajor, be.ccMinor, be.smCount,
		be.driverVersion/1000, be.driverVersion%1000/10, v/10000, v%10000/100, v%100, mode)
}

// Asynchronous reports that operations are queued on the device.
func (be *Backend) Asynchronous() bool { return true }

// begin makes the backend's context current on this goroutine's OS thread
// for the duration of one operation; end undoes begin. On a backend whose
// context a fault ended it panics with that fault: the memory it would
// touch is gone.
func (be *Backend) begin() {
	if err := be.tryBegin(); err != nil {
		panic(err)
	}
}

// tryBegin is begin for the operations that return errors.
func (be *Backend) tryBegin() error {
	be.mu.Lock()
	if be.closed {
		be.mu.Unlock()
		return errors.New("cuda: operation on a closed backend")
	}
	if err := be.lost(); err != nil {
		be.mu.Unlock()
		return fmt.Errorf("cuda: the device was reset after an earlier fault: %w", err)
	}
	runtime.LockOSThread()
	if err := be.drv.call("cuCtxSetCurrent", be.drv.ctxSetCurrent, be.ctx); err != nil {
		be.end() // a deferred Close must not find the lock held
		return be.fail(err)
	}
	return nil
}

func (be *Backend) end() {
	runtime.UnlockOSThread()
	be.mu.Unlock()
}

// must panics with err, after fail has dealt with a sticky one.
func (be *Backend) must(err error) {
	if err != nil {
		panic(be.fail(err))
	}
}

// Close waits for the queue and releases every device and pinned
// allocation, the module, the stream and the context. It may be called
// more than once.
func (be *Backend) Close() error {
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.closed {
		return nil
	}
	be.closed = true
	if be.lost() != nil {
		// The reset freed the memory, module, stream and events; only the
		// cuBLAS handle's host memory is left, and cuBLAS cannot be asked
		// to free it on a context that no longer exists.
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var errs []error
	if err := be.drv.call("cuCtxSetCurrent", be.drv.ctxSetCurrent, be.ctx); err != nil {
		errs = append(errs, err)
	}
	if err := be.drv.call("cuStreamSynchronize", be.drv.streamSynchronize, be.stream); err != nil {
		// A fault of the last queued work shows first here: reset the
		// context as any other sticky error does, so that a backend opened
		// later in the process starts clean.
		if err = be.fail(err); be.lost() != nil {
			return err
		}
		errs = append(errs, err)
	}
	errs = append(errs, be.release())
	return errors.Join(errs...)
}

// release frees whatever New got so far; the context must be current.
func (be *Backend) release() error {
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	d := be.drv
	keep(be.pool.releaseAll())
	for i := range be.up {
		keep(be.up[i].buf.free(be))
		if be.up[i].event != 0 {
			keep(d.call("cuEventDestroy", d.eventDestroy, be.up[i].event))
		}
	}
	keep(be.down.free(be))
	for _, e := range []uintptr{be.start, be.stop} {
		if e != 0 {
			keep(d.call("cuEventDestroy", d.eventDestroy, e))
		}
	}
	if be.handle != 0 {
		keep(be.blas.call("cublasDestroy_v2", be.blas.destroy, be.handle))
	}
	if be.module != 0 {
		keep(d.call("cuModuleUnload", d.moduleUnload, be.module))
	}
	if be.stream != 0 {
		keep(d.call("cuStreamDestroy", d.streamDestroy, be.stream))
	}
	be.handle, be.module, be.stream, be.ctx = 0, 0, 0, 0
	return errors.Join(errs...)
}

// DeviceTime runs fn, which queues operations on this backend, and returns
// the time the device spent on them, measured between two events.
func (be *Backend) DeviceTime(fn func()) (time.Duration, error) {
	if err := be.tryBegin(); err != nil {
		return 0, err
	}
	err := be.drv.call("cuEventRecord", be.drv.eventRecord, be.start, be.stream)
	if err != nil {
		err = be.fail(err)
	}
	be.end()
	if err != nil {
		return 0, err
	}
	fn()
	if err := be.tryBegin(); err != nil {
		return 0, err
	}
	defer be.end()
	d := be.drv
	if err := d.call("cuEventRecord", d.eventRecord, be.stop, be.stream); err != nil {
		return 0, be.fail(err)
	}
	if err := d.call("cuEventSynchronize", d.eventSynchronize, be.stop); err != nil {
		return 0, be.fail(err)
	}
	if err := d.call("cuEventElapsedTime", d.eventElapsedTime, uintptr(unsafe.Pointer(&be.h.f32)), be.start, be.stop); err != nil {
		return 0, be.fail(err)
	}
	return time.Duration(float64(be.h.f32) * float64(time.Millisecond)), nil
}

// Synchronize waits until every queued operation has run.
func (be *Backend) Synchronize() error {
	if err := be.tryBegin(); err != nil {
		return err
	}
	defer be.end()
	if err := be.drv.call("cuStreamSynchronize", be.drv.streamSynchronize, be.stream); err != nil {
		return be.fail(err)
	}
	return nil
}

// maxElems bounds every size, and the element count of every matrix, so
// that the kernels' 32-bit rows and cols and their 64-bit element indices
// cannot overflow (the largest buffer is 8 GiB).
const maxElems = math.MaxInt32 - 1<<20

func checkSize(op string, sizes ...int) {
	for _, s := range sizes {
		if s < 0 || s > maxElems {
			panic(fmt.Sprintf("cuda: %s: size %d out of range [0, %d]", op, s, maxElems))
		}
	}
}
