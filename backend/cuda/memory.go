//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/fastnn/fastnn/backend"
)

// buffer is device memory of n float32s inside a block of the allocator.
type buffer struct {
	be    *Backend
	ptr   uint64 // CUdeviceptr
	n     int
	bytes int // the block's size class
	freed bool
}

func (b *buffer) Len() int { return b.n }

// allocator is a caching allocator, in the manner of PyTorch's: a freed
// block goes to a free list of its size class and the next Alloc of that
// class takes it back, so that a training loop, which allocates the same
// shapes every step, calls cuMemAlloc only during its first step. Work is
// ordered on the backend's one stream, so a block reused by a later
// operation is never touched by an earlier one still queued.
type allocator struct {
	be    *Backend
	free  map[int][]uint64 // size class -> cached blocks
	all   map[uint64]int   // every block, live or cached -> size class
	bytes int              // device bytes held
}

// sizeClass rounds a request up: to 512 bytes below 1 MiB, to 2 MiB above,
// so that nearby sizes share blocks without wasting much.
func sizeClass(bytes int) int {
	const small, large = 512, 2 << 20
	if bytes <= 1<<20 {
		return max(small, (bytes+small-1)/small*small)
	}
	return (bytes + large - 1) / large * large
}

func (a *allocator) get(class int) (uint64, error) {
	if list := a.free[class]; len(list) > 0 {
		p := list[len(list)-1]
		a.free[class] = list[:len(list)-1]
		return p, nil
	}
	be := a.be
	err := be.drv.call("cuMemAlloc", be.drv.memAlloc, be.outU64(), uintptr(class))
	if e, ok := err.(*Error); ok && e.Result == resultOutOfMemory {
		// Give the cached blocks back and try once more.
		if err = a.trim(); err == nil {
			err = be.drv.call("cuMemAlloc", be.drv.memAlloc, be.outU64(), uintptr(class))
		}
	}
	if err != nil {
		return 0, err
	}
	p := be.h.u64
	if a.all == nil {
		a.all, a.free = map[uint64]int{}, map[int][]uint64{}
	}
	a.all[p] = class
	a.bytes += class
	return p, nil
}

func (a *allocator) put(p uint64, class int) {
	a.free[class] = append(a.free[class], p)
}

// trim frees the cached blocks, after the queue has drained.
func (a *allocator) trim() error {
	be := a.be
	if err := be.drv.call("cuStreamSynchronize", be.drv.streamSynchronize, be.stream); err != nil {
		return err
	}
	for class, list := range a.free {
		for len(list) > 0 {
			p := list[len(list)-1]
			if err := be.drv.call("cuMemFree", be.drv.memFree, uintptr(p)); err != nil {
				a.free[class] = list // what is left is still allocated
				return err
			}
			list = list[:len(list)-1]
			delete(a.all, p)
			a.bytes -= class
		}
		delete(a.free, class)
	}
	return nil
}

// releaseAll frees every block, live or cached (Close).
func (a *allocator) releaseAll() error {
	var first error
	for p := range a.all {
		if err := a.be.drv.call("cuMemFree", a.be.drv.memFree, uintptr(p)); err != nil && first == nil {
			first = err
		}
	}
	a.all, a.free, a.bytes = nil, nil, 0
	return first
}

// Alloc returns a zeroed buffer of n float32s.
func (be *Backend) Alloc(n int) backend.Buffer {
	checkSize("Alloc", n)
	be.begin()
	defer be.end()
	class := sizeClass(4 * n)
	p, err := be.pool.get(class)
	be.must(err)
	if n > 0 {
		be.must(be.drv.call("cuMemsetD32Async", be.drv.memsetD32Async, uintptr(p), 0, uintptr(n), be.stream))
	}
	return &buffer{be: be, ptr: p, n: n, bytes: class}
}

// Free returns the buffer's block to the cache. After Close, which freed
// every block, it does nothing, so deferred Frees may run in any order.
func (be *Backend) Free(b backend.Buffer) {
	be.mu.Lock()
	defer be.mu.Unlock()
	buf := be.buf(b, 0, "Free") // under the lock: two Frees must not cache a block twice
	buf.freed = true
	if !be.closed {
		be.pool.put(buf.ptr, buf.bytes)
	}
}

// buf checks that b is a live buffer of this backend holding at least n
// elements.
func (be *Backend) buf(b backend.Buffer, n int, what string) *buffer {
	buf, ok := b.(*buffer)
	switch {
	case !ok || buf == nil:
		panic(fmt.Sprintf("cuda: %s: buffer %T is not a CUDA buffer", what, b))
	case buf.be != be:
		panic(fmt.Sprintf("cuda: %s: buffer belongs to another backend", what))
	case buf.freed:
		panic(fmt.Sprintf("cuda: %s: buffer used after Free", what))
	case n < 0:
		panic(fmt.Sprintf("cuda: %s: negative size %d", what, n))
	case buf.n < n:
		panic(fmt.Sprintf("cuda: %s: buffer holds %d elements, need %d", what, buf.n, n))
	}
	return buf
}

