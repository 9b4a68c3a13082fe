package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
)

// TrainConfig controls Fit.
type TrainConfig struct {
	Epochs int
	// StartEpoch is the number of epochs already done, when resuming from a
	// checkpoint: Fit runs epochs StartEpoch+1 .. Epochs.
	StartEpoch int
	// BatchSize is the number of samples per update: 1 is online learning,
	// 0 (or >= the data set's size) is full-batch gradient descent, anything
	// between is mini-batch.
	BatchSize int
	// RNG reshuffles the training set at the start of every epoch.
	RNG *rand.Rand
	// Progress, when set, is called after every step with the samples done
	// so far in the epoch.
	Progress func(epoch, done, total int)
	// OnEpoch, when set, is called with each epoch's figures as they come.
	OnEpoch func(EpochStats)

	// Scheduler, when set, sets the learning rate after every epoch.
	Scheduler Scheduler
	// ClipNorm > 0 rescales the gradients before each update so that their
	// global L2 norm is at most ClipNorm (PyTorch's clip_grad_norm_).
	ClipNorm float32
	// L1 > 0 adds L1 * sum |w| over the weight tensors (see NamedWeights)
	// to the training objective (see the L1 type): L1 * sign(w) joins their
	// gradients after Backward, before clipping and the update. Like weight
	// decay, the penalty is not part of the losses reported in EpochStats,
	// which stay the data loss, comparable between runs with and without it.
	L1 float32
	// Patience > 0 stops training when the monitored loss (validation loss,
	// or training loss without validation data) has not improved for
	// Patience epochs, and restores the weights of the best epoch (Keras's
	// EarlyStopping with restore_best_weights); the best weights are also
	// restored when the run reaches Epochs or diverges.
	Patience int
	// GradFlow records per-layer gradient norms, weight norms and
	// update-to-weight ratios in every epoch's stats.
	GradFlow bool
	// Early is the early-stopping memory to use with Patience, so that a
	// caller can save and restore it (resuming); nil: Fit makes its own.
	Early *EarlyStopping
	// Stop, when set, is polled after every step and before every epoch
	// but the first, as Fit's context is; when it returns true Fit returns
	// ErrInterrupted with the epochs finished so far.
	Stop func() bool
}

// stopped reports whether ctx is done or Stop asks to stop, as the error
// Fit returns then.
func (cfg *TrainConfig) stopped(ctx context.Context) error {
	if ctx.Err() != nil {
		return interrupted{context.Cause(ctx)}
	}
	if cfg.Stop != nil && cfg.Stop() {
		return ErrInterrupted
	}
	return nil
}

// DeviceCheckEvery is how many steps apart an asynchronous backend's loss
// is read for the non-finite guard.
const DeviceCheckEvery = 32

// ErrInterrupted is returned by Fit when its context was cancelled or
// TrainConfig.Stop asked it to stop.
var ErrInterrupted = errors.New("nn: training interrupted")

// interrupted is the error of a Fit stopped by its context: it reads as
// ErrInterrupted, is ErrInterrupted for errors.Is, and wraps the context's
// cause (context.Canceled, context.DeadlineExceeded, ...).
type interrupted struct{ cause error }

func (e interrupted) Error() string        { return ErrInterrupted.Error() }
func (e interrupted) Is(target error) bool { return target == ErrInterrupted }
func (e interrupted) Unwrap() error        { return e.cause }

// NonFiniteError reports the step at which the loss or a gradient stopped
// being a finite number: training stops there, before the update, so the
// weights are those of the last good step.
//
// On an asynchronous backend (a GPU, see backend.Asynchronous) reading the
// loss drains the device's queue, so it is read every DeviceCheckEvery
// steps instead: Step is then the step of the check, and the weights may
// include the updates of the bad steps since the previous check.
type NonFiniteError struct {
	Epoch, Step int    // 1-based
	Layer       string // the first parameter, in forward order, whose gradient is not finite ("the loss" if none)
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("nn: non-finite loss or gradient in epoch %d, step %d, first in %s (lower the learning rate, or clip gradients?)", e.Epoch, e.Step, e.Layer)
}

// EpochStats is one line of the training history.
type EpochStats struct {
	Epoch         int      `json:"epoch"`
	TrainLoss     float64  `json:"train_loss"`
	TrainAcc      *float64 `json:"train_acc,omitempty"` // classification: running accuracy over the epoch's batches
	Val           *Metrics `json:"val,omitempty"`
	Seconds       float64  `json:"seconds"`
	SamplesPerSec float64  `json:"samples_per_sec"`
	LR            float32  `json:"lr"` // the rate used during the epoch

	GradFlow []LayerFlow `json:"grad_flow,omitempty"`
}

// History is the per-epoch record of a run.
type History []EpochStats

