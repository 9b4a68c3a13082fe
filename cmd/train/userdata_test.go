package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/nn"
)

// TestUserTables trains from the command line on the kinds of table users
// bring (text labels, semicolons with decimal commas, an ID column, a text
// feature, missing cells), then predicts new rows of each, from a file and
// from standard input, and checks that the classes come out by name.
func TestUserTables(t *testing.T) {
	dir := t.TempDir()
	rows := "sepal_length,sepal_width,petal_length,petal_width\n5.0,3.4,1.5,0.2\n6.7,3.1,5.6,2.4\n"
	cases := []struct {
		file  string
		flags []string
		new   string // rows to predict, setosa then virginica
	}{
		{"iris_species.csv", nil, rows},
		{"iris_semicolon.csv", nil, "sepal_length;sepal_width;petal_length;petal_width\n5,0;3,4;1,5;0,2\n6,7;3,1;5,6;2,4\n"},
		{"iris_id.csv", []string{"-drop", "id"}, "id,sepal_length,sepal_width,petal_length,petal_width\nx1,5.0,3.4,1.5,0.2\nx2,6.7,3.1,5.6,2.4\n"},
		{"iris_categorical.csv", nil, "sepal_length,sepal_width,petal_size,garden\n5.0,3.4,small,kew\n6.7,3.1,large,wisley\n"},
		{"iris_missing.csv", []string{"-impute", "mean"}, "sepal_length,sepal_width,petal_length,petal_width\n5.0,3.4,1.5,\n6.7,NA,5.6,2.4\n"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			model := filepath.Join(dir, c.file+".safetensors")
			args := append([]string{"-data", filepath.Join("testdata", c.file), "-save", model, "-lr", "0.01", "-epochs", "60", "-json"}, c.flags...)
			r := result(t, trainOK(t, args...))
			if acc := r["test_acc"].(float64); acc < 0.8 {
				t.Errorf("test accuracy %.3f", acc)
			}
			for i, src := range []string{"file", "stdin"} {
				in := filepath.Join(dir, c.file+".new.csv")
				os.WriteFile(in, []byte(c.new), 0o644)
				data := in
				if i == 1 {
					stdin, data = strings.NewReader(c.new), "-"
				}
				code, out, stderr := train(t, "predict", "-load", model, "-data", data)
				if code != 0 {
					t.Fatalf("predict from %s: exit %d: %s", src, code, stderr)
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 3 || !strings.HasPrefix(lines[1], "0,setosa,") || !strings.HasPrefix(lines[2], "1,virginica,") {
					t.Errorf("predict from %s:\n%s", src, out)
				}
			}
		})
	}
	stdin = os.Stdin

	// A category the model never saw is refused by name, and so is a
	// missing cell for a model trained without -impute.
	model := filepath.Join(dir, "iris_categorical.csv.safetensors")
	stdin = strings.NewReader("sepal_length,sepal_width,petal_size,garden\n5.0,3.4,tiny,kew\n")
	code, _, stderr := train(t, "predict", "-load", model, "-data", "-")
	if code != 1 || !strings.Contains(stderr, `"tiny" was not seen in training`) || !strings.Contains(stderr, "petal_size") {
		t.Errorf("unseen category: exit %d, %q", code, stderr)
	}
	stdin = strings.NewReader("sepal_length,sepal_width,petal_size,garden\n,3.4,small,kew\n")
	code, _, stderr = train(t, "predict", "-load", model, "-data", "-")
	if code != 1 || !strings.Contains(stderr, "missing value") {
		t.Errorf("missing cell without -impute: exit %d, %q", code, stderr)
	}
	stdin = os.Stdin

	// Without -drop, an ID column of text is an error that suggests it;
	// without -impute, a missing cell is an error naming its place.
	ids := filepath.Join(dir, "ids.csv")
	os.WriteFile(ids, []byte(idTable()), 0o644)
	if code, _, stderr := train(t, "-data", ids); code != 1 || !strings.Contains(stderr, `-drop "name"`) {
		t.Errorf("text ID column: exit %d, %q", code, stderr)
	}
	if code, _, stderr := train(t, "-data", filepath.Join("testdata", "iris_missing.csv")); code != 1 || !strings.Contains(stderr, "missing value") || !strings.Contains(stderr, "line ") {
		t.Errorf("missing cells without -impute: exit %d, %q", code, stderr)
	}
	// -sep given wrongly names the separator.
	if code, _, stderr := train(t, "-data", filepath.Join("testdata", "iris_semicolon.csv"), "-sep", "comma"); code != 1 || !strings.Contains(stderr, "comma") || !strings.Contains(stderr, "-sep") {
		t.Errorf("wrong -sep: exit %d, %q", code, stderr)
	}
}

// idTable is a table whose first column names each row.
func idTable() string {
	var b strings.Builder
	b.WriteString("name,x,y\n")
	for i := range 50 {
		b.WriteString("row" + strings.Repeat("i", i) + ",1,0\n")
	}
	return b.String()
}

