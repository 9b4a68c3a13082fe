package data

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestReadCSVTextLabels(t *testing.T) {
	in := "a,b,species\n1,2,virginica\n3,4,setosa\n5,6,virginica\n7,8,versicolor\n"
	d, err := ReadCSV(strings.NewReader(in), "iris", CSVOptions{Task: TaskAuto})
	if err != nil {
		t.Fatal(err)
	}
	if d.Task != Classification || d.Classes != 3 || !slices.Equal(d.ClassNames, []string{"setosa", "versicolor", "virginica"}) {
		t.Fatalf("task %v, %d classes %q", d.Task, d.Classes, d.ClassNames)
	}
	if !slices.Equal(d.Y, []float32{2, 0, 2, 1}) {
		t.Fatalf("Y %v", d.Y)
	}
	// Numbers before the first text label become text labels too.
	d, err = ReadCSV(strings.NewReader("a,y\n1,2\n2,cat\n3,2\n"), "mixed", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.ClassNames, []string{"2", "cat"}) || !slices.Equal(d.Y, []float32{0, 1, 0}) {
		t.Fatalf("class names %q, Y %v", d.ClassNames, d.Y)
	}
	// A number after the first text label is named as those before it:
	// 1.0 and 1 are one class wherever they come.
	d, err = ReadCSV(strings.NewReader("a,y\n1,1.0\n2,a\n3,1.0\n4,1\n5,2.50\n"), "mixed", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.ClassNames, []string{"1", "2.5", "a"}) {
		t.Fatalf("class names %q, want 1, 2.5 and a", d.ClassNames)
	}
}

func TestReadCSVSeparators(t *testing.T) {
	for _, c := range []struct {
		name, in string
		comma    rune
	}{
		{"semicolon", "a;b;y\n1,5;2;0\n3;4;1\n", 0},
		{"tab", "a\tb\ty\n1.5\t2\t0\n3\t4\t1\n", 0},
		{"comma in quotes", "\"a;x\",b,y\n1.5,2,0\n3,4,1\n", 0},
		{"given", "a|b|y\n1.5|2|0\n3|4|1\n", '|'},
	} {
		// A semicolon table's 1,5 is a decimal comma.
		d, err := ReadCSV(strings.NewReader(c.in), c.name, CSVOptions{Comma: c.comma})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if d.Features != 2 || d.N != 2 || d.X[0] != 1.5 {
			t.Errorf("%s: %d x %d, X %v", c.name, d.N, d.Features, d.X)
		}
	}
	// A wrong separator is named in the error.
	_, err := ReadCSV(strings.NewReader("a;b;y\n1;2;0\n"), "semi", CSVOptions{Comma: ','})
	if err == nil || !strings.Contains(err.Error(), "comma") || !strings.Contains(err.Error(), "-sep") {
		t.Errorf("wrong separator: error %v, want one naming the comma and -sep", err)
	}
	_, err = ReadCSV(strings.NewReader("a,b,y\n1,2,0\n1;2;0\n"), "ragged", CSVOptions{})
	if err == nil || !strings.Contains(err.Error(), "separated by comma") {
		t.Errorf("ragged: error %v, want one naming the separator", err)
	}
}

