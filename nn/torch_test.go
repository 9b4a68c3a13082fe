package nn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// torchForward loads a checkpoint into the torch.nn.Sequential that the
// README describes (Linear, BatchNorm1d, activation, Dropout per hidden
// layer, then Linear), or that an architecture spec (see nn.ParseArch)
// names layer by layer, with load_state_dict(strict=True), runs it in eval
// mode on the inputs (images reshaped to N x C x H x W), and compares the
// outputs with fastnn's. It reads the file with struct and json only, so
// that it needs no safetensors package.
const torchForward = `
import json, struct, sys
import torch

def load(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    hdr = json.loads(blob[8:8 + n])
    hdr.pop("__metadata__", None)
    body = blob[8 + n:]
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    state = {}
    for name, info in hdr.items():
        b, e = info["data_offsets"]
        state[name] = torch.frombuffer(bytearray(body[b:e]), dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return state

def build(spec):
    acts = {"relu": lambda: torch.nn.ReLU(), "leakyrelu": lambda: torch.nn.LeakyReLU(spec["slope"]),
            "sigmoid": lambda: torch.nn.Sigmoid(), "tanh": lambda: torch.nn.Tanh(),
            "gelu": lambda: torch.nn.GELU(approximate="tanh")}
    layers, width = [], spec["in"]
    for h in spec["hidden"]:
        layers.append(torch.nn.Linear(width, h))
        if spec["batchnorm"]:
            layers.append(torch.nn.BatchNorm1d(h))
        layers.append(acts[spec["act"]]())
        if spec["dropout"] > 0:
            layers.append(torch.nn.Dropout(spec["dropout"]))
        width = h
    layers.append(torch.nn.Linear(width, spec["out"]))
    return torch.nn.Sequential(*layers)

def build_arch(arch):
    # The spec's names are torch.nn's and its arguments theirs, in the same
    # order; sizes are all given. fastnn's GELU is the tanh approximation.
    layers = []
    for l in arch:
        args = [int(a) if a == int(a) else a for a in l["Args"] or []]
        named = {k: int(v) for k, v in (l["Named"] or {}).items()}
        if l["Name"] == "GELU":
            named["approximate"] = "tanh"
        layers.append(getattr(torch.nn, l["Name"])(*args, **named))
    return torch.nn.Sequential(*layers)

for spec in json.load(open(sys.argv[1])):
    model = build_arch(spec["arch"]) if "arch" in spec else build(spec)
    state = load(spec["ckpt"])
    for name, v in state.items():
        # Running statistics that training moved, so that eval mode tests them.
        if name.endswith("num_batches_tracked"):
            assert v.item() > 0, (spec["name"], name, v)
        if name.endswith("running_mean"):
            assert v.abs().max().item() > 1e-3, (spec["name"], name, v)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.tensor(spec["x"], dtype=torch.float32)
    if spec.get("shape"):
        x = x.reshape(-1, *spec["shape"])
    want = torch.tensor(spec["y"], dtype=torch.float32)
    with torch.no_grad():
        got = model(x)
    assert got.shape == want.shape, (spec["name"], got.shape, want.shape)
    err = ((got - want).abs() / (1 + want.abs())).max().item()
    assert err < 1e-5, "%s: outputs differ from fastnn's by %g (relative)" % (spec["name"], err)
    print("%s: strict load ok, %d outputs agree to %.2g" % (spec["name"], want.numel(), err))
print("torch", torch.__version__)
`

