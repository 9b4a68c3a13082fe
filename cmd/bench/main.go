// Command bench measures throughput: GEMM GFLOP/s per backend and CPU kernel
// level beside gonum's Sgemm, and end-to-end training samples/s.
//
//	bench gemm -m 1024 -n 1024 -k 1024 -threads 1 [-json]
//	bench train -data fashion-mnist -layers 256 -batch 128 -epochs 1 [-json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
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
  bench gemm  -m M -n N -k K [-threads T] [-level L] [-reps R] [-json]
  bench train -data SET [-layers W,W] [-batch B] [-epochs E] [-threads T] [-json]`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "gemm":
		err = benchGemm(args[1:], stdout, stderr)
	case "train":
		err = benchTrain(args[1:], stdout, stderr)
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
	levels := fs.String("level", "all", "CPU kernel levels to run, comma-separated, or all")
	reps := fs.Int("reps", 5, "timed repetitions; the best is reported")
	noGonum := fs.Bool("no-gonum", false, "skip the gonum reference row")
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
	var lv []cpu.Level
	if *levels == "all" {
		lv = cpu.Supported()
	} else {
		for _, s := range strings.Split(*levels, ",") {
			l, err := cpu.ParseLevel(s)
			if err != nil {
				return err
			}
			lv = append(lv, l)
		}
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
	for _, l := range lv {
		be, err := cpu.New(backend.Options{Threads: *threads, Level: l.String()})
		if err != nil {
			return err
		}
		ab, bb, cb := be.Alloc(len(a)), be.Alloc(len(b)), be.Alloc(*m**n)
		be.Upload(ab, a)
		be.Upload(bb, b)
		sec := timeBest(*reps, func() { be.Gemm(false, false, *m, *n, *k, 1, ab, bb, 0, cb) })
		emit(GemmRow{"gemm", "cpu", l.String(), *m, *n, *k, *threads, flops / sec / 1e9})
		be.Close()
	}
	for _, p := range peers {
		if p.name == "gonum" && *noGonum {
			continue
		}
		c := make([]float32, *m**n)
		restore := p.setThreads(*threads)
		sec := timeBest(*reps, func() { p.sgemm(*m, *n, *k, a, b, c) })
		restore()
		emit(GemmRow{"gemm", p.name, p.level(), *m, *n, *k, *threads, flops / sec / 1e9})
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

// timeBest runs f once to warm up, then reps times a batch of calls lasting
// at least 0.2 s, and returns the best seconds per call.
func timeBest(reps int, f func()) float64 {
	f()
	best := 0.0
	for r := 0; r < reps; r++ {
		calls, start := 0, time.Now()
		for calls == 0 || time.Since(start) < 200*time.Millisecond {
			f()
			calls++
		}
		if s := time.Since(start).Seconds() / float64(calls); r == 0 || s < best {
			best = s
		}
	}
	return best
}

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

// TrainRow is the line of `bench train -json`.
type TrainRow struct {
	Op            string  `json:"op"`
	Backend       string  `json:"backend"`
	Data          string  `json:"data"`
	Layers        []int   `json:"layers"`
	Batch         int     `json:"batch"`
	Epochs        int     `json:"epochs"`
	Params        int     `json:"params"`
	SamplesPerSec float64 `json:"samples_per_sec"`
	TestAcc       float64 `json:"test_acc"`
}

func benchTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := experiment.Config{Batch: -1, ValFrac: 0, TestFrac: -1, Noise: -1, WD: -1, Download: true}
	var layers string
	fs.StringVar(&c.Data, "data", "fashion-mnist", "data set (as cmd/train)")
	fs.StringVar(&c.DataDir, "data-dir", "", "folder to look in first for IDX files")
	fs.StringVar(&layers, "layers", "256", "hidden widths")
	fs.IntVar(&c.Batch, "batch", 128, "batch size")
	fs.IntVar(&c.Epochs, "epochs", 1, "epochs")
	fs.StringVar(&c.Opt, "opt", "adam", "optimizer")
	fs.Float64Var(&c.LR, "lr", 1e-3, "learning rate")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed")
	fs.StringVar(&c.Backend, "backend", "auto", "backend")
	fs.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all)")
	fs.StringVar(&c.Level, "level", "", "CPU kernel level")
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
	for _, f := range strings.Split(layers, ",") {
		w, err := strconv.Atoi(f)
		if err != nil || w < 1 {
			return fmt.Errorf("-layers %q: want widths like 256,128", layers)
		}
		c.Layers = append(c.Layers, w)
	}
	res, err := experiment.Run(c)
	if err != nil {
		return err
	}
	row := TrainRow{"train", res.Backend, res.Data, res.Layers, res.Batch, res.Epochs, res.Params, res.SamplesPerSec, 0}
	if res.TestAcc != nil {
		row.TestAcc = *res.TestAcc
	}
	if *jsonOut {
		line, _ := json.Marshal(row)
		fmt.Fprintln(stdout, string(line))
		return nil
	}
	fmt.Fprintf(stdout, "train %s %v batch %d on %s: %.0f samples/s, test acc %.4f\n", row.Data, row.Layers, row.Batch, row.Backend, row.SamplesPerSec, row.TestAcc)
	return nil
}
