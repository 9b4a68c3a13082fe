package nn_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// Gradient checks of the image layers (see checkShaped), on every CPU
// level.

// distinct is n values 0.05 apart in random order, centred on 0: max
// pooling has no ties, and a step of gcEps moves no window's maximum.
func distinct(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i, p := range rng.Perm(n) {
		v[i] = float32(p-n/2) * 0.05
	}
	return v
}

func TestGradConv2d(t *testing.T) {
	cases := []struct {
		cfg     nn.Conv2dConfig
		in      nn.Shape
		rows    int
		comment string
	}{
		{nn.Conv2dConfig{In: 1, Out: 2, Kernel: 3}, nn.Shape{C: 1, H: 5, W: 5}, 2, "stride 1"},
		{nn.Conv2dConfig{In: 2, Out: 3, Kernel: 3, Stride: 2, Padding: 1}, nn.Shape{C: 2, H: 6, W: 5}, 2, "stride 2, padding 1"},
		{nn.Conv2dConfig{In: 3, Out: 4, Kernel: 1}, nn.Shape{C: 3, H: 3, W: 4}, 2, "1x1"},
		{nn.Conv2dConfig{In: 3, Out: 2, Kernel: 3, Padding: 1}, nn.Shape{C: 3, H: 4, W: 7}, 1, "C = 3, non-square, batch 1"},
		{nn.Conv2dConfig{In: 2, Out: 2, Kernel: 2, Stride: 2}, nn.Shape{C: 2, H: 5, W: 3}, 3, "stride 2 leaving a row and a column out"},
	}
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(31)
		for _, c := range cases {
			conv := nn.NewConv2d(be, c.cfg, nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng})
			// Non-zero biases, so that their gradients are exercised too.
			be.Upload(conv.Bias.Value, randomAwayFromZero(rng, c.cfg.Out))
			if err := checkShaped(be, conv, c.rows, c.in, randomAwayFromZero(rng, c.rows*c.in.Len()), gcEps, rng); err != nil {
				t.Errorf("%v on %v (%s): %v", conv, c.in, c.comment, err)
			}
			conv.Free()
		}
	})
}

func TestGradPool2d(t *testing.T) {
	cases := []struct {
		max                     bool
		kernel, stride, padding int
		in                      nn.Shape
	}{
		{true, 2, 0, 0, nn.Shape{C: 2, H: 4, W: 6}},
		{true, 2, 0, 0, nn.Shape{C: 1, H: 5, W: 5}}, // the last row and column are in no window
		{true, 3, 2, 1, nn.Shape{C: 2, H: 5, W: 6}}, // overlapping, padded
		{true, 2, 1, 0, nn.Shape{C: 3, H: 4, W: 3}}, // stride < kernel
		{false, 2, 0, 0, nn.Shape{C: 2, H: 4, W: 6}},
		{false, 3, 2, 1, nn.Shape{C: 2, H: 5, W: 6}}, // padding counted as zeros
		{false, 3, 1, 1, nn.Shape{C: 1, H: 4, W: 3}},
		{false, 0, 0, 0, nn.Shape{C: 3, H: 4, W: 5}}, // global
	}
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(32)
		for _, c := range cases {
			var p *nn.Pool2d
			switch {
			case c.kernel == 0:
				p = nn.NewGlobalAvgPool2d(be)
			case c.max:
				p = nn.NewMaxPool2d(be, c.kernel, c.stride, c.padding)
			default:
				p = nn.NewAvgPool2d(be, c.kernel, c.stride, c.padding)
			}
			const rows = 2
			if err := checkShaped(be, p, rows, c.in, distinct(rng, rows*c.in.Len()), gcEps, rng); err != nil {
				t.Errorf("%v on %v: %v", p, c.in, err)
			}
			p.Free()
		}
	})
}

func TestGradFlatten(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(33)
	in := nn.Shape{C: 2, H: 3, W: 2}
	if err := checkShaped(be, nn.NewFlatten(), 3, in, randomAwayFromZero(rng, 3*in.Len()), gcEps, rng); err != nil {
		t.Error(err)
	}
}

