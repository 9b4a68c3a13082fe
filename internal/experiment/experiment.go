// Package experiment turns a run description (data set, model, optimizer,
// backend) into a trained model and its figures. cmd/train and cmd/bench
// share it, so that a benchmark measures exactly what a user runs.
package experiment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
	"github.com/fastnn/fastnn/plot"
	"github.com/fastnn/fastnn/safetensors"
)

// Config describes one run. Zero values (and -1 where noted) take the data
// set's preset.
type Config struct {
	Data     string   // a built-in, synthetic or IDX set name, or a path to a .csv
	DataDir  string   // where to look for IDX files first
	Target   string   // CSV target column (name or index); "" = last
	Task     string   // CSV: "auto" (or ""), "classification", "regression"
	Drop     []string // CSV: columns to leave out, by name or 0-based index
	Sep      string   // CSV: field separator ("" or "auto": detected from the header; see data.ParseSeparator)
	Impute   string   // CSV: missing cells: "" (an error), "mean", "median" (fitted on the training split) or "drop-row"
	Samples  int      // synthetic sets: number of points (0: preset)
	Noise    float64  // synthetic sets: noise (-1: preset)
	Download bool     // MNIST / Fashion-MNIST: download when not found

	// Arch is the model: "" or "mlp" the MLP of Layers, Act, Residual,
	// BatchNorm and Dropout (which no other value takes); "cnn" the
	// convolutional network of nn.CNNPreset for the data set's images;
	// anything else a layer spec that nn.ParseArch reads.
	Arch     string
	Layers   []int // hidden widths; nil: preset; empty non-nil: no hidden layer
	Act      string
	Loss     string // "" picks by task: cross-entropy, bce (2 classes) or mse
	Opt      string // sgd, momentum, nesterov, adam, adamw
	LR       float64
	Momentum float64 // sgd: 0 for plain SGD; "momentum" and "nesterov" default to 0.9
	WD       float64 // weight decay (-1: preset, 0.01 for adamw as in PyTorch, else 0)
	L1       float64 // L1 regularisation: L1 * sum |w| over the weight matrices joins the training loss (see nn.L1)
	Slope    float64 // LeakyReLU's negative slope (0: 0.01, PyTorch's default)
	Batch    int     // -1: preset; 0: full batch; 1: online
	Epochs   int
	ValFrac  float64 // -1: preset
	TestFrac float64 // -1: preset (ignored for sets with an official test split)
	Seed     uint64

	Residual   bool    // skip connections around equal-width hidden layers
	BatchNorm  bool    // BatchNorm1d after each hidden Linear
	Dropout    float64 // dropout probability after each hidden activation
	Sched      string  // "", "step", "plateau", "cosine"
	StepSize   int     // step: epochs between cuts (0: a third of the epochs)
	Gamma      float64 // step and plateau: the factor of each cut (0: 0.1)
	Warmup     int     // cosine: warm-up epochs
	Clip       float64 // > 0: clip the global gradient norm
	Patience   int     // > 0: early stopping, restoring the best epoch's weights
	GradFlow   bool    // record gradient-flow diagnostics per epoch
	PlotsDir   string  // when set: write curves, decision boundary, gradient flow and history there
	PlotFormat string  // -plots: "png" (default) or "svg"
	Save       string  // checkpoint path (safetensors), written after every epoch and at the end
	Resume     string  // checkpoint to continue from, with its optimizer state beside it
	Load       string  // checkpoint to evaluate on the data's test split, without training

	Backend string
	Threads int
	Level   string
	TF32    bool // GPU GEMMs on TF32 tensor cores (see backend.Options.TF32)

	Progress func(epoch, done, total int)
	OnEpoch  func(nn.EpochStats)
	// Log, when set, receives human-readable lines (model summary, fallback notices).
	Log func(format string, args ...any)
	// Notice, when set, receives warnings a user should see even with
	// -json (a backend that could not be used).
	Notice func(msg string)
}

