package nn_test

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

func TestGradResidual(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(11)
	block := nn.NewSequential(be,
		nn.NewLinear(be, 5, 5, nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng}),
		nn.NewActivation(be, backend.Tanh, 0))
	if err := checkLayer(be, nn.NewResidual(be, block), 3, 5, rng); err != nil {
		t.Error(err)
	}
}

func TestResidualNames(t *testing.T) {
	be := newBackend(t)
	m, err := nn.NewMLP(be, nn.MLPConfig{In: 4, Hidden: []int{8, 8}, Out: 3, Act: backend.ReLU, Residual: true}, nn.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	names, _ := m.NamedParams()
	want := []string{"0.weight", "0.bias", "2.block.0.weight", "2.block.0.bias", "3.weight", "3.bias"}
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v", names, want)
		}
	}
}

// deepFlow trains a 10-layer MLP for a few epochs and returns the last
// epoch's gradient flow.
func deepFlow(t *testing.T, act backend.Activation, residual bool) []nn.LayerFlow {
	be := newBackend(t)
	rng := nn.NewRNG(12)
	d := data.Circles(512, 0.1, rng)
	hidden := make([]int, 10)
	for i := range hidden {
		hidden[i] = 16
	}
	m, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: hidden, Out: 1, Act: act, Residual: residual}, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.BCEWithLogits{},
		Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 0.01})}
	hist, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 3, BatchSize: 32, RNG: rng, GradFlow: true})
	if err != nil {
		t.Fatal(err)
	}
	return hist[len(hist)-1].GradFlow
}

// TestGradFlowVanishing: a 10-layer sigmoid MLP's first layers get
// vanishing gradients; the same depth with ReLU and residual connections
// keeps every layer in the normal band.
func TestGradFlowVanishing(t *testing.T) {
	sig := deepFlow(t, backend.Sigmoid, false)
	if len(sig) != 11 {
		t.Fatalf("%d layers measured, want 11", len(sig))
	}
	if sig[0].Flag != "vanishing" {
		t.Errorf("sigmoid: first layer gradient %.3g not flagged vanishing", sig[0].GradNorm)
	}
	if !(sig[0].GradNorm < sig[len(sig)-1].GradNorm/100) {
		t.Errorf("sigmoid: first layer %.3g vs last %.3g: no decay", sig[0].GradNorm, sig[len(sig)-1].GradNorm)
	}
	res := deepFlow(t, backend.ReLU, true)
	// Each weight is labelled with its layer: widths, and the residual
	// block around the equal-width ones.
	if sig[0].Kind != "Linear 2→16" || sig[1].Kind != "Linear 16→16" || sig[10].Kind != "Linear 16→1" || res[1].Kind != "Linear 16→16 in Residual" {
		t.Errorf("layer kinds %q, %q, %q; residual %q", sig[0].Kind, sig[1].Kind, sig[10].Kind, res[1].Kind)
	}
	for _, l := range res {
		if l.Flag != "" {
			t.Errorf("relu+residual: %s flagged %s (gradient norm %.3g)", l.Layer, l.Flag, l.GradNorm)
		}
		if !(l.UpdateRate > 0) || !(l.WeightNorm > 0) {
			t.Errorf("relu+residual: %s has update rate %v, weight norm %v", l.Layer, l.UpdateRate, l.WeightNorm)
		}
	}
	t.Logf("first-layer gradient norm: sigmoid %.3g, relu+residual %.3g", sig[0].GradNorm, res[0].GradNorm)
}

