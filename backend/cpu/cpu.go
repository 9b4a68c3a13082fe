package cpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/fastnn/fastnn/backend"
)

func init() {
	backend.Register("cpu", 0, func(o backend.Options) (backend.Backend, error) { return New(o) })
}

// buffer is the CPU backend's Buffer: plain host memory.
type buffer struct {
	data  []float32
	owner *Backend
}

func (b *buffer) Len() int { return len(b.data) }

// Backend runs every operation on the host CPU, with the kernels of one SIMD
// level and a persistent pool of worker goroutines. It is safe for
// concurrent use; concurrent GEMMs take turns.
type Backend struct {
	level   Level
	kern    *kernels
	threads int
	pool    *pool

	// opMu serializes the operations whose loop state lives in jobs, and
	// guards the per-worker scratch.
	opMu    sync.Mutex
	jobs    jobs
	scratch []gemmScratch // one per worker
	transC  []float32     // C^T of a product computed transposed (narrowN)

	convMu sync.Mutex // guards conv, held for a whole convolution
	conv   convScratch
}

var _ backend.Backend = (*Backend)(nil)

// New opens a CPU backend. Options.Threads 0 means one thread per logical
// CPU; Options.Level (or the FASTNN_CPU_LEVEL variable) forces a level.
func New(o backend.Options) (*Backend, error) {
	level, err := chooseLevel(o.Level)
	if err != nil {
		return nil, err
	}
	threads := o.Threads
	if threads < 0 {
		return nil, fmt.Errorf("cpu: threads must be >= 0, got %d", threads)
	}
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	return &Backend{
		level:   level,
		kern:    kernelTable[level],
		threads: threads,
		pool:    newPool(threads),
		scratch: make([]gemmScratch, threads),
	}, nil
}

func (be *Backend) Name() string { return "cpu" }

// Level is the kernel level in use.
func (be *Backend) Level() Level { return be.level }

// Threads is the number of worker threads.
func (be *Backend) Threads() int { return be.threads }

func (be *Backend) Details() string {
	return fmt.Sprintf("cpu/%s %d threads", be.level, be.threads)
}

func (be *Backend) Close() error {
	be.pool.close()
	return nil
}

func (be *Backend) Alloc(n int) backend.Buffer {
	if n < 0 {
		panic(fmt.Sprintf("cpu: Alloc(%d): negative size", n))
	}
	return &buffer{data: make([]float32, n), owner: be}
}

func (be *Backend) Free(b backend.Buffer) {
	buf := be.buf(b, 0, "Free")
	buf.data = nil
}

// buf unwraps a Buffer of this backend holding at least n elements.
func (be *Backend) buf(b backend.Buffer, n int, op string) *buffer {
	buf, ok := b.(*buffer)
	if !ok || buf.owner != be {
		panic(fmt.Sprintf("cpu: %s: buffer %T does not belong to this backend", op, b))
	}
	if n < 0 {
		panic(fmt.Sprintf("cpu: %s: negative size %d", op, n))
	}
	if buf.data == nil && n > 0 {
		panic(fmt.Sprintf("cpu: %s: buffer used after Free", op))
	}
	if len(buf.data) < n {
		panic(fmt.Sprintf("cpu: %s: buffer has %d elements, needs %d", op, len(buf.data), n))
	}
	return buf
}

// f returns the first n elements of a buffer of this backend.
func (be *Backend) f(b backend.Buffer, n int, op string) []float32 {
	return be.buf(b, n, op).data[:n]
}

func (be *Backend) Upload(dst backend.Buffer, src []float32) {
	copy(be.f(dst, len(src), "Upload"), src)
}

// UploadRows implements backend.RowUploader.
func (be *Backend) UploadRows(dst backend.Buffer, src []float32, width int, idx []int) {
	d := be.f(dst, len(idx)*width, "UploadRows")
	rows := len(src) / max(width, 1)
	for _, r := range idx {
		if r < 0 || r >= rows {
			panic(fmt.Sprintf("cpu: UploadRows: row index %d out of range [0, %d)", r, rows))
		}
	}
	// Split across the workers: the rows of a shuffled batch lie scattered
	// over a data set larger than the caches, and each worker's copies
	// wait on memory in parallel with the others'.
	be.opMu.Lock()
	defer be.opMu.Unlock()
	j := &be.jobs.gather
	*j = gatherJob{dst: d, src: src, width: width, idx: idx}
	be.pool.parallelFor(len(idx), rowGrain(width), 1, j)
	*j = gatherJob{}
}

func (be *Backend) Download(dst []float32, src backend.Buffer) {
	copy(dst, be.f(src, len(dst), "Download"))
}

func (be *Backend) Copy(dst, src backend.Buffer, n int) {
	copy(be.f(dst, n, "Copy"), be.f(src, n, "Copy"))
}

func (be *Backend) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	backend.CheckSizes("cpu", "Gemm", m, n, k)
	be.gemm(gemmArgs{
		transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: be.f(a, m*k, "Gemm A"), b: be.f(b, k*n, "Gemm B"), c: be.f(c, m*n, "Gemm C"),
	})
}