// Result is what a run reports; cmd/train prints it as its JSON line.
type Result struct {
	Backend       string     `json:"backend"`
	Data          string     `json:"data"`
	Task          string     `json:"task"`
	TrainSamples  int        `json:"train_samples"`
	TestSamples   int        `json:"test_samples"`
	Arch          string     `json:"arch,omitempty"` // the layer spec, for a model given by -arch
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
	BestEpoch     int        `json:"best_epoch,omitempty"` // early stopping: the epoch whose weights were kept
	Plots         []string   `json:"plots,omitempty"`      // files written to PlotsDir
	History       nn.History `json:"history"`

	// L1 regularisation (-l1), and figures of the final weight matrices
	// (nn.NamedWeights): how many, the share of them under nn.SmallWeight in
	// absolute value (what L1 drives up), and the L1 penalty L1 * sum |w|,
	// which the reported losses leave out, as they leave out -wd's.
	L1           float64 `json:"l1,omitempty"`
	Weights      int     `json:"weights"`
	SmallWeights float64 `json:"small_weights"`
	L1Penalty    float64 `json:"l1_penalty,omitempty"`

	// Classification: the classes' names (where the data names them) and
	// the test split's confusion matrix, Confusion[true][predicted].
	ClassNames []string `json:"class_names,omitempty"`
	Confusion  [][]int  `json:"confusion,omitempty"`
}

