package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// small returns a 6-row, 2-feature, 3-class data set whose X values
// encode their row, so copies can be checked exactly.
func small() *Dataset {
	d := &Dataset{Name: "small", N: 6, Features: 2, Targets: 1, Classes: 3, Task: Classification}
	for i := range d.N {
		d.X = append(d.X, float32(10*i), float32(10*i+1))
		d.Y = append(d.Y, float32(i%3))
	}
	return d
}

func TestSubsetAndGather(t *testing.T) {
	d := small()
	idx := []int{4, 0, 4}
	s := d.Subset(idx)
	if s.N != 3 || s.Features != 2 || s.Classes != 3 || s.Task != Classification {
		t.Fatalf("Subset shape: %+v", s)
	}
	wantX := []float32{40, 41, 0, 1, 40, 41}
	wantY := []float32{1, 0, 1}
	if !slices.Equal(s.X, wantX) || !slices.Equal(s.Y, wantY) {
		t.Fatalf("Subset = %v %v, want %v %v", s.X, s.Y, wantX, wantY)
	}
	s.X[0] = -1
	if d.X[8] != 40 {
		t.Fatal("Subset shares X with its source")
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}

	x := make([]float32, 6)
	y := make([]float32, 3)
	allocs := testing.AllocsPerRun(100, func() { d.Gather(idx, x, y) })
	if allocs != 0 {
		t.Errorf("Gather allocates %v times per call, want 0", allocs)
	}
	if !slices.Equal(x, wantX) || !slices.Equal(y, wantY) {
		t.Fatalf("Gather = %v %v, want %v %v", x, y, wantX, wantY)
	}

	empty := d.Subset(nil)
	if empty.N != 0 || len(empty.X) != 0 || empty.Validate() != nil {
		t.Fatalf("empty Subset: %+v, Validate: %v", empty, empty.Validate())
	}
}

func TestGatherPanicsOnBadIndex(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "out of range") {
			t.Fatalf("recover() = %v, want an out-of-range panic", r)
		}
	}()
	d := small()
	d.Gather([]int{6}, make([]float32, 2), make([]float32, 1))
}

