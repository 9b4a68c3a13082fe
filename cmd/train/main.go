// Command train trains a multilayer perceptron, a convolutional network or
// a model given as a layer list on a built-in, synthetic, IDX or CSV data
// set and reports its test figures.
//
//	go run ./cmd/train                      # the embedded 8x8 digits
//	go run ./cmd/train -data iris -json
//	go run ./cmd/train -data fashion-mnist -layers 256 -batch 128 -epochs 10
//	go run ./cmd/train -data fashion-mnist -arch cnn -batch 64 -epochs 3
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
	_ "github.com/fastnn/fastnn/backend/cuda"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/internal/experiment"
	"github.com/fastnn/fastnn/nn"
)

// stdin is what `train predict -data -` reads; tests replace it.
var stdin io.Reader = os.Stdin

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, for tests: 0 success, 1 failure, 2 bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "predict" {
		return predict(args[1:], stdout, stderr)
	}
	cfg, opts, err := parseFlags(args, stderr)
	jsonOut := opts.json
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 2
	}
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// The rate and loss shown are the last finished epoch's, labelled
		// so (progressDesc), rather than the bar's own rate, which starts
		// at "0 samples/hr".
		bar = progressbar.NewOptions64(1, progressbar.OptionSetWriter(stderr),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30))
	}
	var last nn.EpochStats
	cfg.Progress = func(epoch, done, total int) {
		if bar == nil {
			return
		}
		if epoch == 1 && done <= total && bar.GetMax64() == 1 {
			bar.ChangeMax64(int64(total * cfg.Epochs))
		}
		bar.Describe(progressDesc(epoch, cfg.Epochs, last))
		_ = bar.Set64(int64((epoch-1)*total + done))
	}
	cfg.OnEpoch = func(st nn.EpochStats) {
		last = st
		if jsonOut || (st.Epoch%max(1, cfg.Epochs/10) != 0 && st.Epoch != 1) {
			return
		}
		if bar != nil {
			_ = bar.Clear()
		}
		line := fmt.Sprintf("epoch %4d  loss %.4f", st.Epoch, st.TrainLoss)
		if st.TrainAcc != nil {
			line += fmt.Sprintf("  acc %.4f", *st.TrainAcc)
		}
		if v := st.Val; v != nil {
			line += fmt.Sprintf("  val_loss %.4f", v.Loss)
			if v.Classification {
				line += fmt.Sprintf("  val_acc %.4f", v.Accuracy)
			}
		}
		fmt.Fprintf(stdout, "%s  %.0f samples/s\n", line, st.SamplesPerSec)
	}
	cfg.Log = func(format string, a ...any) {
		if !jsonOut {
			fmt.Fprintf(stdout, format+"\n", a...)
		}
	}
	cfg.Notice = func(msg string) { fmt.Fprintf(stderr, "train: %s\n", msg) }
	if opts.search != "" {
		return search(cfg, opts, stdout, stderr)
	}
	// SIGINT or SIGTERM stops training after the current step; with -save
	// the state is written before the process exits.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			cancel() // the first signal: stop after this step, saving with -save
		}
		if _, ok := <-sigs; ok {
			fmt.Fprintln(stderr, "train: second interrupt: quitting without saving")
			os.Exit(130)
		}
	}()
	res, err := experiment.Run(ctx, cfg)
	if bar != nil {
		_ = bar.Finish()
	}
	if errors.Is(err, nn.ErrInterrupted) {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 1
	}
	if jsonOut {
		return printJSON(res, stdout, stderr)
	}
	if cfg.GradFlow && len(res.History) > 0 {
		first, last := res.History[0], res.History[len(res.History)-1]
		nn.WriteGradFlowTable(stdout, first.Epoch, first.GradFlow)
		if last.Epoch != first.Epoch {
			nn.WriteGradFlowTable(stdout, last.Epoch, last.GradFlow)
		}
	}
	for _, p := range res.Plots {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	if res.BestEpoch > 0 {
		fmt.Fprintf(stdout, "early stopping: kept the weights of epoch %d\n", res.BestEpoch)
	}
	fmt.Fprintf(stdout, "weights: %.1f%% of %d under %g in absolute value", 100*res.SmallWeights, res.Weights, nn.SmallWeight)
	if res.L1 > 0 {
		fmt.Fprintf(stdout, "; L1 penalty %.4g (not in the losses)", res.L1Penalty)
	}
	fmt.Fprintln(stdout)
	if cfg.Load != "" {
		fmt.Fprintf(stdout, "evaluated %s, without training, on its training run's test split\n", cfg.Load)
	} else {
		fmt.Fprintf(stdout, "trained %d epochs on %d samples in %.1fs (%.0f samples/s)\n", len(res.History), res.TrainSamples, res.TrainSeconds, res.SamplesPerSec)
	}
	if res.TestAcc != nil {
		fmt.Fprintf(stdout, "test: %d samples, loss %.4f, accuracy %.4f\n", res.TestSamples, res.TestLoss, *res.TestAcc)
		writeConfusion(stdout, res.Confusion, res.ClassNames)
	} else {
		r2 := "undefined (test targets constant or too few)"
		if res.TestR2 != nil {
			r2 = fmt.Sprintf("%.3f", *res.TestR2)
		}
		fmt.Fprintf(stdout, "test: %d samples, MSE %.4g, MAE %.4g, R^2 %s\n", res.TestSamples, *res.TestMSE, *res.TestMAE, r2)
	}
	return 0
}

