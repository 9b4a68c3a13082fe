package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// torchLoad builds PyTorch's nn.Sequential from the spec a checkpoint
// records (written with every size explicit, it is PyTorch's own
// constructor syntax), loads the checkpoint's tensors into it with
// strict=True, and prints the largest difference between its eval-mode
// outputs and fastnn's for the same inputs.
const torchLoad = `
import json, struct, sys
import numpy as np, torch, torch.nn as nn
path, xfile, yfile, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(path, "rb") as f:
    raw = f.read()
hlen = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + hlen])
meta = header.pop("__metadata__")
arch = json.loads(meta["fastnn.architecture"])
body = raw[8 + hlen:]
state = {}
for name, t in header.items():
    a, b = t["data_offsets"]
    dtype = {"F32": np.float32, "I64": np.int64}[t["dtype"]]
    state[name] = torch.from_numpy(np.frombuffer(body[a:b], dtype).reshape(t["shape"]).copy())
layers = [eval("nn." + (tok if "(" in tok else tok + "()")) for tok in arch["spec"].split()]
model = nn.Sequential(*layers)
model.load_state_dict(state, strict=True)
model.eval()
x = torch.from_numpy(np.fromfile(xfile, np.float32)).reshape([n] + arch["input_shape"])
want = torch.from_numpy(np.fromfile(yfile, np.float32)).reshape(n, -1)
with torch.no_grad():
    got = model(x)
print("maxdiff", (got - want).abs().max().item())
`

// TestCheckpointLoadsInPyTorch: a CNN that train -save wrote loads into
// PyTorch's nn.Sequential of its spec with strict=True (names, shapes and
// the BatchNorm buffers all match), and in eval mode (BatchNorm's running
// statistics, no dropout) gives fastnn's outputs to 1e-5.
func TestCheckpointLoadsInPyTorch(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skip("/usr/bin/python3 cannot import torch (Debian's python3-torch):", err)
	}
	dir := t.TempDir()
	spec := "Conv2d(1,8,3,padding=1) BatchNorm2d(8) ReLU MaxPool2d(2) Dropout(0.25) Conv2d(8,16,3,2,1) ReLU AvgPool2d(2) Flatten Linear(16,32) ReLU Linear(32,10)"
	model := filepath.Join(dir, "cnn.safetensors")
	mustTrain(t, "-data", "digits", "-arch", spec, "-epochs", "2", "-save", model)

	// fastnn's outputs, from the file, for the first 50 digits scaled as
	// training scaled them.
	const n = 50
	x := scaledDigits(t, n)
	y := checkpointOutputs(t, model, x, n)
	xfile, yfile := filepath.Join(dir, "x.f32"), filepath.Join(dir, "y.f32")
	for file, v := range map[string][]float32{xfile: x, yfile: y} {
		var b []byte
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("/usr/bin/python3", "-c", torchLoad, model, xfile, yfile, strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("PyTorch: %v\n%s", err, out)
	}
	_, last, _ := strings.Cut(string(out), "maxdiff ")
	diff, err := strconv.ParseFloat(strings.TrimSpace(last), 64)
	if err != nil {
		t.Fatalf("PyTorch printed %q: %v", out, err)
	}
	t.Logf("largest difference from PyTorch's outputs: %g", diff)
	if !(diff <= 1e-5) {
		t.Errorf("PyTorch's eval outputs differ from fastnn's by %g, want <= 1e-5", diff)
	}
}

// scaledDigits is the first n digits' pixels, scaled to [0, 1] as a spec's
// training scales them.
func scaledDigits(t *testing.T, n int) []float32 {
	t.Helper()
	d, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	x := d.X[:n*d.Features]
	for i := range x {
		x[i] /= 16
	}
	return x
}

// checkpointOutputs builds the model a checkpoint of a spec records, with
// the nn package alone, loads its tensors and returns its eval-mode outputs
// for the n inputs x.
func checkpointOutputs(t *testing.T, file string, x []float32, n int) []float32 {
	t.Helper()
	f, err := nn.ReadChecked(file)
	if err != nil {
		t.Fatal(err)
	}
	var arch struct {
		Spec       string `json:"spec"`
		InputShape []int  `json:"input_shape"`
		Features   int    `json:"features"`
		Outputs    int    `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["fastnn.architecture"]), &arch); err != nil || len(arch.InputShape) != 3 {
		t.Fatalf("architecture %s: %v", f.Metadata["fastnn.architecture"], err)
	}
	be, err := cpu.New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	a, err := nn.ParseArch(arch.Spec)
	if err != nil {
		t.Fatal(err)
	}
	shape := nn.Shape{C: arch.InputShape[0], H: arch.InputShape[1], W: arch.InputShape[2]}
	m, err := a.Build(be, shape, arch.Features, arch.Outputs, nn.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := nn.DecodeTensors(be, f, m.StateDict()); err != nil {
		t.Fatal(err)
	}
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.CrossEntropy{}, InputShape: shape}
	y, err := tr.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	return y
}