// pinned is page-locked host memory from cuMemAllocHost: the copy engine
// reads and writes it directly, so copies from it are truly asynchronous.
type pinned struct {
	p     unsafe.Pointer
	bytes int
}

// reserve makes room for bytes, reallocating (with the context current).
func (m *pinned) reserve(be *Backend, bytes int) error {
	if bytes <= m.bytes {
		return nil
	}
	if err := m.free(be); err != nil {
		return err
	}
	size := max(bytes, 2*m.bytes, 64<<10) // geometric growth: few reallocations
	be.h.ptr = nil
	if err := be.drv.call("cuMemAllocHost", be.drv.memAllocHost, uintptr(unsafe.Pointer(&be.h.ptr)), uintptr(size)); err != nil {
		return err
	}
	m.p, m.bytes = be.h.ptr, size
	return nil
}

func (m *pinned) free(be *Backend) error {
	if m.p == nil {
		return nil
	}
	err := be.drv.call("cuMemFreeHost", be.drv.memFreeHost, uintptr(m.p))
	m.p, m.bytes = nil, 0
	return err
}

func (m *pinned) floats(n int) []float32 { return unsafe.Slice((*float32)(m.p), n) }

// stagingSlot is one pinned upload buffer and the event recorded after the
// copy out of it, which must complete before the slot is refilled.
type stagingSlot struct {
	buf     pinned
	event   uintptr
	pending bool
}

// Upload copies src into pinned memory and queues the copy to the device;
// it returns without waiting for the device, so the caller's next batch is
// prepared while the current step runs. src may be reused at once.
func (be *Backend) Upload(dst backend.Buffer, src []float32) {
	d := be.buf(dst, len(src), "Upload dst")
	if len(src) == 0 {
		return
	}
	be.begin()
	defer be.end()
	slot := &be.up[be.upAt]
	be.upAt = (be.upAt + 1) % len(be.up)
	if slot.pending {
		be.must(be.drv.call("cuEventSynchronize", be.drv.eventSynchronize, slot.event))
		slot.pending = false
	}
	bytes := 4 * len(src)
	be.must(slot.buf.reserve(be, bytes))
	copy(slot.buf.floats(len(src)), src)
	be.must(be.drv.call("cuMemcpyHtoDAsync", be.drv.memcpyHtoDAsync, uintptr(d.ptr), uintptr(slot.buf.p), uintptr(bytes), be.stream))
	be.must(be.drv.call("cuEventRecord", be.drv.eventRecord, slot.event, be.stream))
	slot.pending = true
}

// Download waits for every queued operation, then copies src[0:len(dst)]
// into dst through pinned memory.
func (be *Backend) Download(dst []float32, src backend.Buffer) {
	s := be.buf(src, len(dst), "Download src")
	be.begin()
	defer be.end()
	if len(dst) == 0 {
		// Still a barrier: the contract says Download waits for the queue.
		be.must(be.drv.call("cuStreamSynchronize", be.drv.streamSynchronize, be.stream))
		return
	}
	bytes := 4 * len(dst)
	be.must(be.down.reserve(be, bytes))
	be.must(be.drv.call("cuMemcpyDtoHAsync", be.drv.memcpyDtoHAsync, uintptr(be.down.p), uintptr(s.ptr), uintptr(bytes), be.stream))
	be.must(be.drv.call("cuStreamSynchronize", be.drv.streamSynchronize, be.stream))
	copy(dst, be.down.floats(len(dst)))
}

func (be *Backend) Copy(dst, src backend.Buffer, n int) {
	d, s := be.buf(dst, n, "Copy dst"), be.buf(src, n, "Copy src")
	if n == 0 || d == s {
		return // a copy onto itself would overlap, which the driver leaves undefined
	}
	be.begin()
	defer be.end()
	be.must(be.drv.call("cuMemcpyDtoDAsync", be.drv.memcpyDtoDAsync, uintptr(d.ptr), uintptr(s.ptr), uintptr(4*n), be.stream))
}

func (be *Backend) Fill(x backend.Buffer, v float32, n int) {
	b := be.buf(x, n, "Fill x")
	if n == 0 {
		return
	}
	be.begin()
	defer be.end()
	be.fill(b.ptr, v, n)
}

// fill queues Fill on a device pointer, inside begin/end.
func (be *Backend) fill(p uint64, v float32, n int) {
	be.must(be.drv.call("cuMemsetD32Async", be.drv.memsetD32Async, uintptr(p), uintptr(math.Float32bits(v)), uintptr(n), be.stream))
}