func TestGradBatchNorm2d(t *testing.T) {
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(34)
		for _, c := range []struct {
			rows int
			in   nn.Shape
		}{{2, nn.Shape{C: 3, H: 2, W: 3}}, {1, nn.Shape{C: 2, H: 3, W: 3}}, {3, nn.Shape{C: 5, H: 1, W: 2}}} {
			bn := nn.NewBatchNorm2d(be, c.in.C)
			be.Upload(bn.Weight.Value, randomAwayFromZero(rng, c.in.C))
			be.Upload(bn.Bias.Value, randomAwayFromZero(rng, c.in.C))
			if err := checkShaped(be, bn, c.rows, c.in, randomAwayFromZero(rng, c.rows*c.in.Len()), gcEps, rng); err != nil {
				t.Errorf("%v, %d images of %v: %v", bn, c.rows, c.in, err)
			}
			bn.Free()
		}
	})
}

func TestGradDropoutImages(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(35)
	d := nn.NewDropout(be, 0.3, rng)
	d.FixMask()
	in := nn.Shape{C: 2, H: 3, W: 4}
	if err := checkShaped(be, d, 2, in, randomAwayFromZero(rng, 2*in.Len()), gcEps, rng); err != nil {
		t.Error(err)
	}
	d.Free()
}

// TestGradCNN checks a whole small network, conv-bn-relu-pool-flatten-
// linear, on 3-channel non-square images. A step of gcEps in a conv weight
// moves every pixel of its channel, and with them, often, some ReLU input
// across 0 or some window's maximum to another pixel: the steps here are
// cnnEps, which steps over no kink with these inputs (the seed is fixed;
// about one seed in six puts a kink within cnnEps) while float32 rounding
// of the loss stays far below the tolerance.
func TestGradCNN(t *testing.T) {
	const cnnEps = 2e-3
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(36)
		in := nn.Shape{C: 3, H: 5, W: 6}
		init := nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng}
		m := nn.NewSequential(be,
			nn.NewConv2d(be, nn.Conv2dConfig{In: 3, Out: 4, Kernel: 3, Padding: 1}, init),
			nn.NewBatchNorm2d(be, 4),
			nn.NewActivation(be, backend.ReLU, 0),
			nn.NewMaxPool2d(be, 2, 0, 0),
			nn.NewFlatten(),
			nn.NewLinear(be, 4*2*3, 3, init))
		defer m.Free()
		const rows = 2
		if err := checkShaped(be, m, rows, in, distinct(rng, rows*in.Len()), cnnEps, rng); err != nil {
			t.Error(err)
		}
	})
}

// TestConvOnTabularData: a model with image layers, given flat rows, is a
// clear error from Fit and Predict that names the layer, not a panic.
func TestConvOnTabularData(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(37)
	d := data.Blobs(40, 3, 1, rng) // 2 features, no image shape
	for _, first := range []nn.Layer{
		nn.NewConv2d(be, nn.Conv2dConfig{In: 1, Out: 2, Kernel: 1}, nn.Init{}),
		nn.NewMaxPool2d(be, 1, 0, 0),
		nn.NewBatchNorm2d(be, 1),
	} {
		model := nn.NewSequential(be, first, nn.NewFlatten(), nn.NewLinear(be, 2, 3, nn.Init{}))
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, model.Params(), backend.SGDConfig{LR: 0.1})}
		_, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1})
		want := "layer 0: " + first.String() + " takes images (N x C x H x W), got flat rows of 2 features"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Fit of %v on flat rows: error %v, want one containing %q", first, err, want)
		}
		if _, err := tr.Predict(d.X[:4], 2); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Predict of %v on flat rows: error %v, want one containing %q", first, err, want)
		}
		tr.Free()
		model.Free()
	}
	// A layer deeper in that does not fit: the error gives the data's shape
	// and names the layer.
	img := randomImages(4, nn.Shape{C: 1, H: 8, W: 8}, 3, rng)
	model := nn.NewSequential(be, nn.NewConv2d(be, nn.Conv2dConfig{In: 1, Out: 4, Kernel: 3}, nn.Init{}),
		nn.NewActivation(be, backend.ReLU, 0), nn.NewConv2d(be, nn.Conv2dConfig{In: 3, Out: 2, Kernel: 3}, nn.Init{}))
	defer model.Free()
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, model.Params(), backend.SGDConfig{LR: 0.1})}
	defer tr.Free()
	want := "(1x8x8, 64 features) does not fit layer 2: Conv2d(3, 2, kernel_size=(3, 3)) takes 3 channels, got 4x6x6 images"
	if _, err := tr.Fit(context.Background(), img, nil, nn.TrainConfig{Epochs: 1}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Fit with a misfit third layer: error %v, want one containing %q", err, want)
	}
}

