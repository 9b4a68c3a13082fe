// Package experiment turns a run description (data set, model, optimizer,
// backend) into a trained model and its figures. cmd/train and cmd/bench
// share it, so that a benchmark measures exactly what a user runs.
package experiment

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// Config describes one run. Zero values (and -1 where noted) take the data
// set's preset.
type Config struct {
	Data     string // a built-in, synthetic or IDX set name, or a path to a .csv
	DataDir  string // where to look for IDX files first
	Target   string // CSV target column (name or index); "" = last
	Samples  int    // synthetic sets: number of points (0: preset)
	Noise    float64
	Download bool // MNIST / Fashion-MNIST: download when not found

	Layers   []int // hidden widths; nil: preset; empty non-nil: no hidden layer
	Act      string
	Loss     string // "" picks by task: cross-entropy, bce (2 classes) or mse
	Opt      string // sgd, momentum, nesterov, adam, adamw
	LR       float64
	Momentum float64 // sgd: 0 for plain SGD; "momentum" and "nesterov" default to 0.9
	WD       float64
	Batch    int // -1: preset; 0: full batch; 1: online
	Epochs   int
	ValFrac  float64 // -1: preset
	TestFrac float64 // -1: preset (ignored for sets with an official test split)
	Seed     uint64

	Backend string
	Threads int
	Level   string

	Progress func(epoch, done, total int)
	OnEpoch  func(nn.EpochStats)
	// Log, when set, receives human-readable lines (model summary, fallback notices).
	Log func(format string, args ...any)
}

// Result is what a run reports; cmd/train prints it as its JSON line.
type Result struct {
	Backend       string     `json:"backend"`
	Data          string     `json:"data"`
	Task          string     `json:"task"`
	TrainSamples  int        `json:"train_samples"`
	TestSamples   int        `json:"test_samples"`
	Layers        []int      `json:"layers"`
	Act           string     `json:"act"`
	Loss          string     `json:"loss"`
	Opt           string     `json:"opt"`
	LR            float64    `json:"lr"`
	Batch         int        `json:"batch"`
	Epochs        int        `json:"epochs"`
	Seed          uint64     `json:"seed"`
	Params        int        `json:"params"`
	TrainLoss     float64    `json:"train_loss"`
	TestLoss      float64    `json:"test_loss"`
	TestAcc       *float64   `json:"test_acc,omitempty"`
	TestMSE       *float64   `json:"test_mse,omitempty"`
	TestMAE       *float64   `json:"test_mae,omitempty"`
	TestR2        *float64   `json:"test_r2,omitempty"`
	SamplesPerSec float64    `json:"samples_per_sec"`
	TrainSeconds  float64    `json:"train_seconds"`
	Seconds       float64    `json:"seconds"`
	History       nn.History `json:"history"`
}

