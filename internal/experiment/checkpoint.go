package experiment

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
	"github.com/fastnn/fastnn/safetensors"
)

// Metadata keys of a model checkpoint (the safetensors __metadata__).
const (
	metaFormat   = "format"                // "pt", so that Hugging Face tools treat it as PyTorch weights
	metaArch     = "fastnn.architecture"   // JSON Arch: enough to rebuild the model
	metaStandard = "fastnn.standardizer"   // JSON Standardization fitted on the training split
	metaTraining = "fastnn.training"       // JSON of the training configuration
	metaVersion  = "fastnn.format_version" // "1"
	metaSplit    = "fastnn.split"          // JSON splitMeta: what the rows of the splits depend on
)

// splitMeta is everything the data set's rows and their split into
// training, validation and test depend on, besides the data file itself:
// -load rebuilds the training run's test split from it. (The split is
// stratified for classification, which the task decides.) Every field is
// written; a missing one is an error, not a zero.
type splitMeta struct {
	Data    string   `json:"data"`
	Target  *string  `json:"target"` // CSV: -target as given
	Task    *string  `json:"task"`   // CSV: -task as given ("" or "auto": inferred)
	Samples *int     `json:"samples"`
	Noise   *float64 `json:"noise"`
	Val     *float64 `json:"val"`
	Test    *float64 `json:"test"`
	Seed    *uint64  `json:"seed"`
	// Written since -drop, -sep and -impute; absent means none.
	Drop   []string `json:"drop,omitempty"`
	Sep    string   `json:"sep,omitempty"`
	Impute string   `json:"impute,omitempty"`
}

// encodeSplit records the split of a run's configuration, its presets filled in.
func encodeSplit(c Config) string {
	b, _ := json.Marshal(splitMeta{Data: c.Data, Target: &c.Target, Task: &c.Task, Samples: &c.Samples, Noise: &c.Noise,
		Val: &c.ValFrac, Test: &c.TestFrac, Seed: &c.Seed, Drop: c.Drop, Sep: c.Sep, Impute: c.Impute})
	return string(b)
}

// applySplit sets the fields of c that decide the split to those a
// checkpoint was trained with. A checkpoint written before they were
// recorded gives only its seed (0 included); the fractions are then the
// presets', and the returned notice says that the test rows may differ.
func applySplit(c Config, path string, meta map[string]string) (Config, string, error) {
	raw, ok := meta[metaSplit]
	if !ok {
		var training struct{ Seed *uint64 }
		if json.Unmarshal([]byte(meta[metaTraining]), &training) == nil && training.Seed != nil {
			c.Seed = *training.Seed
		}
		return c, fmt.Sprintf("%s records no %s: the test split is rebuilt from its seed %d and the preset -val and -test fractions; if the run used others, the test rows differ from the run's", path, metaSplit, c.Seed), nil
	}
	var sp splitMeta
	if err := json.Unmarshal([]byte(raw), &sp); err != nil {
		return c, "", fmt.Errorf("%s: bad %s metadata: %w", path, metaSplit, err)
	}
	if sp.Target == nil || sp.Task == nil || sp.Samples == nil || sp.Noise == nil || sp.Val == nil || sp.Test == nil || sp.Seed == nil {
		return c, "", fmt.Errorf("%s: %s metadata lacks a field: %s", path, metaSplit, raw)
	}
	c.Seed, c.ValFrac, c.TestFrac, c.Samples, c.Noise = *sp.Seed, *sp.Val, *sp.Test, *sp.Samples, *sp.Noise
	if isCSVPath(c.Data) {
		c.Target, c.Task = *sp.Target, *sp.Task
		c.Drop, c.Sep, c.Impute = sp.Drop, sp.Sep, sp.Impute
	}
	return c, "", nil
}