// mlpOnly is a backend without backend.Convolver, as a third party's
// Backend written for MLPs is.
type mlpOnly struct{ backend.Backend }

// TestNoConvolver: an image layer on a backend without convolutions is a
// panic that names the layer and the backend when made directly, and an
// error from Arch.Build.
func TestNoConvolver(t *testing.T) {
	be := mlpOnly{newBackend(t)}
	for want, make := range map[string]func(){
		"Conv2d(1, 2, kernel_size=(3, 3))":              func() { nn.NewConv2d(be, nn.Conv2dConfig{In: 1, Out: 2, Kernel: 3}, nn.Init{}) },
		"MaxPool2d(kernel_size=2, stride=2, padding=0)": func() { nn.NewMaxPool2d(be, 2, 0, 0) },
		"AvgPool2d(kernel_size=3, stride=1, padding=1)": func() { nn.NewAvgPool2d(be, 3, 1, 1) },
		"AdaptiveAvgPool2d":                             func() { nn.NewGlobalAvgPool2d(be) },
		"BatchNorm2d(4)":                                func() { nn.NewBatchNorm2d(be, 4) },
	} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			make()
			return ""
		}()
		if !strings.Contains(msg, want) || !strings.Contains(msg, "needs a backend with convolutions") || !strings.Contains(msg, be.Name()) {
			t.Errorf("%s on a backend without convolutions: panic %q, want one naming the layer and the backend", want, msg)
		}
	}
	for spec, want := range map[string]string{
		"Conv2d(1,4,3) Flatten Linear(10)":            "layer 0, Conv2d: backend",
		"Flatten Linear(64,64) ReLU Linear(10)":       "",
		"MaxPool2d(2) Flatten Linear(16,10)":          "layer 0, MaxPool2d: backend",
		"Dropout(0.1) BatchNorm2d Flatten Linear(10)": "layer 1, BatchNorm2d: backend",
	} {
		a, err := nn.ParseArch(spec)
		if err != nil {
			t.Fatal(err)
		}
		m, err := a.Build(be, nn.Shape{C: 1, H: 8, W: 8}, 64, 10, nn.NewRNG(1))
		if want == "" {
			if err != nil {
				t.Errorf("Build(%q) without convolutions: %v", spec, err)
			} else {
				m.Free()
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "has no convolutions") {
			t.Errorf("Build(%q) without convolutions: error %v, want one containing %q", spec, err, want)
		}
	}
}

// cnnSpec has a layer of every image kind, with running statistics and a
// dropout mask, for the checkpoint, memory and allocation tests.
const cnnSpec = "Conv2d(1,4,3,padding=1) BatchNorm2d ReLU MaxPool2d(2) Dropout(0.2) Conv2d(4,6,3,stride=2,padding=1) " +
	"ReLU AvgPool2d(3,1,1) AdaptiveAvgPool2d(1) Flatten Linear(6,10)"

