package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/internal/experiment"
	"github.com/fastnn/fastnn/nn"
	"github.com/fastnn/fastnn/safetensors"
)

// mustTrain runs the command in-process and fails the test unless it exits 0.
func mustTrain(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("train %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String(), errOut.String()
}

// describe is the test figures of a run's result, every digit.
func describe(r experiment.Result) string {
	s := fmt.Sprintf("seed %d, %d samples, loss %v", r.Seed, r.TestSamples, r.TestLoss)
	for _, p := range []struct {
		name string
		v    *float64
	}{{"acc", r.TestAcc}, {"mse", r.TestMSE}, {"mae", r.TestMAE}, {"r2", r.TestR2}} {
		if p.v != nil {
			s += fmt.Sprintf(", %s %v", p.name, *p.v)
		}
	}
	return s
}

// figures decodes the JSON line that ends stdout and describes its test figures.
func figures(t *testing.T, stdout string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var r experiment.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, stdout)
	}
	return describe(r)
}

// testLine is the "test: ..." line a run prints at its end.
func testLine(t *testing.T, stdout string) string {
	t.Helper()
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "test: ") {
			return l
		}
	}
	t.Fatalf("no test line in\n%s", stdout)
	return ""
}

// TestLoadReproducesTestFigures: -load scores the training run's own test
// rows with its standardisation, so it prints exactly the test figures the
// run printed at its end, for any seed (0 included), split, data source
// and task.
func TestLoadReproducesTestFigures(t *testing.T) {
	dir := t.TempDir()
	var cls, reg strings.Builder
	cls.WriteString("a,b,c,label\n")
	reg.WriteString("x1,x2,score\n")
	for i := range 150 {
		a, b, c := float64(i%13)*0.7, float64(i%7)*1.3+5, float64(i%5)*40-80
		label := 0
		if s := a + b/3 + c/60; s > 6 {
			label = 2
		} else if s > 4 {
			label = 1
		}
		fmt.Fprintf(&cls, "%g,%g,%g,%d\n", a, b, c, label)
		fmt.Fprintf(&reg, "%g,%g,%d\n", a, b, (i*7)%10) // integer targets: regression only with -task
	}
	clsCSV, regCSV := filepath.Join(dir, "cls.csv"), filepath.Join(dir, "reg.csv")
	if err := os.WriteFile(clsCSV, []byte(cls.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(regCSV, []byte(reg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"iris seed 0", []string{"-data", "iris", "-seed", "0", "-epochs", "5"}},
		{"iris no val", []string{"-data", "iris", "-seed", "7", "-val", "0", "-test", "0.3", "-epochs", "5"}},
		{"wine batchnorm dropout", []string{"-data", "wine", "-seed", "0", "-val", "0.25", "-test", "0.25", "-batchnorm", "-dropout", "0.2", "-epochs", "5"}},
		{"iris early stopping", []string{"-data", "iris", "-seed", "0", "-patience", "2", "-epochs", "40", "-lr", "0.1"}},
		{"diabetes seed 0", []string{"-data", "diabetes", "-seed", "0", "-val", "0", "-test", "0.3", "-epochs", "3"}},
		{"boston", []string{"-data", "boston", "-seed", "3", "-test", "0.15", "-epochs", "3"}},
		{"moons samples noise", []string{"-data", "moons", "-seed", "0", "-samples", "300", "-noise", "0.3", "-epochs", "3"}},
		{"xor truth table", []string{"-data", "xor", "-seed", "0", "-epochs", "5"}},
		{"csv classification", []string{"-data", clsCSV, "-seed", "0", "-val", "0.1", "-test", "0.3", "-epochs", "5"}},
		{"64 hidden layers", []string{"-data", "iris", "-seed", "0", "-layers", strings.Repeat("3,", 63) + "3", "-epochs", "2"}},
		{"csv regression task", []string{"-data", regCSV, "-task", "regression", "-seed", "2", "-val", "0.2", "-test", "0.25", "-epochs", "5"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i))
			out, _ := mustTrain(t, append(c.args, "-save", file, "-json")...)
			trained := figures(t, out)
			out, _ = mustTrain(t, "-load", file, "-json")
			if loaded := figures(t, out); loaded != trained {
				t.Errorf("-load figures differ from the training run's:\n  trained: %v\n  loaded:  %v", trained, loaded)
			}
			// The printed line too, from a second, identical training run.
			text := filepath.Join(dir, fmt.Sprintf("t%d.safetensors", i))
			out, _ = mustTrain(t, append(c.args, "-save", text)...)
			want := testLine(t, out)
			out, stderr := mustTrain(t, "-load", text)
			if got := testLine(t, out); got != want {
				t.Errorf("-load prints %q, training printed %q", got, want)
			}
			if stderr := withoutFallbackNote(stderr); stderr != "" {
				t.Errorf("-load warns: %s", stderr)
			}
		})
	}
}

// rewriteMeta rewrites a checkpoint with edit applied to its metadata and
// a checksum that matches, as someone crafting a file would.
func rewriteMeta(t *testing.T, from, to string, edit func(meta map[string]string)) {
	t.Helper()
	f, err := nn.ReadChecked(from)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Metadata)
	if err := nn.WriteChecked(to, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

// editJSON changes one field of a JSON object held in a metadata entry.
func editJSON(t *testing.T, meta map[string]string, key, field string, value any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(meta[key]), &m); err != nil {
		t.Fatal(err)
	}
	m[field] = value
	b, _ := json.Marshal(m)
	meta[key] = string(b)
}

