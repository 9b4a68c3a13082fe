package main

import (
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"bytes"
	"encoding/json"
	"github.com/fastnn/fastnn/safetensors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// train runs the command in-process and returns its exit code, stdout and
// stderr.
func train(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// trainOK runs the command and returns its stdout; any exit but 0 ends the
// test.
func trainOK(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := train(t, args...)
	if code != 0 {
		t.Fatalf("train %v: exit %d: %s", args, code, stderr)
	}
	return stdout
}

// result decodes the JSON object on the last line of stdout.
func result(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var r map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, stdout)
	}
	return r
}

// TestDataSets checks the figures the README promises, one data set at a
// time, with the presets that `train -data NAME` uses.
func TestDataSets(t *testing.T) {
	cases := []struct {
		data   string
		metric string
		min    float64
	}{
		{"digits", "test_acc", 0.95},
		{"xor", "test_acc", 1},
		{"iris", "test_acc", 0.95},
		{"breast-cancer", "test_acc", 0.95},
		{"wine", "test_acc", 0.95},
		{"diabetes", "test_r2", 0.3},
		{"boston", "test_r2", 0.7},
		{"circles", "test_acc", 0.95},
		{"moons", "test_acc", 0.95},
		{"blobs", "test_acc", 0.95},
	}
	for _, c := range cases {
		t.Run(c.data, func(t *testing.T) {
			code, stdout, stderr := train(t, "-data", c.data, "-json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := result(t, stdout)
			for _, k := range []string{"backend", "data", "epochs", "params", "train_loss", "test_loss", "samples_per_sec", "seconds"} {
				if _, ok := r[k]; !ok {
					t.Errorf("JSON lacks %q", k)
				}
			}
			if c.metric == "test_r2" {
				for _, k := range []string{"test_mse", "test_mae"} {
					if _, ok := r[k]; !ok {
						t.Errorf("regression JSON lacks %q", k)
					}
				}
			}
			got, _ := r[c.metric].(float64)
			if got < c.min {
				t.Errorf("%s = %v, want >= %v", c.metric, got, c.min)
			}
			t.Logf("%s: %s %.4f in %.2fs", c.data, c.metric, got, r["seconds"])
		})
	}
}

// TestFashionMNIST is the real-data check: 784-256-10, Adam 1e-3, batch 128,
// two epochs reach 84% test accuracy (PyTorch reaches 85.3% here).
func TestFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping two epochs of Fashion-MNIST")
	}
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	code, stdout, stderr := train(t, "-data", "fashion-mnist", "-layers", "256", "-opt", "adam", "-lr", "0.001",
		"-batch", "128", "-seed", "1", "-epochs", "2", "-download=false", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := result(t, stdout)
	if acc := r["test_acc"].(float64); acc < 0.84 {
		t.Errorf("test_acc %v after 2 epochs, want >= 0.84", acc)
	}
	t.Logf("test_acc %.4f, %.0f samples/s on %s", r["test_acc"], r["samples_per_sec"], r["backend"])
}

