package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fastnn/fastnn/internal/experiment"
)

// readmeRow is one row of a README table: the cells that describe it, the
// cmd/train runs behind its figures (arguments after "train"; -json is
// added), and how the figures are written from their results. Rows whose
// figures include PyTorch's set torch: the peer's arguments after THREADS.
type readmeRow struct {
	cells  []string
	runs   [][]string
	torch  []string
	result func(rs []*trainResult, torch []float64) []string
}

// trainResult is cmd/train's JSON line: experiment.Result, and the weight
// counts of -l1 runs, read here by name so that this file does not depend
// on which fields Result has.
type trainResult struct {
	experiment.Result
	Weights      int     `json:"weights"`
	SmallWeights float64 `json:"small_weights"` // the share of weights under 1e-3
}

// presetRows are README.md's table of the data sets' presets: every run is
// `train -data NAME` with the preset.
var presetRows = []readmeRow{
	presetRow("`digits` (default, embedded)", "10 classes, 1797 x 64", "64 relu, adam 1e-3, batch 32, 30 epochs", "digits"),
	presetRow("`xor`", "truth table", "2-8-1 tanh, adam 0.05, full batch, 300 epochs", "xor"),
	presetRow("`iris`", "3 classes, 150 x 4", "16 relu, adam 1e-2, batch 16, 100 epochs", "iris"),
	presetRow("`breast-cancer`", "2 classes, 569 x 30", "16 relu, one logit + BCE, adam 1e-3, 50 epochs", "breast-cancer"),
	presetRow("`wine`", "3 classes, 178 x 13", "16 relu, adam 1e-2, 100 epochs", "wine"),
	presetRow("`diabetes`", "regression, 442 x 10", "16 relu, MSE, adam 1e-3, 100 epochs", "diabetes"),
	presetRow("`boston`", "regression, 506 x 12 (B column dropped)", "32 relu, MSE, 200 epochs", "boston"),
	{
		cells: []string{"`circles`, `moons`, `blobs`", "2-D synthetic, 1000 points", "16,16 relu, adam 1e-2"},
		runs:  [][]string{{"-data", "circles"}, {"-data", "moons"}, {"-data", "blobs"}},
		result: func(rs []*trainResult, _ []float64) []string {
			var accs, times []string
			for _, r := range rs {
				accs = append(accs, decimals(*r.TestAcc, 3))
				times = append(times, seconds(r.Seconds))
			}
			return []string{strings.Join(accs, ", "), strings.Join(times, ", ") + " s"}
		},
	},
	presetRow("`spiral`", "3 arms, 900 points", "32,32 relu, 300 epochs", "spiral"),
	{
		cells: []string{"`fashion-mnist`", "10 classes, 60000 + 10000", "256 relu, adam 1e-3, batch 128"},
		runs:  [][]string{{"-data", "fashion-mnist", "-epochs", "2"}, {"-data", "fashion-mnist"}},
		torch: []string{"256", "128"},
		result: func(rs []*trainResult, torch []float64) []string {
			short, long := rs[0], rs[1]
			e1, e2 := len(short.History), len(long.History)
			res := fmt.Sprintf("accuracy %s after %d epochs, %s after %d", decimals(*short.TestAcc, 3), e1, decimals(*long.TestAcc, 3), e2)
			if len(torch) >= e2 {
				res += fmt.Sprintf(" (PyTorch here: %s, %s)", decimals(torch[e1-1], 3), decimals(torch[e2-1], 3))
			}
			return []string{res, fmt.Sprintf("%s s for %d epochs (%.0fk samples/s)", seconds(long.Seconds), e2, long.SamplesPerSec/1000)}
		},
	},
}

// presetRow is a row with one preset run: the test figures and the time.
func presetRow(name, task, preset, data string) readmeRow {
	return readmeRow{
		cells: []string{name, task, preset},
		runs:  [][]string{{"-data", data}},
		result: func(rs []*trainResult, _ []float64) []string {
			r := rs[0]
			res := testFigures(r, 2)
			if data == "boston" {
				res += " ($1000s)"
			}
			return []string{res, seconds(r.Seconds) + " s"}
		},
	}
}

