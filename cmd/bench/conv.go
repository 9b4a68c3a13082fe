package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
)

// convShapes are the convolutions of the cnn preset (PyTorch's classic
// MNIST network) at batch 64, the shapes `bench conv` times. They are the
// one list of them: `bench conv -shapes` prints it for the PyTorch peer
// (bench/peers/torch_conv.py), so both time the same products.
var convShapes = []struct {
	name string
	s    backend.ConvShape
}{
	{"conv1", backend.ConvShape{N: 64, C: 1, H: 28, W: 28, K: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1}},
	{"conv2", backend.ConvShape{N: 64, C: 32, H: 13, W: 13, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1}},
}

// convPasses are the three products of a convolution layer, by the names
// the JSON rows carry.
var convPasses = []struct {
	name string
	run  func(cv backend.Convolver, b *convBufs, s backend.ConvShape)
}{
	{"forward", func(cv backend.Convolver, b *convBufs, s backend.ConvShape) { cv.Conv2d(b.x, b.w, b.bias, b.y, s) }},
	{"backward_data", func(cv backend.Convolver, b *convBufs, s backend.ConvShape) {
		cv.Conv2dBackwardData(b.y, b.w, b.dx, s)
	}},
	{"backward_filter", func(cv backend.Convolver, b *convBufs, s backend.ConvShape) {
		cv.Conv2dBackwardFilter(b.x, b.y, b.dw, b.db, s)
	}},
}

type convBufs struct{ x, w, bias, y, dx, dw, db backend.Buffer }

// ConvRow is one line of `bench conv -json`; torch_conv.py prints the same
// fields.
type ConvRow struct {
	Op      string `json:"op"`
	Backend string `json:"backend"`
	Level   string `json:"level"`
	Shape   string `json:"shape"`
	Pass    string `json:"pass"` // forward, backward_data or backward_filter
	N       int    `json:"n"`
	C       int    `json:"c"`
	H       int    `json:"h"`
	W       int    `json:"w"`
	K       int    `json:"k"`
	KH      int    `json:"kh"`
	KW      int    `json:"kw"`
	Threads int    `json:"threads"`
	// Clock is what timed it: "wall", or "thread", the timing thread's
	// CPU time (one thread only).
	Clock string `json:"clock"`
	// Millis is the median time of one call; GFLOPS counts
	// 2*N*K*C*KH*KW*OH*OW flops a pass.
	Millis float64 `json:"ms"`
	GFLOPS float64 `json:"gflops"`
}

// convFlops is the multiply-adds of one pass, times two.
func convFlops(s backend.ConvShape) float64 {
	return 2 * float64(s.N) * float64(s.K) * float64(s.C*s.KH*s.KW) * float64(s.OutH()*s.OutW())
}

// convShapeArg is a shape as torch_conv.py reads it:
// name:N,C,H,W,K,KH,KW,stride,pad.
func convShapeArg(name string, s backend.ConvShape) string {
	return fmt.Sprintf("%s:%d,%d,%d,%d,%d,%d,%d,%d,%d", name, s.N, s.C, s.H, s.W, s.K, s.KH, s.KW, s.StrideH, s.PadH)
}