func TestSchedulers(t *testing.T) {
	step := &nn.StepLR{StepSize: 2, Gamma: 0.5}
	lr := float32(1)
	var got []float32
	for e := 1; e <= 5; e++ {
		lr = step.Next(e, 0, lr)
		got = append(got, lr)
	}
	if want := []float32{1, 0.5, 0.5, 0.25, 0.25}; !equal32(got, want) {
		t.Errorf("StepLR: %v, want %v", got, want)
	}

	plateau := &nn.ReduceLROnPlateau{Factor: 0.1, Patience: 2, MinLR: 1e-3}
	lr, got = 1, nil
	for e, loss := range []float64{1, 0.5, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4} {
		lr = plateau.Next(e+1, loss, lr)
		got = append(got, lr)
	}
	if want := []float32{1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001}; !approx32(got, want) {
		t.Errorf("ReduceLROnPlateau: %v, want %v", got, want)
	}

	cos := &nn.CosineWarmup{BaseLR: 1, MinLR: 0, Warmup: 2, Epochs: 10}
	// warm-up 0.5, 1; then cos over 8 epochs starting at epoch 3.
	if cos.At(1) != 0.5 || cos.At(2) != 1 || cos.At(3) != 1 || math.Abs(float64(cos.At(7))-0.5) > 1e-6 ||
		!(cos.At(10) > 0 && cos.At(10) < 0.05) {
		t.Errorf("CosineWarmup: %v %v %v %v %v", cos.At(1), cos.At(2), cos.At(3), cos.At(7), cos.At(10))
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func approx32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6*math.Abs(float64(b[i])) {
			return false
		}
	}
	return true
}

// TestEarlyStoppingRestoresBest overfits a tiny noisy set: the validation
// loss turns up, training stops, and the model holds the best epoch's
// weights (its validation loss is the best one in the history).
func TestEarlyStoppingRestoresBest(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(13)
	all := data.Moons(120, 0.45, rng)
	train, val, _, err := data.Split(all, rng, 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{64, 64}, Out: 1, Act: backend.ReLU}, rng)
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.BCEWithLogits{},
		Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 0.02})}
	hist, err := tr.Fit(context.Background(), train, val, nn.TrainConfig{Epochs: 300, BatchSize: 8, RNG: rng, Patience: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) == 300 {
		t.Fatal("never stopped early on a set it overfits")
	}
	best := hist[tr.BestEpoch-1].Val.Loss
	for _, h := range hist {
		if h.Val.Loss < best {
			t.Fatalf("epoch %d had val loss %v below the 'best' %v", h.Epoch, h.Val.Loss, best)
		}
	}
	if len(hist) != tr.BestEpoch+10 {
		t.Errorf("stopped after epoch %d, best %d, patience 10", len(hist), tr.BestEpoch)
	}
	m2, err := tr.Evaluate(val, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m2.Loss-best) > 1e-6*best {
		t.Errorf("after restoring, val loss %v; best epoch %d had %v", m2.Loss, tr.BestEpoch, best)
	}
}

// TestClipping: with a tiny clip norm SGD moves each step by at most
// lr*clip, so the weights barely move; without it they move far.
func TestClipping(t *testing.T) {
	be := newBackend(t)
	distance := func(clip float32) float64 {
		rng := nn.NewRNG(14)
		d := data.Blobs(64, 3, 1, rng)
		m, _ := nn.NewMLP(be, nn.MLPConfig{In: 2, Out: 3}, rng)
		w0 := download(be, m.Params()[0].Value, 6)
		tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 1})}
		if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1, BatchSize: 64, RNG: rng, ClipNorm: clip}); err != nil {
			t.Fatal(err)
		}
		w1 := download(be, m.Params()[0].Value, 6)
		s := 0.0
		for i := range w0 {
			s += float64(w1[i]-w0[i]) * float64(w1[i]-w0[i])
		}
		return math.Sqrt(s)
	}
	clipped, free := distance(1e-3), distance(0)
	if clipped > 1e-3*1.0001 || !(free > 10*clipped) {
		t.Errorf("one full-batch step at lr 1: moved %v with clip 1e-3, %v without", clipped, free)
	}
}