func TestValidate(t *testing.T) {
	if err := small().Validate(); err != nil {
		t.Fatalf("valid data set: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(d *Dataset)
		want   string
	}{
		{"short X", func(d *Dataset) { d.X = d.X[:5] }, "len(X)"},
		{"short Y", func(d *Dataset) { d.Y = d.Y[:5] }, "len(Y)"},
		{"NaN feature", func(d *Dataset) { d.X[3] = float32(math.NaN()) }, "row 1 column 1"},
		{"Inf feature", func(d *Dataset) { d.X[0] = float32(math.Inf(1)) }, "finite"},
		{"label too big", func(d *Dataset) { d.Y[2] = 3 }, "label of row 2"},
		{"negative label", func(d *Dataset) { d.Y[0] = -1 }, "label of row 0"},
		{"fractional label", func(d *Dataset) { d.Y[1] = 0.5 }, "integer"},
		{"no classes", func(d *Dataset) { d.Classes = 0 }, "Classes >= 1"},
		{"two targets", func(d *Dataset) { d.Targets = 2; d.Y = append(d.Y, d.Y...) }, "Targets = 1"},
		{"feature names", func(d *Dataset) { d.FeatureNames = []string{"a"} }, "feature names"},
		{"regression with classes", func(d *Dataset) { d.Task = Regression }, "Classes = 0"},
		{"bad task", func(d *Dataset) { d.Task = TaskAuto }, "task"},
	}
	for _, c := range cases {
		d := small()
		c.mutate(d)
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}

// counts returns how many rows of d carry each class.
func counts(d *Dataset) []int {
	c := make([]int, d.Classes)
	for _, y := range d.Y {
		c[int(y)]++
	}
	return c
}

func TestSplitStratifiedAndDeterministic(t *testing.T) {
	iris, err := Builtin("iris")
	if err != nil {
		t.Fatal(err)
	}
	train, val, test, err := Split(iris, rand.New(rand.NewPCG(1, 2)), 0.2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 90 || val.N != 30 || test.N != 30 {
		t.Fatalf("sizes %d/%d/%d, want 90/30/30", train.N, val.N, test.N)
	}
	for _, part := range []struct {
		d    *Dataset
		want int
	}{{train, 30}, {val, 10}, {test, 10}} {
		for k, n := range counts(part.d) {
			if n != part.want {
				t.Errorf("class %d has %d rows in a part of %d, want %d", k, n, part.d.N, part.want)
			}
		}
		if err := part.d.Validate(); err != nil {
			t.Error(err)
		}
	}

	// Every row lands in exactly one part: compare the multisets of rows.
	key := func(d *Dataset, i int) string {
		return fmt.Sprint(d.Y[i], d.X[i*d.Features:(i+1)*d.Features])
	}
	var all, parts []string
	for i := range iris.N {
		all = append(all, key(iris, i))
	}
	for _, p := range []*Dataset{train, val, test} {
		for i := range p.N {
			parts = append(parts, key(p, i))
		}
	}
	slices.Sort(all)
	slices.Sort(parts)
	if !slices.Equal(all, parts) {
		t.Fatal("the parts are not a partition of the rows")
	}

	train2, val2, test2, err := Split(iris, rand.New(rand.NewPCG(1, 2)), 0.2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train.X, train2.X) || !slices.Equal(val.Y, val2.Y) || !slices.Equal(test.X, test2.X) {
		t.Fatal("Split with the same seed gave different splits")
	}
	train3, _, _, _ := Split(iris, rand.New(rand.NewPCG(3, 4)), 0.2, 0.2)
	if slices.Equal(train.X, train3.X) {
		t.Fatal("Split with another seed gave the same training rows in the same order")
	}
}

func TestSplitUnbalancedClasses(t *testing.T) {
	// 100 rows: 80 of class 0, 15 of class 1, 5 of class 2.
	d := &Dataset{Name: "skewed", N: 100, Features: 1, Targets: 1, Classes: 3, Task: Classification}
	for i := range d.N {
		d.X = append(d.X, float32(i))
		c := 0
		if i >= 80 {
			c = 1
		}
		if i >= 95 {
			c = 2
		}
		d.Y = append(d.Y, float32(c))
	}
	train, val, test, err := Split(d, rand.New(rand.NewPCG(7, 7)), 0.2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{80, 15, 5}
	for _, p := range []struct {
		d    *Dataset
		frac float64
	}{{train, 0.6}, {val, 0.2}, {test, 0.2}} {
		for k, n := range counts(p.d) {
			if math.Abs(float64(n)-want[k]*p.frac) > 2 {
				t.Errorf("class %d: %d rows in a part of %d, want about %v", k, n, p.d.N, want[k]*p.frac)
			}
		}
	}
	if val.N != 20 || test.N != 20 || train.N != 60 {
		t.Errorf("sizes %d/%d/%d, want 60/20/20", train.N, val.N, test.N)
	}
}

func TestSplitRegressionAndEmptyParts(t *testing.T) {
	d, err := Builtin("diabetes")
	if err != nil {
		t.Fatal(err)
	}
	train, val, test, err := Split(d, rand.New(rand.NewPCG(5, 6)), 0, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	if val.N != 0 || len(val.X) != 0 || val.Features != 10 || val.Task != Regression {
		t.Fatalf("empty validation part: %+v", val)
	}
	if err := val.Validate(); err != nil {
		t.Fatal(err)
	}
	if test.N != 111 || train.N != 331 {
		t.Fatalf("sizes %d/%d, want 331/111", train.N, test.N)
	}
	var sum, sumParts float64
	for _, v := range d.Y {
		sum += float64(v)
	}
	for _, p := range []*Dataset{train, test} {
		for _, v := range p.Y {
			sumParts += float64(v)
		}
	}
	if sum != sumParts {
		t.Fatalf("target sums differ: %v vs %v", sum, sumParts)
	}
}

func TestSplitErrors(t *testing.T) {
	d := small()
	rng := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		val, test float64
		want      string
	}{
		{-0.1, 0, "not in [0, 1)"},
		{0, math.NaN(), "not in [0, 1)"},
		{0.5, 0.5, "nothing to train"},
		{0.45, 0.45, "no training rows"},
	}
	for _, c := range cases {
		_, _, _, err := Split(d, rng, c.val, c.test)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Split(%v, %v) error = %v, want one mentioning %q", c.val, c.test, err, c.want)
		}
	}
	if _, _, _, err := Split(d, nil, 0.1, 0.1); err == nil {
		t.Error("Split with a nil rng succeeded")
	}
	bad := small()
	bad.Y[0] = 7
	if _, _, _, err := Split(bad, rng, 0.1, 0.1); err == nil || !strings.Contains(err.Error(), "label") {
		t.Errorf("Split of an invalid data set: %v", err)
	}
}