// Trainer ties a model, its loss and its optimizer to a backend.
type Trainer struct {
	Backend backend.Backend
	Model   Layer // a Sequential, or any model of one's own
	Loss    Loss
	Opt     Optimizer

	// InputShape is the shape of one input image for Predict, whose
	// input is a bare matrix; the zero Shape for tabular data. Fit and
	// Evaluate take the shape from their data set.
	InputShape Shape

	// BestEpoch is, after a Fit with Patience, the epoch whose weights the
	// model holds.
	BestEpoch int

	io batchIO
	l1 *L1 // during Fit with TrainConfig.L1
}

// batchIO is the staging memory of a run: host slices that batches are
// gathered into and the device buffers they are uploaded to. It grows to the
// largest batch and is reused, so steps allocate nothing.
type batchIO struct {
	hostX, hostY     []float32
	x, y, grad       workspace
	lossSum, correct backend.Buffer
	mseSum, maeSum   backend.Buffer
	normSq           backend.Buffer // clipping's sum of squared gradients
	scalar           []float32
}

// Fit trains for cfg.Epochs epochs over train, evaluating on val (when it
// has samples) after each, and returns the history. It stops after the
// current step when ctx is cancelled, returning the finished epochs and an
// error that is ErrInterrupted and wraps the context's cause.
func (t *Trainer) Fit(ctx context.Context, train, val *data.Dataset, cfg TrainConfig) (History, error) {
	batch, err := t.checkFit(train, &cfg)
	if err != nil {
		return nil, err
	}
	if s, ok := cfg.Scheduler.(interface{ At(epoch int) float32 }); ok {
		t.Opt.SetLR(s.At(cfg.StartEpoch + 1)) // warm-up starts below the base rate
	}
	var flow *gradFlow
	if cfg.GradFlow {
		flow = newGradFlow(t.Backend, t.Model)
		defer flow.free()
	}
	if cfg.L1 > 0 {
		t.l1 = NewL1(t.Backend, t.Model, cfg.L1)
		defer func() { t.l1.Free(); t.l1 = nil }()
	}
	var early *EarlyStopping
	if cfg.Patience > 0 {
		early = cfg.Early
		if early == nil {
			early = NewEarlyStopping(t.Backend, t.Model)
			defer early.Free()
		}
	}
	if ctx.Err() != nil {
		return nil, interrupted{context.Cause(ctx)}
	}
	// Training never uses dL/d(input): the first layer skips that product.
	// The model gets its default back afterwards, so that a trained model
	// nested in another one still passes gradients to the layer before it.
	if m, ok := t.Model.(inputGradSkipper); ok {
		m.skipInputGrad(true)
		defer m.skipInputGrad(false)
	}
	order := make([]int, train.N)
	var hist History
	for epoch := cfg.StartEpoch + 1; epoch <= cfg.Epochs; epoch++ {
		if epoch > cfg.StartEpoch+1 {
			if err := cfg.stopped(ctx); err != nil {
				return hist, err // asked between epochs: start no other
			}
		}
		st, err := t.trainEpoch(ctx, train, order, batch, epoch, cfg, flow)
		if err == nil && (math.IsNaN(st.TrainLoss) || math.IsInf(st.TrainLoss, 0)) {
			err = fmt.Errorf("nn: training diverged: loss is %v in epoch %d (lower the learning rate?)", st.TrainLoss, epoch)
		}
		if err != nil {
			if early != nil && !errors.Is(err, ErrInterrupted) {
				t.BestEpoch = early.restore()
			}
			return hist, err
		}
		monitored := st.TrainLoss
		if val != nil && val.N > 0 {
			m, err := t.Evaluate(val, batch)
			if err != nil {
				return hist, err
			}
			st.Val, monitored = &m, m.Loss
		}
		hist = append(hist, st)
		// The schedule and early stopping take the epoch's loss before
		// OnEpoch sees the state, so that a checkpoint saved there holds the
		// rate the next epoch will use.
		if cfg.Scheduler != nil {
			t.Opt.SetLR(cfg.Scheduler.Next(epoch, monitored, t.Opt.LR()))
		}
		stop := early != nil && early.stop(epoch, monitored, cfg.Patience)
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(st)
		}
		if stop {
			break
		}
	}
	if early != nil {
		t.BestEpoch = early.restore()
	}
	return hist, nil
}