// projectRows are README.md's "The tutorials' practice projects": the
// command cell is the first run's arguments.
var projectRows = []readmeRow{
	projectRow("XOR, 2-4-1", "-data xor -layers 4", func(r *trainResult) string {
		return fmt.Sprintf("%s (%d/%d)", testFigures(r, 3), int(*r.TestAcc*float64(r.TestSamples)+0.5), r.TestSamples)
	}),
	projectRow("digits, regularised", "-data digits -layers 128,64 -batchnorm -dropout 0.2 -sched cosine -warmup 3 -epochs 40", nil),
	projectRow("iris, the whole kit", "-data iris -layers 32,16 -batchnorm -dropout 0.1 -opt adamw -wd 0.01 -sched plateau -clip 1 -patience 10 -epochs 200 -grad-flow -plots out -save iris.safetensors",
		func(r *trainResult) string {
			s := testFigures(r, 3)
			if n := len(r.History); n < r.Epochs {
				s += fmt.Sprintf(", stopped at epoch %d", n)
			} else {
				s += fmt.Sprintf(", ran all %d epochs", n)
			}
			if r.BestEpoch > 0 {
				s += fmt.Sprintf(", best epoch %d restored", r.BestEpoch)
			}
			return s
		}),
	projectRow("breast cancer", "-data breast-cancer -layers 32,16 -dropout 0.2 -opt adamw -patience 10 -epochs 200", nil),
	projectRow("house prices (Boston, without B)", "-data boston -layers 64,32 -opt adamw -sched step -epochs 300", func(r *trainResult) string {
		return testFigures(r, 3) + " ($1000s)"
	}),
	projectRow("diabetes", "-data diabetes -layers 16 -opt adamw -wd 0.1 -patience 20 -epochs 300", nil),
	{
		cells: []string{"Fashion-MNIST", "`train -data fashion-mnist -layers 256 -batchnorm -dropout 0.2 -epochs 10`"},
		runs: [][]string{
			strings.Fields("-data fashion-mnist -layers 256 -batchnorm -dropout 0.2 -epochs 10"),
			strings.Fields("-data fashion-mnist -layers 256 -batchnorm -epochs 10"),
		},
		result: func(rs []*trainResult, _ []float64) []string {
			return []string{fmt.Sprintf("%s (dropout slows a 10-epoch run: without `-dropout 0.2` %s)", testFigures(rs[0], 3), decimals(*rs[1].TestAcc, 3))}
		},
	},
	projectRow("hyperparameter search", "-data circles -search random -trials 8 -epochs 20", func(r *trainResult) string {
		return "ranked table; the best trial's test figures (here " + testFigures(r, 3) + ")"
	}),
	projectRow("Bayesian search", "-data circles -search bayes -trials 8 -epochs 20", func(r *trainResult) string {
		return fmt.Sprintf("best trial lr %g, batch %d, layers %s, %s: test accuracy %.3f", r.LR, r.Batch, joinInts(r.Layers), r.Act, *r.TestAcc)
	}),
	{
		cells: []string{"L1, sparser weights", "`train -data circles -layers 32,32 -opt sgd -lr 0.05 -epochs 30` and the same with `-l1 0.01`"},
		runs: [][]string{
			strings.Fields("-data circles -layers 32,32 -opt sgd -lr 0.05 -epochs 30"),
			strings.Fields("-data circles -layers 32,32 -opt sgd -lr 0.05 -epochs 30 -l1 0.01"),
		},
		result: func(rs []*trainResult, _ []float64) []string {
			without, with := rs[0], rs[1]
			return []string{fmt.Sprintf("weights under 1e-3: %.1f%% of %d without, %.1f%% with; accuracy %.3f and %.3f",
				100*without.SmallWeights, without.Weights, 100*with.SmallWeights, *without.TestAcc, *with.TestAcc)}
		},
	},
}

// projectRow is a row with one run; figures, when nil, is testFigures.
func projectRow(name, args string, figures func(*trainResult) string) readmeRow {
	if figures == nil {
		figures = func(r *trainResult) string { return testFigures(r, 3) }
	}
	return readmeRow{
		cells:  []string{name, "`train " + args + "`"},
		runs:   [][]string{strings.Fields(args)},
		result: func(rs []*trainResult, _ []float64) []string { return []string{figures(rs[0])} },
	}
}

// benchReadme runs every row of README.md's two training tables with the
// cmd/train binary and prints them in the README's format, with the
// machine and the date, ready to paste.
func benchReadme(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("readme", flag.ContinueOnError)
	fs.SetOutput(stderr)
	train := fs.String("train", "bin/train", "the cmd/train binary")
	python := fs.String("python", "/usr/bin/python3", `Python with torch, for the "PyTorch here" figures ("" to leave them out)`)
	peer := fs.String("peer", "bench/peers/torch_mlp_fashion.py", "the PyTorch peer")
	only := fs.String("only", "", "run only the rows whose first cell contains this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("readme: unexpected arguments %q", fs.Args())
	}
	bin, err := filepath.Abs(*train)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("readme: -train: %w (make build)", err)
	}
	peerPath, err := filepath.Abs(*peer)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fastnn-readme-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := readmeRunner{train: bin, python: *python, peer: peerPath, dir: dir, log: stderr}

	fmt.Fprintf(stdout, "Figures for README.md's training tables (make readme-figures), %s.\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(stdout, "Machine: %s.\n", machine())
	fmt.Fprintln(stdout, "Each row's figures come from the train commands shown (or `train -data NAME` with the preset), -seed 1.")
	tables := []struct {
		head []string
		rows []readmeRow
	}{
		{[]string{"-data", "task", "preset", "test result", "time"}, presetRows},
		{[]string{"project", "command", "result"}, projectRows},
	}
	for _, t := range tables {
		fmt.Fprintln(stdout)
		writeRow(stdout, t.head)
		writeSep(stdout, len(t.head))
		for _, row := range t.rows {
			if !strings.Contains(row.cells[0], *only) {
				continue
			}
			cells, err := r.row(row)
			if err != nil {
				return fmt.Errorf("readme: %s: %w", row.cells[0], err)
			}
			writeRow(stdout, cells)
		}
	}
	return nil
}

