package experiment

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/fastnn/fastnn/backend"
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
)

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
}

// Standardization is the feature (and regression target) scaling of the
// training split: x' = (x - mean) / std.
type Standardization struct {
	FeatureMean []float32 `json:"feature_mean,omitempty"`
	FeatureStd  []float32 `json:"feature_std,omitempty"`
	TargetMean  []float32 `json:"target_mean,omitempty"`
	TargetStd   []float32 `json:"target_std,omitempty"`
}

func standardization(s *Sets) Standardization {
	var st Standardization
	if s.X != nil {
		st.FeatureMean, st.FeatureStd = s.X.Mean, s.X.Std
	}
	if s.Y != nil {
		st.TargetMean, st.TargetStd = s.Y.Mean, s.Y.Std
	}
	return st
}

// buildModel makes the network an Arch describes.
func buildModel(be backend.Backend, a Arch, rng *rand.Rand) (*nn.Sequential, nn.Loss, error) {
	act, err := backend.ParseActivation(a.Act)
	if err != nil {
		return nil, nil, fmt.Errorf("-act: %w", err)
	}
	loss, err := nn.ParseLoss(a.Loss)
	if err != nil {
		return nil, nil, err
	}
	m, err := nn.NewMLP(be, nn.MLPConfig{In: a.Features, Hidden: a.Hidden, Out: a.Outputs, Act: act,
		Slope: float32(a.Slope), Residual: a.Residual, BatchNorm: a.BatchNorm, Dropout: float32(a.Dropout)}, rng)
	return m, loss, err
}

// modelMeta is the metadata written with the model's weights.
func modelMeta(a Arch, st Standardization, c Config) map[string]string {
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	training := map[string]any{"opt": c.Opt, "lr": c.LR, "batch": c.Batch, "epochs": c.Epochs, "seed": c.Seed,
		"wd": c.WD, "momentum": c.Momentum, "sched": c.Sched, "clip": c.Clip, "patience": c.Patience,
		"l1": c.L1}
	return map[string]string{metaFormat: "pt", metaVersion: "1", metaArch: enc(a), metaStandard: enc(st), metaTraining: enc(training)}
}

// readArch reads the architecture and standardisation of a checkpoint.
func readArch(path string) (*safetensors.File, Arch, Standardization, error) {
	var a Arch
	var st Standardization
	f, err := safetensors.ReadFile(path)
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
	if a.Features < 1 || a.Outputs < 1 || len(a.Hidden) > 64 {
		return nil, a, st, fmt.Errorf("%s: implausible architecture %+v", path, a)
	}
	for _, h := range a.Hidden {
		if h < 1 || h > 1<<16 {
			return nil, a, st, fmt.Errorf("%s: implausible hidden width %d", path, h)
		}
	}
	if (st.FeatureMean != nil && (len(st.FeatureMean) != a.Features || len(st.FeatureStd) != a.Features)) ||
		(st.TargetMean != nil && len(st.TargetMean) != len(st.TargetStd)) {
		return nil, a, st, fmt.Errorf("%s: standardizer does not match %d features", path, a.Features)
	}
	return f, a, st, nil
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
	for _, d := range m.Dropouts() {
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

// resume loads a run's state into a model built from arch and returns the
// number of epochs it had done. The checkpoint must have been written for the
// same architecture, optimizer and early-stopping setting.
func resume(be backend.Backend, path string, m *nn.Sequential, opt nn.Optimizer, optKind string, sched nn.Scheduler,
	early *nn.EarlyStopping, arch Arch, src *rand.PCG) (int, error) {
	_, saved, _, err := readArch(path)
	if err != nil {
		return 0, err
	}
	a, _ := json.Marshal(saved)
	b, _ := json.Marshal(arch)
	if string(a) != string(b) {
		return 0, fmt.Errorf("-resume %s: the checkpoint's model differs from the one these flags build:\n  saved: %s\n  flags: %s", path, a, b)
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
		if err := json.Unmarshal([]byte(raw), &dropSteps); err != nil || len(dropSteps) != len(m.Dropouts()) {
			return 0, fmt.Errorf("-resume: %s: bad dropout_steps metadata %q", op, raw)
		}
		for i, d := range m.Dropouts() {
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