// trainEpoch runs one pass over the shuffled training set.
func (t *Trainer) trainEpoch(ctx context.Context, train *data.Dataset, order []int, batch, epoch int, cfg TrainConfig, flow *gradFlow) (EpochStats, error) {
	be, io := t.Backend, &t.io
	start := time.Now()
	st := EpochStats{Epoch: epoch, LR: t.Opt.LR()}
	// Each epoch's order is a fresh permutation drawn from the generator's
	// state alone (like torch.randperm), so a resumed run shuffles as the
	// uninterrupted one did.
	for i := range order {
		order[i] = i
	}
	cfg.RNG.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	be.Fill(io.lossSum, 0, 1)
	be.Fill(io.correct, 0, 1)
	if flow != nil {
		flow.startEpoch()
	}
	// BatchNorm has no batch statistics for one sample: like a DataLoader
	// with drop_last, such a model skips a last batch of one.
	end := train.N
	if train.N%batch == 1 && train.N > 1 && usesBatchStatistics(t.Model) {
		end--
	}
	checkEvery := 1
	if a, ok := be.(backend.Asynchronous); ok && a.Asynchronous() {
		checkEvery = DeviceCheckEvery
	}
	for lo := 0; lo < end; lo += batch {
		idx := order[lo:min(lo+batch, end)]
		step := lo/batch + 1
		x, y := t.upload(train, idx)
		out := t.Model.Forward(x, true)
		grad := out.With(io.grad.get(be, out.Len()))
		t.Loss.Compute(be, out, y, grad.Buf, io.lossSum)
		if train.Task == data.Classification {
			be.CountCorrect(out.Buf, y, io.correct, out.Rows, out.Cols)
		}
		for _, p := range t.Model.Params() {
			be.Fill(p.Grad, 0, p.Len())
		}
		t.Model.Backward(grad)
		if t.l1 != nil {
			t.l1.AddGrad()
		}
		// The running loss sum turns NaN or infinite with the first bad
		// step, and reading it costs one scalar: check it every step,
		// before the update, so the weights stay those of the last good step.
		if step%checkEvery == 0 || lo+batch >= end {
			if sum := t.read(io.lossSum); math.IsNaN(sum) || math.IsInf(sum, 0) {
				return st, &NonFiniteError{Epoch: epoch, Step: step, Layer: t.firstNonFinite()}
			}
		}
		if cfg.ClipNorm > 0 {
			norm := t.gradNorm()
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				return st, &NonFiniteError{Epoch: epoch, Step: step, Layer: t.firstNonFinite()}
			}
			if norm > float64(cfg.ClipNorm) {
				t.scaleGradients(float32(float64(cfg.ClipNorm) / (norm + 1e-6)))
			}
		}
		if flow != nil {
			flow.afterBackward(lo+batch >= end)
		}
		t.Opt.Step()
		if cfg.Progress != nil {
			cfg.Progress(epoch, lo+len(idx), end)
		}
		if err := cfg.stopped(ctx); err != nil {
			return st, err
		}
	}
	st.TrainLoss = t.read(io.lossSum) / float64(end)
	if train.Task == data.Classification {
		acc := t.read(io.correct) / float64(end)
		st.TrainAcc = &acc
	}
	if flow != nil {
		st.GradFlow = flow.endEpoch()
	}
	st.Seconds = time.Since(start).Seconds()
	st.SamplesPerSec = float64(end) / max(st.Seconds, 1e-9)
	return st, nil
}

// gradNorm is the global L2 norm of all gradients, for clipping.
func (t *Trainer) gradNorm() float64 {
	be := t.Backend
	be.Fill(t.io.normSq, 0, 1)
	for _, p := range t.Model.Params() {
		be.SumSquares(p.Grad, p.Len(), t.io.normSq)
	}
	return math.Sqrt(t.read(t.io.normSq))
}

// scaleGradients multiplies every gradient by s (clipping by global norm,
// as PyTorch's clip_grad_norm_).
func (t *Trainer) scaleGradients(s float32) {
	for _, p := range t.Model.Params() {
		t.Backend.Scale(p.Grad, s, p.Len())
	}
}

// firstNonFinite names the first parameter, in forward order, whose
// gradient holds a NaN or an infinity.
func (t *Trainer) firstNonFinite() string {
	names, params := namedParams(t.Model)
	for i, p := range params {
		t.Backend.Fill(t.io.normSq, 0, 1)
		t.Backend.SumSquares(p.Grad, p.Len(), t.io.normSq)
		if v := t.read(t.io.normSq); math.IsNaN(v) || math.IsInf(v, 0) {
			return names[i]
		}
	}
	return "the loss"
}

// checkFit checks Fit's arguments, fills in cfg's defaults and returns the
// batch size.
func (t *Trainer) checkFit(train *data.Dataset, cfg *TrainConfig) (batch int, err error) {
	if err := t.check(train); err != nil {
		return 0, err
	}
	if cfg.Epochs < 1 {
		return 0, fmt.Errorf("nn: epochs must be >= 1, got %d", cfg.Epochs)
	}
	if train.N == 0 {
		return 0, fmt.Errorf("nn: training set %q is empty", train.Name)
	}
	if !(cfg.L1 >= 0) || math.IsInf(float64(cfg.L1), 0) {
		return 0, fmt.Errorf("nn: L1 must be a finite number >= 0, got %v", cfg.L1)
	}
	if cfg.StartEpoch < 0 || cfg.StartEpoch >= cfg.Epochs {
		return 0, fmt.Errorf("nn: resuming after epoch %d of %d: nothing left to train", cfg.StartEpoch, cfg.Epochs)
	}
	if cfg.RNG == nil {
		cfg.RNG = NewRNG(0)
	}
	batch = cfg.BatchSize
	if batch <= 0 || batch > train.N {
		batch = train.N
	}
	return batch, nil
}