// TestLoadUsesStoredStandardization: -load applies the standardisation in
// the checkpoint, not one fitted again: shifting the stored means changes
// the figures.
func TestLoadUsesStoredStandardization(t *testing.T) {
	dir := t.TempDir()
	file, shifted := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "shifted.safetensors")
	out, _ := mustTrain(t, "-data", "iris", "-epochs", "5", "-save", file, "-json")
	trained := figures(t, out)
	rewriteMeta(t, file, shifted, func(meta map[string]string) {
		editJSON(t, meta, "fastnn.standardizer", "feature_mean", []float64{6.8, 4, 4.7, 2.2}) // iris's means plus one
	})
	out, _ = mustTrain(t, "-load", shifted, "-json")
	if loaded := figures(t, out); loaded == trained {
		t.Errorf("shifting the stored feature means left the figures unchanged (%v): the standardisation was fitted again", loaded)
	}
}

// TestHostileCheckpoint: a checkpoint whose metadata claims another
// architecture than its tensors, or fields out of bounds, is refused with
// a message before the model is allocated, by -load and by predict, even
// with a checksum that matches. A metadata change without a new checksum
// is caught by the checksum.
func TestHostileCheckpoint(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	mustTrain(t, "-data", "iris", "-epochs", "2", "-save", good)
	arch := "fastnn.architecture"
	deep := make([]int, nn.MaxHidden+1)
	for i := range deep {
		deep[i] = 16
	}
	cases := []struct {
		name  string
		field string
		value any
		says  string
	}{
		{"outputs 2e9", "outputs", 2_000_000_000, "output sizes in 1.."},
		{"a layer more than the tensors", "hidden", []int{16, 16}, "do not belong together"},
		{"wider hidden layer", "hidden", []int{4096}, "do not belong together"},
		{"hidden too wide", "hidden", []int{nn.MaxWidth + 1}, "out of range"},
		{"too deep", "hidden", deep, "hidden layers: at most"},
		{"negative features", "features", -4, "input and output sizes"},
		{"dropout 1", "dropout", 1, "dropout"},
		{"unknown activation", "act", "swish", "-act"},
		{"one class", "classes", 1, "classes"},
		{"unknown task", "task", "ranking", "task"},
		{"regression loss", "loss", "mse", "loss mse"},
		{"class names", "class_names", []string{"a"}, "class names"},
		{"columns", "columns", []string{"a", "b"}, "column names"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := filepath.Join(dir, fmt.Sprintf("bad%d.safetensors", i))
			rewriteMeta(t, good, bad, func(meta map[string]string) { editJSON(t, meta, arch, c.field, c.value) })
			for _, args := range [][]string{{"-load", bad}, {"predict", "-load", bad, "-data", "iris"}} {
				var out, errOut bytes.Buffer
				code := run(args, &out, &errOut)
				if msg := errOut.String(); code != 1 || !strings.Contains(msg, c.says) || !strings.Contains(msg, bad) {
					t.Errorf("%s: exit %d, %q; want 1 and a message naming the file and %q", args[0], code, msg, c.says)
				}
			}
		})
	}
	t.Run("standardisation", func(t *testing.T) {
		for i, v := range []any{[]float64{1, 1, 1}, []string{"NaN", "1", "1", "1"}, []float64{1, 0, 1, 1}} {
			bad := filepath.Join(dir, fmt.Sprintf("std%d.safetensors", i))
			rewriteMeta(t, good, bad, func(meta map[string]string) { editJSON(t, meta, "fastnn.standardizer", "feature_std", v) })
			var out, errOut bytes.Buffer
			if code := run([]string{"-load", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "standardi") {
				t.Errorf("feature_std %v: exit %d, %q", v, code, errOut.String())
			}
		}
	})
	t.Run("metadata changed, checksum not", func(t *testing.T) {
		f, err := nn.ReadChecked(good)
		if err != nil {
			t.Fatal(err)
		}
		editJSON(t, f.Metadata, arch, "act", "tanh")
		bad := filepath.Join(dir, "unsummed.safetensors")
		if err := safetensors.WriteFile(bad, f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if code := run([]string{"-load", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "checksum mismatch") {
			t.Errorf("exit %d, %q; want 1 and a checksum mismatch", code, errOut.String())
		}
	})
}

// TestDepthLimit: one limit on hidden layers for training and loading.
// Training refuses one layer more than -load accepts, before any epoch;
// the deepest model that trains also loads (TestLoadReproducesTestFigures).
func TestDepthLimit(t *testing.T) {
	var out, errOut bytes.Buffer
	layers := strings.Repeat("3,", nn.MaxHidden) + "3"
	code := run([]string{"-data", "iris", "-layers", layers, "-epochs", "1"}, &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), fmt.Sprintf("at most %d", nn.MaxHidden)) || strings.Contains(out.String(), "epoch") {
		t.Errorf("%d hidden layers: exit %d, stdout %q, stderr %q; want a refusal before training", nn.MaxHidden+1, code, out.String(), errOut.String())
	}
}

// TestLoadRefusesSplitFlags: the split comes from the checkpoint; flags
// that would change it are refused rather than silently overridden.
func TestLoadRefusesSplitFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "m.safetensors")
	mustTrain(t, "-data", "moons", "-epochs", "1", "-save", file)
	for _, flag := range [][]string{{"-samples", "50"}, {"-noise", "0.5"}, {"-target", "y"}, {"-task", "regression"}, {"-seed", "0"}, {"-test", "0.5"}} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"-load", file}, flag...), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), flag[0]) {
			t.Errorf("-load with %v: exit %d, %q; want 2 and a message naming the flag", flag, code, errOut.String())
		}
	}
}

// withoutFallbackNote drops the line a -tags cuda build prints when it
// falls back to the CPU on a machine whose driver finds no GPU: that note
// is about the machine, not about the checkpoint.
func withoutFallbackNote(stderr string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line != "" && !strings.Contains(line, "backend cuda unavailable") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
