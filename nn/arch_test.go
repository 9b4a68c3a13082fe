package nn_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

func TestCNNPreset(t *testing.T) {
	got, err := nn.CNNPreset(nn.Shape{C: 1, H: 28, W: 28}, 10)
	want := "Conv2d(1,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2) Flatten Linear(1600,128) ReLU Linear(128,10)"
	if err != nil || got != want {
		t.Fatalf("CNNPreset(1x28x28) = %q, %v; want %q", got, err, want)
	}
	got, err = nn.CNNPreset(nn.Shape{C: 1, H: 8, W: 8}, 10)
	want = "Conv2d(1,32,3,padding=1) ReLU MaxPool2d(2) Conv2d(32,64,3,padding=1) ReLU MaxPool2d(2) Flatten Linear(256,128) ReLU Linear(128,10)"
	if err != nil || got != want {
		t.Fatalf("CNNPreset(1x8x8) = %q, %v; want %q", got, err, want)
	}
	if _, err := nn.CNNPreset(nn.Shape{}, 3); err == nil {
		t.Error("CNNPreset accepted flat rows")
	}
	if _, err := nn.CNNPreset(nn.Shape{C: 1, H: 2, W: 2}, 3); err == nil {
		t.Error("CNNPreset accepted 2x2 images")
	}
}

func TestParseArch(t *testing.T) {
	for spec, want := range map[string]string{
		"conv2d(1, 32, 3) relu maxpool2d(2) flatten linear(10)":  "Conv2d(1,32,3) ReLU MaxPool2d(2) Flatten Linear(10)",
		"Conv2d(8,3,stride=2,padding=1), BatchNorm2d; GELU":      "Conv2d(8,3,stride=2,padding=1) BatchNorm2d GELU",
		"Linear(4,16) LeakyReLU(0.2) Dropout(0.1) Linear(16,3)":  "Linear(4,16) LeakyReLU(0.2) Dropout(0.1) Linear(16,3)",
		"AdaptiveAvgPool2d(1) Flatten AvgPool2d(3,2,1) Identity": "AdaptiveAvgPool2d(1) Flatten AvgPool2d(3,2,1) Identity",
	} {
		a, err := nn.ParseArch(spec)
		if err != nil || a.String() != want {
			t.Errorf("ParseArch(%q) = %q, %v; want %q", spec, a, err, want)
		}
	}
	for spec, msg := range map[string]string{
		"":                       "no layers",
		"Conv3d(1,2,3)":          "unknown layer",
		"Linear(4,":              "no closing parenthesis",
		"Linear(four)":           "not a number",
		"Conv2d(1,2,3,kernel=3)": "unknown argument",
		"Linear(1,2,3)":          "at most 2 arguments",
		"MaxPool2d(stride=2,2)":  "after a named one",
		"ReLU !":                 "expected a layer name",
	} {
		if _, err := nn.ParseArch(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseArch(%q) error %v, want one containing %q", spec, err, msg)
		}
	}
}

func TestArchBuildErrors(t *testing.T) {
	be := newBackend(t)
	img := nn.Shape{C: 1, H: 8, W: 8}
	for _, c := range []struct {
		spec string
		in   nn.Shape
		cols int
		msg  string
	}{
		{"Conv2d(1,4,3) Flatten Linear(10)", nn.Shape{}, 64, "layer 0, Conv2d"},
		{"Conv2d(3,4,3) Flatten Linear(10)", img, 64, "layer 0, Conv2d"},
		{"Conv2d(1,4,3) Linear(144,10)", img, 64, "layer 1, Linear"},
		{"Conv2d(1,4,9) Flatten Linear(10)", img, 64, "larger than the padded input"},
		{"Flatten Linear(64,5)", img, 64, "ends with 5 outputs"},
		{"MaxPool2d(2,2,2)", img, 64, "padding from 0 to half"},
		{"BatchNorm1d ReLU", img, 64, "layer 0, BatchNorm1d"},
		{"Linear(64,10) BatchNorm2d", nn.Shape{}, 64, "layer 1, BatchNorm2d"},
		{"Dropout(1) Flatten Linear(10)", img, 64, "probability"},
		{"Conv2d(1,4,3,padding=5000) ReLU MaxPool2d(2)", img, 64, "layer 0, Conv2d: its output has 400480144 values per sample"},
	} {
		a, err := nn.ParseArch(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		m, err := a.Build(be, c.in, c.cols, 10, nn.NewRNG(1))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Build(%q) error %v, want one containing %q", c.spec, err, c.msg)
		}
		if m != nil {
			m.Free()
		}
	}
}

// TestCNNDigits trains the cnn preset on the 8x8 digits for a few epochs.
func TestCNNDigits(t *testing.T) {
	be := newBackend(t)
	d, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.X {
		d.X[i] /= 16
	}
	rng := nn.NewRNG(1)
	train, _, test, err := data.Split(d, rng, 0, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := nn.CNNPreset(d.Shape, d.Classes)
	a, _ := nn.ParseArch(spec)
	m, err := a.Build(be, d.Shape, d.Features, d.Classes, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, Opt: nn.NewAdam(be, m.Params(), backend.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})}
	defer tr.Free()
	if _, err := tr.Fit(context.Background(), train, nil, nn.TrainConfig{Epochs: 4, BatchSize: 64, RNG: rng}); err != nil {
		t.Fatal(err)
	}
	met, err := tr.Evaluate(test, 256)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("digits cnn: test accuracy %.4f", met.Accuracy)
	if met.Accuracy < 0.95 {
		t.Errorf("test accuracy %.4f after 4 epochs, want >= 0.95", met.Accuracy)
	}
}