// Arch describes a model completely enough to rebuild it from a checkpoint.
type Arch struct {
	Data       string   `json:"data"`
	Task       string   `json:"task"`
	Features   int      `json:"features"`
	Hidden     []int    `json:"hidden"`
	Outputs    int      `json:"outputs"`
	Act        string   `json:"act"`
	Slope      float64  `json:"slope"`
	Residual   bool     `json:"residual"`
	BatchNorm  bool     `json:"batchnorm"`
	Dropout    float64  `json:"dropout"`
	Loss       string   `json:"loss"`
	Classes    int      `json:"classes,omitempty"`
	ClassNames []string `json:"class_names,omitempty"`
	Target     string   `json:"target,omitempty"`
	Columns    []string `json:"columns,omitempty"` // feature names, for prediction from CSV
	// Encoding, for a table with text feature columns, is how its columns
	// became the features; absent, Columns are the table's columns.
	Encoding *data.Encoding `json:"encoding,omitempty"`
	// Spec, for a model given by -arch (not the MLP), is its layer list
	// (nn.Arch.String), which replaces Hidden, Act, Slope, Residual,
	// BatchNorm and Dropout; InputShape is the shape of one input image,
	// [channels, height, width], absent for flat rows. An MLP's
	// architecture has neither, as before they existed.
	Spec       string `json:"spec,omitempty"`
	InputShape []int  `json:"input_shape,omitempty"`
}

// Standardization is the feature (and regression target) scaling of the
// training split: x' = (x - mean) / std.
type Standardization struct {
	FeatureMean []float32 `json:"feature_mean,omitempty"`
	FeatureStd  []float32 `json:"feature_std,omitempty"`
	TargetMean  []float32 `json:"target_mean,omitempty"`
	TargetStd   []float32 `json:"target_std,omitempty"`
	// Impute, with -impute mean or median, fills each feature's missing
	// cells (before FeatureMean and FeatureStd apply).
	Impute       []float32 `json:"impute,omitempty"`
	ImputeMethod string    `json:"impute_method,omitempty"`
}

func standardization(s *Sets) Standardization {
	var st Standardization
	if s.X != nil {
		st.FeatureMean, st.FeatureStd = s.X.Mean, s.X.Std
	}
	if s.Y != nil {
		st.TargetMean, st.TargetStd = s.Y.Mean, s.Y.Std
	}
	if s.Impute != nil {
		st.Impute, st.ImputeMethod = s.Impute.Values, s.ImputeMethod
	}
	return st
}

// mlpConfig is the network an Arch describes.
func mlpConfig(a Arch) (nn.MLPConfig, error) {
	act, err := backend.ParseActivation(a.Act)
	if err != nil {
		return nn.MLPConfig{}, fmt.Errorf("-act: %w", err)
	}
	return nn.MLPConfig{In: a.Features, Hidden: a.Hidden, Out: a.Outputs, Act: act,
		Slope: float32(a.Slope), Residual: a.Residual, BatchNorm: a.BatchNorm, Dropout: float32(a.Dropout)}, nil
}

// buildModel makes the network an Arch describes.
func buildModel(be backend.Backend, a Arch, rng *rand.Rand) (*nn.Sequential, nn.Loss, error) {
	loss, err := nn.ParseLoss(a.Loss)
	if err != nil {
		return nil, nil, err
	}
	if a.Spec != "" {
		spec, err := nn.ParseArch(a.Spec)
		if err != nil {
			return nil, nil, err
		}
		in, err := specShape(a.InputShape, a.Features)
		if err != nil {
			return nil, nil, err
		}
		m, err := spec.Build(be, in, a.Features, a.Outputs, rng)
		if err != nil {
			return nil, nil, fmt.Errorf("-arch %s: %w", a.Spec, err)
		}
		return m, loss, nil
	}
	cfg, err := mlpConfig(a)
	if err != nil {
		return nil, nil, err
	}
	m, err := nn.NewMLP(be, cfg, rng)
	return m, loss, err
}