// check validates that d fits the model and loss, and sets up the staging
// buffers on first use.
func (t *Trainer) check(d *data.Dataset) error {
	if d == nil {
		return fmt.Errorf("nn: no data set")
	}
	if err := checkWidth(t.Model, d.Shape, d.Features); err != nil {
		return fmt.Errorf("nn: data set %q %w", d.Name, err)
	}
	_, outs, _ := OutShape(t.Model, d.Shape, d.Features)
	if want := t.Loss.TargetCols(outs); d.Targets != want {
		return fmt.Errorf("nn: data set %q has %d target columns, loss %s on %d outputs needs %d", d.Name, d.Targets, t.Loss, outs, want)
	}
	if _, ce := t.Loss.(CrossEntropy); ce && d.Classes > outs {
		return fmt.Errorf("nn: data set %q has %d classes, the model has %d outputs", d.Name, d.Classes, outs)
	}
	if t.io.lossSum == nil {
		be := t.Backend
		t.io = batchIO{scalar: make([]float32, 1),
			lossSum: be.Alloc(1), correct: be.Alloc(1), mseSum: be.Alloc(1), maeSum: be.Alloc(1), normSq: be.Alloc(1)}
	}
	return nil
}

// checkWidth checks that every layer of m with a fixed input width (see
// InputSizer) gets that many features from an input of n features of
// shape in (zero for flat rows), and that every layer can take what
// reaches it (see ShapeMapper).
func checkWidth(m Layer, in Shape, n int) error {
	layers := []Layer{m}
	if s, ok := m.(*Sequential); ok {
		layers = s.Layers
	}
	shape, cols := in, n
	for i, l := range layers {
		if want, ok := inFeatures(l); ok && want != cols {
			if i == 0 {
				return fmt.Errorf("has %d features, the model takes %d", n, want)
			}
			return fmt.Errorf("has %d features: layer %d, %s, takes %d and gets %d", n, i, l, want, cols)
		}
		var err error
		if shape, cols, err = OutShape(l, shape, cols); err != nil {
			if len(layers) > 1 {
				return fmt.Errorf("(%s, %d features) does not fit layer %d: %w", in, n, i, err)
			}
			return fmt.Errorf("(%s, %d features) does not fit the model: %w", in, n, err)
		}
	}
	return nil
}

// upload gathers the samples idx of d into the staging buffers.
func (t *Trainer) upload(d *data.Dataset, idx []int) (Tensor, backend.Buffer) {
	be, io := t.Backend, &t.io
	nx, ny := len(idx)*d.Features, len(idx)*d.Targets
	if ru, ok := be.(backend.RowUploader); ok {
		// The rows go straight into the batch's buffers.
		x, y := io.x.get(be, nx), io.y.get(be, ny)
		ru.UploadRows(x, d.X[:d.N*d.Features], d.Features, idx)
		ru.UploadRows(y, d.Y[:d.N*d.Targets], d.Targets, idx)
		return Tensor{Buf: x, Rows: len(idx), Cols: d.Features, Shape: d.Shape}, y
	}
	if len(io.hostX) < nx {
		io.hostX = make([]float32, nx)
	}
	if len(io.hostY) < ny {
		io.hostY = make([]float32, ny)
	}
	d.Gather(idx, io.hostX[:nx], io.hostY[:ny])
	x, y := io.x.get(be, nx), io.y.get(be, ny)
	be.Upload(x, io.hostX[:nx])
	be.Upload(y, io.hostY[:ny])
	return Tensor{Buf: x, Rows: len(idx), Cols: d.Features, Shape: d.Shape}, y
}

func (t *Trainer) read(b backend.Buffer) float64 {
	t.Backend.Download(t.io.scalar, b)
	return float64(t.io.scalar[0])
}

// Free releases the trainer's staging buffers and the optimizer's memory
// (when it has a Free method), not the model's.
func (t *Trainer) Free() {
	if o, ok := t.Opt.(interface{ Free() }); ok {
		o.Free()
	}
	io := &t.io
	for _, w := range []*workspace{&io.x, &io.y, &io.grad} {
		w.free(t.Backend)
	}
	for _, b := range []backend.Buffer{io.lossSum, io.correct, io.mseSum, io.maeSum, io.normSq} {
		if b != nil {
			t.Backend.Free(b)
		}
	}
	t.io = batchIO{}
}