func buildCNN(t testing.TB, be backend.Backend, seed uint64) *nn.Sequential {
	t.Helper()
	a, err := nn.ParseArch(cnnSpec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Build(be, nn.Shape{C: 1, H: 8, W: 8}, 64, 10, nn.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCNNCheckpointRoundTrip: a trained CNN saved with SaveModel and loaded
// with LoadModel into a model built with other weights gives the same
// outputs bit for bit, and its BatchNorm2d's running statistics and batch
// count come back too.
func TestCNNCheckpointRoundTrip(t *testing.T) {
	be := newBackend(t)
	d := randomImages(50, nn.Shape{C: 1, H: 8, W: 8}, 10, nn.NewRNG(38))
	predict := func(m *nn.Sequential) []float32 {
		tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, InputShape: d.Shape}
		y, err := tr.Predict(d.X, d.N)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	trained := buildCNN(t, be, 1)
	defer trained.Free()
	tr := &nn.Trainer{Backend: be, Model: trained, Loss: nn.CrossEntropy{},
		Opt: nn.NewAdam(be, trained.Params(), backend.AdamConfig{LR: 0.01})}
	defer tr.Free()
	if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 2, BatchSize: 16, RNG: nn.NewRNG(2)}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cnn.safetensors")
	if err := nn.SaveModel(be, trained, path, nil); err != nil {
		t.Fatal(err)
	}
	loaded := buildCNN(t, be, 2)
	defer loaded.Free()
	before := predict(loaded)
	if _, err := nn.LoadModel(be, loaded, path); err != nil {
		t.Fatal(err)
	}
	want, got := predict(trained), predict(loaded)
	same := true
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("output %d after loading: %v, the saved model's %v", i, got[i], want[i])
		}
		same = same && before[i] == want[i]
	}
	if same {
		t.Fatal("the model built with other weights gave the saved model's outputs before loading")
	}
	bn := trained.Layers[1].(*nn.BatchNorm2d)
	if got := loaded.Layers[1].(*nn.BatchNorm2d).NumBatchesTracked; got != bn.NumBatchesTracked || got != 8 {
		t.Errorf("num_batches_tracked %d after loading, saved %d, want 8 (2 epochs of 4 steps)", got, bn.NumBatchesTracked)
	}
	var names []string
	for _, ts := range trained.StateDict() {
		names = append(names, ts.Name)
	}
	if want := "0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 1.num_batches_tracked 5.weight 5.bias 10.weight 10.bias"; strings.Join(names, " ") != want {
		t.Errorf("state dict names %q, want %q", strings.Join(names, " "), want)
	}
}

// countingConv is countingBackend with the backend's convolutions.
type countingConv struct {
	*countingBackend
	backend.Convolver
}

// TestFreeAllCNN: a trained CNN, its trainer and its optimizer give back
// every buffer they allocated.
func TestFreeAllCNN(t *testing.T) {
	inner := newBackend(t)
	counting := &countingBackend{Backend: inner}
	be := countingConv{counting, inner.(backend.Convolver)}
	model := buildCNN(t, be, 1)
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{}, InputShape: nn.Shape{C: 1, H: 8, W: 8},
		Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.01})}
	d := randomImages(20, nn.Shape{C: 1, H: 8, W: 8}, 10, nn.NewRNG(39))
	if _, err := tr.Fit(context.Background(), d, d, nn.TrainConfig{Epochs: 2, BatchSize: 8, Patience: 1, ClipNorm: 1, L1: 1e-4, GradFlow: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Predict(d.X, d.N); err != nil {
		t.Fatal(err)
	}
	tr.Free()
	model.Free()
	if counting.live != 0 {
		t.Errorf("%d buffers still allocated after Free", counting.live)
	}
}

// noConv is a backend whose convolutions, batch norm and dropout do
// nothing: the allocations of a step on it are those of the nn layers (the
// CPU backend's other operations allocate nothing, see TestStepAllocations).
type noConv struct{ backend.Backend }

func (noConv) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
}
func (noConv) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
}
func (noConv) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {}
func (noConv) Mul(a, b, c backend.Buffer, n int)                              {}

func (noConv) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape)                  {}
func (noConv) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape)          {}
func (noConv) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {}
func (noConv) MaxPool2d(x, y backend.Buffer, s backend.PoolShape)                             {}
func (noConv) MaxPool2dBackward(x, dy, dx backend.Buffer, s backend.PoolShape)                {}
func (noConv) AvgPool2d(x, y backend.Buffer, s backend.PoolShape)                             {}
func (noConv) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape)                   {}
func (noConv) TransposeBatch(x, y backend.Buffer, batch, rows, cols int)                      {}