// progressDesc is the progress bar's text during epoch of epochs: the
// figures of the last finished epoch, last, named as such.
func progressDesc(epoch, epochs int, last nn.EpochStats) string {
	desc := fmt.Sprintf("epoch %d/%d", epoch, epochs)
	if last.Epoch > 0 {
		desc += fmt.Sprintf(" (epoch %d: loss %.4f", last.Epoch, last.TrainLoss)
		if last.TrainAcc != nil {
			desc += fmt.Sprintf(" acc %.3f", *last.TrainAcc)
		}
		desc += fmt.Sprintf(", %.0f samples/s)", last.SamplesPerSec)
	}
	return desc
}

// maxConfusion is the most classes whose confusion table is printed.
const maxConfusion = 20

// writeConfusion prints the test confusion table, rows the true classes,
// columns the predicted ones, each by name where the data names them.
func writeConfusion(w io.Writer, m [][]int, names []string) {
	if len(m) == 0 || len(m) > maxConfusion {
		return
	}
	label := make([]string, len(m))
	width := 5
	for i := range m {
		label[i] = strconv.Itoa(i)
		if i < len(names) {
			label[i] = names[i]
		}
		if r := []rune(label[i]); len(r) > 16 {
			label[i] = string(r[:15]) + "~"
		}
		width = max(width, len([]rune(label[i])))
	}
	fmt.Fprintf(w, "confusion on the test split (rows: true class, columns: predicted):\n%*s", width, "")
	for _, l := range label {
		fmt.Fprintf(w, " %*s", width, l)
	}
	fmt.Fprintln(w)
	for i, row := range m {
		fmt.Fprintf(w, "%-*s", width, label[i])
		for _, n := range row {
			fmt.Fprintf(w, " %*d", width, n)
		}
		fmt.Fprintln(w)
	}
}

// options are the flags that choose what train does, beside the run's Config.
type options struct {
	json   bool
	search string
	trials int
	fixed  map[string]bool // flags given on the command line
}

// printJSON writes v as the one JSON line that ends stdout.
func printJSON(v any, stdout, stderr io.Writer) int {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(b))
	return 0
}

// search runs -search and prints the ranked table and the best run.
func search(cfg experiment.Config, opts options, stdout, stderr io.Writer) int {
	if cfg.Load != "" || cfg.Resume != "" {
		fmt.Fprintln(stderr, "train: -search runs many trainings: it does not combine with -load or -resume")
		return 2
	}
	cfg.Progress, cfg.OnEpoch = nil, nil
	res, err := experiment.Search(cfg, opts.search, opts.trials, opts.fixed)
	if err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 1
	}
	if opts.json {
		return printJSON(res, stdout, stderr)
	}
	fmt.Fprintf(stdout, "%s search, %d trials, ranked by validation loss (trial: the order tried):\n", res.Mode, len(res.Trials))
	for _, t := range res.Trials {
		acc := ""
		if t.ValAcc != nil {
			acc = fmt.Sprintf("  val_acc %.4f", *t.ValAcc)
		}
		if t.Error != "" {
			fmt.Fprintf(stdout, "%3d  trial %-3d %s  failed: %s\n", t.Rank, t.Trial, t, t.Error)
			continue
		}
		fmt.Fprintf(stdout, "%3d  trial %-3d %s  val_loss %.4f%s\n", t.Rank, t.Trial, t, t.ValLoss, acc)
	}
	if res.Retrained > 0 {
		for _, p := range res.Plots {
			fmt.Fprintf(stdout, "wrote %s\n", p)
		}
		if cfg.Save != "" {
			fmt.Fprintf(stdout, "saved trial %d, the best, to %s\n", res.Retrained, cfg.Save)
		}
	}
	best := res.Result
	fmt.Fprintf(stdout, "best: trial %d, lr %g batch %d layers %v act %s wd %g", res.Trials[0].Trial, best.LR, best.Batch, best.Layers, best.Act, res.Trials[0].WD)
	if best.TestAcc != nil {
		fmt.Fprintf(stdout, "; test accuracy %.4f\n", *best.TestAcc)
	} else {
		fmt.Fprintf(stdout, "; test MSE %.4g MAE %.4g\n", *best.TestMSE, *best.TestMAE)
	}
	return 0
}