func TestPredictMatchesEvaluate(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(15)
	d := data.Blobs(300, 3, 1, rng)
	m, _ := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{8}, Out: 3, Act: backend.ReLU}, rng)
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 0.01})}
	if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 5, BatchSize: 16, RNG: rng}); err != nil {
		t.Fatal(err)
	}
	logits, err := tr.Predict(d.X, d.N)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i := 0; i < d.N; i++ {
		row := logits[i*3 : i*3+3]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		if float32(best) == d.Y[i] {
			correct++
		}
	}
	m2, _ := tr.Evaluate(d, 0)
	if got := float64(correct) / float64(d.N); got != m2.Accuracy {
		t.Errorf("Predict accuracy %v, Evaluate %v", got, m2.Accuracy)
	}
	if _, err := tr.Predict(d.X[:5], 3); err == nil {
		t.Error("wrong length accepted")
	}
}

func TestGradBatchNormTraining(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(21)
	bn := nn.NewBatchNorm(be, 5)
	// Non-trivial gamma and beta, so their gradients and dx are exercised.
	be.Upload(bn.Weight.Value, randomAwayFromZero(rng, 5))
	be.Upload(bn.Bias.Value, randomAwayFromZero(rng, 5))
	if err := checkLayer(be, bn, 6, 5, rng); err != nil {
		t.Error(err)
	}
}

func TestGradDropoutFixedMask(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(22)
	d := nn.NewDropout(be, 0.3, rng)
	d.FixMask()
	if err := checkLayer(be, d, 4, 7, rng); err != nil {
		t.Error(err)
	}
}

func TestGradSoftmax(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(23)
	if err := checkLayer(be, nn.NewSoftmax(be), 3, 4, rng); err != nil {
		t.Error(err)
	}
}

// TestDropoutModes: identity in evaluation; in training about P of the
// inputs are zeroed and the rest scaled by 1/(1-P), with a new mask each step.
func TestDropoutModes(t *testing.T) {
	be := newBackend(t)
	d := nn.NewDropout(be, 0.25, nn.NewRNG(24))
	const n = 10000
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	x := nn.Tensor{Buf: upload(be, ones), Rows: 100, Cols: 100}
	if y := d.Forward(x, false); y.Buf != x.Buf {
		t.Error("evaluation mode changed the input")
	}
	first := download(be, d.Forward(x, true).Buf, n)
	second := download(be, d.Forward(x, true).Buf, n)
	zeros, same := 0, 0
	for i, v := range first {
		switch v {
		case 0:
			zeros++
		case 1 / 0.75:
		default:
			t.Fatalf("element %d is %v, want 0 or %v", i, v, 1/0.75)
		}
		if v == second[i] {
			same++
		}
	}
	if zeros < 2300 || zeros > 2700 {
		t.Errorf("%d of %d dropped, want about 2500", zeros, n)
	}
	if same == n {
		t.Error("two training steps drew the same mask")
	}
}

// TestBatchNormModes: training normalises with batch statistics and moves
// the running estimates; evaluation uses the running estimates.
func TestBatchNormModes(t *testing.T) {
	be := newBackend(t)
	bn := nn.NewBatchNorm(be, 1)
	x := nn.Tensor{Buf: upload(be, []float32{1, 2, 3, 4}), Rows: 4, Cols: 1}
	y := download(be, bn.Forward(x, true).Buf, 4)
	if math.Abs(float64(y[0])+1.3416) > 1e-3 || math.Abs(float64(y[3])-1.3416) > 1e-3 {
		t.Errorf("training output %v, want about ±1.3416 at the ends", y)
	}
	mean, v := download(be, bn.RunningMean, 1)[0], download(be, bn.RunningVar, 1)[0]
	// momentum 0.1: mean 0.9*0 + 0.1*2.5, var 0.9*1 + 0.1*(5/3)
	if math.Abs(float64(mean)-0.25) > 1e-6 || math.Abs(float64(v)-(0.9+0.1*5.0/3)) > 1e-6 || bn.NumBatchesTracked != 1 {
		t.Errorf("running mean %v var %v batches %d", mean, v, bn.NumBatchesTracked)
	}
	e := download(be, bn.Forward(x, false).Buf, 4)
	want := (1 - 0.25) / math.Sqrt(0.9+0.1*5.0/3+1e-5)
	if math.Abs(float64(e[0])-want) > 1e-5 || bn.NumBatchesTracked != 1 {
		t.Errorf("evaluation output %v, want %v first", e, want)
	}
}