func benchConv(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	threads := fs.Int("threads", 0, "threads (0: all CPUs)")
	levels := fs.String("level", "all", "CPU kernel levels to run, comma-separated, or all")
	reps := fs.Int("reps", 7, "timed repetitions; the median is reported")
	batch := fs.Int("batch", 64, "images per batch")
	only := fs.String("shape", "", "time only this shape (conv1, conv2)")
	shapes := fs.Bool("shapes", false, "print the shapes as torch_conv.py takes them, and nothing else")
	clockName := fs.String("clock", "wall", "wall, or thread: the CPU time of the timing thread (with -threads 1 only), for a busy machine")
	jsonOut := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *threads < 0 || *reps < 1 || *batch < 1 {
		return fmt.Errorf("conv: -reps and -batch must be >= 1 and -threads >= 0")
	}
	now := func() (time.Duration, error) { return time.Duration(time.Now().UnixNano()), nil }
	switch *clockName {
	case "wall":
	case "thread":
		if *threads != 1 {
			return fmt.Errorf("conv: -clock thread measures one thread: it needs -threads 1")
		}
		// With one thread the backend works on the calling goroutine:
		// pinned to its OS thread, that thread's clock sees all of it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		now = threadCPUTime
	default:
		return fmt.Errorf("conv: -clock %q: want wall or thread", *clockName)
	}
	if *threads == 0 {
		*threads = runtime.NumCPU()
	}
	var names []string
	for _, c := range convShapes {
		names = append(names, c.name)
	}
	if *only != "" && !slices.Contains(names, *only) {
		return fmt.Errorf("conv: -shape %q: want one of %s", *only, strings.Join(names, ", "))
	}
	if *shapes {
		var out []string
		for _, c := range convShapes {
			s := c.s
			s.N = *batch
			out = append(out, convShapeArg(c.name, s))
		}
		fmt.Fprintln(stdout, strings.Join(out, " "))
		return nil
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range lv {
		be, err := cpu.New(backend.Options{Threads: *threads, Level: l.String()})
		if err != nil {
			return err
		}
		for _, c := range convShapes {
			if *only != "" && c.name != *only {
				continue
			}
			s := c.s
			s.N = *batch
			b := &convBufs{}
			for _, p := range []struct {
				buf *backend.Buffer
				n   int
			}{{&b.x, s.InLen()}, {&b.w, s.WeightLen()}, {&b.bias, s.K}, {&b.y, s.OutLen()}, {&b.dx, s.InLen()}, {&b.dw, s.WeightLen()}, {&b.db, s.K}} {
				*p.buf = be.Alloc(p.n)
				be.Upload(*p.buf, randomSlice(rng, p.n))
			}
			for _, p := range convPasses {
				sec, err := timeMedian(*reps, now, func() { p.run(be, b, s) })
				if err != nil {
					return err
				}
				r := ConvRow{Op: "conv", Backend: "cpu", Level: l.String(), Shape: c.name, Pass: p.name,
					N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, KH: s.KH, KW: s.KW, Threads: *threads, Clock: *clockName,
					Millis: sec * 1e3, GFLOPS: convFlops(s) / sec / 1e9}
				writeConvRow(stdout, r, *jsonOut)
			}
		}
		be.Close()
	}
	return nil
}

func writeConvRow(w io.Writer, r ConvRow, jsonOut bool) {
	if jsonOut {
		line, _ := json.Marshal(r)
		fmt.Fprintln(w, string(line))
		return
	}
	clock := ""
	if r.Clock == "thread" {
		clock = "  (thread clock)"
	}
	fmt.Fprintf(w, "conv %-5s %3dx%2dx%2dx%2d k%2dx%dx%d  %-15s %-6s %-8s %d threads  %8.3f ms  %7.1f GFLOP/s%s\n",
		r.Shape, r.N, r.C, r.H, r.W, r.K, r.KH, r.KW, r.Pass, r.Backend, r.Level, r.Threads, r.Millis, r.GFLOPS, clock)
}

// timeMedian runs f twice to warm up and to size a batch of calls lasting
// about 0.1 s, then times reps such batches with the clock now and returns
// the median seconds per call.
func timeMedian(reps int, now func() (time.Duration, error), f func()) (float64, error) {
	span := func(calls int) (time.Duration, error) {
		start, err := now()
		if err != nil {
			return 0, err
		}
		for range calls {
			f()
		}
		end, err := now()
		return end - start, err
	}
	f()
	once, err := span(1)
	if err != nil {
		return 0, err
	}
	calls := max(1, int(100*time.Millisecond/max(once, time.Microsecond)))
	per := make([]float64, reps)
	for r := range per {
		d, err := span(calls)
		if err != nil {
			return 0, err
		}
		per[r] = d.Seconds() / float64(calls)
	}
	slices.Sort(per)
	return per[reps/2], nil
}

// writeConvTable writes `bench summarize`'s table of the conv rows: per
// shape, pass, thread count and clock, our best level beside PyTorch, and
// the ratio.
func writeConvTable(w io.Writer, rows []ConvRow) {
	type key struct {
		shape, pass, clock string
		threads            int
	}
	var keys []key
	ours, theirs := map[key]ConvRow{}, map[key]ConvRow{}
	for _, r := range rows {
		if r.Clock == "" {
			r.Clock = "wall"
		}
		k := key{r.Shape, r.Pass, r.Clock, r.Threads}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		m := theirs
		if r.Backend == "cpu" {
			m = ours
		}
		if r.GFLOPS > m[k].GFLOPS {
			m[k] = r
		}
	}
	fmt.Fprintln(w, "### Convolutions, GFLOP/s (medians; fastnn's best level)")
	fmt.Fprintln(w)
	writeRow(w, []string{"shape", "pass", "threads", "fastnn", "PyTorch", "fastnn / PyTorch"})
	writeSep(w, 6)
	for _, k := range keys {
		o, t := ours[k], theirs[k]
		r := o
		if r.Shape == "" {
			r = t
		}
		name := fmt.Sprintf("%s %dx%dx%dx%d k%dx%dx%d", k.shape, r.N, r.C, r.H, r.W, r.K, r.KH, r.KW)
		fastnn := figure(o.GFLOPS, "%.1f")
		if o.Level != "" {
			fastnn += " (" + o.Level + ")"
		}
		threads := strconv.Itoa(k.threads)
		if k.clock != "wall" {
			threads += " (" + k.clock + " clock)"
		}
		writeRow(w, []string{name, k.pass, threads, fastnn, figure(t.GFLOPS, "%.1f"), ratio(o.GFLOPS, t.GFLOPS)})
	}
}