// stateSize is the number of values in the state dict of the model a
// checks, computed without building it.
func stateSize(a Arch) (int, error) {
	if a.Spec == "" {
		cfg, err := mlpConfig(a)
		return cfg.StateSize(), err
	}
	spec, err := nn.ParseArch(a.Spec)
	if err != nil {
		return 0, err
	}
	in, err := specShape(a.InputShape, a.Features)
	if err != nil {
		return 0, err
	}
	return specStateSize(spec, in, a.Features)
}

// modelMeta is the metadata written with the model's weights.
func modelMeta(a Arch, st Standardization, c Config) map[string]string {
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	training := map[string]any{"opt": c.Opt, "lr": c.LR, "batch": c.Batch, "epochs": c.Epochs, "seed": c.Seed,
		"wd": c.WD, "momentum": c.Momentum, "sched": c.Sched, "clip": c.Clip, "patience": c.Patience,
		"l1": c.L1}
	return map[string]string{metaFormat: "pt", metaVersion: "1", metaArch: enc(a), metaStandard: enc(st), metaTraining: enc(training)}
}

// readArch reads a checkpoint, verifies its checksum and returns its
// architecture and standardisation, each field checked against its bounds
// and the architecture against the tensors the file holds, before any
// model is allocated.
func readArch(path string) (*safetensors.File, Arch, Standardization, error) {
	var a Arch
	var st Standardization
	f, err := nn.ReadChecked(path)
	if err != nil {
		return nil, a, st, err
	}
	raw, ok := f.Metadata[metaArch]
	if !ok {
		return nil, a, st, fmt.Errorf("%s: no %s metadata: not a checkpoint written by train -save", path, metaArch)
	}
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return nil, a, st, fmt.Errorf("%s: bad %s metadata: %w", path, metaArch, err)
	}
	if raw, ok := f.Metadata[metaStandard]; ok {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return nil, a, st, fmt.Errorf("%s: bad %s metadata: %w", path, metaStandard, err)
		}
	}
	if err := checkArch(a, st); err != nil {
		return nil, a, st, fmt.Errorf("%s: implausible %s metadata: %w", path, metaArch, err)
	}
	need, err := stateSize(a)
	if err != nil {
		return nil, a, st, fmt.Errorf("%s: implausible %s metadata: %w", path, metaArch, err)
	}
	held := 0
	for _, t := range f.Tensors {
		n, err := t.NumElements()
		if err != nil {
			return nil, a, st, fmt.Errorf("%s: %w", path, err)
		}
		held += n
	}
	if need != held {
		return nil, a, st, fmt.Errorf("%s: the architecture in its metadata needs %d values, the file holds %d: they do not belong together", path, need, held)
	}
	return f, a, st, nil
}

