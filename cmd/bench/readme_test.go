package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/internal/experiment"
)

// fakeTrain writes a stand-in for the train binary: it logs its folder
// and arguments to log, prints a progress line and then body as its last
// line, and exits with code.
func fakeTrain(t *testing.T, body string, code int) (bin, log string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in is a shell script")
	}
	dir := t.TempDir()
	bin, log = filepath.Join(dir, "train"), filepath.Join(dir, "log")
	script := "#!/bin/sh\necho \"$PWD $*\" >> '" + log + "'\necho 'epoch 1 ...'\necho '" + body + "'\necho 'oops' >&2\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func TestReadmeRows(t *testing.T) {
	hist := strings.TrimSuffix(strings.Repeat(`{"epoch":1},`, 22), ",")
	bin, log := fakeTrain(t, `{"test_acc":0.98,"test_samples":30,"epochs":200,"best_epoch":12,"seconds":0.034,"history":[`+hist+`]}`, 0)
	var out, errOut strings.Builder
	if code := run([]string{"readme", "-train", bin, "-python", "", "-only", "iris"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := out.String()
	wantLines(t, got, []string{
		"Machine: " + machine() + ".",
		"| -data | task | preset | test result | time |",
		"|---|---|---|---|---|",
		"| `iris` | 3 classes, 150 x 4 | 16 relu, adam 1e-2, batch 16, 100 epochs | accuracy 0.98 | 0.03 s |",
		"| project | command | result |",
		"| iris, the whole kit | `train -data iris -layers 32,16 -batchnorm -dropout 0.1 -opt adamw -wd 0.01 -sched plateau -clip 1 -patience 10 -epochs 200 -grad-flow -plots out -save iris.safetensors` | accuracy 0.98, stopped at epoch 22, best epoch 12 restored |",
	})
	if strings.Contains(got, "digits") {
		t.Errorf("-only iris ran other rows:\n%s", got)
	}
	// Each command ran with -json, in a scratch folder rather than here.
	logged, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	here, _ := os.Getwd()
	lines := strings.Split(strings.TrimSpace(string(logged)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d runs, want 2:\n%s", len(lines), logged)
	}
	for _, l := range lines {
		dir, args, _ := strings.Cut(l, " ")
		if dir == here || !strings.HasSuffix(args, " -json") || !strings.Contains(args, "-data iris") {
			t.Errorf("ran %q in %s", args, dir)
		}
	}
}

// TestReadmeL1Row: the -l1 row reads the weight counts from both runs'
// JSON, the second run with -l1.
func TestReadmeL1Row(t *testing.T) {
	bin, log := fakeTrain(t, `{"test_acc":0.985,"weights":1120,"small_weights":0.642}`, 0)
	var out, errOut strings.Builder
	if code := run([]string{"readme", "-train", bin, "-python", "", "-only", "L1"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	wantLines(t, out.String(), []string{"| L1, sparser weights | `train -data circles -layers 32,32 -opt sgd -lr 0.05 -epochs 30` and the same with `-l1 0.01` | " +
		"weights under 1e-3: 64.2% of 1120 without, 64.2% with; accuracy 0.985 and 0.985 |"})
	if logged, err := os.ReadFile(log); err != nil || !strings.Contains(string(logged), "-epochs 30 -l1 0.01 -json") {
		t.Errorf("runs %q (%v), want the second with -l1 0.01", logged, err)
	}
}

func TestReadmeFailures(t *testing.T) {
	for _, c := range []struct {
		body, want string
		code       int
	}{
		{`{"test_acc":0.9}`, "oops", 1},         // train failed: its stderr is shown
		{`not json`, "last line", 0},            // no JSON line
		{`{"seconds":1}`, "no test figures", 0}, // JSON without a result
	} {
		bin, _ := fakeTrain(t, c.body, c.code)
		var out, errOut strings.Builder
		if code := run([]string{"readme", "-train", bin, "-python", "", "-only", "xor"}, &out, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), c.want) || !strings.Contains(errOut.String(), "-data xor") {
			t.Errorf("%s: exit %d, stderr %q", c.body, code, errOut.String())
		}
	}
	var out, errOut strings.Builder
	if code := run([]string{"readme", "-train", filepath.Join(t.TempDir(), "none")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "make build") {
		t.Errorf("missing binary: exit %d, stderr %q", code, errOut.String())
	}
}

func TestReadmeFormats(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct{ got, want string }{
		{decimals(0.98, 3), "0.98"},
		{decimals(1, 3), "1.0"},
		{decimals(0.8666, 3), "0.867"},
		{seconds(0.0137), "0.01"},
		{seconds(0.3), "0.3"},
		{seconds(0.001), "<0.01"},
		{seconds(6.08), "6.1"},
		{seconds(57.4), "57"},
		{testFigures(&trainResult{Result: experiment.Result{TestR2: f(0.4412), TestMAE: f(48.93)}}, 2), "R^2 0.44, MAE 48.9"},
		{testFigures(&trainResult{Result: experiment.Result{TestR2: f(0.8871), TestMAE: f(2.1549)}}, 3), "R^2 0.887, MAE 2.15"},
		{testFigures(&trainResult{Result: experiment.Result{TestMAE: f(3)}}, 3), "R^2 undefined, MAE 3"},
		{testFigures(&trainResult{Result: experiment.Result{TestAcc: f(0.9777)}}, 3), "accuracy 0.978"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestReadmeTablesMatch: README.md's two training tables have exactly the
// rows that `bench readme` regenerates, with the same describing cells (the
// command cells included), so that a row added or changed in one place
// cannot be missed in the other.
func TestReadmeTablesMatch(t *testing.T) {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tables := map[string][][]string{}
	var current string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "| -data | task | preset | test result | time |" || line == "| project | command | result |":
			current = line
		case current != "" && strings.HasPrefix(line, "|---"):
		case current != "" && strings.HasPrefix(line, "| "):
			tables[current] = append(tables[current], strings.Split(strings.Trim(line, "| "), " | "))
		default:
			current = ""
		}
	}
	for head, rows := range map[string][]readmeRow{
		"| -data | task | preset | test result | time |": presetRows,
		"| project | command | result |":                 projectRows,
	} {
		readme := tables[head]
		if len(readme) != len(rows) {
			t.Errorf("%s: README has %d rows, bench readme %d", head, len(readme), len(rows))
			continue
		}
		for i, r := range rows {
			if n := len(r.cells); len(readme[i]) < n || !slices.Equal(readme[i][:n], r.cells) {
				t.Errorf("%s row %d: README %q, bench readme %q", head, i+1, readme[i], r.cells)
			}
		}
	}
}
