package data

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadCSVClassification(t *testing.T) {
	in := "x1, x2 ,y\n0.5,1,0\n-2,3e2,2\n\n4,5,1\n"
	d, err := ReadCSV(strings.NewReader(in), "toy.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 3 || d.Features != 2 || d.Targets != 1 || d.Classes != 3 || d.Task != Classification {
		t.Fatalf("shape %d x %d, %d classes, task %v", d.N, d.Features, d.Classes, d.Task)
	}
	if !slices.Equal(d.X, []float32{0.5, 1, -2, 300, 4, 5}) || !slices.Equal(d.Y, []float32{0, 2, 1}) {
		t.Fatalf("X %v Y %v", d.X, d.Y)
	}
	if !slices.Equal(d.FeatureNames, []string{"x1", "x2"}) {
		t.Errorf("feature names %q", d.FeatureNames)
	}
	if d.ClassNames != nil {
		t.Errorf("labels 0..2 were remapped: %v", d.ClassNames)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestReadCSVRemapTargetAndDrop(t *testing.T) {
	d, err := ReadCSVFile(filepath.Join("testdata", "people.csv"), CSVOptions{Target: "label", Drop: []string{"colour_code"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "people" || d.N != 4 || d.Features != 2 || d.Classes != 2 {
		t.Fatalf("%s: %d x %d, %d classes", d.Name, d.N, d.Features, d.Classes)
	}
	// -1 and 1 are remapped, in increasing order, to 0 and 1.
	if !slices.Equal(d.Y, []float32{0, 1, 1, 0}) || !slices.Equal(d.ClassNames, []string{"-1", "1"}) {
		t.Fatalf("Y %v, class names %v", d.Y, d.ClassNames)
	}
	if !slices.Equal(d.FeatureNames, []string{"height", "weight"}) {
		t.Errorf("feature names %q", d.FeatureNames)
	}

	// The same table gzip-compressed, with the target given by index and
	// read as regression.
	z, err := ReadCSVFile(filepath.Join("testdata", "people.csv.gz"), CSVOptions{Target: "1", Task: Regression})
	if err != nil {
		t.Fatal(err)
	}
	if z.Name != "people" || z.Task != Regression || z.Classes != 0 || z.Features != 3 ||
		!slices.Equal(z.Y, []float32{50, 70, 65, 80}) {
		t.Fatalf("%s: task %v, %d features, Y %v", z.Name, z.Task, z.Features, z.Y)
	}
}

func TestReadCSVTaskAuto(t *testing.T) {
	classes := "a,y\n1,3\n2,7\n3,3\n"
	d, err := ReadCSV(strings.NewReader(classes), "c", CSVOptions{Task: TaskAuto})
	if err != nil || d.Task != Classification || d.Classes != 2 {
		t.Fatalf("integer target: %v, %+v", err, d)
	}
	real := "a,y\n1,3.5\n2,7\n"
	d, err = ReadCSV(strings.NewReader(real), "r", CSVOptions{Task: TaskAuto})
	if err != nil || d.Task != Regression {
		t.Fatalf("real target: %v, %+v", err, d)
	}
	var many strings.Builder
	many.WriteString("a,y\n")
	for i := range AutoMaxClasses + 1 {
		many.WriteString("1,")
		many.WriteString(string(rune('0'+i/10)) + string(rune('0'+i%10)))
		many.WriteString("\n")
	}
	d, err = ReadCSV(strings.NewReader(many.String()), "m", CSVOptions{Task: TaskAuto})
	if err != nil || d.Task != Regression {
		t.Fatalf("%d distinct integers: %v, task %v", AutoMaxClasses+1, err, d.Task)
	}
}

func TestReadCSVRejects(t *testing.T) {
	junk := make([]byte, 256)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range junk {
		junk[i] = byte(r.UintN(256))
	}
	junk[0], junk[1] = 0x7f, 'E' // not the gzip signature

	cases := []struct {
		name, input string
		opt         CSVOptions
		want        []string
	}{
		{"empty", "", CSVOptions{}, []string{"empty input"}},
		{"header only", "a,b,y\n", CSVOptions{}, []string{"no data rows"}},
		{"no header", "1,2,0\n3,4,1\n", CSVOptions{}, []string{"line 1", "header"}},
		{"ragged short", "a,b,y\n1,2,0\n3,4\n", CSVOptions{}, []string{"line 3", "2 fields", "header has 3"}},
		{"ragged long", "a,b,y\n1,2,0,9\n", CSVOptions{}, []string{"line 2", "4 fields"}},
		{"text regression target", "a,b,y\n1,2,0\n3,4,x\n", CSVOptions{Task: Regression}, []string{"line 3, column 3", `"y"`, `"x"`, "regression"}},
		{"empty cell", "a,b,y\n1,,0\n", CSVOptions{}, []string{"line 2, column 2", "missing value", "impute"}},
		{"NA cell", "a,b,y\n1,NA,0\n", CSVOptions{}, []string{"line 2, column 2", "missing value"}},
		{"missing target", "a,b,y\n1,2,\n", CSVOptions{Missing: MissingKeep}, []string{"line 2, column 3", "missing target"}},
		{"NaN", "a,b,y\n1,NaN,0\n", CSVOptions{}, []string{"line 2, column 2", "non-finite"}},
		{"Inf", "a,b,y\n-Inf,1,0\n", CSVOptions{}, []string{"line 2, column 1", "non-finite"}},
		{"float32 overflow", "a,b,y\n1e39,1,0\n", CSVOptions{}, []string{"line 2, column 1", "float32"}},
		{"fractional label", "a,b,y\n1,2,0.5\n", CSVOptions{}, []string{"line 2, column 3", "not an integer"}},
		{"bad quote", "a,b,y\n1,\"2,0\n", CSVOptions{}, []string{"line 2"}},
		{"unknown target", "a,b,y\n1,2,0\n", CSVOptions{Target: "z"}, []string{`no column named "z"`}},
		{"target index", "a,b,y\n1,2,0\n", CSVOptions{Target: "3"}, []string{"index 3 out of range"}},
		{"unknown drop", "a,b,y\n1,2,0\n", CSVOptions{Drop: []string{"c"}}, []string{`"c" to drop`}},
		{"drop target", "a,b,y\n1,2,0\n", CSVOptions{Drop: []string{"y"}}, []string{"is the target"}},
		{"drop all", "a,y\n1,0\n", CSVOptions{Drop: []string{"a"}}, []string{"no feature columns"}},
		{"duplicate name", "a,a,y\n1,2,0\n", CSVOptions{}, []string{`"a" appears twice`}},
		{"repeated blank names", "a,,,y\n1,2,3,0\n", CSVOptions{}, []string{"columns 2 and 3", `named ""`}},
		{"blank feature, blank target", "a,,\n1,2,0\n", CSVOptions{}, []string{"columns 2 and 3", `named ""`}},
		{"bad task", "a,y\n1,0\n", CSVOptions{Task: Task(9)}, []string{"unknown task"}},
		{"binary junk", string(junk), CSVOptions{}, nil},
		{"NUL bytes", "a\x00b,y\n1,0\n", CSVOptions{}, []string{"not text"}},
		{"bad gzip", "\x1f\x8bnot gzip", CSVOptions{}, []string{"gzip"}},
	}
	for _, c := range cases {
		_, err := ReadCSV(strings.NewReader(c.input), "in.csv", c.opt)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "in.csv: ") {
			t.Errorf("%s: error %q does not start with the file name", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not mention %q", c.name, msg, w)
			}
		}
	}
}

// TestReadFeaturesRepeatedNames: prediction refuses a model whose columns
// repeat a name, and a header that names a model's column twice (blank
// names may repeat in a header), rather than read the first such column.
func TestReadFeaturesRepeatedNames(t *testing.T) {
	cases := []struct {
		name, input string
		columns     []string
		want        string
	}{
		{"model repeats a name", "a,b,c\n1,2,3\n", []string{"a", "", ""}, "columns 2 and 3"},
		{"header repeats a blank name", "a,,\n1,2,3\n", []string{"a", ""}, "more than one column"},
	}
	for _, c := range cases {
		_, _, err := ReadFeatures(strings.NewReader(c.input), "in.csv", Encoding{Columns: c.columns}, FeatureOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one that says %q", c.name, err, c.want)
		}
	}
	// A blank name that the model does not use may repeat.
	if _, n, err := ReadFeatures(strings.NewReader("a,,\n1,2,3\n"), "in.csv", Encoding{Columns: []string{"a"}}, FeatureOptions{}); err != nil || n != 1 {
		t.Errorf("unused repeated blank names: %d rows, %v", n, err)
	}
}

func TestReadCSVFileErrorsNameTheFile(t *testing.T) {
	path := filepath.Join("testdata", "text_cell.csv")
	_, err := ReadCSVFile(path, CSVOptions{Target: "b", Task: Regression})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 3, column 2") {
		t.Fatalf("error %v, want one naming %s and line 3, column 2", err, path)
	}
	missing := filepath.Join("testdata", "missing.csv")
	if _, err := ReadCSVFile(missing, CSVOptions{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v, want one naming %s", err, missing)
	}
}

func TestReadCSVByteOrderMarkAndQuotes(t *testing.T) {
	in := "\uFEFF\"first, name\",y\r\n\"1.25\",1\r\n2,0\r\n"
	d, err := ReadCSV(bytes.NewReader([]byte(in)), "bom.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.FeatureNames[0] != "first, name" || d.X[0] != 1.25 || math.Abs(float64(d.X[1]-2)) != 0 {
		t.Fatalf("names %q, X %v", d.FeatureNames, d.X)
	}
}