// Run loads the data, builds the model, trains and tests it.
func Run(cfg Config) (*Result, error) {
	start := time.Now()
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	p, err := presetFor(cfg.Data)
	if err != nil {
		return nil, err
	}
	cfg = p.fill(cfg)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rng := nn.NewRNG(cfg.Seed)
	sets, err := Load(cfg, rng)
	if err != nil {
		return nil, err
	}
	train, val, test := sets.Train, sets.Val, sets.Test

	be, fallback, err := backend.Open(cfg.Backend, backend.Options{Threads: cfg.Threads, Level: cfg.Level})
	if err != nil {
		return nil, err
	}
	defer be.Close()
	if fallback != "" {
		logf("%s; using %s", fallback, be.Details())
	}

	act, err := backend.ParseActivation(cfg.Act)
	if err != nil {
		return nil, fmt.Errorf("-act: %w", err)
	}
	loss, outs, err := chooseLoss(cfg.Loss, train)
	if err != nil {
		return nil, err
	}
	model, err := nn.NewMLP(be, nn.MLPConfig{In: train.Features, Hidden: cfg.Layers, Out: outs, Act: act, Slope: 0.01}, rng)
	if err != nil {
		return nil, err
	}
	defer model.Free()
	opt, err := newOptimizer(be, model, cfg)
	if err != nil {
		return nil, err
	}
	logf("%s\n%s, %s, %d parameters, on %s", model, loss, opt, model.ParamCount(), be.Details())

	tr := &nn.Trainer{Backend: be, Model: model, Loss: loss, Opt: opt}
	hist, err := tr.Fit(train, val, nn.TrainConfig{
		Epochs: cfg.Epochs, BatchSize: cfg.Batch, RNG: rng, Progress: cfg.Progress, OnEpoch: cfg.OnEpoch,
	})
	if err != nil {
		return nil, err
	}
	m, err := tr.Evaluate(test, 0)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Backend: be.Details(), Data: cfg.Data, Task: taskName(train.Task),
		TrainSamples: train.N, TestSamples: test.N,
		Layers: cfg.Layers, Act: cfg.Act, Loss: loss.String(), Opt: cfg.Opt, LR: cfg.LR,
		Batch: cfg.Batch, Epochs: cfg.Epochs, Seed: cfg.Seed, Params: model.ParamCount(),
		TrainLoss: hist[len(hist)-1].TrainLoss, TestLoss: m.Loss, History: hist,
	}
	for _, h := range hist {
		res.TrainSeconds += h.Seconds
	}
	res.SamplesPerSec = float64(train.N*len(hist)) / res.TrainSeconds
	if train.Task == data.Classification {
		res.TestAcc = &m.Accuracy
	} else {
		// The model learnt standardised targets; report in the data's units.
		s := float64(sets.TargetStd)
		mse, mae := m.MSE*s*s, m.MAE*s
		r2 := 1 - mse/sets.TestTargetVar
		res.TestMSE, res.TestMAE, res.TestR2 = &mse, &mae, &r2
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func taskName(t data.Task) string {
	if t == data.Regression {
		return "regression"
	}
	return "classification"
}

func (c Config) validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("-epochs must be >= 1, got %d", c.Epochs)
	case c.Batch < 0:
		return fmt.Errorf("-batch must be >= 0 (0: full batch), got %d", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("-lr must be a positive number, got %v", c.LR)
	case c.Momentum < 0 || c.Momentum >= 1 || math.IsNaN(c.Momentum):
		return fmt.Errorf("-momentum must be in [0, 1), got %v", c.Momentum)
	case c.WD < 0 || math.IsNaN(c.WD) || math.IsInf(c.WD, 0):
		return fmt.Errorf("-wd must be >= 0, got %v", c.WD)
	case c.ValFrac < 0 || c.TestFrac < 0 || c.ValFrac+c.TestFrac >= 1 || math.IsNaN(c.ValFrac+c.TestFrac):
		return fmt.Errorf("-val and -test must be >= 0 with a sum below 1, got %v and %v", c.ValFrac, c.TestFrac)
	case c.Samples < 0 || c.Noise < 0 || math.IsNaN(c.Noise):
		return fmt.Errorf("-samples and -noise must be >= 0")
	case c.Threads < 0:
		return fmt.Errorf("-threads must be >= 0 (0: all CPUs), got %d", c.Threads)
	}
	for i, h := range c.Layers {
		if h < 1 || h > 1<<16 {
			return fmt.Errorf("-layers: width %d of hidden layer %d is out of range 1..65536", h, i+1)
		}
	}
	return nil
}

func chooseLoss(name string, train *data.Dataset) (nn.Loss, int, error) {
	if name == "" {
		switch {
		case train.Task == data.Regression:
			name = "mse"
		case train.Classes == 2:
			name = "bce"
		default:
			name = "cross-entropy"
		}
	}
	loss, err := nn.ParseLoss(name)
	if err != nil {
		return nil, 0, fmt.Errorf("-loss: %w", err)
	}
	switch loss.(type) {
	case nn.CrossEntropy:
		if train.Task != data.Classification {
			return nil, 0, fmt.Errorf("-loss %s needs a classification data set; %s is regression", loss, train.Name)
		}
		return loss, train.Classes, nil
	case nn.BCEWithLogits:
		if train.Task != data.Classification || train.Classes != 2 {
			return nil, 0, fmt.Errorf("-loss bce needs two classes; %s has %d", train.Name, train.Classes)
		}
		return loss, 1, nil
	}
	if train.Task != data.Regression {
		return nil, 0, fmt.Errorf("-loss %s needs a regression data set; %s is classification", loss, train.Name)
	}
	return loss, train.Targets, nil
}

func newOptimizer(be backend.Backend, model *nn.Sequential, c Config) (nn.Optimizer, error) {
	lr, wd := float32(c.LR), float32(c.WD)
	switch c.Opt {
	case "sgd", "momentum", "nesterov":
		mom := c.Momentum
		if c.Opt != "sgd" && mom == 0 {
			mom = 0.9
		}
		return nn.NewSGD(be, model.Params(), backend.SGDConfig{LR: lr, Momentum: float32(mom), WeightDecay: wd, Nesterov: c.Opt == "nesterov"}), nil
	case "adam", "adamw":
		return nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: lr, WeightDecay: wd, Decoupled: c.Opt == "adamw"}), nil
	}
	return nil, fmt.Errorf("-opt: unknown optimizer %q (want sgd, momentum, nesterov, adam or adamw)", c.Opt)
}

// isCSVPath tells a file argument from a set name.
func isCSVPath(s string) bool {
	return strings.HasSuffix(strings.ToLower(s), ".csv") || strings.ContainsRune(s, os.PathSeparator) || filepath.Ext(s) != ""
}