// checkArch bounds every field of a checkpoint's architecture and
// standardisation, and checks that they agree with each other.
func checkArch(a Arch, st Standardization) error {
	if a.Spec == "" {
		cfg, err := mlpConfig(a)
		if err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
	} else if err := checkSpecArch(a); err != nil {
		return err
	}
	loss, err := nn.ParseLoss(a.Loss)
	if err != nil {
		return err
	}
	_, isMSE := loss.(nn.MSE)
	_, isMAE := loss.(nn.MAE)
	_, isBCE := loss.(nn.BCEWithLogits)
	switch {
	case a.Task == "regression" && !(isMSE || isMAE), a.Task == "classification" && (isMSE || isMAE):
		return fmt.Errorf("loss %s does not fit task %q", loss, a.Task)
	case a.Task == "classification" && !(a.Classes >= 2 && (a.Outputs == a.Classes || isBCE && a.Classes == 2 && a.Outputs == 1)):
		return fmt.Errorf("%d classes with %d outputs and loss %s", a.Classes, a.Outputs, loss)
	case a.Task == "regression" && a.Classes != 0:
		return fmt.Errorf("a regression model with %d classes", a.Classes)
	case a.Task == "regression" && a.Outputs != 1:
		return fmt.Errorf("a regression model with %d outputs (the data has one target)", a.Outputs)
	case a.Task != "classification" && a.Task != "regression":
		return fmt.Errorf("task %q", a.Task)
	case len(a.ClassNames) != 0 && len(a.ClassNames) != a.Classes:
		return fmt.Errorf("%d class names for %d classes", len(a.ClassNames), a.Classes)
	case len(a.Columns) != 0 && len(a.Columns) != a.Features:
		return fmt.Errorf("%d column names for %d features", len(a.Columns), a.Features)
	case st.Impute != nil && len(st.Impute) != a.Features:
		return fmt.Errorf("%d imputation values for %d features", len(st.Impute), a.Features)
	}
	for i, v := range st.Impute {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("imputation value %d is %v", i, v)
		}
	}
	if e := a.Encoding; e != nil {
		if err := e.Check(); err != nil {
			return fmt.Errorf("encoding: %w", err)
		}
		if !slices.Equal(e.FeatureNames(), a.Columns) {
			return fmt.Errorf("the encoding's features %q are not the columns %q", e.FeatureNames(), a.Columns)
		}
	}
	check := func(what string, mean, std []float32, n int) error {
		if mean == nil && std == nil {
			return nil
		}
		if len(mean) != n || len(std) != n {
			return fmt.Errorf("%s standardisation has %d means and %d deviations for %d values", what, len(mean), len(std), n)
		}
		for i := range mean {
			if m, s := float64(mean[i]), float64(std[i]); math.IsNaN(m) || math.IsInf(m, 0) || !(s > 0) || math.IsInf(s, 0) {
				return fmt.Errorf("%s standardisation %d: mean %v, deviation %v", what, i, m, s)
			}
		}
		return nil
	}
	if err := check("feature", st.FeatureMean, st.FeatureStd, a.Features); err != nil {
		return err
	}
	if st.TargetMean != nil && a.Task != "regression" {
		return fmt.Errorf("a %s model with a target standardisation", a.Task)
	}
	return check("target", st.TargetMean, st.TargetStd, a.Outputs)
}

// checkSpecArch bounds the fields of a model given by a spec: the spec
// parses, the input and output sizes are in range, the input shape holds
// the features, and the MLP's own fields are unset.
func checkSpecArch(a Arch) error {
	if len(a.Spec) > maxSpec {
		return fmt.Errorf("a spec of %d bytes; at most %d", len(a.Spec), maxSpec)
	}
	if _, err := nn.ParseArch(a.Spec); err != nil {
		return err
	}
	if a.Features < 1 || a.Features > nn.MaxFeatures || a.Outputs < 1 || a.Outputs > nn.MaxFeatures {
		return fmt.Errorf("input and output sizes must be in 1..%d, got %d and %d", nn.MaxFeatures, a.Features, a.Outputs)
	}
	if len(a.Hidden) > 0 || a.Act != "" || a.Residual || a.BatchNorm || a.Dropout != 0 {
		return fmt.Errorf("a spec with the MLP's fields (hidden %v, act %q, residual %v, batchnorm %v, dropout %v)", a.Hidden, a.Act, a.Residual, a.BatchNorm, a.Dropout)
	}
	_, err := specShape(a.InputShape, a.Features)
	return err
}

// OptimPath is where the optimizer state of a checkpoint goes, beside the
// model: "run.safetensors" -> "run.optim.safetensors".
func OptimPath(path string) string {
	return strings.TrimSuffix(path, ".safetensors") + ".optim.safetensors"
}

// Checkpoint states recorded in the optimizer file.
const (
	stateEpoch        = "epoch_end"     // written after a finished epoch: resume is exact
	stateInterrupted  = "interrupted"   // written mid-epoch on SIGINT: resume restarts that epoch
	stateStoppedEarly = "stopped_early" // the best epoch's weights, restored: nothing to resume
)