// TestSearchSavesBest: -search with -save and -plots trains the best trial
// again, saves and plots it, and says which trial it was; the saved model
// scores as the best trial did.
func TestSearchSavesBest(t *testing.T) {
	dir := t.TempDir()
	model, plots := filepath.Join(dir, "best.safetensors"), filepath.Join(dir, "plots")
	args := []string{"-data", "circles", "-layers", "8", "-search", "random", "-trials", "3", "-epochs", "8", "-threads", "1", "-seed", "4"}
	out := trainOK(t, append(args, "-save", model, "-plots", plots)...)
	var best string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  1  trial ") {
			best = strings.Fields(line)[2]
		}
	}
	if best == "" || !strings.Contains(out, "saved trial "+best+", the best, to "+model) || !strings.Contains(out, "best: trial "+best+",") {
		t.Fatalf("the output does not say which trial was saved:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(plots, "loss.png")); err != nil {
		t.Errorf("no loss plot: %v", err)
	}
	r := result(t, trainOK(t, append(args, "-json")...))
	loaded := result(t, trainOK(t, "-load", model, "-threads", "1", "-json"))
	if r["test_acc"] != loaded["test_acc"] || r["test_loss"] != loaded["test_loss"] {
		t.Errorf("the saved model scores %v/%v, the best trial %v/%v", loaded["test_acc"], loaded["test_loss"], r["test_acc"], r["test_loss"])
	}
	if code, _, stderr := train(t, append(args, "-resume", model)...); code != 2 || !strings.Contains(stderr, "-resume") {
		t.Errorf("-search -resume: exit %d, %q", code, stderr)
	}
}

// TestClassNamesInResults: a table's text labels name the classes in the
// summary's confusion table and in the JSON.
func TestClassNamesInResults(t *testing.T) {
	data := filepath.Join("testdata", "iris_species.csv")
	out := trainOK(t, "-data", data, "-lr", "0.01", "-epochs", "30")
	if !strings.Contains(out, "rows: true class, columns: predicted") || !strings.Contains(out, "\nvirginica ") ||
		!regexp.MustCompile(`setosa +versicolor +virginica\n`).MatchString(out) {
		t.Errorf("no confusion table by class name:\n%s", out)
	}
	r := result(t, trainOK(t, "-data", data, "-lr", "0.01", "-epochs", "30", "-json"))
	names, _ := r["class_names"].([]any)
	conf, _ := r["confusion"].([]any)
	total, trace := 0.0, 0.0
	for i, row := range conf {
		sum := 0.0
		for j, n := range row.([]any) {
			sum += n.(float64)
			if i == j {
				trace += n.(float64)
			}
		}
		if sum != 10 { // the stratified test split holds 10 of each species
			t.Errorf("row %d of the confusion matrix sums to %v, not the 10 true %v", i, sum, names[i])
		}
		total += sum
	}
	if trace/total != r["test_acc"] {
		t.Errorf("the confusion matrix gives accuracy %v, the run %v", trace/total, r["test_acc"])
	}
	if len(names) != 3 || names[2] != "virginica" || len(conf) != 3 || total != r["test_samples"] {
		t.Errorf("class_names %v, confusion %v for %v test samples", names, conf, r["test_samples"])
	}
}

// TestSmallThings: -h lists predict and says each default once; -load says
// it evaluated rather than "trained 0 epochs"; -resume names the field of
// the architecture that differs and refuses another -lr.
func TestSmallThings(t *testing.T) {
	code, _, help := train(t, "-h")
	if code != 0 || !strings.Contains(help, "train predict -load FILE -data FILE.csv|-") {
		t.Errorf("-h: exit %d, no predict:\n%s", code, help)
	}
	if strings.Contains(help, "preset) (default") || strings.Contains(help, "preset (default") {
		t.Errorf("-h says a default twice:\n%s", help)
	}
	if code, _, stderr := train(t, "-layers", "8,x"); code != 2 || !strings.Contains(stderr, "none") {
		t.Errorf("-layers 8,x: exit %d, %q", code, stderr)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	trainOK(t, "-data", "iris", "-epochs", "2", "-save", model)
	if out := trainOK(t, "-load", model); !strings.Contains(out, "evaluated "+model) || strings.Contains(out, "trained 0 epochs") {
		t.Errorf("-load says:\n%s", out)
	}
	code, _, stderr := train(t, "-data", "iris", "-epochs", "4", "-resume", model, "-layers", "8")
	if code != 1 || !strings.Contains(stderr, "hidden is [16] in the checkpoint, [8] with these flags") || strings.Contains(stderr, `"act"`) {
		t.Errorf("-resume with other layers: exit %d, %q", code, stderr)
	}
	code, _, stderr = train(t, "-data", "iris", "-epochs", "4", "-resume", model, "-lr", "0.5")
	if code != 1 || !strings.Contains(stderr, "-lr 0.01, not 0.5") {
		t.Errorf("-resume with another -lr: exit %d, %q", code, stderr)
	}
	trainOK(t, "-data", "iris", "-epochs", "4", "-resume", model, "-save", model)
}

// TestProgressDesc: the progress bar names the epoch its loss and rate
// come from, and shows none before the first epoch ends.
func TestProgressDesc(t *testing.T) {
	if got := progressDesc(1, 10, nn.EpochStats{}); got != "epoch 1/10" {
		t.Errorf("first epoch: %q", got)
	}
	acc := 0.9
	got := progressDesc(3, 10, nn.EpochStats{Epoch: 2, TrainLoss: 0.25, TrainAcc: &acc, SamplesPerSec: 1500})
	if got != "epoch 3/10 (epoch 2: loss 0.2500 acc 0.900, 1500 samples/s)" {
		t.Errorf("third epoch: %q", got)
	}
}
