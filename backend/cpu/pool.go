package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a fixed set of worker goroutines, started once with the backend,
// that run the pieces of one parallel loop. Operations hand work to it
// instead of starting goroutines, so that a training step pays no goroutine
// start-up. The calling goroutine runs piece 0 itself.
//
// Waking a parked goroutine takes its OS thread out of a futex sleep, which
// cost 20-80 us per loop on the 2-core virtual machine measured
// (BenchmarkParallelFor), a fifth of a batch-sized GEMM on two threads. So
// a worker polls for its next task for spinTime after
// finishing one, and the caller polls for the workers' pieces to finish,
// before either blocks: the parallel loops of a training step follow each
// other closely enough that nobody sleeps between them.
//
// A loop's body is a job. The operations keep their job in a struct owned
// by the Backend (see jobs.go), so handing it to the workers allocates
// nothing, where a closure would escape to the heap on every call.
type pool struct {
	workers int
	tasks   []chan task   // tasks[w] feeds worker w (w >= 1)
	mu      sync.Mutex    // one split loop at a time: pending and done are shared
	pending atomic.Int32  // pieces handed to workers and not finished yet
	done    chan struct{} // a token when pending drops to 0, for a caller that stopped polling
	closing sync.Once
}

// spinTime is how long a worker polls for a task, and the caller for the
// end of a loop, before blocking.
const spinTime = 200 * time.Microsecond

// job is the body of a parallel loop over [lo, hi), run by worker.
type job interface {
	run(worker, lo, hi int)
}

type task struct {
	j      job
	lo, hi int
}

func newPool(workers int) *pool {
	p := &pool{workers: workers, tasks: make([]chan task, workers), done: make(chan struct{}, 1)}
	for w := 1; w < workers; w++ {
		p.tasks[w] = make(chan task, 1)
		go p.work(w, p.tasks[w])
	}
	return p
}

func (p *pool) work(w int, in chan task) {
	for {
		t, ok := p.receive(in)
		if !ok {
			return
		}
		t.j.run(w, t.lo, t.hi)
		if p.pending.Add(-1) == 0 {
			select {
			case p.done <- struct{}{}:
			default: // a stale token is there: the caller rechecks pending anyway
			}
		}
	}
}

// receive returns the next task, polling for spinTime before it blocks; ok
// is false once the pool is closed.
func (p *pool) receive(in chan task) (t task, ok bool) {
	if p.poll(func() bool {
		select {
		case t, ok = <-in:
			return true
		default:
			return false
		}
	}) {
		return t, ok
	}
	t, ok = <-in
	return t, ok
}

// wait returns when every piece handed to a worker has finished, polling
// for spinTime before it blocks.
func (p *pool) wait() {
	p.poll(func() bool { return p.pending.Load() == 0 })
	for p.pending.Load() != 0 {
		<-p.done
	}
}

// poll calls ready until it reports true, for at most spinTime, and says
// whether it did; it gives up at once where polling does not pay (spins).
func (p *pool) poll(ready func() bool) bool {
	if !p.spins() {
		return false
	}
	start := time.Now()
	for i := 1; ; i++ {
		if ready() {
			return true
		}
		if i%256 == 0 && time.Since(start) >= spinTime {
			return false
		}
	}
}

// spins reports whether polling is worth it: only when every worker can
// have a processor of its own, else a poller takes the time of the
// goroutine it waits for.
func (p *pool) spins() bool { return runtime.GOMAXPROCS(0) >= p.workers }

// close stops the workers; closing twice is harmless.
func (p *pool) close() {
	p.closing.Do(func() {
		for w := 1; w < p.workers; w++ {
			close(p.tasks[w])
		}
	})
}

// parallelFor splits [0, n) into at most p.workers contiguous pieces of
// about grain items or more each and runs j.run(worker, lo, hi) on them
// concurrently. Every piece starts at a multiple of align. worker
// identifies the goroutine (0 .. workers-1), so a job may use per-worker
// scratch memory.
//
// The cuts are the nearest multiples of align to the even shares i*n/pieces,
// not rounded up: 784 columns in slivers of 32 go 384 + 400 (12 and 12.5
// slivers), where rounding up gave 416 + 368 (13 and 11.5), and the slower
// worker sets the time of the loop.
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
	if align < 1 {
		align = 1
	}
	cut := func(i int) int { // the end of piece i-1, the start of piece i
		return min(n, (2*i*n+pieces*align)/(2*pieces*align)*align)
	}
	first := cut(1)
	if pieces == 1 || first == 0 || first == n {
		j.run(0, 0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done: // left by an earlier loop whose caller saw pending reach 0 first
	default:
	}
	lo := first // piece 0, [0, first), runs on the caller below
	for w := 1; w < pieces && lo < n; w++ {
		hi := n
		if w < pieces-1 {
			hi = cut(w + 1)
		}
		if hi <= lo {
			continue
		}
		p.pending.Add(1)
		p.tasks[w] <- task{j: j, lo: lo, hi: hi}
		lo = hi
	}
	j.run(0, 0, first)
	p.wait()
}