func TestReadCSVDropByNameOrIndex(t *testing.T) {
	in := "id,x,note,y\n17,1,hello,0\n18,2,bye,1\n"
	d, err := ReadCSV(strings.NewReader(in), "ids", CSVOptions{Drop: []string{"id", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.FeatureNames, []string{"x"}) || !slices.Equal(d.X, []float32{1, 2}) {
		t.Fatalf("features %q, X %v", d.FeatureNames, d.X)
	}
	if _, err := ReadCSV(strings.NewReader(in), "ids", CSVOptions{Drop: []string{"9"}}); err == nil || !strings.Contains(err.Error(), `"9" to drop`) {
		t.Errorf("drop of a column out of range: error %v", err)
	}
}

func TestReadCSVCategories(t *testing.T) {
	in := "size,colour,y\n1,red,0\n2,blue,1\n3,red,0\n4,green,1\n"
	d, err := ReadCSV(strings.NewReader(in), "cat", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"size", "colour=blue", "colour=green", "colour=red"}
	if !slices.Equal(d.FeatureNames, want) || d.Features != 4 {
		t.Fatalf("features %q", d.FeatureNames)
	}
	if !slices.Equal(d.X[:8], []float32{1, 0, 0, 1, 2, 1, 0, 0}) {
		t.Fatalf("X %v", d.X)
	}
	if d.Encoding == nil || !slices.Equal(d.Encoding.Categories["colour"], []string{"blue", "green", "red"}) {
		t.Fatalf("encoding %+v", d.Encoding)
	}
	// New rows encode the same way; an unseen category is refused by name.
	x, n, err := ReadFeatures(strings.NewReader("colour,size\ngreen,7\n"), "new", *d.Encoding, FeatureOptions{})
	if err != nil || n != 1 || !slices.Equal(x, []float32{7, 0, 1, 0}) {
		t.Fatalf("ReadFeatures: %v, %d rows, %v", err, n, x)
	}
	_, _, err = ReadFeatures(strings.NewReader("colour,size\npurple,7\n"), "new", *d.Encoding, FeatureOptions{})
	if err == nil || !strings.Contains(err.Error(), `"purple" was not seen in training`) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("unseen category: error %v", err)
	}

	// More than MaxCategories values: an ID column, named with -drop.
	var b strings.Builder
	b.WriteString("name,x,y\n")
	for i := range MaxCategories + 1 {
		b.WriteString("p" + strings.Repeat("x", i) + ",1,0\n")
	}
	_, err = ReadCSV(strings.NewReader(b.String()), "ids", CSVOptions{})
	if err == nil || !strings.Contains(err.Error(), `-drop "name"`) || !strings.Contains(err.Error(), "column 1") {
		t.Errorf("too many categories: error %v", err)
	}
	// A numeric column with one typo among many values is not a category.
	b.Reset()
	b.WriteString("a,y\n")
	for i := range 40 {
		b.WriteString(strconv.Itoa(i) + ",0\n")
	}
	b.WriteString("1.2.3,1\n")
	if _, err = ReadCSV(strings.NewReader(b.String()), "typo", CSVOptions{}); err == nil || !strings.Contains(err.Error(), `"1.2.3"`) {
		t.Errorf("typo: error %v", err)
	}
	// Latin-1 text is named as such.
	_, err = ReadCSV(strings.NewReader("town,y\nK\xf6ln,0\nBonn,1\n"), "de", CSVOptions{})
	if err == nil || !strings.Contains(err.Error(), "Latin-1") {
		t.Errorf("Latin-1 cell: error %v", err)
	}
}

func TestReadCSVMissing(t *testing.T) {
	in := "a,c,y\n1,red,0\n,blue,1\nNA,?,0\n4,red,\n"
	if _, err := ReadCSV(strings.NewReader(in), "m", CSVOptions{}); err == nil || !strings.Contains(err.Error(), "line 3, column 1") {
		t.Errorf("default: error %v, want line 3, column 1", err)
	}
	d, err := ReadCSV(strings.NewReader(in), "m", CSVOptions{Missing: MissingDropRow})
	if err != nil || d.N != 1 || !slices.Equal(d.X, []float32{1, 1}) {
		t.Fatalf("drop-row: %v, %+v", err, d)
	}
	d, err = ReadCSV(strings.NewReader(in[:len(in)-len("4,red,\n")]), "m", CSVOptions{Missing: MissingKeep})
	if err != nil || d.N != 3 || d.Features != 3 {
		t.Fatalf("keep: %v, %+v", err, d)
	}
	if !math.IsNaN(float64(d.X[3])) || !math.IsNaN(float64(d.X[7])) || !math.IsNaN(float64(d.X[8])) || d.X[4] != 1 {
		t.Fatalf("keep: X %v", d.X)
	}
	im := FitImputer(d.X, d.N, d.Features, false)
	if !slices.Equal(im.Values, []float32{1, 0.5, 0.5}) {
		t.Fatalf("mean imputation %v", im.Values)
	}
	if n := im.Apply(d.X, d.N); n != 4 || d.X[3] != 1 || d.X[6] != 1 || d.X[8] != 0.5 {
		t.Fatalf("imputed %d: %v", n, d.X)
	}
	if m := FitImputer([]float32{1, 5, 2, float32(math.NaN())}, 4, 1, true); m.Values[0] != 2 {
		t.Fatalf("median %v", m.Values)
	}
}

// FuzzReadCSVText covers what ReadCSV does beyond numbers: separators
// (given or detected), quoting, text labels, one-hot text columns, missing
// cells in each mode, and encodings. No input panics; an accepted table
// is consistent with its Encoding, validates once its missing cells are
// imputed, and ReadFeatures reads its rows back to the same features.
func FuzzReadCSVText(f *testing.F) {
	f.Add("a;b;y\n1,5;red;x\n2;blue;y\n", "", byte(0), byte(0))
	f.Add("a\tb\ty\n1\t\"r,d\"\tx\n\t2\ty\n", "y", byte(2), byte(1))
	f.Add("id,c,y\n1,K\xf6ln,0\n2,Bonn,1\n", "", byte(0), byte(0))
	f.Add("a,c,y\n1,1.50,0\n2,x,1\n3,1.5,0\n", "", byte(1), byte(0))
	f.Add("a,c,y\nNA,?,cat\n2,,dog\n", "0", byte(0), byte(1))
	f.Add("a|b|y\n1|2|0\n", "", byte(4), byte(0))
	f.Fuzz(func(t *testing.T, text, target string, sep, missing byte) {
		comma := []rune{0, ',', ';', '\t', '|'}[sep%5]
		opt := CSVOptions{Target: target, Task: TaskAuto, Comma: comma, Missing: Missing(missing % 3)}
		d, err := ReadCSV(strings.NewReader(text), "fuzz", opt)
		if err != nil {
			return
		}
		enc := d.Encoding
		if enc == nil || enc.Width() != d.Features || !slices.Equal(enc.FeatureNames(), d.FeatureNames) {
			t.Fatalf("encoding %+v does not describe %d features %q", enc, d.Features, d.FeatureNames)
		}
		names := slices.Clone(enc.Columns)
		slices.Sort(names)
		unique := len(slices.Compact(names)) == len(enc.Columns)
		if unique {
			if err := enc.Check(); err != nil {
				t.Fatalf("encoding: %v", err)
			}
		}
		x := slices.Clone(d.X)
		for i, v := range d.X {
			if math.IsNaN(float64(v)) && opt.Missing != MissingKeep {
				t.Fatalf("NaN feature %d without MissingKeep", i)
			}
		}
		imp := FitImputer(d.X, d.N, d.Features, false)
		imp.Apply(d.X, d.N)
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted a data set that does not validate: %v", err)
		}
		if !unique || opt.Missing == MissingDropRow {
			return
		}
		got, n, err := ReadFeatures(strings.NewReader(text), "again", *enc, FeatureOptions{Comma: comma, Missing: opt.Missing == MissingKeep})
		if err != nil {
			t.Fatalf("ReadFeatures of the training rows: %v", err)
		}
		if n != d.N || len(got) != len(x) {
			t.Fatalf("ReadFeatures: %d rows of %d values, ReadCSV %d of %d", n, len(got), d.N, len(x))
		}
		for i := range x {
			if got[i] != x[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(x[i]))) {
				t.Fatalf("value %d: ReadFeatures %v, ReadCSV %v", i, got[i], x[i])
			}
		}
	})
}