type readmeRunner struct {
	train, python, peer, dir string
	log                      io.Writer
}

func (r readmeRunner) row(row readmeRow) ([]string, error) {
	var results []*trainResult
	for _, args := range row.runs {
		res, err := r.runTrain(args)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	var torch []float64
	if row.torch != nil && r.python != "" {
		epochs := len(results[len(results)-1].History)
		var err error
		if torch, err = r.runTorch(epochs, row.torch); err != nil {
			return nil, fmt.Errorf("%w\n(needs python3-torch; -python '' leaves the PyTorch figures out)", err)
		}
	}
	return append(slices.Clone(row.cells), row.result(results, torch)...), nil
}

// runTrain runs `train ARGS -json` in the scratch folder (the files a
// command writes land there) and reads its last line.
func (r readmeRunner) runTrain(args []string) (*trainResult, error) {
	line, err := r.command(r.train, append(slices.Clone(args), "-json")...)
	if err != nil {
		return nil, err
	}
	var res trainResult
	if err := json.Unmarshal(line, &res); err != nil {
		return nil, fmt.Errorf("train %s: last line: %v", strings.Join(args, " "), err)
	}
	if res.TestAcc == nil && res.TestMAE == nil {
		return nil, fmt.Errorf("train %s: no test figures in its JSON", strings.Join(args, " "))
	}
	return &res, nil
}

// runTorch runs the PyTorch peer with one thread and returns its test
// accuracy after each epoch.
func (r readmeRunner) runTorch(epochs int, args []string) ([]float64, error) {
	line, err := r.command(r.python, append([]string{r.peer, "1", strconv.Itoa(epochs)}, args...)...)
	if err != nil {
		return nil, err
	}
	var res struct {
		EpochTestAcc []float64 `json:"epoch_test_acc"`
	}
	if err := json.Unmarshal(line, &res); err != nil || len(res.EpochTestAcc) != epochs {
		return nil, fmt.Errorf("%s: want per-epoch test accuracies for %d epochs in its last line (%v)", r.peer, epochs, err)
	}
	return res.EpochTestAcc, nil
}

// command runs name with args in the scratch folder, says so on the log
// with the time it took, and returns the last line of its stdout.
func (r readmeRunner) command(name string, args ...string) ([]byte, error) {
	shown := filepath.Base(name) + " " + strings.Join(args, " ")
	cmd := exec.Command(name, args...)
	cmd.Dir = r.dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	fmt.Fprintf(r.log, "%6.1fs  %s\n", time.Since(start).Seconds(), shown)
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", shown, err, strings.TrimSpace(errOut.String()))
	}
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	return lines[len(lines)-1], nil
}

// testFigures writes a run's test result as the README does: "accuracy
// 0.978", or "R^2 0.44, MAE 48.9" with r2 decimals for R^2.
func testFigures(r *trainResult, r2 int) string {
	if r.TestAcc != nil {
		return "accuracy " + decimals(*r.TestAcc, 3)
	}
	s := "R^2 undefined"
	if r.TestR2 != nil {
		s = "R^2 " + strconv.FormatFloat(*r.TestR2, 'f', r2, 64)
	}
	return s + ", MAE " + strconv.FormatFloat(*r.TestMAE, 'g', 3, 64)
}

// decimals rounds v to n decimals and drops trailing zeros, keeping one:
// 0.980 is "0.98", 1 is "1.0".
func decimals(v float64, n int) string {
	s := strings.TrimRight(strconv.FormatFloat(v, 'f', n, 64), "0")
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return s
}

// seconds writes a duration as the README does: 0.03, 0.14, 6.1, 57.
func seconds(s float64) string {
	switch {
	case s < 0.005:
		return "<0.01"
	case s < 1:
		return decimals(s, 2)
	case s < 10:
		return decimals(s, 1)
	}
	return strconv.FormatFloat(s, 'f', 0, 64)
}
