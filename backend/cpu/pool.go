package cpu

import "sync"

// pool is a fixed set of worker goroutines, started once with the backend,
// that run the pieces of one parallel loop. Operations hand work to it
// instead of starting goroutines, so that a training step pays no goroutine
// start-up. The calling goroutine runs piece 0 itself.
type pool struct {
	workers int
	tasks   []chan task // tasks[w] feeds worker w (w >= 1)
}

type task struct {
	fn     func(worker, lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{workers: workers, tasks: make([]chan task, workers)}
	for w := 1; w < workers; w++ {
		p.tasks[w] = make(chan task, 1)
		go func(w int, in chan task) {
			for t := range in {
				t.fn(w, t.lo, t.hi)
				t.done.Done()
			}
		}(w, p.tasks[w])
	}
	return p
}

func (p *pool) close() {
	for w := 1; w < p.workers; w++ {
		close(p.tasks[w])
	}
}

// parallelFor splits [0, n) into at most p.workers contiguous pieces of at
// least grain items each (a multiple of align, except the last) and runs
// fn(worker, lo, hi) on them concurrently. worker identifies the goroutine
// (0 .. workers-1), so fn may use per-worker scratch memory.
func (p *pool) parallelFor(n, grain, align int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	pieces := p.workers
	if grain < 1 {
		grain = 1
	}
	if maxPieces := n / grain; maxPieces < pieces {
		pieces = max(maxPieces, 1)
	}
	if pieces == 1 {
		fn(0, 0, n)
		return
	}
	if align < 1 {
		align = 1
	}
	size := (n + pieces - 1) / pieces
	size = (size + align - 1) / align * align
	var done sync.WaitGroup
	lo := size // piece 0, [0, size), runs on the caller below
	for w := 1; w < pieces && lo < n; w++ {
		hi := min(lo+size, n)
		done.Add(1)
		p.tasks[w] <- task{fn: fn, lo: lo, hi: hi, done: &done}
		lo = hi
	}
	fn(0, 0, min(size, n))
	done.Wait()
}