// predict implements `train predict -load FILE -data FILE.csv`.
func predict(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c experiment.PredictConfig
	fs.StringVar(&c.Load, "load", "", "checkpoint written by train -save (required)")
	fs.StringVar(&c.Data, "data", "", "CSV file with the model's feature columns, - for standard input, a built-in set name, or mnist / fashion-mnist (their test images)")
	fs.StringVar(&c.Sep, "sep", "", "CSV field separator: comma, semicolon, tab or pipe (default: detected from the header)")
	fs.StringVar(&c.Backend, "backend", "auto", "backend: auto, cpu, cuda")
	fs.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if c.Load == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: train predict -load FILE -data FILE.csv|-")
		return 2
	}
	if _, err := data.ParseSeparator(c.Sep); err != nil {
		fmt.Fprintf(stderr, "train: -sep: %v\n", err)
		return 2
	}
	c.Stdin = stdin
	if err := experiment.Predict(c, stdout); err != nil {
		fmt.Fprintf(stderr, "train: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (experiment.Config, options, error) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: train [flags]                                   train and test a model\n"+
			"       train predict -load FILE -data FILE.csv|- [flags]  predict with a saved model (train predict -h)\n\nflags:\n")
		printDefaults(fs, stderr)
	}
	c := experiment.Config{}
	var layers string
	var o options
	fs.StringVar(&c.Data, "data", "", "data set: "+strings.Join(experiment.SetNames(), ", ")+", or a path to a .csv file (default digits, or the -load checkpoint's)")
	fs.StringVar(&c.DataDir, "data-dir", "", "folder to look in first for IDX files (mnist, fashion-mnist)")
	fs.BoolVar(&c.Download, "download", true, "download mnist / fashion-mnist into the user cache when not found")
	fs.StringVar(&c.Target, "target", "", "CSV target column, by name or 0-based index (default: the last)")
	var drop string
	fs.StringVar(&drop, "drop", "", "CSV: columns to leave out, by name or 0-based index, e.g. id,comment")
	fs.StringVar(&c.Sep, "sep", "", "CSV field separator: comma, semicolon, tab or pipe (default: detected from the header)")
	fs.StringVar(&c.Impute, "impute", "", "CSV missing cells (empty, NA, ?): mean or median of the training split, or drop-row (default: an error)")
	fs.StringVar(&c.Task, "task", "", "CSV task: auto (integer targets with at most 20 values are classes), classification, regression")
	fs.IntVar(&c.Samples, "samples", 0, "synthetic sets: number of points (default: the set's preset)")
	fs.Float64Var(&c.Noise, "noise", -1, "synthetic sets: noise (-1: the set's preset)")
	fs.StringVar(&c.Arch, "arch", "mlp", "model: mlp (the MLP of -layers, -act, ...), cnn (a convolutional network for image sets), or a layer list such as\n\"Conv2d(1,32,3) ReLU MaxPool2d(2) Flatten Linear(10)\" (see README)")
	fs.StringVar(&layers, "layers", "", "hidden layer widths, e.g. 256,128; \"none\" for no hidden layer (default: the set's preset)")
	fs.StringVar(&c.Act, "act", "", "hidden activation: relu, leakyrelu, sigmoid, tanh, gelu (tanh approximation), identity")
	fs.Float64Var(&c.Slope, "slope", 0.01, "leakyrelu's negative slope")
	fs.StringVar(&c.Loss, "loss", "", "loss: cross-entropy, bce, mse, mae (default: by task)")
	fs.StringVar(&c.Opt, "opt", "", "optimizer: sgd, momentum, nesterov, adam, adamw")
	fs.Float64Var(&c.LR, "lr", 0, "learning rate (default: the set's preset)")
	fs.Float64Var(&c.Momentum, "momentum", 0, "SGD momentum (momentum and nesterov default to 0.9)")
	fs.Float64Var(&c.WD, "wd", -1, "weight decay: L2 for sgd and adam, decoupled for adamw (-1: 0, or 0.01 for adamw as in PyTorch)")
	fs.Float64Var(&c.L1, "l1", 0, "L1 regularisation: add this times sum |w| over the weight matrices (not biases) to the training loss")
	fs.IntVar(&c.Batch, "batch", -1, "batch size: 0 full batch, 1 online (default: the set's preset)")
	fs.IntVar(&c.Epochs, "epochs", 0, "epochs (default: the set's preset)")
	fs.Float64Var(&c.ValFrac, "val", -1, "fraction held out for validation (default: the set's preset)")
	fs.Float64Var(&c.TestFrac, "test", -1, "fraction held out for testing, for sets without a test split (-1: the set's preset)")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed: the same seed, backend level and thread count give the same run")
	fs.StringVar(&c.Backend, "backend", "auto", "backend: auto, cpu, cuda")
	fs.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all)")
	fs.StringVar(&c.Level, "level", "", "CPU kernel level: "+levelChoices()+" (default: best supported)")
	fs.BoolVar(&c.TF32, "tf32", false, "GPU: run matrix products on TF32 tensor cores (faster, about 3 decimal digits per product)")
	fs.BoolVar(&c.Residual, "residual", false, "skip connections around hidden layers of equal width")
	fs.BoolVar(&c.BatchNorm, "batchnorm", false, "BatchNorm1d between each hidden Linear and its activation")
	fs.Float64Var(&c.Dropout, "dropout", 0, "dropout probability after each hidden activation (0: none)")
	fs.StringVar(&c.Sched, "sched", "", "learning-rate schedule: step, plateau, cosine")
	fs.IntVar(&c.StepSize, "step-size", 0, "step schedule: epochs between cuts (default: a third of the epochs)")
	fs.Float64Var(&c.Gamma, "gamma", 0, "step and plateau schedules: factor of each cut (default 0.1)")
	fs.IntVar(&c.Warmup, "warmup", 0, "cosine schedule: warm-up epochs")
	fs.Float64Var(&c.Clip, "clip", 0, "clip the global gradient norm to this value (0: off)")
	fs.IntVar(&c.Patience, "patience", 0, "early stopping: epochs without validation improvement (0: off); restores the best weights")
	fs.BoolVar(&c.GradFlow, "grad-flow", false, "print per-layer gradient flow (norms, update ratios, vanishing/exploding flags)")
	fs.StringVar(&c.Save, "save", "", "save the model (safetensors, PyTorch state_dict names) after every epoch and at the end; optimizer state goes beside it")
	fs.StringVar(&c.Load, "load", "", "evaluate a saved model on the data's test split instead of training")
	fs.StringVar(&c.Resume, "resume", "", "continue training from a checkpoint written by -save (same flags; -epochs is the total)")
	fs.StringVar(&c.PlotFormat, "plot-format", "png", "-plots: png or svg")
	fs.StringVar(&c.PlotsDir, "plots", "", "folder for loss/accuracy curves, decision boundary (2-D sets), gradient flow, history CSV/JSON")
	fs.StringVar(&o.search, "search", "", "hyperparameter search over lr, batch, layers, act, wd: grid, random or bayes (Gaussian process), scored on the validation split")
	fs.IntVar(&o.trials, "trials", 8, "-search: number of configurations to try")
	fs.BoolVar(&o.json, "json", false, "end with one JSON line of results on stdout")
	if err := fs.Parse(args); err != nil {
		return c, o, err
	}
	if fs.NArg() > 0 {
		return c, o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// Zero means "the preset" in Config; a zero typed on the command line
	// is a mistake to report, not a request for the preset.
	var err error
	// A loaded model brings its architecture, training and split with it.
	loadConflicts := map[string]bool{"arch": true, "layers": true, "act": true, "slope": true, "residual": true, "batchnorm": true,
		"dropout": true, "loss": true, "opt": true, "lr": true, "momentum": true, "wd": true, "l1": true, "batch": true, "epochs": true,
		"sched": true, "step-size": true, "gamma": true, "warmup": true, "clip": true, "patience": true, "grad-flow": true,
		"plots": true, "seed": true, "val": true, "test": true, "search": true, "trials": true,
		"samples": true, "noise": true, "target": true, "task": true, "drop": true, "sep": true, "impute": true}
	o.fixed = map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		o.fixed[f.Name] = true
		switch {
		case c.Load != "" && loadConflicts[f.Name]:
			err = fmt.Errorf("-%s has no effect with -load, which evaluates the saved model as it was trained", f.Name)
		case c.Sched == "" && (f.Name == "step-size" || f.Name == "gamma" || f.Name == "warmup"):
			err = fmt.Errorf("-%s needs -sched", f.Name)
		case f.Name == "lr" && !(c.LR > 0):
			err = fmt.Errorf("-lr must be a positive number, got %v", c.LR)
		case f.Name == "epochs" && c.Epochs < 1:
			err = fmt.Errorf("-epochs must be >= 1, got %d", c.Epochs)
		case f.Name == "samples" && c.Samples < 1:
			err = fmt.Errorf("-samples must be >= 1, got %d", c.Samples)
		case f.Name == "slope" && !(c.Slope > 0):
			err = fmt.Errorf("-slope must be positive, got %v", c.Slope)
		case f.Name == "trials" && o.trials < 1:
			err = fmt.Errorf("-trials must be >= 1, got %d", o.trials)
		case f.Name == "backend" && c.Backend != "auto" && !slices.Contains(backend.Names(), c.Backend):
			err = fmt.Errorf("-backend: unknown backend %q (want auto, %s)", c.Backend, strings.Join(backend.Names(), ", "))
		case f.Name == "search" && o.search != "grid" && o.search != "random" && o.search != "bayes":
			err = fmt.Errorf("-search: want grid, random or bayes, got %q", o.search)
		case (f.Name == "noise" || f.Name == "samples") && c.Load == "" && !slices.Contains(syntheticSets, c.Data):
			err = fmt.Errorf("-%s applies to the synthetic sets (%s), not -data %q", f.Name, strings.Join(syntheticSets, ", "), cmp.Or(c.Data, "digits"))
		case f.Name == "l1" && !(c.L1 >= 0 && c.L1 <= math.MaxFloat64):
			err = fmt.Errorf("-l1 must be a finite number >= 0, got %v", c.L1)
		case c.Arch != "mlp" && mlpFlags[f.Name]:
			err = fmt.Errorf("-%s applies to -arch mlp; -arch %s gives its layers (and their activations, BatchNorm, Dropout) in the spec", f.Name, archName(c.Arch))
		case c.Arch != "mlp" && f.Name == "search":
			err = fmt.Errorf("-search varies the MLP's -layers and -act; it applies to -arch mlp only")
		}
	})
	if err != nil {
		return c, o, err
	}
	if c.Layers, err = parseLayers(layers); err != nil {
		return c, o, err
	}
	if drop != "" {
		for _, col := range strings.Split(drop, ",") {
			if col = strings.TrimSpace(col); col == "" {
				return c, o, fmt.Errorf("-drop %q: an empty column name", drop)
			}
			c.Drop = append(c.Drop, col)
		}
	}
	// Every value is checked here as the run checks it, so that a bad flag
	// exits 2, as the README says, before anything is loaded.
	if err := experiment.Validate(c); err != nil {
		return c, o, err
	}
	return c, o, nil
}