// TestBatchNormDropoutTrain trains an MLP with both on a set whose size
// leaves a last batch of one sample (skipped for BatchNorm).
func TestBatchNormDropoutTrain(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(25)
	d := data.Blobs(161, 3, 1, rng)
	m, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{16, 16}, Out: 3, Act: backend.ReLU, BatchNorm: true, Dropout: 0.1, Residual: true}, rng)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := m.NamedParams()
	t.Log(m, names)
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 0.01})}
	hist, err := tr.Fit(context.Background(), d, d, nn.TrainConfig{Epochs: 20, BatchSize: 16, RNG: rng})
	if err != nil {
		t.Fatal(err)
	}
	if acc := hist[len(hist)-1].Val.Accuracy; acc < 0.95 {
		t.Errorf("accuracy %v with batch norm and dropout", acc)
	}
	var state []string
	for _, s := range m.StateDict() {
		state = append(state, s.Name)
	}
	want := "0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 1.num_batches_tracked 4.block.0.weight"
	if got := strings.Join(state, " "); !strings.HasPrefix(got, want) {
		t.Errorf("state dict %s\nwant it to start %s", got, want)
	}
}

// nanAt passes its input through, except at training step `at`, where it
// writes a NaN into its output.
type nanAt struct {
	*nn.Activation
	be    backend.Backend
	at, n int
}

func (l *nanAt) Forward(x nn.Tensor, training bool) nn.Tensor {
	y := l.Activation.Forward(x, training)
	if training {
		if l.n++; l.n == l.at {
			nan := []float32{float32(math.NaN())}
			l.be.Upload(y.Buf, nan)
		}
	}
	return y
}

// TestNaNStopsAndKeepsCheckpoint injects a NaN in the middle of the third
// epoch: training stops there with the epoch, step and layer, and the
// checkpoint saved after epoch two still loads with finite weights.
func TestNaNStopsAndKeepsCheckpoint(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(31)
	d := data.Blobs(100, 3, 1, rng) // 10 steps of 10 per epoch
	hidden := nn.NewLinear(be, 2, 8, nn.DefaultInit(backend.ReLU, 0, rng))
	m := nn.NewSequential(be, hidden, &nanAt{nn.NewActivation(be, backend.ReLU, 0), be, 25, 0},
		nn.NewLinear(be, 8, 3, nn.DefaultInit(backend.Identity, 0, rng)))
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 0.01})}
	path := t.TempDir() + "/last.safetensors"
	saved := 0
	_, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 5, BatchSize: 10, RNG: rng, OnEpoch: func(st nn.EpochStats) {
		if err := nn.SaveModel(be, m, path, nil); err != nil {
			t.Fatal(err)
		}
		saved = st.Epoch
	}})
	var nf *nn.NonFiniteError
	if !errors.As(err, &nf) || nf.Epoch != 3 || nf.Step != 5 || nf.Layer != "0.weight" {
		t.Fatalf("got %v, want a non-finite error at epoch 3, step 5, layer 0.weight", err)
	}
	if saved != 2 {
		t.Fatalf("last checkpoint after epoch %d, want 2", saved)
	}
	m2 := nn.NewSequential(be, nn.NewLinear(be, 2, 8, nn.DefaultInit(backend.ReLU, 0, rng)), nn.NewActivation(be, backend.ReLU, 0),
		nn.NewLinear(be, 8, 3, nn.DefaultInit(backend.Identity, 0, rng)))
	if _, err := nn.LoadModel(be, m2, path); err != nil {
		t.Fatal(err)
	}
	for _, p := range m2.Params() {
		for _, v := range download(be, p.Value, p.Len()) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatal("the saved checkpoint holds non-finite weights")
			}
		}
	}
	// The weights in memory are those before the bad update, too.
	for _, v := range download(be, hidden.Weight.Value, 16) {
		if math.IsNaN(float64(v)) {
			t.Fatal("the bad step was applied")
		}
	}
}