// TestPyTorchLoadsCheckpoints trains small models, saves them, and has
// PyTorch load each with load_state_dict(strict=True) and run the same
// inputs: the outputs must agree with fastnn's in float32. It skips, with
// the reason, only where PyTorch is not installed.
func TestPyTorchLoadsCheckpoints(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import torch").CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Skipf("PyTorch is not importable by %s (apt-get install python3-torch): %v %s", python, err, lines[len(lines)-1])
	}
	be := newBackend(t)
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  nn.MLPConfig
	}{
		{"gelu-batchnorm-dropout", nn.MLPConfig{In: 2, Hidden: []int{16, 8}, Out: 3, Act: backend.GELU, BatchNorm: true, Dropout: 0.2}},
		{"leakyrelu", nn.MLPConfig{In: 2, Hidden: []int{12}, Out: 3, Act: backend.LeakyReLU, Slope: 0.1}},
		{"sigmoid-batchnorm", nn.MLPConfig{In: 2, Hidden: []int{8, 8, 8}, Out: 3, Act: backend.Sigmoid, BatchNorm: true}},
		{"tanh", nn.MLPConfig{In: 2, Hidden: []int{6}, Out: 3, Act: backend.Tanh}},
		{"relu", nn.MLPConfig{In: 2, Hidden: []int{10}, Out: 3, Act: backend.ReLU}},
	}
	var specs []map[string]any
	for _, c := range cases {
		rng := nn.NewRNG(5)
		d := data.Blobs(120, 3, 1.5, rng)
		model, err := nn.NewMLP(be, c.cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{},
			Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.01})}
		// A few epochs, so that the weights and BatchNorm's running
		// statistics are far from their initial values.
		if _, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 3, BatchSize: 16, RNG: rng}); err != nil {
			t.Fatal(err)
		}
		const n = 40
		x := d.X[:n*2]
		y, err := tr.Predict(x, n)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.name+".safetensors")
		if err := nn.SaveModel(be, model, path, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
		tr.Free()
		model.Free()
		for _, v := range y {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: fastnn's output %v", c.name, v)
			}
		}
		act := map[backend.Activation]string{backend.ReLU: "relu", backend.LeakyReLU: "leakyrelu",
			backend.Sigmoid: "sigmoid", backend.Tanh: "tanh", backend.GELU: "gelu"}[c.cfg.Act]
		specs = append(specs, map[string]any{"name": c.name, "ckpt": path, "in": c.cfg.In, "hidden": c.cfg.Hidden,
			"out": c.cfg.Out, "act": act, "slope": c.cfg.Slope, "batchnorm": c.cfg.BatchNorm, "dropout": c.cfg.Dropout,
			"x": rows(x, c.cfg.In), "y": rows(y, c.cfg.Out)})
	}
	specs = append(specs, cnnSpecs(t, be, dir)...)
	spec, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	specPath, script := filepath.Join(dir, "models.json"), filepath.Join(dir, "forward.py")
	if err := os.WriteFile(specPath, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(torchForward), 0o644); err != nil {
		t.Fatal(err)
	}
	// One interpreter for every model: importing torch takes seconds.
	var out bytes.Buffer
	cmd := exec.Command(python, script, specPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("PyTorch: %v\n%s", err, out.String())
	}
	if got := strings.Count(out.String(), "strict load ok"); got != len(specs) {
		t.Fatalf("PyTorch loaded %d of %d models:\n%s", got, len(specs), out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
}

// rows turns a row-major matrix of cols columns into rows, for JSON.
func rows(v []float32, cols int) [][]float64 {
	out := make([][]float64, len(v)/cols)
	for i := range out {
		for _, f := range v[i*cols : (i+1)*cols] {
			out[i] = append(out[i], float64(f))
		}
	}
	return out
}

// cnnSpecs trains convolutional networks built from architecture specs for
// a few steps (so that weights and BatchNorm2d's running statistics are far
// from their initial values), saves them in dir and returns their entries
// for torchForward.
func cnnSpecs(t *testing.T, be backend.Backend, dir string) []map[string]any {
	digits, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	for i := range digits.X {
		digits.X[i] /= 16
	}
	mnistLike := randomImages(96, nn.Shape{C: 1, H: 28, W: 28}, 10, nn.NewRNG(7))
	preset28, _ := nn.CNNPreset(mnistLike.Shape, 10)
	preset8, _ := nn.CNNPreset(digits.Shape, 10)
	cases := []struct {
		name, arch string
		d          *data.Dataset
	}{
		{"cnn-1x28x28", preset28, mnistLike},
		{"cnn-1x8x8", preset8, digits.Subset(seq(160))},
		{"cnn-batchnorm-avgpool-dropout-global", "Conv2d(1,6,3,padding=1) BatchNorm2d(6) ReLU AvgPool2d(3,2,1) Dropout(0.25) " +
			"Conv2d(6,5,3,stride=2,padding=1) BatchNorm2d(5) GELU AdaptiveAvgPool2d(1) Flatten Linear(5,10)", digits.Subset(seq(160))},
	}
	var specs []map[string]any
	for _, c := range cases {
		arch, err := nn.ParseArch(c.arch)
		if err != nil {
			t.Fatal(err)
		}
		rng := nn.NewRNG(11)
		model, err := arch.Build(be, c.d.Shape, c.d.Features, 10, rng)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{}, InputShape: c.d.Shape,
			Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.01})}
		if _, err := tr.Fit(context.Background(), c.d, nil, nn.TrainConfig{Epochs: 2, BatchSize: 32, RNG: rng}); err != nil {
			t.Fatal(err)
		}
		const n = 16
		x := c.d.X[:n*c.d.Features]
		y, err := tr.Predict(x, n)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.name+".safetensors")
		if err := nn.SaveModel(be, model, path, nil); err != nil {
			t.Fatal(err)
		}
		tr.Free()
		model.Free()
		specs = append(specs, map[string]any{"name": c.name, "ckpt": path, "arch": arch,
			"shape": []int{c.d.Shape.C, c.d.Shape.H, c.d.Shape.W}, "x": rows(x, c.d.Features), "y": rows(y, 10)})
	}
	return specs
}

// randomImages is n images of shape s with uniform pixels in [0, 1) and
// random labels of classes classes.
func randomImages(n int, s nn.Shape, classes int, rng *rand.Rand) *data.Dataset {
	d := &data.Dataset{Name: "random images", N: n, Features: s.Len(), Targets: 1, Classes: classes,
		Task: data.Classification, Shape: s, X: make([]float32, n*s.Len()), Y: make([]float32, n)}
	for i := range d.X {
		d.X[i] = rng.Float32()
	}
	for i := range d.Y {
		d.Y[i] = float32(rng.IntN(classes))
	}
	return d
}

// seq is 0, 1, ..., n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
