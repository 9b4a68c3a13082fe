package experiment

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/fastnn/fastnn/data"
)

// preset is the configuration a data set trains well with; flags override it.
type preset struct {
	layers  []int
	act     string
	opt     string
	lr      float64
	batch   int
	epochs  int
	samples int
	noise   float64
	val     float64
	test    float64
	// archBatch, where set, is the batch size for a model given by -arch
	// (PyTorch's MNIST example trains its CNN in batches of 64).
	archBatch int
}

var presets = map[string]preset{
	"digits":        {layers: []int{64}, act: "relu", opt: "adam", lr: 1e-3, batch: 32, epochs: 30, val: 0.1, test: 0.2},
	"iris":          {layers: []int{16}, act: "relu", opt: "adam", lr: 1e-2, batch: 16, epochs: 100, val: 0.1, test: 0.2},
	"wine":          {layers: []int{16}, act: "relu", opt: "adam", lr: 1e-2, batch: 16, epochs: 100, val: 0.1, test: 0.2},
	"breast-cancer": {layers: []int{16}, act: "relu", opt: "adam", lr: 1e-3, batch: 32, epochs: 50, val: 0.1, test: 0.2},
	"diabetes":      {layers: []int{16}, act: "relu", opt: "adam", lr: 1e-3, batch: 32, epochs: 100, val: 0.1, test: 0.2},
	"boston":        {layers: []int{32}, act: "relu", opt: "adam", lr: 1e-3, batch: 32, epochs: 200, val: 0.1, test: 0.2},
	"xor":           {layers: []int{8}, act: "tanh", opt: "adam", lr: 0.05, batch: 0, epochs: 300, samples: 4, test: 0.2},
	"circles":       {layers: []int{16, 16}, act: "relu", opt: "adam", lr: 1e-2, batch: 32, epochs: 100, samples: 1000, noise: 0.1, val: 0.1, test: 0.2},
	"moons":         {layers: []int{16, 16}, act: "relu", opt: "adam", lr: 1e-2, batch: 32, epochs: 100, samples: 1000, noise: 0.1, val: 0.1, test: 0.2},
	"spiral":        {layers: []int{32, 32}, act: "relu", opt: "adam", lr: 1e-2, batch: 32, epochs: 300, samples: 900, noise: 0.1, val: 0.1, test: 0.2},
	"blobs":         {layers: []int{16}, act: "relu", opt: "adam", lr: 1e-2, batch: 32, epochs: 50, samples: 1000, noise: 1, val: 0.1, test: 0.2},
	"mnist":         {layers: []int{256}, act: "relu", opt: "adam", lr: 1e-3, batch: 128, epochs: 10, archBatch: 64},
	"fashion-mnist": {layers: []int{256}, act: "relu", opt: "adam", lr: 1e-3, batch: 128, epochs: 10, archBatch: 64},
	"csv":           {layers: []int{32}, act: "relu", opt: "adam", lr: 1e-3, batch: 32, epochs: 50, val: 0.1, test: 0.2},
}

// SetNames lists the data set names that -data accepts besides a CSV path.
func SetNames() []string {
	return []string{"digits", "xor", "circles", "moons", "spiral", "blobs", "iris", "breast-cancer",
		"wine", "diabetes", "boston", "mnist", "fashion-mnist"}
}

func presetFor(name string) (preset, error) {
	if p, ok := presets[name]; ok {
		return p, nil
	}
	if isCSVPath(name) {
		return presets["csv"], nil
	}
	return preset{}, fmt.Errorf("-data: unknown data set %q (want one of %s, or a path to a .csv file)", name, strings.Join(SetNames(), ", "))
}

func (p preset) fill(c Config) Config {
	if c.Layers == nil && isMLP(c.Arch) {
		c.Layers = p.layers
	}
	if c.Act == "" && isMLP(c.Arch) {
		c.Act = p.act
	}
	if c.Opt == "" {
		c.Opt = p.opt
	}
	if c.LR == 0 {
		c.LR = p.lr
	}
	if c.Batch == -1 {
		c.Batch = p.batch
		if !isMLP(c.Arch) && p.archBatch > 0 {
			c.Batch = p.archBatch
		}
	}
	if c.Epochs == 0 {
		c.Epochs = p.epochs
	}
	if c.Samples == 0 {
		c.Samples = p.samples
	}
	if c.Noise == -1 {
		c.Noise = p.noise
	}
	if c.ValFrac == -1 {
		c.ValFrac = p.val
	}
	if c.TestFrac == -1 {
		c.TestFrac = p.test
		if c.Data == "xor" && c.Samples == 4 && c.Noise == 0 {
			// The four-point truth table is the whole problem: train and
			// test on it (-test asks for a real split of a larger set).
			c.TestFrac = 0
		}
	}
	if c.WD == -1 {
		c.WD = 0
		if c.Opt == "adamw" {
			c.WD = 0.01 // torch.optim.AdamW's default
		}
	}
	if c.Slope == 0 {
		c.Slope = 0.01
	}
	return c
}

