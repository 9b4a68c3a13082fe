package cpu

import "sync"

// pool is a fixed set of worker goroutines, started once with the backend,
// that run the pieces of one parallel loop. Operations hand work to it
// instead of starting goroutines, so that a training step pays no goroutine
// start-up. The calling goroutine runs piece 0 itself.
//
// A loop's body is a job. The operations of a training step keep their job
// in a struct owned by the Backend (see jobs.go), so handing it to the
// workers allocates nothing; other operations wrap a closure in a funcJob.
type pool struct {
	workers int
	tasks   []chan task // tasks[w] feeds worker w (w >= 1)
	mu      sync.Mutex  // one split loop at a time: done is shared
	done    sync.WaitGroup
	closing sync.Once
}

// job is the body of a parallel loop over [lo, hi), run by worker.
type job interface {
	run(worker, lo, hi int)
}

// funcJob adapts a closure to a job.
type funcJob func(worker, lo, hi int)

func (f funcJob) run(worker, lo, hi int) { f(worker, lo, hi) }

type task struct {
	j      job
	lo, hi int
}

func newPool(workers int) *pool {
	p := &pool{workers: workers, tasks: make([]chan task, workers)}
	for w := 1; w < workers; w++ {
		p.tasks[w] = make(chan task, 1)
		go func(w int, in chan task) {
			for t := range in {
				t.j.run(w, t.lo, t.hi)
				p.done.Done()
			}
		}(w, p.tasks[w])
	}
	return p
}

// close stops the workers; closing twice is harmless.
func (p *pool) close() {
	p.closing.Do(func() {
		for w := 1; w < p.workers; w++ {
			close(p.tasks[w])
		}
	})
}

// parallelFor splits [0, n) into at most p.workers contiguous pieces of at
// least grain items each (a multiple of align, except the last) and runs
// j.run(worker, lo, hi) on them concurrently. worker identifies the
// goroutine (0 .. workers-1), so a job may use per-worker scratch memory.
func (p *pool) parallelFor(n, grain, align int, j job) {
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
		j.run(0, 0, n)
		return
	}
	if align < 1 {
		align = 1
	}
	size := (n + pieces - 1) / pieces
	size = (size + align - 1) / align * align
	p.mu.Lock()
	defer p.mu.Unlock()
	lo := size // piece 0, [0, size), runs on the caller below
	for w := 1; w < pieces && lo < n; w++ {
		hi := min(lo+size, n)
		p.done.Add(1)
		p.tasks[w] <- task{j: j, lo: lo, hi: hi}
		lo = hi
	}
	j.run(0, 0, min(size, n))
	p.done.Wait()
}