// Run loads the data, builds the model, trains and tests it. Cancelling ctx
// stops training after the current step (SIGINT): Run then returns an error
// that is nn.ErrInterrupted, after saving the last finished epoch with Save.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var ckpt *Arch
	var ckptFile *safetensors.File
	var ckptStd *Standardization
	if cfg.Load != "" {
		f, a, st, err := readArch(cfg.Load)
		if err != nil {
			return nil, err
		}
		ckpt, ckptFile, ckptStd = &a, f, &st
		if cfg.Data == "" {
			cfg.Data = a.Data
		}
		// The saved split reproduces the training run's, so that the test
		// rows are the ones the model never saw.
		var notice string
		if cfg, notice, err = applySplit(cfg, cfg.Load, f.Metadata); err != nil {
			return nil, err
		}
		if notice != "" && cfg.Notice != nil {
			cfg.Notice(notice)
		}
	}
	if cfg.Data == "" {
		cfg.Data = "digits"
	}
	p, err := presetFor(cfg.Data)
	if err != nil {
		return nil, err
	}
	cfg = p.fill(cfg)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	src := nn.NewRNGSource(cfg.Seed)
	rng := rand.New(src)
	sets, err := loadSets(cfg, rng, ckpt, ckptStd)
	if err != nil {
		return nil, err
	}
	train, test := sets.Train, sets.Test

	be, fallback, err := backend.Open(cfg.Backend, backend.Options{Threads: cfg.Threads, Level: cfg.Level, TF32: cfg.TF32})
	if err != nil {
		return nil, err
	}
	defer be.Close()
	if fallback != "" && cfg.Notice != nil {
		cfg.Notice(fmt.Sprintf("%s; using %s", fallback, be.Details()))
	}

	arch := Arch{Data: cfg.Data, Task: taskName(train.Task), Features: train.Features, Hidden: cfg.Layers,
		Act: cfg.Act, Slope: cfg.Slope, Residual: cfg.Residual, BatchNorm: cfg.BatchNorm, Dropout: cfg.Dropout, Classes: train.Classes,
		ClassNames: train.ClassNames, Target: cfg.Target, Columns: train.FeatureNames}
	if e := train.Encoding; e != nil && len(e.Categories) > 0 {
		arch.Encoding = e // only then, so that numeric tables keep the architecture JSON they had
	}
	if ckpt != nil {
		arch = *ckpt // checkLoaded compared it with the data
	} else {
		loss, outs, err := chooseLoss(cfg.Loss, train)
		if err != nil {
			return nil, err
		}
		arch.Loss, arch.Outputs = loss.String(), outs
		if !isMLP(cfg.Arch) {
			if arch.Spec, err = modelSpec(cfg.Arch, train, outs); err != nil {
				return nil, err
			}
			arch.Hidden, arch.Act, arch.Slope = nil, "", 0
			if s := train.Shape; s.IsImage() {
				arch.InputShape = []int{s.C, s.H, s.W}
			}
		}
	}
	model, loss, err := buildModel(be, arch, rng)
	if err != nil {
		return nil, err
	}
	defer model.Free()
	opt, err := newOptimizer(be, model, cfg)
	if err != nil {
		return nil, err
	}
	tr := &nn.Trainer{Backend: be, Model: model, Loss: loss, Opt: opt, InputShape: train.Shape}
	defer tr.Free()
	res := &Result{
		Backend: be.Details(), Data: cfg.Data, Task: arch.Task, TrainSamples: train.N, TestSamples: test.N,
		Arch: arch.Spec, Layers: arch.Hidden, Act: arch.Act, Loss: loss.String(), Opt: cfg.Opt, LR: cfg.LR,
		Batch: cfg.Batch, Epochs: cfg.Epochs, Seed: cfg.Seed, Params: model.ParamCount(), L1: cfg.L1,
	}
	if ckpt != nil {
		if err := nn.DecodeTensors(be, ckptFile, model.StateDict()); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Load, err)
		}
		res.Epochs = 0 // evaluation only
	} else {
		logf("%s\n%s, %s, %d parameters, on %s", model, loss, opt, model.ParamCount(), be.Details())
		if err := checkOutputs(cfg, 4*int64(model.ParamCount())); err != nil {
			return nil, err
		}
		if err := fit(ctx, cfg, be, tr, model, sets, src, rng, arch, res); err != nil {
			return nil, err
		}
	}
	m, err := tr.Evaluate(test, 0)
	if err != nil {
		return nil, err
	}
	res.TestLoss = m.Loss
	ws := nn.ReadWeightStats(be, model)
	res.Weights, res.SmallWeights, res.L1Penalty = ws.Count, float64(ws.Small)/float64(max(ws.Count, 1)), cfg.L1*ws.AbsSum
	if train.Task == data.Classification {
		res.TestAcc = &m.Accuracy
		res.ClassNames = arch.ClassNames
		if res.Confusion, err = confusion(tr, test, arch.Classes); err != nil {
			return nil, err
		}
	} else {
		// The model learnt standardised targets; report in the data's units.
		s := float64(sets.TargetStd)
		mse, mae := m.MSE*s*s, m.MAE*s
		res.TestMSE, res.TestMAE = &mse, &mae
		if test.N >= 2 && sets.TestTargetVar > 0 { // R^2 is undefined otherwise
			r2 := 1 - mse/sets.TestTargetVar
			res.TestR2 = &r2
		}
	}
	if cfg.PlotsDir != "" && ckpt == nil {
		if res.Plots, err = writePlots(cfg.PlotsDir, cfg.PlotFormat, tr, res.History, res.BestEpoch, test, arch.Outputs); err != nil {
			return nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// confusion counts the test rows by true and predicted class.
func confusion(tr *nn.Trainer, test *data.Dataset, classes int) ([][]int, error) {
	out, err := tr.Predict(test.X, test.N)
	if err != nil {
		return nil, err
	}
	m := make([][]int, classes)
	for i := range m {
		m[i] = make([]int, classes)
	}
	k := len(out) / max(test.N, 1)
	for i := range test.N {
		pred, _ := classify(out[i*k : (i+1)*k])
		if y := int(test.Y[i]); y >= 0 && y < classes && pred < classes {
			m[y][pred]++
		}
	}
	return m, nil
}

// fit trains, resuming from and saving checkpoints as cfg asks, and fills
// the training part of res.
func fit(ctx context.Context, cfg Config, be backend.Backend, tr *nn.Trainer, model *nn.Sequential, sets *Sets, src *rand.PCG, rng *rand.Rand, arch Arch, res *Result) error {
	startEpoch := 0
	sched := newScheduler(cfg)
	var early *nn.EarlyStopping
	if cfg.Patience > 0 {
		early = nn.NewEarlyStopping(be, model)
		defer early.Free()
	}
	if cfg.Resume != "" {
		if err := checkResumeL1(cfg.Resume, cfg.L1, cfg.LR); err != nil {
			return err
		}
		var err error
		if startEpoch, err = resume(be, cfg.Resume, model, tr.Opt, cfg.Opt, sched, early, arch, src); err != nil {
			return err
		}
	}
	meta := modelMeta(arch, standardization(sets), cfg)
	meta[metaSplit] = encodeSplit(cfg)
	onEpoch, lastEpoch, savedEpoch := cfg.OnEpoch, startEpoch, startEpoch
	var saveErr error
	tcfg := nn.TrainConfig{
		Epochs: cfg.Epochs, StartEpoch: startEpoch, BatchSize: cfg.Batch, RNG: rng, Progress: cfg.Progress,
		Scheduler: sched, ClipNorm: float32(cfg.Clip), Patience: cfg.Patience, GradFlow: cfg.GradFlow, Early: early,
		// A failed checkpoint write stops the run: training on would
		// only make work that cannot be kept.
		Stop: func() bool { return saveErr != nil },
		OnEpoch: func(st nn.EpochStats) {
			lastEpoch = st.Epoch
			// Every finished epoch is saved, so that a run that later
			// diverges or is stopped keeps its last good state.
			if cfg.Save != "" && saveErr == nil {
				saveErr = saveCheckpoint(be, cfg.Save, model, tr.Opt, cfg.Opt, sched, early, src, st.Epoch, stateEpoch, meta)
				if saveErr == nil {
					savedEpoch = st.Epoch
				}
			}
			if onEpoch != nil {
				onEpoch(st)
			}
		},
	}
	tcfg.L1 = float32(cfg.L1)
	hist, err := tr.Fit(ctx, sets.Train, sets.Val, tcfg)
	if saveErr != nil {
		kept := "nothing was saved"
		if savedEpoch > 0 {
			kept = fmt.Sprintf("%s holds epoch %d, the last good one", cfg.Save, savedEpoch)
		}
		return fmt.Errorf("-save: writing epoch %d failed, training stopped: %w; %s", savedEpoch+1, saveErr, kept)
	}
	if errors.Is(err, nn.ErrInterrupted) {
		switch {
		case cfg.Save == "":
			return err
		case lastEpoch > startEpoch:
			// The end-of-epoch checkpoint is already on disk: keep it, so
			// that -resume continues exactly where an uninterrupted run would.
			return fmt.Errorf("%w in epoch %d; state saved to %s after epoch %d (-resume continues from there)", err, lastEpoch+1, cfg.Save, lastEpoch)
		}
		// Interrupted before any epoch of this run finished: save the
		// weights as they are; -resume restarts this epoch from them.
		if err := saveCheckpoint(be, cfg.Save, model, tr.Opt, cfg.Opt, sched, early, src, lastEpoch, stateInterrupted, meta); err != nil {
			return fmt.Errorf("interrupted, and saving failed: %w", err)
		}
		return fmt.Errorf("%w in epoch %d; state saved to %s (-resume restarts that epoch)", err, lastEpoch+1, cfg.Save)
	}
	if err != nil {
		if cfg.Save != "" && lastEpoch > startEpoch {
			return fmt.Errorf("%w; %s holds epoch %d, the last good one", err, cfg.Save, lastEpoch)
		}
		return err
	}
	if cfg.Save != "" && tr.BestEpoch > 0 {
		// Early stopping restored the best weights: the model file gets
		// those, for use; the resume file beside it keeps the last epoch's.
		if err := nn.SaveModel(be, model, cfg.Save, meta); err != nil {
			return fmt.Errorf("-save: %w", err)
		}
		if startEpoch+len(hist) < cfg.Epochs { // stopped by patience: nothing left to resume
			if err := markStoppedEarly(cfg.Save); err != nil {
				return fmt.Errorf("-save: %w", err)
			}
		}
	}
	res.History, res.BestEpoch = hist, tr.BestEpoch
	res.TrainLoss = hist[len(hist)-1].TrainLoss
	for _, h := range hist {
		res.TrainSeconds += h.Seconds
	}
	res.SamplesPerSec = float64(sets.Train.N*len(hist)) / max(res.TrainSeconds, 1e-9)
	return nil
}

// writePlots draws what the run has: loss (and accuracy) curves, the
// gradient flow when it was recorded, the decision boundary of a 2-D
// classification set, and the history as CSV and JSON.
func writePlots(dir, format string, tr *nn.Trainer, hist nn.History, best int, test *data.Dataset, outs int) ([]string, error) {
	if format == "" {
		format = "png"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("-plots: %w", err)
	}
	var written []string
	write := func(name string, draw func(path string) error) error {
		path := filepath.Join(dir, name)
		if err := draw(path); err != nil {
			return err
		}
		written = append(written, path)
		return nil
	}
	steps := []struct {
		name string
		when bool
		draw func(path string) error
	}{
		{"loss." + format, true, func(p string) error { return plot.LossCurvesBest(hist, best, "", p) }},
		{"accuracy." + format, test.Task == data.Classification, func(p string) error { return plot.AccuracyCurves(hist, "", p) }},
		{"gradflow." + format, hist[0].GradFlow != nil, func(p string) error { return plot.GradFlow(hist, "", p) }},
		{"boundary." + format, test.Task == data.Classification && test.Features == 2, func(p string) error {
			// The points drawn are the test split's, which the title says.
			return plot.DecisionBoundary(test, tr.Predict, outs, fmt.Sprintf("%s decision boundary, %d test points", test.Name, test.N), p)
		}},
		{"history.csv", true, func(p string) error { return plot.WriteHistoryCSV(hist, p) }},
		{"history.json", true, func(p string) error { return plot.WriteHistoryJSON(hist, p) }},
	}
	for _, s := range steps {
		if s.when {
			if err := write(s.name, s.draw); err != nil {
				return written, err
			}
		}
	}
	return written, nil
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
	case !validL1(c.L1):
		return fmt.Errorf("-l1 must be a finite number >= 0, got %v", c.L1)
	case c.ValFrac < 0 || c.TestFrac < 0 || c.ValFrac+c.TestFrac >= 1 || math.IsNaN(c.ValFrac+c.TestFrac):
		return fmt.Errorf("-val and -test must be >= 0 with a sum below 1, got %v and %v", c.ValFrac, c.TestFrac)
	case c.Samples < 0 || c.Samples > maxSamples:
		return fmt.Errorf("-samples must be in 1..%d, got %d", maxSamples, c.Samples)
	case c.Noise < 0 || math.IsNaN(c.Noise) || math.IsInf(c.Noise, 0):
		return fmt.Errorf("-noise must be a finite number >= 0, got %v", c.Noise)
	case c.Slope < 0 || math.IsNaN(c.Slope) || math.IsInf(c.Slope, 0):
		return fmt.Errorf("-slope must be a finite number >= 0, got %v", c.Slope)
	case c.Momentum != 0 && c.Opt != "sgd" && c.Opt != "momentum" && c.Opt != "nesterov":
		return fmt.Errorf("-momentum applies to -opt sgd, momentum and nesterov, not %s", c.Opt)
	case c.PlotFormat != "" && c.PlotFormat != "png" && c.PlotFormat != "svg":
		return fmt.Errorf("-plot-format: want png or svg, got %q", c.PlotFormat)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("-dropout must be a probability in [0, 1), got %v", c.Dropout)
	case c.BatchNorm && c.Batch == 1:
		return fmt.Errorf("-batchnorm needs batches of at least 2 samples, not -batch 1")
	case c.Load != "" && (c.Resume != "" || c.Save != ""):
		return fmt.Errorf("-load evaluates a saved model; it does not combine with -resume or -save")
	case c.Task != "" && c.Task != "auto" && c.Task != "classification" && c.Task != "regression":
		return fmt.Errorf("-task: want auto, classification or regression, got %q", c.Task)
	case c.Impute != "" && c.Impute != "mean" && c.Impute != "median" && c.Impute != "drop-row":
		return fmt.Errorf("-impute: want mean, median or drop-row, got %q", c.Impute)
	case (len(c.Drop) > 0 || c.Sep != "" || c.Impute != "") && !isCSVPath(c.Data):
		return fmt.Errorf("-drop, -sep and -impute apply to CSV files, not the built-in set %s", cmp.Or(c.Data, "digits"))
	case badSep(c.Sep):
		_, err := data.ParseSeparator(c.Sep)
		return fmt.Errorf("-sep: %v", err)
	case c.Threads < 0:
		return fmt.Errorf("-threads must be >= 0 (0: all CPUs), got %d", c.Threads)
	case c.Sched != "" && c.Sched != "step" && c.Sched != "plateau" && c.Sched != "cosine":
		return fmt.Errorf("-sched: unknown schedule %q (want step, plateau or cosine)", c.Sched)
	case c.StepSize < 0 || c.Warmup < 0 || c.Warmup >= c.Epochs && c.Sched == "cosine" && c.Warmup > 0:
		return fmt.Errorf("-step-size and -warmup must be >= 0, and -warmup below -epochs")
	case c.Gamma < 0 || c.Gamma >= 1 || math.IsNaN(c.Gamma):
		return fmt.Errorf("-gamma must be in (0, 1), got %v", c.Gamma)
	case c.Clip < 0 || math.IsNaN(c.Clip) || math.IsInf(c.Clip, 0):
		return fmt.Errorf("-clip must be a norm >= 0 (0: off), got %v", c.Clip)
	case c.Patience < 0:
		return fmt.Errorf("-patience must be >= 0 (0: off), got %d", c.Patience)
	case !slices.Contains([]string{"sgd", "momentum", "nesterov", "adam", "adamw"}, c.Opt):
		return fmt.Errorf("-opt: unknown optimizer %q (want sgd, momentum, nesterov, adam or adamw)", c.Opt)
	}
	if err := checkArchFlag(c.Arch); err != nil {
		return err
	}
	if !isMLP(c.Arch) {
		// The MLP's flags have no meaning for a model the spec describes:
		// its layers, activations, BatchNorm and Dropout are in the spec.
		switch {
		case c.Layers != nil:
			return fmt.Errorf("-layers applies to -arch mlp; with -arch %s, write the layers into the spec", c.Arch)
		case c.Act != "":
			return fmt.Errorf("-act applies to -arch mlp; with -arch %s, write the activations (ReLU, GELU, LeakyReLU(0.1), ...) into the spec", c.Arch)
		case c.Residual:
			return fmt.Errorf("-residual applies to -arch mlp, not -arch %s", c.Arch)
		case c.BatchNorm:
			return fmt.Errorf("-batchnorm applies to -arch mlp; with -arch %s, write BatchNorm1d or BatchNorm2d into the spec", c.Arch)
		case c.Dropout != 0:
			return fmt.Errorf("-dropout applies to -arch mlp; with -arch %s, write Dropout(p) into the spec", c.Arch)
		}
	} else if _, err := backend.ParseActivation(c.Act); err != nil {
		return fmt.Errorf("-act: %w", err)
	}
	if c.Loss != "" {
		if _, err := nn.ParseLoss(c.Loss); err != nil {
			return fmt.Errorf("-loss: %w", err)
		}
	}
	if err := nn.CheckHidden(c.Layers); err != nil {
		return fmt.Errorf("-layers: %w", err)
	}
	return nil
}

// checkOutputs finds out before the first epoch whether the checkpoint and
// the plots can be written: a folder that is missing, read-only or full, or
// a checkpoint path that is not a regular file, would otherwise show only
// when the first epoch ends (checkpoint) or after the last (plots).
// checkpointBytes is about the size of the model file.
func checkOutputs(cfg Config, checkpointBytes int64) error {
	if cfg.Save != "" {
		if fi, err := os.Stat(cfg.Save); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("-save %s: not a regular file", cfg.Save)
		}
		if err := probeWrite(filepath.Dir(cfg.Save), checkpointBytes); err != nil {
			return fmt.Errorf("-save %s: the folder cannot be written: %w", cfg.Save, err)
		}
	}
	if cfg.PlotsDir != "" {
		if err := os.MkdirAll(cfg.PlotsDir, 0o755); err != nil {
			return fmt.Errorf("-plots: %w", err)
		}
		if err := probeWrite(cfg.PlotsDir, 64<<10); err != nil {
			return fmt.Errorf("-plots %s: the folder cannot be written: %w", cfg.PlotsDir, err)
		}
	}
	return nil
}