// saveCheckpoint writes the model and, beside it, the resume state: the
// optimizer's buffers, a copy of the model's tensors ("last.*": the file at
// path may later get the best epoch's weights instead), the early-stopping
// memory ("early.*"), and in the metadata the epochs done, step count,
// learning rate, generator state, dropout counters and schedule memory.
func saveCheckpoint(be backend.Backend, path string, m *nn.Sequential, opt nn.Optimizer, optKind string, sched nn.Scheduler,
	early *nn.EarlyStopping, src *rand.PCG, epoch int, state string, meta map[string]string) error {
	tensors := nn.EncodeTensors(be, m.StateDict())
	if err := nn.WriteChecked(path, tensors, meta); err != nil {
		return err
	}
	ostate, ok := opt.(nn.OptimizerState)
	if !ok {
		return nil
	}
	rngState, err := src.MarshalBinary()
	if err != nil {
		return err
	}
	om := map[string]string{"epoch": strconv.Itoa(epoch), "steps": strconv.Itoa(ostate.Steps()),
		"lr": strconv.FormatFloat(float64(opt.LR()), 'g', -1, 32), "rng": base64.StdEncoding.EncodeToString(rngState),
		"optimizer": opt.String(), "opt": optKind, "state": state}
	// Dropout's mask counters and the schedule's memory, so that a resumed
	// run draws the same masks and cuts the rate at the same epochs.
	var steps []uint64
	for _, d := range m.MaskCounters() {
		steps = append(steps, d.Steps())
	}
	b, _ := json.Marshal(steps)
	om["dropout_steps"] = string(b)
	if sm, ok := sched.(interface{ MarshalState() ([]byte, error) }); ok {
		if b, err := sm.MarshalState(); err == nil {
			om["scheduler"] = string(b)
		}
	}
	resumeTensors := nn.EncodeTensors(be, ostate.StateDict())
	for _, t := range tensors {
		t.Name = "last." + t.Name
		resumeTensors = append(resumeTensors, t)
	}
	if early != nil {
		loss, best := early.Best()
		om["early_best"], om["early_best_epoch"] = strconv.FormatFloat(loss, 'g', -1, 64), strconv.Itoa(best)
		resumeTensors = append(resumeTensors, nn.EncodeTensors(be, early.Tensors())...)
	}
	return nn.WriteChecked(OptimPath(path), resumeTensors, om)
}

// markStoppedEarly rewrites the resume file's state: a run that stopped
// early has nothing left to resume.
func markStoppedEarly(path string) error {
	f, err := nn.ReadChecked(OptimPath(path))
	if err != nil {
		return err
	}
	f.Metadata["state"] = stateStoppedEarly
	delete(f.Metadata, nn.ChecksumKey)
	return nn.WriteChecked(OptimPath(path), f.Tensors, f.Metadata)
}