func TestSameSeedSameLosses(t *testing.T) {
	args := []string{"-data", "iris", "-epochs", "5", "-json", "-threads", "2"}
	history := func(stdout string) string {
		t.Helper()
		h, ok := result(t, stdout)["history"].([]any)
		if !ok || len(h) != 5 {
			t.Fatalf("history is %v, want 5 epochs", result(t, stdout)["history"])
		}
		for _, e := range h { // seconds and samples/s differ run to run
			delete(e.(map[string]any), "seconds")
			delete(e.(map[string]any), "samples_per_sec")
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := history(trainOK(t, args...)), history(trainOK(t, args...)); a != b {
		t.Errorf("same seed, different histories:\n%s\n%s", a, b)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	ragged := filepath.Join(dir, "ragged.csv")
	os.WriteFile(ragged, []byte("a,b,y\n1,2,0\n3,1\n"), 0o644)
	text := filepath.Join(dir, "text.csv")
	os.WriteFile(text, []byte("a,b,y\n1,hello,0\n"), 0o644)
	constant := filepath.Join(dir, "constant.csv")
	os.WriteFile(constant, []byte("a,b,y\n1,2,3\n4,5,3\n6,7,3\n8,9,3\n1,1,3\n2,2,3\n"), 0o644)
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-layers", "-5"}, 2, "-layers"},
		{[]string{"-layers", "8,x"}, 2, "-layers"},
		{[]string{"-lr", "nan"}, 2, "-lr"},
		{[]string{"-lr", "-1"}, 2, "-lr"},
		{[]string{"-epochs", "-1"}, 2, "-epochs"},
		{[]string{"-loss", "mse"}, 1, "regression"},
		{[]string{"-data", filepath.Join(dir, "missing.csv")}, 1, "missing.csv"},
		{[]string{"-data", ragged}, 1, "ragged.csv"},
		{[]string{"-data", text}, 1, "text.csv"},
		{[]string{"-backend", "cuda"}, 1, "cuda"},
		{[]string{"-level", "avx9"}, 1, "level"},
		{[]string{"stray"}, 2, "unexpected argument"},
		{[]string{"-lr", "0"}, 2, "-lr"},
		{[]string{"-samples", "0", "-data", "circles"}, 2, "-samples"},
		{[]string{"-data", "iris", "-target", "0"}, 1, "-target"},
		{[]string{"-data", constant}, 1, "constant"},
		{[]string{"-nosuchflag"}, 2, "nosuchflag"},
	}
	for _, c := range cases {
		code, _, stderr := train(t, append(c.args, "-epochs", "1")...)
		if c.args[0] == "-epochs" {
			code, _, stderr = train(t, c.args...)
		}
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("train %v: exit %d, stderr %q; want exit %d and a message about %q", c.args, code, stderr, c.code, c.says)
		}
	}
}

// TestFlagErrors: every value a flag cannot take exits 2, as the README
// says, with a message that names the flag, before anything is loaded or
// trained. (Errors that only the data can show, such as -loss mse on a
// classification set, exit 1: see TestBadInput.)
func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		flag string
		args []string
	}{
		{"lr", []string{"-lr", "-1"}},
		{"lr", []string{"-lr", "0"}},
		{"lr", []string{"-lr", "nan"}},
		{"batch", []string{"-batch", "-5"}},
		{"threads", []string{"-threads", "-1"}},
		{"test", []string{"-test", "1.5"}},
		{"val", []string{"-val", "-0.5"}},
		{"test", []string{"-val", "0.6", "-test", "0.6"}},
		{"opt", []string{"-opt", "bogus"}},
		{"dropout", []string{"-dropout", "1"}},
		{"dropout", []string{"-dropout", "-0.1"}},
		{"plot-format", []string{"-plot-format", "jpg"}},
		{"epochs", []string{"-epochs", "0"}},
		{"act", []string{"-act", "swish"}},
		{"loss", []string{"-loss", "hinge"}},
		{"data", []string{"-data", "nope"}},
		{"backend", []string{"-backend", "tpu"}},
		{"wd", []string{"-wd", "-2"}},
		{"momentum", []string{"-momentum", "1"}},
		{"momentum", []string{"-momentum", "0.9", "-opt", "adam"}},
		{"clip", []string{"-clip", "-1"}},
		{"patience", []string{"-patience", "-1"}},
		{"sched", []string{"-sched", "sometimes"}},
		{"gamma", []string{"-sched", "step", "-gamma", "2"}},
		{"gamma", []string{"-gamma", "0.5"}}, // without -sched
		{"step-size", []string{"-sched", "step", "-step-size", "-1"}},
		{"warmup", []string{"-sched", "cosine", "-warmup", "-1"}},
		{"samples", []string{"-data", "circles", "-samples", "0"}},
		{"samples", []string{"-data", "circles", "-samples", "2000000000"}},
		{"noise", []string{"-data", "circles", "-noise", "inf"}},
		{"slope", []string{"-slope", "0"}},
		{"task", []string{"-task", "clustering", "-data", filepath.Join(dir, "x.csv")}},
		{"batchnorm", []string{"-batchnorm", "-batch", "1"}},
		{"layers", []string{"-layers", "8,x"}},
		{"trials", []string{"-search", "random", "-trials", "0"}},
		{"load", []string{"-load", filepath.Join(dir, "m.safetensors"), "-save", filepath.Join(dir, "n.safetensors")}},
		{"seed", []string{"-seed", "-1"}},
		{"nosuchflag", []string{"-nosuchflag"}},
		{"impute", []string{"-impute", "zero", "-data", filepath.Join(dir, "x.csv")}},
		{"noise", []string{"-data", "iris", "-noise", "0.3"}},
		{"drop", []string{"-data", "iris", "-drop", "0"}},
		{"impute", []string{"-impute", "mean"}},
		{"samples", []string{"-samples", "100"}},
		{"sep", []string{"-sep", "colon", "-data", filepath.Join(dir, "x.csv")}},
		{"drop", []string{"-drop", "id,,x", "-data", filepath.Join(dir, "x.csv")}},
	}
	for _, c := range cases {
		code, stdout, stderr := train(t, c.args...)
		if code != 2 || !strings.Contains(stderr, "-"+c.flag) {
			t.Errorf("train %v: exit %d, stderr %q; want exit 2 and a message naming -%s", c.args, code, stderr, c.flag)
		}
		if stdout != "" {
			t.Errorf("train %v printed %q before refusing its flags", c.args, stdout)
		}
	}
}