// printDefaults is flag.PrintDefaults, without the "(default ...)" that
// it adds to a flag whose text already says what its default is.
func printDefaults(fs *flag.FlagSet, w io.Writer) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if !strings.Contains(usage, "default") && !strings.Contains(usage, "preset") && f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			if name == "string" {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, line)
	})
}

// mlpFlags are the flags that describe the MLP, which -arch cnn or a spec
// replaces.
var mlpFlags = map[string]bool{"layers": true, "act": true, "slope": true, "residual": true, "batchnorm": true, "dropout": true}

// archName is -arch for a message: a long spec is cut short.
func archName(arch string) string {
	if len(arch) > 40 {
		return fmt.Sprintf("%q...", arch[:37])
	}
	if arch == "cnn" {
		return arch
	}
	return fmt.Sprintf("%q", arch)
}

// syntheticSets are the sets that -samples and -noise apply to.
var syntheticSets = []string{"xor", "circles", "moons", "spiral", "blobs"}

// parseLayers reads "256,128"; "" leaves the preset (nil), "none" means no
// hidden layer.
func parseLayers(s string) ([]int, error) {
	switch s {
	case "":
		return nil, nil
	case "none", "0":
		return []int{}, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > nn.MaxWidth {
			return nil, fmt.Errorf("-layers %q: %q is not a width in 1..%d (for no hidden layer, -layers none or 0 alone)", s, f, nn.MaxWidth)
		}
		out = append(out, n)
	}
	if err := nn.CheckHidden(out); err != nil {
		return nil, fmt.Errorf("-layers: %w", err)
	}
	return out, nil
}

// levelChoices lists the CPU kernel levels this build has, for -h.
func levelChoices() string {
	var names []string
	for _, l := range cpu.Built() {
		names = append(names, l.String())
	}
	return strings.Join(names, ", ")
}
