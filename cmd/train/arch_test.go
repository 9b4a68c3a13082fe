package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/internal/experiment"
	"github.com/fastnn/fastnn/nn"
	"github.com/fastnn/fastnn/safetensors"
)

// smallCNN is a convolutional network for the 8x8 digits that trains in a
// fraction of a second.
const smallCNN = "Conv2d(1,8,3,padding=1) BatchNorm2d ReLU MaxPool2d(2) Dropout(0.1) Flatten Linear(10)"

// TestArchFlags: the MLP's flags with another -arch, a spec that does not
// parse and -arch with -load or -search are bad flags (exit 2, before
// anything is loaded); a model that does not fit the data is a failed run
// (exit 1) with a message that says why.
func TestArchFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-arch", "cnn", "-layers", "64"}, 2, "-layers applies to -arch mlp"},
		{[]string{"-arch", "cnn", "-act", "tanh"}, 2, "-act applies to -arch mlp"},
		{[]string{"-arch", "cnn", "-slope", "0.2"}, 2, "-slope applies to -arch mlp"},
		{[]string{"-arch", "cnn", "-batchnorm"}, 2, "-batchnorm applies"},
		{[]string{"-arch", "cnn", "-residual"}, 2, "-residual applies"},
		{[]string{"-arch", "Flatten Linear(10)", "-dropout", "0.5"}, 2, "-dropout applies"},
		{[]string{"-arch", "cnn", "-search", "random"}, 2, "-search"},
		{[]string{"-arch", "Conv2d(1,8,3"}, 2, "no closing parenthesis"},
		{[]string{"-arch", "Conv3d(1,8,3)"}, 2, "unknown layer"},
		{[]string{"-arch", "cnn", "-load", "m.safetensors"}, 2, "-arch has no effect with -load"},
		{[]string{"-arch", "cnn", "-data", "iris"}, 1, "-arch cnn needs images; data set iris has flat rows of 4 features"},
		{[]string{"-arch", "Flatten Linear(5)"}, 1, "ends with 5 outputs, the data need 10"},
		{[]string{"-arch", "Conv2d(3,8,3) Flatten Linear(10)"}, 1, "layer 0, Conv2d"},
		{[]string{"-arch", "Linear(32) ReLU Linear(3)", "-data", "iris", "-epochs", "1", "-json"}, 0, ""},
	} {
		args := c.args
		if !slices.Contains(args, "-load") {
			args = append(args, "-epochs", "1")
		}
		code, _, stderr := train(t, args...)
		if code != c.code || !strings.Contains(stderr, c.says) || strings.Contains(stderr, "panic") {
			t.Errorf("train %q: exit %d, %q; want %d and %q", c.args, code, stderr, c.code, c.says)
		}
	}
}

// TestCNNDigits: the cnn preset reaches 98% on the digits' test split in
// six epochs, a checkpoint of it gives the same figures with -load, and
// predict scales the pixels as training did.
func TestCNNDigits(t *testing.T) {
	dir := t.TempDir()
	model, plots := filepath.Join(dir, "cnn.safetensors"), filepath.Join(dir, "plots")
	out, _ := mustTrain(t, "-data", "digits", "-arch", "cnn", "-epochs", "6", "-save", model, "-plots", plots, "-json")
	var r experiment.Result
	if err := json.Unmarshal([]byte(lastLine(out)), &r); err != nil {
		t.Fatal(err)
	}
	want := "Conv2d(1,32,3,padding=1) ReLU MaxPool2d(2) Conv2d(32,64,3,padding=1) ReLU MaxPool2d(2) Flatten Linear(256,128) ReLU Linear(128,10)"
	if r.Arch != want || r.TestAcc == nil || *r.TestAcc < 0.98 {
		t.Fatalf("arch %q, test accuracy %v; want %q and >= 0.98", r.Arch, r.TestAcc, want)
	}
	t.Logf("digits cnn, 6 epochs: test accuracy %.4f", *r.TestAcc)
	if len(r.Plots) == 0 {
		t.Error("-plots wrote nothing")
	}
	out, _ = mustTrain(t, "-load", model, "-json")
	if trained, loaded := describe(r), figures(t, out); trained != loaded {
		t.Errorf("-load figures differ from the training run's:\n  trained: %v\n  loaded:  %v", trained, loaded)
	}

	// predict gives the probabilities of the model on the pixels scaled
	// as training scaled them.
	out, _ = mustTrain(t, "predict", "-load", model, "-data", "digits")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	d, err := data.Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != d.N+1 {
		t.Fatalf("predict wrote %d rows for %d digits", len(rows)-1, d.N)
	}
	const n = 100
	y := checkpointOutputs(t, model, scaledDigits(t, n), n)
	for i, row := range rows[1 : n+1] {
		logits := y[i*10 : (i+1)*10]
		best, sum := slices.Index(logits, slices.Max(logits)), 0.0
		for _, v := range logits {
			sum += math.Exp(float64(v - logits[best]))
		}
		p, err := strconv.ParseFloat(row[2], 64)
		if row[1] != classLabel(d, best) || err != nil || math.Abs(p-1/sum) > 1e-4 {
			t.Fatalf("predict row %d: %q; the model gives class %d with probability %.4f", i, row, best, 1/sum)
		}
	}
}