// probeWrite writes size bytes to a new file in dir, syncs it to disk and
// removes it.
func probeWrite(dir string, size int64) error {
	f, err := os.CreateTemp(dir, ".fastnn-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	buf := make([]byte, min(size, 1<<20))
	for left := size; left > 0 && err == nil; left -= int64(len(buf)) {
		_, err = f.Write(buf[:min(left, int64(len(buf)))])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// maxSamples bounds synthetic data sets, so that a typo cannot ask for
// gigabytes.
const maxSamples = 10_000_000

func chooseLoss(name string, train *data.Dataset) (nn.Loss, int, error) {
	if train.Task == data.Classification && train.Classes < 2 {
		return nil, 0, fmt.Errorf("data set %s has %d class in its training split: the target column is constant, nothing to learn", train.Name, train.Classes)
	}
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

// newScheduler builds the -sched schedule; nil when there is none.
func newScheduler(c Config) nn.Scheduler {
	gamma := float32(c.Gamma)
	if gamma == 0 {
		gamma = 0.1
	}
	switch c.Sched {
	case "step":
		step := c.StepSize
		if step == 0 {
			step = max(1, c.Epochs/3)
		}
		return &nn.StepLR{StepSize: step, Gamma: gamma}
	case "plateau":
		// PyTorch's defaults, with patience scaled to short runs.
		return &nn.ReduceLROnPlateau{Factor: gamma, Patience: min(10, max(2, c.Epochs/20)), MinLR: float32(c.LR) * 1e-3}
	case "cosine":
		return &nn.CosineWarmup{BaseLR: float32(c.LR), Warmup: c.Warmup, Epochs: c.Epochs}
	}
	return nil
}

func badSep(s string) bool {
	_, err := data.ParseSeparator(s)
	return err != nil
}

// isCSVPath tells a file argument from a set name.
func isCSVPath(s string) bool {
	return strings.HasSuffix(strings.ToLower(s), ".csv") || strings.ContainsRune(s, os.PathSeparator) || filepath.Ext(s) != ""
}

// Validate checks a configuration as Run does before it loads anything.
func Validate(c Config) error {
	p, err := presetFor(c.Data)
	if c.Data == "" {
		p, err = presets["digits"], nil
	}
	if err != nil {
		return err
	}
	return p.fill(c).validate()
}