// TestXORSplits: the truth table trains and tests on its four points; a
// larger or noisy XOR set gets a real test split.
func TestXORSplits(t *testing.T) {
	for _, args := range [][]string{{"-data", "xor"}, {"-data", "xor", "-samples", "200", "-noise", "0.1", "-epochs", "50"}} {
		code, stdout, stderr := train(t, append(args, "-json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		r := result(t, stdout)
		t.Logf("%v: %v test samples, acc %v", args, r["test_samples"], r["test_acc"])
		if len(args) == 2 && r["test_samples"].(float64) != 4 {
			t.Errorf("truth table tested on %v samples", r["test_samples"])
		}
		if len(args) > 2 && r["test_samples"].(float64) != 40 {
			t.Errorf("200 points tested on %v samples, want 40", r["test_samples"])
		}
	}
}

func TestSearch(t *testing.T) {
	// The toolkit issue's command: -layers is held fixed, the rest searched.
	code, stdout, stderr := train(t, "-data", "circles", "-layers", "8", "-search", "random", "-trials", "4", "-epochs", "20", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := result(t, stdout)
	trials, _ := r["trials"].([]any)
	if len(trials) != 4 || r["test_acc"] == nil {
		t.Fatalf("want 4 ranked trials and the best run's test_acc: %v", r)
	}
	prev := -1.0
	for _, tr := range trials {
		if l := tr.(map[string]any)["layers"].([]any); len(l) != 1 || l[0] != 8.0 {
			t.Errorf("-layers 8 not held fixed: %v", l)
		}
		loss := tr.(map[string]any)["val_loss"].(float64)
		if loss < prev {
			t.Errorf("trials not ranked by val_loss: %v", trials)
		}
		prev = loss
	}
	// The same seed draws the same trials.
	again := trainOK(t, "-data", "circles", "-layers", "8", "-search", "random", "-trials", "4", "-epochs", "20", "-json")
	a, err := json.Marshal(trials)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(result(t, again)["trials"])
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("same seed, different search:\n%s\n%s", a, b)
	}
	if code, _, stderr := train(t, "-data", "circles", "-search", "sideways"); code != 2 || !strings.Contains(stderr, "-search") {
		t.Errorf("bad -search: exit %d, %q", code, stderr)
	}
}

func losses(t *testing.T, stdout string) []float64 {
	t.Helper()
	var out []float64
	for _, h := range result(t, stdout)["history"].([]any) {
		out = append(out, h.(map[string]any)["train_loss"].(float64))
	}
	return out
}

// TestResumeReproducesRun: 4 epochs, then resuming to 8, gives the same
// losses as 8 epochs in one go (weights, Adam moments and step, learning
// rate and the shuffling generator all come back).
func TestResumeReproducesRun(t *testing.T) {
	dir := t.TempDir()
	common := []string{"-data", "wine", "-layers", "16", "-seed", "3", "-json", "-threads", "2"}
	code, full, stderr := train(t, append(common, "-epochs", "8")...)
	if code != 0 {
		t.Fatal(stderr)
	}
	half := filepath.Join(dir, "half.safetensors")
	if code, _, stderr := train(t, append(common, "-epochs", "4", "-save", half)...); code != 0 {
		t.Fatal(stderr)
	}
	code, resumed, stderr := train(t, append(common, "-epochs", "8", "-resume", half)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	a, b := losses(t, full), losses(t, resumed)
	if len(a) != 8 || len(b) != 4 {
		t.Fatalf("histories of %d and %d epochs", len(a), len(b))
	}
	for i := range b {
		if a[4+i] != b[i] {
			t.Fatalf("epoch %d: uninterrupted loss %v, resumed %v", 5+i, a[4+i], b[i])
		}
	}
	if code, _, stderr := train(t, append(common, "-epochs", "8", "-resume", filepath.Join(dir, "none.safetensors"))...); code != 1 || !strings.Contains(stderr, "none.safetensors") {
		t.Errorf("resume from a missing file: exit %d, %q", code, stderr)
	}
	// With dropout and the plateau schedule, whose state the checkpoint
	// carries too.
	reg := append(slices.Clone(common), "-dropout", "0.3", "-sched", "plateau", "-gamma", "0.5")
	fullReg := trainOK(t, append(reg, "-epochs", "30")...)
	halfReg := filepath.Join(dir, "reg.safetensors")
	if code, _, stderr := train(t, append(reg, "-epochs", "15", "-save", halfReg)...); code != 0 {
		t.Fatal(stderr)
	}
	resumedReg := trainOK(t, append(reg, "-epochs", "30", "-resume", halfReg)...)
	a, b = losses(t, fullReg), losses(t, resumedReg)
	for i := range b {
		if a[15+i] != b[i] {
			t.Fatalf("dropout+plateau: epoch %d: uninterrupted loss %v, resumed %v", 16+i, a[15+i], b[i])
		}
	}
	// With early stopping: the resume file carries the best loss and state,
	// so the resumed run stops at the same epoch with the same best weights.
	pat := append(slices.Clone(common), "-patience", "3")
	fullPat := trainOK(t, append(pat, "-epochs", "300")...)
	a = losses(t, fullPat)
	k := len(a) - 2
	if k < 1 {
		t.Fatalf("the patience run stopped after %d epochs; the test needs more", len(a))
	}
	halfPat := filepath.Join(dir, "pat.safetensors")
	if code, _, stderr := train(t, append(pat, "-epochs", strconv.Itoa(k), "-save", halfPat)...); code != 0 {
		t.Fatal(stderr)
	}
	code, resumedPat, stderr := train(t, append(pat, "-epochs", "300", "-resume", halfPat)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	b = losses(t, resumedPat)
	if len(b) != len(a)-k || result(t, resumedPat)["best_epoch"] != result(t, fullPat)["best_epoch"] {
		t.Fatalf("patience: uninterrupted ran %d epochs (best %v), resumed after %d ran %d more (best %v)",
			len(a), result(t, fullPat)["best_epoch"], k, len(b), result(t, resumedPat)["best_epoch"])
	}
	for i := range b {
		if a[k+i] != b[i] {
			t.Fatalf("patience: epoch %d: uninterrupted loss %v, resumed %v", k+1+i, a[k+i], b[i])
		}
	}
	if code, _, stderr := train(t, append(common, "-epochs", "300", "-resume", halfPat)...); code != 1 || !strings.Contains(stderr, "-patience") {
		t.Errorf("resume without -patience of a run with it: exit %d, %q", code, stderr)
	}
	// Another architecture or optimizer is refused, not silently mixed in.
	if code, _, stderr := train(t, append(common, "-epochs", "8", "-act", "tanh", "-resume", half)...); code != 1 || !strings.Contains(stderr, "differs") {
		t.Errorf("resume with -act tanh: exit %d, %q", code, stderr)
	}
	if code, _, stderr := train(t, append(common, "-epochs", "8", "-opt", "adamw", "-resume", half)...); code != 1 || !strings.Contains(stderr, "-opt") {
		t.Errorf("resume with -opt adamw: exit %d, %q", code, stderr)
	}
	// A run that stopped early saves its best weights, which are not resumable.
	early := filepath.Join(dir, "early.safetensors")
	if code, _, stderr := train(t, append(common, "-epochs", "300", "-patience", "3", "-save", early)...); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := train(t, append(common, "-epochs", "400", "-patience", "3", "-resume", early)...); code != 1 || !strings.Contains(stderr, "stopped early") {
		t.Errorf("resume after early stopping: exit %d, %q", code, stderr)
	}
}

// TestSaveLoadPredict: the toolkit's full iris run (batch norm, dropout,
// AdamW, plateau schedule, clipping, early stopping, gradient flow, plots) saves a strict
// safetensors file with PyTorch's names and shapes; -load evaluates it to
// the same accuracy and `train predict` classifies a CSV.
func TestSaveLoadPredict(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "iris.safetensors")
	code, stdout, stderr := train(t, "-data", "iris", "-layers", "32,16", "-batchnorm", "-dropout", "0.1", "-opt", "adamw", "-wd", "0.01", "-sched", "plateau",
		"-clip", "1", "-patience", "10", "-epochs", "200", "-seed", "1", "-grad-flow", "-plots", filepath.Join(dir, "plots"),
		"-save", file, "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := result(t, stdout)
	if acc := r["test_acc"].(float64); acc < 0.9 {
		t.Errorf("test_acc %v, want >= 0.9", acc)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "plots", "*.png"))
	if len(pngs) < 2 {
		t.Errorf("plots: %v, want at least two PNGs", pngs)
	}
	f, err := safetensors.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := f.Get("0.weight")
	last, _ := f.Get("8.weight") // Linear, BatchNorm, ReLU, Dropout, Linear, ..., Linear
	if !slices.Equal(first.Shape, []int{32, 4}) || !slices.Equal(last.Shape, []int{3, 16}) {
		t.Errorf("first weight %v, last %v; want [32 4] and [3 16]", first.Shape, last.Shape)
	}
	if code, _, stderr := train(t, "-load", file, "-layers", "99"); code != 2 || !strings.Contains(stderr, "-layers") {
		t.Errorf("-load with -layers: exit %d, %q", code, stderr)
	}
	code, loaded, stderr := train(t, "-load", file, "-json")
	if code != 0 {
		t.Fatalf("-load: exit %d: %s", code, stderr)
	}
	if a, b := r["test_acc"], result(t, loaded)["test_acc"]; a != b {
		t.Errorf("-load gives test_acc %v, training gave %v", b, a)
	}
	csv := filepath.Join(dir, "flowers.csv")
	os.WriteFile(csv, []byte("petal_width_cm,sepal_length_cm,sepal_width_cm,petal_length_cm\n0.2,5.1,3.5,1.4\n2.3,6.9,3.1,5.4\n"), 0o644)
	code, pred, stderr := train(t, "predict", "-load", file, "-data", csv)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(pred), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "0,setosa,") || !strings.HasPrefix(lines[2], "1,virginica,") {
		t.Errorf("predictions:\n%s", pred)
	}
	// A corrupted checkpoint is an error that names the file.
	os.WriteFile(file, []byte("\xff\xff\xff\xff\xff\xff\xff\x7f{}"), 0o644)
	if code, _, stderr := train(t, "-load", file); code != 1 || !strings.Contains(stderr, "iris.safetensors") {
		t.Errorf("corrupt -load: exit %d, %q", code, stderr)
	}
}

// TestInterruptSaves runs the real binary, interrupts it mid-training with
// SIGINT, and checks that it exits 130 after writing a loadable checkpoint.
func TestInterruptSaves(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the build of the train binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "run.safetensors")
	cmd := exec.Command(bin, "-data", "digits", "-epochs", "100000", "-save", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for { // the first epoch's checkpoint shows that training is under way
		if _, err := os.Stat(file); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.Contains(stderr.String(), "state saved") {
		t.Fatalf("after SIGINT: %v, stderr %q; want exit 130 and the state saved", err, stderr.String())
	}
	if code, _, stderr := train(t, "-load", file, "-json"); code != 0 {
		t.Fatalf("the interrupted run's checkpoint does not load: %s", stderr)
	}
}