// TestCNNStepAllocations: a training step of a CNN (forward, loss,
// backward, Adam) allocates nothing, in the nn layers alone and on the
// whole CPU backend, as the MLP's step does (see TestStepAllocations).
func TestCNNStepAllocations(t *testing.T) {
	for _, c := range []struct {
		name string
		be   backend.Backend
	}{{"nn layers", noConv{newBackend(t)}}, {"CPU backend", newBackend(t)}} {
		allocs := testing.AllocsPerRun(20, cnnStep(t, c.be))
		t.Logf("%s: %.0f allocations per CNN training step", c.name, allocs)
		if allocs > 0 {
			t.Errorf("%s: %.0f allocations per step", c.name, allocs)
		}
	}
}

// cnnStep returns one training step of the test CNN on a fixed batch, as
// Fit runs it, after running it once.
func cnnStep(t *testing.T, be backend.Backend) func() {
	m := buildCNN(t, be, 1)
	t.Cleanup(m.Free)
	m.SetInputGrad(false) // as Fit does
	opt := nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 1e-3})
	t.Cleanup(opt.Free)
	const rows = 16
	rng := nn.NewRNG(40)
	x := nn.Tensor{Buf: upload(be, randomAwayFromZero(rng, rows*64)), Rows: rows, Cols: 64, Shape: nn.Shape{C: 1, H: 8, W: 8}}
	labels := make([]float32, rows)
	for i := range labels {
		labels[i] = float32(i % 10)
	}
	y, grad, sum := upload(be, labels), be.Alloc(rows*10), be.Alloc(1)
	step := func() {
		out := m.Forward(x, true)
		nn.CrossEntropy{}.Compute(be, out, y, grad, sum)
		m.ZeroGrad()
		m.Backward(nn.Tensor{Buf: grad, Rows: rows, Cols: 10})
		opt.Step()
	}
	step()
	return step
}

// TestCNNWeights: the weight tensors that L1 and the gradient-flow view
// take are those PyTorch users select (weights with two or more
// dimensions): the convolutions' and the Linear's, not biases nor
// BatchNorm2d's scale. L1 adds Lambda * sign(w) to exactly those.
func TestCNNWeights(t *testing.T) {
	be := newBackend(t)
	m := buildCNN(t, be, 1)
	defer m.Free()
	names, weights := m.NamedWeights()
	if got := strings.Join(names, " "); got != "0.weight 5.weight 10.weight" {
		t.Fatalf("NamedWeights %q, want the two Conv2d weights and the Linear's", got)
	}
	const lambda = 0.25
	l1 := nn.NewL1(be, m, lambda)
	defer l1.Free()
	m.ZeroGrad()
	l1.AddGrad()
	isWeight := map[*nn.Param]bool{}
	for _, w := range weights {
		isWeight[w] = true
	}
	pnames, params := m.NamedParams()
	for i, p := range params {
		v, g := download(be, p.Value, p.Len()), download(be, p.Grad, p.Len())
		for j := range g {
			want := float32(0)
			if isWeight[p] && v[j] != 0 {
				want = float32(math.Copysign(lambda, float64(v[j])))
			}
			if g[j] != want {
				t.Fatalf("%s[%d] = %v after L1.AddGrad: gradient %v, want %v", pnames[i], j, v[j], g[j], want)
			}
		}
	}
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 0.01})}
	defer tr.Free()
	hist, err := tr.Fit(context.Background(), randomImages(16, nn.Shape{C: 1, H: 8, W: 8}, 10, nn.NewRNG(41)), nil,
		nn.TrainConfig{Epochs: 1, BatchSize: 8, GradFlow: true})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range hist[0].GradFlow {
		kinds = append(kinds, f.Layer+" "+f.Kind)
		if !(f.GradNorm > 0 && f.WeightNorm > 0 && f.UpdateRate > 0) {
			t.Errorf("gradient flow of %s: %+v, want non-zero figures", f.Layer, f)
		}
	}
	if got, want := strings.Join(kinds, ", "), "0.weight Conv2d 1→4 3x3, 5.weight Conv2d 4→6 3x3, 10.weight Linear 6→10"; got != want {
		t.Errorf("gradient flow rows %q, want %q", got, want)
	}
}

