// Command bench measures throughput: GEMM GFLOP/s per backend and CPU kernel
// level beside gonum's Sgemm, and end-to-end training samples/s.
//
//	bench gemm -m 1024 -n 1024 -k 1024 -threads 1 [-cuda auto|on|off] [-tf32] [-json]
//	bench ops -n 16777216 [-cuda auto|on|off] [-json]
//	bench conv [-threads T] [-level L] [-json]   the cnn preset's convolutions, forward and both backward products
//	bench train -data fashion-mnist -layers 256 -batch 128 -epochs 4 [-backend cuda] [-json]
//	bench train -data fashion-mnist -arch cnn -batch 64 -epochs 1 [-json]
//	bench summarize [FILE...]        the JSON lines of gemm and train (ours and the peers') as Markdown ratios
//	bench readme [-train bin/train]  README.md's training tables, rerun, as Markdown rows
//	bench machine                    the CPU figures come from: model, levels, caches, CPUs
//
// GPU rows are timed with CUDA events (backend.DeviceTimer); CPU rows with
// the wall clock, best of several repetitions.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
	_ "github.com/fastnn/fastnn/backend/cuda"
	"github.com/fastnn/fastnn/internal/experiment"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  bench gemm  -m M -n N -k K [-threads T] [-level L] [-reps R] [-cuda auto|on|off] [-tf32] [-json]
  bench ops   -n N [-threads T] [-level L] [-cuda auto|on|off] [-json]
  bench conv  [-threads T] [-level L] [-reps R] [-batch B] [-shape NAME] [-shapes] [-json]
  bench train -data SET [-arch mlp|cnn|SPEC] [-layers W,W] [-batch B] [-epochs E] [-threads T] [-backend B] [-tf32] [-json]
  bench summarize [FILE...]   (standard input without FILE)
  bench readme [-train bin/train] [-python /usr/bin/python3] [-only ROW]
  bench machine`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "gemm":
		err = benchGemm(args[1:], stdout, stderr)
	case "ops":
		err = benchOps(args[1:], stdout, stderr)
	case "conv":
		err = benchConv(args[1:], stdout, stderr)
	case "train":
		err = benchTrain(args[1:], stdout, stderr)
	case "summarize":
		err = benchSummarize(args[1:], stdout)
	case "readme":
		err = benchReadme(args[1:], stdout, stderr)
	case "machine":
		err = benchMachine(args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("unknown benchmark %q\n%s", args[0], usage)
	}
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// GemmRow is one line of `bench gemm -json`.
type GemmRow struct {
	Op      string  `json:"op"`
	Backend string  `json:"backend"`
	Level   string  `json:"level"`
	M       int     `json:"m"`
	N       int     `json:"n"`
	K       int     `json:"k"`
	Threads int     `json:"threads"`
	GFLOPS  float64 `json:"gflops"`
}

func benchGemm(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gemm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	m := fs.Int("m", 1024, "rows of C")
	n := fs.Int("n", 1024, "columns of C")
	k := fs.Int("k", 1024, "inner dimension")
	threads := fs.Int("threads", 0, "threads (0: all CPUs)")
	levels := fs.String("level", "all", "CPU kernel levels to run, comma-separated, all, or none")
	reps := fs.Int("reps", 5, "timed repetitions; the best is reported")
	noGonum := fs.Bool("no-gonum", false, "skip the gonum reference row")
	gpu := fs.String("cuda", "auto", "CUDA rows: auto (when a GPU opens), on (fail without one), off")
	tf32 := fs.Bool("tf32", false, "add a CUDA row with TF32 tensor cores")
	jsonOut := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *m < 1 || *n < 1 || *k < 1 || *threads < 0 || *reps < 1 {
		return fmt.Errorf("gemm: -m, -n, -k and -reps must be >= 1 and -threads >= 0")
	}
	if *threads == 0 {
		*threads = runtime.NumCPU()
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := randomSlice(rng, *m**k), randomSlice(rng, *k**n)
	flops := 2 * float64(*m) * float64(*n) * float64(*k)
	emit := func(r GemmRow) {
		if *jsonOut {
			line, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(line))
			return
		}
		fmt.Fprintf(stdout, "gemm %5dx%5dx%5d  %-6s %-8s %d threads  %8.1f GFLOP/s\n", r.M, r.N, r.K, r.Backend, r.Level, r.Threads, r.GFLOPS)
	}
	// gemmSeconds times C = A*B on be, with its own clock, and closes it.
	gemmSeconds := func(be backend.Backend) (float64, error) {
		defer be.Close()
		ab, bb, cb := be.Alloc(len(a)), be.Alloc(len(b)), be.Alloc(*m**n)
		be.Upload(ab, a)
		be.Upload(bb, b)
		return timeBest(*reps, clockFor(be), func() { be.Gemm(false, false, *m, *n, *k, 1, ab, bb, 0, cb) })
	}
	for _, l := range lv {
		be, err := cpu.New(backend.Options{Threads: *threads, Level: l.String()})
		if err != nil {
			return err
		}
		sec, err := gemmSeconds(be)
		if err != nil {
			return err
		}
		emit(GemmRow{"gemm", "cpu", l.String(), *m, *n, *k, *threads, flops / sec / 1e9})
	}
	for _, p := range peers {
		if p.name == "gonum" && *noGonum {
			continue
		}
		c := make([]float32, *m**n)
		restore := p.setThreads(*threads)
		sec, err := timeBest(*reps, wallClock, func() { p.sgemm(*m, *n, *k, a, b, c) })
		restore()
		if err != nil {
			return err
		}
		emit(GemmRow{"gemm", p.name, p.level(), *m, *n, *k, *threads, flops / sec / 1e9})
	}
	modes := []bool{false}
	if *tf32 {
		modes = append(modes, true)
	}
	for _, mode := range modes {
		be, err := openGPU(*gpu, backend.Options{TF32: mode}, stderr)
		if be == nil {
			return err
		}
		sec, err := gemmSeconds(be)
		if err != nil {
			return err
		}
		level := "fp32"
		if mode {
			level = "tf32"
		}
		emit(GemmRow{"gemm", "cuda", level, *m, *n, *k, 0, flops / sec / 1e9})
	}
	return nil
}

// parseLevels reads -level: "all", "none" (GPU rows only) or a list.
func parseLevels(levels string) ([]cpu.Level, error) {
	switch levels {
	case "all":
		return cpu.Supported(), nil
	case "none":
		return nil, nil
	}
	var lv []cpu.Level
	for _, s := range strings.Split(levels, ",") {
		l, err := cpu.ParseLevel(s)
		if err != nil {
			return nil, err
		}
		lv = append(lv, l)
	}
	return lv, nil
}

// openGPU opens the CUDA backend for the GPU rows. With mode "auto" a
// machine without one gets a note on stderr and no rows (nil, nil); with
// "on" that is an error; "off" skips the rows.
func openGPU(mode string, o backend.Options, stderr io.Writer) (backend.Backend, error) {
	switch mode {
	case "off":
		return nil, nil
	case "auto", "on":
	default:
		return nil, fmt.Errorf("-cuda %q: want auto, on or off", mode)
	}
	be, _, err := backend.Open("cuda", o)
	if err != nil {
		if mode == "on" {
			return nil, err
		}
		if !errors.Is(err, backend.ErrNotCompiled) { // a -tags cuda build on a machine without a GPU
			fmt.Fprintf(stderr, "bench: no CUDA rows: %v\n", err)
		}
		return nil, nil
	}
	return be, nil
}

// OpsRow is one line of `bench ops -json`: a bandwidth-bound kernel's
// throughput in GB/s of memory traffic (each element read or written once
// counts 4 bytes).
type OpsRow struct {
	Op      string  `json:"op"`
	Kernel  string  `json:"kernel"`
	Backend string  `json:"backend"`
	Level   string  `json:"level"`
	N       int     `json:"n"`
	Threads int     `json:"threads,omitempty"` // CPU threads; 0 on a GPU
	GBps    float64 `json:"gbps"`
}

// opsKernels are the training step's bandwidth-bound kernels, with the
// float32s each moves per element.
var opsKernels = []struct {
	name   string
	floats int
	run    func(be backend.Backend, bufs []backend.Buffer, n int)
}{
	{"axpy", 3, func(be backend.Backend, b []backend.Buffer, n int) { be.Axpy(0.5, b[0], b[1], n) }},
	{"relu", 2, func(be backend.Backend, b []backend.Buffer, n int) { be.Activate(backend.ReLU, 0, b[0], b[1], n) }},
	{"relu_backward", 3, func(be backend.Backend, b []backend.Buffer, n int) {
		be.ActivateBackward(backend.ReLU, 0, b[0], b[1], b[1], b[2], n)
	}},
	{"bias_relu", 3, func(be backend.Backend, b []backend.Buffer, n int) {
		be.BiasActivate(backend.ReLU, 0, b[0], b[1], b[2], n/1024, 1024)
	}},
	{"sum_rows", 1, func(be backend.Backend, b []backend.Buffer, n int) { be.SumRows(b[0], b[1], n/1024, 1024, 0) }},
	{"softmax_xent", 2, func(be backend.Backend, b []backend.Buffer, n int) {
		be.SoftmaxCrossEntropy(b[0], b[4], b[1], b[2], n/16, 16)
	}},
	{"adam", 7, func(be backend.Backend, b []backend.Buffer, n int) {
		be.AdamStep(b[0], b[1], b[2], b[3], n, backend.AdamConfig{LR: 1e-9, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1})
	}},
	{"sgd_momentum", 5, func(be backend.Backend, b []backend.Buffer, n int) {
		be.SGDStep(b[0], b[1], b[2], n, backend.SGDConfig{LR: 1e-9, Momentum: 0.9})
	}},
}

func benchOps(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ops", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1<<24, "elements per buffer (a multiple of 1024)")
	threads := fs.Int("threads", 0, "threads (0: all CPUs)")
	levels := fs.String("level", "all", "CPU kernel levels to run, comma-separated, all, or none")
	reps := fs.Int("reps", 5, "timed repetitions; the best is reported")
	gpu := fs.String("cuda", "auto", "CUDA rows: auto (when a GPU opens), on (fail without one), off")
	jsonOut := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1024 || *n%1024 != 0 || *threads < 0 || *reps < 1 {
		return fmt.Errorf("ops: -n must be a positive multiple of 1024, -reps >= 1, -threads >= 0")
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	var bes []backend.Backend
	var names []string
	var cpuThreads []int
	for _, l := range lv {
		be, err := cpu.New(backend.Options{Threads: *threads, Level: l.String()})
		if err != nil {
			return err
		}
		bes, names, cpuThreads = append(bes, be), append(names, l.String()), append(cpuThreads, be.Threads())
	}
	if be, err := openGPU(*gpu, backend.Options{}, stderr); be != nil {
		bes, names, cpuThreads = append(bes, be), append(names, "fp32"), append(cpuThreads, 0)
	} else if err != nil {
		return err
	}
	// Buffers 0-3 hold a small positive range, which keeps every kernel
	// finite; buffer 4 holds class indices below 16, softmax_xent's labels.
	host, labels := make([]float32, *n), make([]float32, *n)
	for i := range host {
		host[i], labels[i] = float32(i%16)*0.01, float32(i%16)
	}
	for i, be := range bes {
		bufs := make([]backend.Buffer, 5)
		for j := range bufs {
			bufs[j] = be.Alloc(*n)
			be.Upload(bufs[j], host)
		}
		be.Upload(bufs[4], labels)
		for _, k := range opsKernels {
			sec, err := timeBest(*reps, clockFor(be), func() { k.run(be, bufs, *n) })
			if err != nil {
				return err
			}
			r := OpsRow{"ops", k.name, be.Name(), names[i], *n, cpuThreads[i], float64(k.floats) * 4 * float64(*n) / sec / 1e9}
			if *jsonOut {
				line, _ := json.Marshal(r)
				fmt.Fprintln(stdout, string(line))
			} else {
				fmt.Fprintf(stdout, "ops %-14s %-5s %-8s n=%d  %8.1f GB/s\n", r.Kernel, r.Backend, r.Level, r.N, r.GBps)
			}
		}
		be.Close()
	}
	return nil
}

// peer is another SGEMM measured beside ours: gonum always, OpenBLAS in a
// -tags openblas build. setThreads applies a thread count outside the timed
// loop and returns what undoes it; sgemm computes C = A*B, all row-major.
type peer struct {
	name       string
	level      func() string
	setThreads func(threads int) (restore func())
	sgemm      func(m, n, k int, a, b, c []float32)
}

var peers = []peer{{
	name:  "gonum",
	level: func() string { return "go" },
	setThreads: func(threads int) func() {
		prev := runtime.GOMAXPROCS(threads) // gonum splits its work over GOMAXPROCS
		return func() { runtime.GOMAXPROCS(prev) }
	},
	sgemm: func(m, n, k int, a, b, c []float32) {
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	},
}}

// clock measures how long fn takes: the wall clock, or for a device
// backend its own events around the work fn queues.
type clock func(fn func()) (time.Duration, error)

func wallClock(fn func()) (time.Duration, error) {
	start := time.Now()
	fn()
	return time.Since(start), nil
}

// clockFor is the backend's device timer where it has one (backend.DeviceTimer),
// else the wall clock.
func clockFor(be backend.Backend) clock {
	if dt, ok := be.(backend.DeviceTimer); ok {
		return dt.DeviceTime
	}
	return wallClock
}

// timeBest runs f once to warm up and once more to size a batch of calls
// lasting about 0.2 s, then times reps such batches with clk and returns the
// best seconds per call.
func timeBest(reps int, clk clock, f func()) (float64, error) {
	f()
	once, err := clk(f)
	if err != nil {
		return 0, err
	}
	calls := max(1, int(200*time.Millisecond/max(once, time.Microsecond)))
	best := 0.0
	for r := 0; r < reps; r++ {
		d, err := clk(func() {
			for range calls {
				f()
			}
		})
		if err != nil {
			return 0, err
		}
		if s := d.Seconds() / float64(calls); r == 0 || s < best {
			best = s
		}
	}
	return best, nil
}

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

// TrainRow is the line of `bench train -json`. The PyTorch peer
// (bench/peers/torch_mlp_fashion.py) prints the same fields, so that
// `bench summarize` reads both.
type TrainRow struct {
	Op            string  `json:"op"`
	Backend       string  `json:"backend"`
	Data          string  `json:"data"`
	Arch          string  `json:"arch,omitempty"` // -arch: "cnn" or the spec; absent for the MLP of Layers
	Layers        []int   `json:"layers"`
	Batch         int     `json:"batch"`
	Epochs        int     `json:"epochs"`
	Threads       int     `json:"threads"`
	Params        int     `json:"params"`
	SamplesPerSec float64 `json:"samples_per_sec"` // over the whole run
	TestAcc       float64 `json:"test_acc"`
	// EpochSamplesPerSec is each epoch's figure. The first epoch of a
	// process is its slowest (caches, page faults, a peer's lazy set-up),
	// so runs are compared by WarmSamplesPerSec, the median of epochs 2
	// onward (absent with one epoch).
	EpochSamplesPerSec []float64 `json:"epoch_samples_per_sec"`
	WarmSamplesPerSec  float64   `json:"warm_samples_per_sec,omitempty"`
}

// warmMedian is the median of epochs 2 onward, and false with fewer than
// two epochs.
func warmMedian(perEpoch []float64) (float64, bool) {
	if len(perEpoch) < 2 {
		return 0, false
	}
	w := slices.Clone(perEpoch[1:])
	slices.Sort(w)
	if n := len(w); n%2 == 0 {
		return (w[n/2-1] + w[n/2]) / 2, true
	}
	return w[len(w)/2], true
}

func benchTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := experiment.Config{Batch: -1, ValFrac: 0, TestFrac: -1, Noise: -1, WD: -1, Download: true}
	var layers string
	fs.StringVar(&c.Data, "data", "fashion-mnist", "data set (as cmd/train)")
	fs.StringVar(&c.DataDir, "data-dir", "", "folder to look in first for IDX files")
	fs.StringVar(&c.Arch, "arch", "mlp", "model, as cmd/train's -arch: mlp (of -layers), cnn, or a layer spec")
	fs.StringVar(&layers, "layers", "256", "hidden widths (-arch mlp)")
	fs.IntVar(&c.Batch, "batch", 128, "batch size")
	fs.IntVar(&c.Epochs, "epochs", 1, "epochs")
	fs.StringVar(&c.Opt, "opt", "adam", "optimizer")
	fs.Float64Var(&c.LR, "lr", 1e-3, "learning rate")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed")
	fs.StringVar(&c.Backend, "backend", "auto", "backend")
	fs.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all)")
	fs.StringVar(&c.Level, "level", "", "CPU kernel level")
	fs.BoolVar(&c.TF32, "tf32", false, "GPU GEMMs on TF32 tensor cores")
	jsonOut := fs.Bool("json", false, "one JSON line")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	layersGiven := false
	fs.Visit(func(f *flag.Flag) { layersGiven = layersGiven || f.Name == "layers" })
	if c.Arch != "mlp" && layersGiven {
		return fmt.Errorf("-layers applies to -arch mlp; -arch %s gives its layers in the spec", c.Arch)
	}
	for _, f := range strings.Split(layers, ",") {
		w, err := strconv.Atoi(f)
		if err != nil || w < 1 {
			return fmt.Errorf("-layers %q: want widths like 256,128", layers)
		}
		if c.Arch == "mlp" {
			c.Layers = append(c.Layers, w)
		}
	}
	res, err := experiment.Run(context.Background(), c)
	if err != nil {
		return err
	}
	row := TrainRow{Op: "train", Backend: res.Backend, Data: res.Data, Arch: res.Arch, Layers: res.Layers, Batch: res.Batch,
		Epochs: res.Epochs, Threads: c.Threads, Params: res.Params, SamplesPerSec: res.SamplesPerSec}
	if c.Arch == "cnn" {
		row.Arch = "cnn" // the preset by name, as the PyTorch peer calls it
	}
	if row.Threads == 0 {
		row.Threads = runtime.NumCPU()
	}
	if strings.HasPrefix(res.Backend, "cuda") {
		row.Threads = 0 // a GPU run has no thread count
	}
	if res.TestAcc != nil {
		row.TestAcc = *res.TestAcc
	}
	for _, h := range res.History {
		row.EpochSamplesPerSec = append(row.EpochSamplesPerSec, h.SamplesPerSec)
	}
	row.WarmSamplesPerSec, _ = warmMedian(row.EpochSamplesPerSec)
	if *jsonOut {
		line, _ := json.Marshal(row)
		fmt.Fprintln(stdout, string(line))
		return nil
	}
	model := fmt.Sprint(row.Layers)
	if row.Arch != "" {
		model = row.Arch
	}
	fmt.Fprintf(stdout, "train %s %s batch %d on %s: %.0f samples/s, test acc %.4f\n", row.Data, model, row.Batch, row.Backend, row.SamplesPerSec, row.TestAcc)
	for i, s := range row.EpochSamplesPerSec {
		fmt.Fprintf(stdout, "  epoch %d: %.0f samples/s\n", i+1, s)
	}
	if w, ok := warmMedian(row.EpochSamplesPerSec); ok {
		fmt.Fprintf(stdout, "  median of epochs 2-%d: %.0f samples/s\n", len(row.EpochSamplesPerSec), w)
	}
	return nil
}