// archDiff names the fields in which two architectures differ, with both
// values, or returns "" when they are the same.
func archDiff(saved, flags Arch) string {
	a, _ := json.Marshal(saved)
	b, _ := json.Marshal(flags)
	if string(a) == string(b) {
		return ""
	}
	var ma, mb map[string]json.RawMessage
	json.Unmarshal(a, &ma)
	json.Unmarshal(b, &mb)
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if va, vb := string(ma[k]), string(mb[k]); va != vb {
			diffs = append(diffs, fmt.Sprintf("%s is %s in the checkpoint, %s with these flags", k, orNone(va), orNone(vb)))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

func orNone(v string) string {
	if v == "" {
		return "absent"
	}
	return v
}

// resume loads a run's state into a model built from arch and returns the
// number of epochs it had done. The checkpoint must have been written for the
// same architecture, optimizer and early-stopping setting.
func resume(be backend.Backend, path string, m *nn.Sequential, opt nn.Optimizer, optKind string, sched nn.Scheduler,
	early *nn.EarlyStopping, arch Arch, src *rand.PCG) (int, error) {
	_, saved, _, err := readArch(path)
	if err != nil {
		return 0, err
	}
	if diff := archDiff(saved, arch); diff != "" {
		return 0, fmt.Errorf("-resume %s: the checkpoint's model differs from the one these flags build: %s", path, diff)
	}
	ostate, ok := opt.(nn.OptimizerState)
	if !ok {
		return 0, fmt.Errorf("-resume: optimizer %s keeps no resumable state", opt)
	}
	op := OptimPath(path)
	f, err := nn.ReadChecked(op)
	if err != nil {
		return 0, fmt.Errorf("-resume: %w", err)
	}
	_, hadEarly := f.Metadata["early_best_epoch"]
	switch {
	case f.Metadata["opt"] != optKind:
		return 0, fmt.Errorf("-resume: %s was trained with -opt %s, not %s", path, f.Metadata["opt"], optKind)
	case f.Metadata["state"] == stateStoppedEarly:
		return 0, fmt.Errorf("-resume: %s holds the best weights of a run that stopped early; nothing to resume", path)
	case hadEarly && early == nil:
		return 0, fmt.Errorf("-resume: the saved run used -patience; give it again")
	case !hadEarly && early != nil:
		return 0, fmt.Errorf("-resume: the saved run did not use -patience; leave it out")
	}
	want := ostate.StateDict()
	for _, t := range m.StateDict() {
		t.Name = "last." + t.Name
		want = append(want, t)
	}
	if early != nil {
		want = append(want, early.Tensors()...)
	}
	if err := nn.DecodeTensors(be, f, want); err != nil {
		return 0, fmt.Errorf("-resume: %s: %w", op, err)
	}
	epoch, err1 := strconv.Atoi(f.Metadata["epoch"])
	steps, err2 := strconv.Atoi(f.Metadata["steps"])
	lr, err3 := strconv.ParseFloat(f.Metadata["lr"], 32)
	rngState, err4 := base64.StdEncoding.DecodeString(f.Metadata["rng"])
	errs := []error{err1, err2, err3, err4}
	if early != nil {
		best, e1 := strconv.ParseFloat(f.Metadata["early_best"], 64)
		bestEpoch, e2 := strconv.Atoi(f.Metadata["early_best_epoch"])
		errs = append(errs, e1, e2)
		early.SetBest(best, bestEpoch)
	}
	for _, e := range errs {
		if e != nil {
			return 0, fmt.Errorf("-resume: %s: bad metadata: %w", op, e)
		}
	}
	if err := src.UnmarshalBinary(rngState); err != nil {
		return 0, fmt.Errorf("-resume: %s: bad rng state: %w", op, err)
	}
	if epoch < 0 || steps < 0 || !(lr > 0) {
		return 0, fmt.Errorf("-resume: %s: bad metadata epoch %d, steps %d, lr %v", op, epoch, steps, lr)
	}
	if raw, ok := f.Metadata["dropout_steps"]; ok {
		var dropSteps []uint64
		if err := json.Unmarshal([]byte(raw), &dropSteps); err != nil || len(dropSteps) != len(m.MaskCounters()) {
			return 0, fmt.Errorf("-resume: %s: bad dropout_steps metadata %q", op, raw)
		}
		for i, d := range m.MaskCounters() {
			d.SetSteps(dropSteps[i])
		}
	}
	if raw, ok := f.Metadata["scheduler"]; ok {
		if sm, ok := sched.(interface{ UnmarshalState([]byte) error }); ok {
			if err := sm.UnmarshalState([]byte(raw)); err != nil {
				return 0, fmt.Errorf("-resume: %s: bad scheduler metadata: %w", op, err)
			}
		}
	}
	ostate.SetSteps(steps)
	opt.SetLR(float32(lr))
	return epoch, nil
}