// TestResidualImages: a Residual around convolutions that keep the image's
// shape trains and passes the gradient check; one whose block changes the
// shape is an error from Fit naming it (not a panic in Forward).
func TestResidualImages(t *testing.T) {
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(42)
		init := nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng}
		in := nn.Shape{C: 3, H: 4, W: 5}
		block := nn.NewSequential(be,
			nn.NewConv2d(be, nn.Conv2dConfig{In: 3, Out: 3, Kernel: 3, Padding: 1}, init),
			nn.NewActivation(be, backend.Tanh, 0),
			nn.NewConv2d(be, nn.Conv2dConfig{In: 3, Out: 3, Kernel: 1}, init))
		r := nn.NewResidual(be, block)
		defer r.Free()
		if err := checkShaped(be, r, 2, in, randomAwayFromZero(rng, 2*in.Len()), gcEps, rng); err != nil {
			t.Error(err)
		}
	})
	be := newBackend(t)
	d := randomImages(8, nn.Shape{C: 2, H: 6, W: 6}, 3, nn.NewRNG(43))
	for _, c := range []struct {
		block nn.Layer
		want  string
	}{
		{nn.NewConv2d(be, nn.Conv2dConfig{In: 2, Out: 2, Kernel: 3}, nn.Init{}), "layer 0: Residual: the block maps 2x6x6 (72 values) to 2x4x4 (32 values)"},
		{nn.NewConv2d(be, nn.Conv2dConfig{In: 2, Out: 4, Kernel: 3, Padding: 1}, nn.Init{}), "layer 0: Residual: the block maps 2x6x6 (72 values) to 4x6x6 (144 values)"},
		{nn.NewFlatten(), "layer 0: Residual: the block maps 2x6x6 (72 values) to flat (72 values)"},
		{nn.NewConv2d(be, nn.Conv2dConfig{In: 3, Out: 3, Kernel: 1}, nn.Init{}), "layer 0: Residual: Conv2d(3, 3, kernel_size=(1, 1)) takes 3 channels"},
	} {
		m := nn.NewSequential(be, nn.NewResidual(be, c.block), nn.NewGlobalAvgPool2d(be), nn.NewFlatten(), nn.NewLinear(be, 2, 3, nn.Init{}))
		tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 0.1})}
		if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Residual(%v) on 2x6x6 images: error %v, want one containing %q", c.block, err, c.want)
		}
		tr.Free()
		m.Free()
	}
}

// TestConv2dInit: a convolution's fan-in and fan-out are its channels
// times the kernel's area, as PyTorch counts them, for Glorot and He.
func TestConv2dInit(t *testing.T) {
	be := newBackend(t)
	const in, out, k = 16, 32, 3
	for _, c := range []struct {
		scheme     nn.InitScheme
		gain, want float64 // want: the weights' standard deviation
	}{
		{nn.XavierNormal, 1, math.Sqrt(2.0 / (in*k*k + out*k*k))},
		{nn.XavierUniform, 1, math.Sqrt(2.0 / (in*k*k + out*k*k))},
		{nn.KaimingUniform, math.Sqrt2, math.Sqrt2 / math.Sqrt(in*k*k)},
	} {
		conv := nn.NewConv2d(be, nn.Conv2dConfig{In: in, Out: out, Kernel: k}, nn.Init{Scheme: c.scheme, Gain: c.gain, RNG: nn.NewRNG(44)})
		sq := 0.0
		w := download(be, conv.Weight.Value, conv.Weight.Len())
		for _, v := range w {
			sq += float64(v) * float64(v)
		}
		if std := math.Sqrt(sq / float64(len(w))); math.Abs(std-c.want) > 0.05*c.want {
			t.Errorf("%v: weights' standard deviation %.4f, want %.4f", c.scheme, std, c.want)
		}
		conv.Free()
	}
}