// TestChecksumCatchesCorruption flips one bit in a saved weight: the file
// still parses, and only the checksum can tell.
func TestChecksumCatchesCorruption(t *testing.T) {
	be := newBackend(t)
	m, _ := nn.NewMLP(be, nn.MLPConfig{In: 3, Hidden: []int{4}, Out: 2, Act: backend.ReLU}, nn.NewRNG(41))
	path := t.TempDir() + "/m.safetensors"
	if err := nn.SaveModel(be, m, path, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := nn.LoadModel(be, m, path); err != nil {
		t.Fatalf("clean file: %v", err)
	}
	b, _ := os.ReadFile(path)
	b[len(b)-3] ^= 0x10
	os.WriteFile(path, b, 0o644)
	if _, err := nn.LoadModel(be, m, path); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a flipped bit loaded: %v", err)
	}
}

// TestEarlyStoppingRestoresBatchNormStats: the restored state includes the
// running statistics, so evaluation after restoring matches the best
// epoch's validation loss also with BatchNorm.
func TestEarlyStoppingRestoresBatchNormStats(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(71)
	all := data.Moons(120, 0.45, rng)
	train, val, _, _ := data.Split(all, rng, 0.5, 0)
	m, _ := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{64, 64}, Out: 1, Act: backend.ReLU, BatchNorm: true}, rng)
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.BCEWithLogits{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 0.02})}
	hist, err := tr.Fit(context.Background(), train, val, nn.TrainConfig{Epochs: 300, BatchSize: 8, RNG: rng, Patience: 10})
	if err != nil {
		t.Fatal(err)
	}
	best := hist[tr.BestEpoch-1].Val.Loss
	got, _ := tr.Evaluate(val, 0)
	if math.Abs(got.Loss-best) > 1e-6*best {
		t.Errorf("after restoring epoch %d of %d: val loss %v, that epoch had %v", tr.BestEpoch, len(hist), got.Loss, best)
	}
}

// asyncBackend poses as a device backend and counts the reads.
type asyncBackend struct {
	backend.Backend
	downloads int
}

func (b *asyncBackend) Asynchronous() bool { return true }
func (b *asyncBackend) Download(dst []float32, src backend.Buffer) {
	b.downloads++
	b.Backend.Download(dst, src)
}

// TestAsyncBackendReadsRarely checks that on an asynchronous backend the
// training loop reads its loss every DeviceCheckEvery steps, not every
// step, and that the guard still stops a run that went non-finite.
func TestAsyncBackendReadsRarely(t *testing.T) {
	be := &asyncBackend{Backend: newBackend(t)}
	rng := nn.NewRNG(5)
	d := data.Blobs(1000, 3, 1, rng) // 100 steps of 10
	build := func(l nn.Layer) *nn.Sequential {
		return nn.NewSequential(be, nn.NewLinear(be, 2, 8, nn.DefaultInit(backend.ReLU, 0, rng)), l,
			nn.NewLinear(be, 8, 3, nn.DefaultInit(backend.Identity, 0, rng)))
	}
	m := build(nn.NewActivation(be, backend.ReLU, 0))
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 0.01})}
	be.downloads = 0
	if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1, BatchSize: 10, RNG: rng}); err != nil {
		t.Fatal(err)
	}
	// 100/32 checks, the last step's, and the epoch's loss and accuracy.
	if want := 100/nn.DeviceCheckEvery + 3; be.downloads > want {
		t.Errorf("%d reads in an epoch of 100 steps, want at most %d", be.downloads, want)
	}
	m2 := build(&nanAt{nn.NewActivation(be, backend.ReLU, 0), be, 40, 0})
	tr2 := &nn.Trainer{Backend: be, Model: m2, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m2.Params(), backend.AdamConfig{LR: 0.01})}
	_, err := tr2.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1, BatchSize: 10, RNG: rng})
	var nf *nn.NonFiniteError
	if !errors.As(err, &nf) || nf.Step != 2*nn.DeviceCheckEvery {
		t.Fatalf("got %v, want a non-finite error at the check of step %d", err, 2*nn.DeviceCheckEvery)
	}
}