// Sets are the splits of one run, features standardised on the training
// split (regression targets too: TargetStd converts back).
type Sets struct {
	Train, Val, Test *data.Dataset
	TargetStd        float32 // regression: the training targets' standard deviation
	TestTargetVar    float64 // regression: variance of the test targets, for R^2
	// X and Y are the standardisations fitted on the training split (nil
	// where none was applied), saved in checkpoints for prediction.
	X, Y *data.Standardizer
	// Impute fills missing feature cells (-impute mean or median), fitted
	// on the training split; nil when none was asked for.
	Impute       *data.Imputer
	ImputeMethod string
}

// Load reads or generates the data set of c and splits it.
func Load(c Config, rng *rand.Rand) (*Sets, error) { return loadSets(c, rng, nil, nil) }

// loadSets is Load with, when ckpt is not nil, the data checked against
// the checkpoint's architecture and the standardisation it recorded
// (fixed) used instead of one fitted on the training split.
func loadSets(c Config, rng *rand.Rand, ckpt *Arch, fixed *Standardization) (*Sets, error) {
	if (c.Target != "" || c.Task != "" || len(c.Drop) > 0 || c.Sep != "" || c.Impute != "") && !isCSVPath(c.Data) {
		return nil, fmt.Errorf("-target, -task, -drop, -sep and -impute apply to CSV files, not the built-in set %s", c.Data)
	}
	var all *data.Dataset
	var err error
	switch c.Data {
	case "mnist", "fashion-mnist":
		train, test, err := data.LoadMNIST(c.Data, data.MNISTOptions{DataDir: c.DataDir, Download: c.Download})
		if err != nil {
			return nil, err
		}
		if err := checkLoaded(c, ckpt, fixed, train); err != nil {
			return nil, err
		}
		// Pixels come scaled to [0, 1] and are not standardised, as with
		// torchvision's ToTensor.
		s := &Sets{Train: train, Val: train.Subset(nil), Test: test}
		if c.ValFrac > 0 {
			tr, val, _, err := data.Split(train, rng, c.ValFrac, 0)
			if err != nil {
				return nil, err
			}
			s.Train, s.Val = tr, val
		}
		return s, nil
	case "xor":
		all = data.XOR(c.Samples, c.Noise, rng)
		if c.TestFrac == 0 && c.ValFrac == 0 {
			return &Sets{Train: all, Val: all.Subset(nil), Test: all}, nil
		}
	case "circles":
		all = data.Circles(c.Samples, c.Noise, rng)
	case "moons":
		all = data.Moons(c.Samples, c.Noise, rng)
	case "spiral":
		all = data.Spiral(c.Samples, 3, c.Noise, rng)
	case "blobs":
		all = data.Blobs(c.Samples, 3, c.Noise, rng)
	default:
		if isCSVPath(c.Data) {
			task := map[string]data.Task{"": data.TaskAuto, "auto": data.TaskAuto, "classification": data.Classification, "regression": data.Regression}[c.Task]
			all, err = data.ReadCSVFile(c.Data, csvOptions(c, task))
		} else {
			all, err = data.Builtin(c.Data)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := checkLoaded(c, ckpt, fixed, all); err != nil {
		return nil, err
	}
	if all.Shape.IsImage() && all.Shape.Len() != all.Features {
		return nil, fmt.Errorf("data set %s: images of %s hold %d values, the rows have %d", c.Data, all.Shape, all.Shape.Len(), all.Features)
	}
	train, val, test, imp, err := splitImputed(all, c, rng, fixed)
	if err != nil {
		return nil, err
	}
	if test.N == 0 {
		return nil, fmt.Errorf("data set %s: the test split is empty (%d samples, -test %v)", c.Data, all.N, c.TestFrac)
	}
	var std *data.Standardizer
	switch {
	case fixed != nil && fixed.FeatureMean != nil:
		std = &data.Standardizer{Mean: fixed.FeatureMean, Std: fixed.FeatureStd}
	case all.Shape.IsImage() && !isMLP(c.Arch):
		// Images for a model of layers (a CNN) are scaled to [0, 1] as a
		// whole, as PyTorch's examples take them, not standardised pixel
		// by pixel: a convolution applies the same weights everywhere.
		std = imageScale(train)
	default:
		std = data.FitStandardizer(train.X, train.N, train.Features)
	}
	s := &Sets{Train: train, Val: val, Test: test, X: std, Impute: imp}
	if imp != nil {
		s.ImputeMethod = c.Impute
	}
	for _, d := range []*data.Dataset{train, val, test} {
		std.Apply(d.X, d.N)
	}
	if all.Task == data.Regression {
		var ty *data.Standardizer
		if fixed != nil && fixed.TargetMean != nil {
			ty = &data.Standardizer{Mean: fixed.TargetMean, Std: fixed.TargetStd}
		} else {
			ty = data.FitStandardizer(train.Y, train.N, train.Targets)
		}
		s.TargetStd, s.Y = ty.Std[0], ty
		s.TestTargetVar = variance(test.Y)
		for _, d := range []*data.Dataset{train, val, test} {
			ty.Apply(d.Y, d.N)
		}
	}
	return s, nil
}

// checkLoaded checks that the data set d fits the checkpoint c.Load
// recorded (architecture a, standardisation st), before any recorded value
// is applied to it. It does nothing when a is nil.
func checkLoaded(c Config, a *Arch, st *Standardization, d *data.Dataset) error {
	if a == nil {
		return nil
	}
	task := taskName(d.Task)
	if len(a.Columns) > 0 && !slices.Equal(a.Columns, d.FeatureNames) {
		return fmt.Errorf("-load %s: the model was trained on the columns %v, %s has %v (train predict matches columns by name)",
			c.Load, a.Columns, c.Data, d.FeatureNames)
	}
	if a.Features != d.Features || a.Task != task {
		return fmt.Errorf("-load %s: the model takes %d features (%s), data set %s has %d (%s)",
			c.Load, a.Features, a.Task, c.Data, d.Features, task)
	}
	if len(a.InputShape) > 0 {
		if s := d.Shape; !slices.Equal(a.InputShape, []int{s.C, s.H, s.W}) {
			return fmt.Errorf("-load %s: the model takes images of %v (channels, height, width), data set %s has %s", c.Load, a.InputShape, c.Data, shapeName(s))
		}
	}
	if a.Task == "classification" && (a.Classes != d.Classes || len(a.ClassNames) > 0 && !slices.Equal(a.ClassNames, d.ClassNames)) {
		return fmt.Errorf("-load %s: the model was trained on %d classes %q, data set %s has %d classes %q",
			c.Load, a.Classes, a.ClassNames, c.Data, d.Classes, d.ClassNames)
	}
	if st == nil {
		return nil
	}
	if n := len(st.FeatureMean); n > 0 && (n != d.Features || len(st.FeatureStd) != d.Features) {
		return fmt.Errorf("-load %s: the recorded standardisation has %d feature means and %d deviations, data set %s has %d features",
			c.Load, n, len(st.FeatureStd), c.Data, d.Features)
	}
	if n := len(st.TargetMean); n > 0 && (n != d.Targets || len(st.TargetStd) != d.Targets) {
		return fmt.Errorf("-load %s: the recorded standardisation has %d target means and %d deviations, data set %s has %d targets",
			c.Load, n, len(st.TargetStd), c.Data, d.Targets)
	}
	if n := len(st.Impute); n > 0 && n != d.Features {
		return fmt.Errorf("-load %s: %d imputation values recorded, data set %s has %d features", c.Load, n, c.Data, d.Features)
	}
	return nil
}

// shapeName describes a data set's samples: images of a shape, or flat rows.
func shapeName(s data.Shape) string {
	if s.IsImage() {
		return s.String() + " images"
	}
	return "flat rows"
}

func variance(y []float32) float64 {
	mean := 0.0
	for _, v := range y {
		mean += float64(v)
	}
	mean /= float64(len(y))
	ss := 0.0
	for _, v := range y {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	return ss / float64(len(y))
}

// csvOptions are the CSV reading options of c.
func csvOptions(c Config, task data.Task) data.CSVOptions {
	comma, _ := data.ParseSeparator(c.Sep) // checked by validate
	opt := data.CSVOptions{Target: c.Target, Task: task, Drop: c.Drop, Comma: comma}
	switch c.Impute {
	case "mean", "median":
		opt.Missing = data.MissingKeep
	case "drop-row":
		opt.Missing = data.MissingDropRow
	}
	return opt
}

// splitImputed splits all as data.Split does and, with -impute mean or
// median, fills the missing cells of each part with values fitted on the
// training part (or those a checkpoint recorded, in fixed). The split
// does not depend on which cells are missing: it is drawn on a copy of
// the rows with the missing cells zeroed.
func splitImputed(all *data.Dataset, c Config, rng *rand.Rand, fixed *Standardization) (train, val, test *data.Dataset, imp *data.Imputer, err error) {
	if c.Impute != "mean" && c.Impute != "median" {
		train, val, test, err = data.Split(all, rng, c.ValFrac, c.TestFrac)
		return train, val, test, nil, err
	}
	zeroed := *all
	zeroed.X = slices.Clone(all.X)
	(&data.Imputer{Values: make([]float32, all.Features)}).Apply(zeroed.X, all.N)
	tr, va, te, err := data.SplitRows(&zeroed, rng, c.ValFrac, c.TestFrac)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	train, val, test = all.Subset(tr), all.Subset(va), all.Subset(te)
	if fixed != nil && fixed.Impute != nil {
		imp = &data.Imputer{Values: fixed.Impute}
	} else {
		imp = data.FitImputer(train.X, train.N, train.Features, c.Impute == "median")
	}
	if len(imp.Values) != all.Features {
		return nil, nil, nil, nil, fmt.Errorf("-impute: %d values recorded for %d features", len(imp.Values), all.Features)
	}
	for _, d := range []*data.Dataset{train, val, test} {
		imp.Apply(d.X, d.N)
	}
	return train, val, test, imp, nil
}