// classLabel is the name predict writes for class c.
func classLabel(d *data.Dataset, c int) string {
	if c < len(d.ClassNames) {
		return d.ClassNames[c]
	}
	return strconv.Itoa(c)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestCNNResume: a run of a spec stopped after 2 epochs and resumed to 3
// ends exactly where a run of 3 epochs ends; the resume refuses another
// spec.
func TestCNNResume(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-data", "digits", "-arch", smallCNN, "-json"}
	straight, _ := mustTrain(t, append(args, "-epochs", "3")...)
	file := filepath.Join(dir, "m.safetensors")
	mustTrain(t, append(args, "-epochs", "2", "-save", file)...)
	resumed, _ := mustTrain(t, append(args, "-epochs", "3", "-resume", file, "-save", file)...)
	if a, b := figures(t, straight), figures(t, resumed); a != b {
		t.Errorf("resumed run differs from the straight one:\n  straight: %v\n  resumed:  %v", a, b)
	}
	other := strings.Replace(smallCNN, "Conv2d(1,8,3", "Conv2d(1,6,3", 1)
	code, _, stderr := train(t, "-data", "digits", "-arch", other, "-epochs", "3", "-resume", file)
	if code != 1 || !strings.Contains(stderr, "spec is") {
		t.Errorf("resume with another spec: exit %d, %q; want 1 and the spec named", code, stderr)
	}
}

// rewriteTensors rewrites a checkpoint with edit applied to its tensors
// and a checksum that matches.
func rewriteTensors(t *testing.T, from, to string, edit func(ts []safetensors.Tensor)) {
	t.Helper()
	f, err := nn.ReadChecked(from)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Tensors)
	delete(f.Metadata, nn.ChecksumKey)
	if err := nn.WriteChecked(to, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

// TestHostileCNNCheckpoint: a CNN checkpoint whose spec, input shape or
// tensors do not hold together is refused with a message naming the file,
// by -load and by predict, before a model is allocated (a spec asking for
// billions of weights would otherwise be built).
func TestHostileCNNCheckpoint(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	mustTrain(t, "-data", "digits", "-arch", smallCNN, "-epochs", "1", "-save", good)
	flat := filepath.Join(dir, "flat.safetensors")
	mustTrain(t, "-data", "digits", "-arch", "Flatten Linear(10)", "-epochs", "1", "-save", flat)
	arch := "fastnn.architecture"
	cases := []struct {
		name  string
		from  string
		field string
		value any
		says  string
	}{
		{"spec does not parse", good, "spec", "Conv2d(1,8,3", "no closing parenthesis"},
		{"unknown layer", good, "spec", "Conv9d(1,8,3) Flatten Linear(10)", "unknown layer"},
		{"wider convolution", good, "spec", strings.Replace(smallCNN, "8,3", "16,3", 1), "do not belong together"},
		{"billions of weights", good, "spec", "Flatten Linear(65536) ReLU Linear(65536) ReLU Linear(65536) ReLU Linear(10)", "do not belong together"},
		{"activations too wide", good, "spec", "Conv2d(1,65536,1,padding=1) AdaptiveAvgPool2d(1) Flatten Linear(10)", "values per sample"},
		{"kernel larger than the image", good, "spec", "Conv2d(1,8,9) Flatten Linear(10)", "larger than the padded input"},
		{"huge kernel", good, "spec", "Conv2d(1,65536,65536,padding=65536) Flatten Linear(10)", "layer 0, Conv2d"},
		{"fractional size", good, "spec", "Conv2d(1,8.5,3) Flatten Linear(10)", "whole number"},
		{"spec too long", good, "spec", strings.Repeat("ReLU ", 1000), "at most"},
		{"shape of other features", good, "input_shape", []int{3, 8, 8}, "holds 192 values"},
		{"negative shape", good, "input_shape", []int{1, -8, -8}, "each size"},
		{"shape of two sizes", good, "input_shape", []int{8, 8}, "channels, height, width"},
		{"absurd shape", good, "input_shape", []int{1 << 30, 1 << 30, 1 << 30}, "each size"},
		{"MLP fields with a spec", good, "hidden", []int{16}, "the MLP's fields"},
		{"flat rows for a convolution", good, "input_shape", nil, "layer 0, Conv2d"},
		{"zero outputs", good, "outputs", 0, "output sizes"},
		{"another image shape", flat, "input_shape", []int{4, 4, 4}, "the model takes images of [4 4 4]"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := filepath.Join(dir, fmt.Sprintf("bad%d.safetensors", i))
			rewriteMeta(t, c.from, bad, func(meta map[string]string) { editJSON(t, meta, arch, c.field, c.value) })
			for _, args := range [][]string{{"-load", bad}, {"predict", "-load", bad, "-data", "digits"}} {
				if c.from == flat && args[0] == "predict" {
					continue // predict has no data set to compare the shape with
				}
				var out, errOut bytes.Buffer
				code := run(args, &out, &errOut)
				if msg := errOut.String(); code != 1 || !strings.Contains(msg, c.says) || !strings.Contains(msg, bad) {
					t.Errorf("%s: exit %d, %q; want 1 and a message naming the file and %q", args[0], code, msg, c.says)
				}
			}
		})
	}
	t.Run("tensor of another shape", func(t *testing.T) {
		bad := filepath.Join(dir, "reshaped.safetensors")
		rewriteTensors(t, good, bad, func(ts []safetensors.Tensor) {
			for i := range ts {
				if ts[i].Name == "0.weight" {
					ts[i].Shape = []int{8, 1, 9, 1} // as many values as [8, 1, 3, 3]
				}
			}
		})
		for _, args := range [][]string{{"-load", bad}, {"predict", "-load", bad, "-data", "digits"}} {
			var out, errOut bytes.Buffer
			if code := run(args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `"0.weight" has shape [8 1 9 1]`) {
				t.Errorf("%s: exit %d, %q; want 1 and the tensor named", args[0], code, errOut.String())
			}
		}
	})
	t.Run("tensor missing", func(t *testing.T) {
		bad := filepath.Join(dir, "missing.safetensors")
		rewriteTensors(t, good, bad, func(ts []safetensors.Tensor) {
			for i := range ts {
				if ts[i].Name == "1.running_var" {
					ts[i].Name = "1.running_variance"
				}
			}
		})
		var out, errOut bytes.Buffer
		if code := run([]string{"-load", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `no tensor "1.running_var"`) {
			t.Errorf("exit %d, %q; want 1 and the tensor named", code, errOut.String())
		}
	})
	// A checkpoint's architecture names what it needs: the spec and the
	// input shape, beside the MLP fields that an MLP checkpoint keeps.
	f, err := nn.ReadChecked(good)
	if err != nil {
		t.Fatal(err)
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(f.Metadata[arch]), &a); err != nil {
		t.Fatal(err)
	}
	if a["spec"] != "Conv2d(1,8,3,padding=1) BatchNorm2d ReLU MaxPool2d(2) Dropout(0.1) Flatten Linear(10)" || fmt.Sprint(a["input_shape"]) != "[1 8 8]" {
		t.Errorf("architecture metadata %s: want the spec and input_shape [1 8 8]", f.Metadata[arch])
	}
	// The pixels were scaled to [0, 1] as a whole (x / 16), not
	// standardised one by one.
	var st struct {
		FeatureMean []float64 `json:"feature_mean"`
		FeatureStd  []float64 `json:"feature_std"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["fastnn.standardizer"]), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.FeatureStd) != 64 || slices.ContainsFunc(st.FeatureStd, func(v float64) bool { return v != 16 }) || slices.ContainsFunc(st.FeatureMean, func(v float64) bool { return v != 0 }) {
		t.Errorf("standardizer %s: want mean 0 and deviation 16 for every pixel", f.Metadata["fastnn.standardizer"])
	}
	var names []string
	for _, ts := range f.Tensors {
		names = append(names, ts.Name)
	}
	slices.Sort(names)
	wantNames := []string{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var", "1.weight", "6.bias", "6.weight"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("tensors %q, want PyTorch's state_dict names %q", names, wantNames)
	}
	_ = os.Remove(good)
}

// TestLayerListOnFashion: a layer list trains on the 28x28 IDX images,
// whose pixels come in [0, 1] (no standardisation is recorded), and
// predict -data fashion-mnist classifies their test images as the run's
// test figures counted them.
func TestLayerListOnFashion(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	model := filepath.Join(t.TempDir(), "m.safetensors")
	out, _ := mustTrain(t, "-data", "fashion-mnist", "-arch", "AvgPool2d(2) Flatten Linear(10)", "-epochs", "1", "-save", model, "-json")
	var r experiment.Result
	if err := json.Unmarshal([]byte(lastLine(out)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Batch != 64 || r.TestAcc == nil || *r.TestAcc < 0.7 {
		t.Errorf("batch %d, test accuracy %v; want the layer lists' preset 64 and >= 0.7", r.Batch, r.TestAcc)
	}
	out, _ = mustTrain(t, "predict", "-load", model, "-data", "fashion-mnist")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 10001 || rows[1][0] != "0" {
		t.Fatalf("predict: %d rows, %v", len(rows), err)
	}
	_, test, err := data.LoadMNIST("fashion-mnist", data.MNISTOptions{})
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i, row := range rows[1:] {
		if row[1] == classLabel(test, int(test.Y[i])) {
			right++
		}
	}
	if acc := float64(right) / float64(test.N); acc != *r.TestAcc {
		t.Errorf("predict is right on %v of the test images, training reported test accuracy %v", acc, *r.TestAcc)
	}
}
