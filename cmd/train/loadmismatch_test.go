package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTable writes a CSV file of rows rows, header first, each row made
// by row(i), and returns its path.
func writeTable(t *testing.T, dir, name, header string, rows int, row func(i int) string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := range rows {
		b.WriteString(row(i) + "\n")
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustFail runs the command in-process and fails the test unless it exits
// 1 with a message that holds every one of says.
func mustFail(t *testing.T, args []string, says ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	for _, s := range says {
		if code != 1 || !strings.Contains(errOut.String(), s) {
			t.Errorf("train %s: exit %d, %q; want 1 and %q", strings.Join(args, " "), code, errOut.String(), s)
			return
		}
	}
}

// TestLoadMismatchedData: -load with a data set that does not fit the
// checkpoint (fewer columns, or a regression checkpoint with more outputs
// than the data has targets) is refused with a message before the recorded
// standardisation is applied to it, rather than a panic.
func TestLoadMismatchedData(t *testing.T) {
	dir := t.TempDir()
	two := writeTable(t, dir, "two.csv", "x1,x2,label", 90, func(i int) string { return fmt.Sprintf("%d,%d,%c", i%7, i%5, 'a'+i%3) })
	one := writeTable(t, dir, "one.csv", "x1,label", 70, func(i int) string { return fmt.Sprintf("%d,%c", i%7, 'a'+i%3) })
	reg := writeTable(t, dir, "reg.csv", "x1,x2,score", 90, func(i int) string { return fmt.Sprintf("%d,%d,%g", i%7, i%5, float64(i)/3) })
	model := filepath.Join(dir, "m.safetensors")
	mustTrain(t, "-data", two, "-epochs", "1", "-save", model)
	mustFail(t, []string{"-load", model, "-data", one}, "columns", model)

	// Other classes: the figures would count rows of a class the model
	// does not know, or under the wrong name.
	xyz := writeTable(t, dir, "xyz.csv", "x1,x2,label", 90, func(i int) string { return fmt.Sprintf("%d,%d,%c", i%7, i%5, 'x'+i%3) })
	abcd := writeTable(t, dir, "abcd.csv", "x1,x2,label", 90, func(i int) string { return fmt.Sprintf("%d,%d,%c", i%7, i%5, 'a'+i%4) })
	mustFail(t, []string{"-load", model, "-data", xyz}, `["a" "b" "c"]`, `["x" "y" "z"]`, model)
	mustFail(t, []string{"-load", model, "-data", abcd}, `3 classes`, `4 classes`, model)
	mustTrain(t, "-load", model, "-data", two)

	// A classifier of three classes relabelled as a regression model of
	// three outputs: its tensors fit the architecture, not the data.
	crafted := filepath.Join(dir, "crafted.safetensors")
	rewriteMeta(t, model, crafted, func(meta map[string]string) {
		editJSON(t, meta, "fastnn.architecture", "task", "regression")
		editJSON(t, meta, "fastnn.architecture", "loss", "mse")
		editJSON(t, meta, "fastnn.architecture", "classes", 0)
		editJSON(t, meta, "fastnn.architecture", "class_names", nil)
		editJSON(t, meta, "fastnn.standardizer", "target_mean", []float64{1, 2, 3})
		editJSON(t, meta, "fastnn.standardizer", "target_std", []float64{1, 1, 1})
	})
	mustFail(t, []string{"-load", crafted, "-data", reg}, "3 outputs", crafted)
}

// TestPredictQuotesClassNames: predict writes a CSV that reads back, also
// when a class name holds the separator or a quote.
func TestPredictQuotesClassNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{`"Paris, FR"`, `"say ""hi"""`, "Lyon"}
	want := map[string]bool{"Paris, FR": true, `say "hi"`: true, "Lyon": true}
	table := writeTable(t, dir, "cities.csv", "x1,x2,city", 60, func(i int) string { return fmt.Sprintf("%d,%d,%s", i%3, i%5, names[i%3]) })
	model := filepath.Join(dir, "m.safetensors")
	mustTrain(t, "-data", table, "-epochs", "1", "-save", model)
	out, _ := mustTrain(t, "predict", "-load", model, "-data", table)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 61 {
		t.Fatalf("predict output: %d rows, %v:\n%s", len(rows), err, out)
	}
	for _, r := range rows[1:] {
		if !want[r[1]] {
			t.Fatalf("row %q: class %q is none of the training labels", r, r[1])
		}
	}
}
