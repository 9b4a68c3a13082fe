package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Task says what a data set's targets mean.
type Task int

const (
	// Classification targets are class indices in [0, Classes).
	Classification Task = iota
	// Regression targets are real values.
	Regression
	// TaskAuto asks ReadCSV to choose: a target column whose values are
	// all integers with at most AutoMaxClasses distinct values is read as
	// Classification, any other as Regression. It is only meaningful in
	// CSVOptions; a Dataset's Task is always Classification or Regression.
	TaskAuto
)

func (t Task) String() string {
	switch t {
	case Classification:
		return "classification"
	case Regression:
		return "regression"
	case TaskAuto:
		return "auto"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// Shape is the shape of one image: C channels of H x W pixels. The zero
// Shape means a flat row of features.
type Shape struct{ C, H, W int }

// IsImage reports whether s is an image shape (all three sizes positive).
func (s Shape) IsImage() bool { return s.C > 0 && s.H > 0 && s.W > 0 }

// Len is the number of values of one image, C*H*W.
func (s Shape) Len() int { return s.C * s.H * s.W }

func (s Shape) String() string {
	if !s.IsImage() {
		return "flat"
	}
	return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W)
}

// Dataset is a table of examples held in memory.
//
// X is N x Features and Y is N x Targets, both row-major. For
// classification Targets is 1 and Y[i] is the class index of row i, an
// integer in [0, Classes) stored as float32. For regression Classes is 0
// and Y holds the target values.
type Dataset struct {
	Name                 string
	X, Y                 []float32
	N, Features, Targets int
	Classes              int // number of classes for classification, 0 for regression
	Task                 Task
	FeatureNames         []string // len Features, or nil
	// ClassNames, when not nil, names each class: ClassNames[k] is the
	// label of class index k (for instance the original value of a CSV
	// label that was remapped to k). Only for classification.
	ClassNames []string
	// Shape, for a set of images, is the shape of one image (Features ==
	// C*H*W, each row stored channel by channel, row by row, as PyTorch
	// stores an image); the zero Shape for tabular data.
	Shape Shape
	// Encoding, for a table read by ReadCSV, says how its columns became
	// the features (text columns one-hot encoded); nil otherwise.
	Encoding *Encoding
}

// Subset returns a new data set holding copies of the rows in idx, in
// that order. Rows may repeat. Names and class metadata are shared with d
// (they are never modified). Subset panics if an index is out of range.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{
		Name:         d.Name,
		X:            make([]float32, len(idx)*d.Features),
		Y:            make([]float32, len(idx)*d.Targets),
		N:            len(idx),
		Features:     d.Features,
		Targets:      d.Targets,
		Classes:      d.Classes,
		Task:         d.Task,
		FeatureNames: d.FeatureNames,
		ClassNames:   d.ClassNames,
		Encoding:     d.Encoding,
		Shape:        d.Shape,
	}
	d.Gather(idx, s.X, s.Y)
	return s
}

// Gather copies the rows listed in idx into x (len(idx)*Features values)
// and y (len(idx)*Targets values), which the caller owns and reuses from
// step to step: Gather does not allocate. It panics if an index is out of
// range or a buffer is too short.
func (d *Dataset) Gather(idx []int, x, y []float32) {
	f, t := d.Features, d.Targets
	if len(x) < len(idx)*f || len(y) < len(idx)*t {
		panic(fmt.Sprintf("data: Gather of %d rows needs x of %d and y of %d values, got %d and %d",
			len(idx), len(idx)*f, len(idx)*t, len(x), len(y)))
	}
	for i, r := range idx {
		if r < 0 || r >= d.N {
			panic(fmt.Sprintf("data: Gather: row index %d out of range [0, %d)", r, d.N))
		}
		copy(x[i*f:(i+1)*f], d.X[r*f:(r+1)*f])
		copy(y[i*t:(i+1)*t], d.Y[r*t:(r+1)*t])
	}
}

// Validate checks that the data set is internally consistent: sizes
// agree with N, Features and Targets, every value is finite, and for
// classification every label is an integer in [0, Classes). A data set
// with N == 0 (for instance an empty validation split) is valid.
func (d *Dataset) Validate() error {
	if d == nil {
		return errors.New("data: nil dataset")
	}
	name := d.Name
	if name == "" {
		name = "dataset"
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("data: %s: %s", name, fmt.Sprintf(format, args...))
	}
	if d.N < 0 || d.Features < 1 || d.Targets < 1 {
		return fail("need N >= 0, Features >= 1 and Targets >= 1, have N=%d Features=%d Targets=%d",
			d.N, d.Features, d.Targets)
	}
	if d.N > 0 && (d.Features > math.MaxInt/d.N || d.Targets > math.MaxInt/d.N) {
		return fail("N=%d rows of %d features overflow an int", d.N, d.Features)
	}
	if len(d.X) != d.N*d.Features {
		return fail("len(X) = %d, want N*Features = %d*%d", len(d.X), d.N, d.Features)
	}
	if len(d.Y) != d.N*d.Targets {
		return fail("len(Y) = %d, want N*Targets = %d*%d", len(d.Y), d.N, d.Targets)
	}
	if d.FeatureNames != nil && len(d.FeatureNames) != d.Features {
		return fail("%d feature names for %d features", len(d.FeatureNames), d.Features)
	}
	for i, v := range d.X {
		if !isFinite32(v) {
			return fail("X row %d column %d is %v, want a finite value", i/d.Features, i%d.Features, v)
		}
	}
	switch d.Task {
	case Classification:
		if d.Targets != 1 {
			return fail("classification needs Targets = 1 (a class index per row), have %d", d.Targets)
		}
		if d.Classes < 1 {
			return fail("classification needs Classes >= 1, have %d", d.Classes)
		}
		if d.ClassNames != nil && len(d.ClassNames) != d.Classes {
			return fail("%d class names for %d classes", len(d.ClassNames), d.Classes)
		}
		for i, v := range d.Y {
			if !isFinite32(v) || v != float32(math.Trunc(float64(v))) || v < 0 || int(v) >= d.Classes {
				return fail("label of row %d is %v, want an integer in [0, %d)", i, v, d.Classes)
			}
		}
	case Regression:
		if d.Classes != 0 {
			return fail("regression needs Classes = 0, have %d", d.Classes)
		}
		for i, v := range d.Y {
			if !isFinite32(v) {
				return fail("Y row %d column %d is %v, want a finite value", i/d.Targets, i%d.Targets, v)
			}
		}
	default:
		return fail("task is %v, want classification or regression", d.Task)
	}
	return nil
}

func isFinite32(v float32) bool {
	return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
}

// Split shuffles d with rng and divides it into train, validation and
// test sets holding about (1-valFrac-testFrac), valFrac and testFrac of
// the rows: the validation and test sizes are round(N*frac), and train
// gets the rest. A fraction of 0 gives an empty data set (N = 0) with
// the same shape metadata.
//
// For classification the split is stratified: every class is spread over
// the three parts in proportion to its size (to within a row or two), so
// that small sets such as iris keep their class balance in every part.
//
// The same d, fractions and rng state always give the same split. Split
// returns an error if a fraction is negative or not finite, if they sum
// to 1 or more, or if the training part would be empty.
func Split(d *Dataset, rng *rand.Rand, valFrac, testFrac float64) (train, val, test *Dataset, err error) {
	trainIdx, valIdx, testIdx, err := SplitRows(d, rng, valFrac, testFrac)
	if err != nil {
		return nil, nil, nil, err
	}
	return d.Subset(trainIdx), d.Subset(valIdx), d.Subset(testIdx), nil
}

// SplitRows is Split's choice of rows: the indexes of d's rows in each
// part, in Split's order. It draws from rng exactly as Split does.
func SplitRows(d *Dataset, rng *rand.Rand, valFrac, testFrac float64) (train, val, test []int, err error) {
	if d == nil {
		return nil, nil, nil, errors.New("data: Split of a nil dataset")
	}
	if rng == nil {
		return nil, nil, nil, fmt.Errorf("data: Split %s: nil rng", d.Name)
	}
	for _, f := range []float64{valFrac, testFrac} {
		if math.IsNaN(f) || f < 0 || f >= 1 {
			return nil, nil, nil, fmt.Errorf("data: Split %s: fraction %v is not in [0, 1)", d.Name, f)
		}
	}
	if valFrac+testFrac >= 1 {
		return nil, nil, nil, fmt.Errorf("data: Split %s: validation %v + test %v leaves nothing to train on",
			d.Name, valFrac, testFrac)
	}
	if err := d.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("data: Split: %w", err)
	}
	nVal := int(math.Round(float64(d.N) * valFrac))
	nTest := int(math.Round(float64(d.N) * testFrac))
	if nVal+nTest >= d.N {
		return nil, nil, nil, fmt.Errorf("data: Split %s: %d rows leave no training rows after %d validation and %d test rows",
			d.Name, d.N, nVal, nTest)
	}

	var order []int
	if d.Task == Classification {
		order = stratifiedOrder(d, rng)
	} else {
		order = rng.Perm(d.N)
	}
	testIdx := order[:nTest]
	valIdx := order[nTest : nTest+nVal]
	trainIdx := order[nTest+nVal:]
	// The stratified order cycles through the classes; reshuffle each part
	// so that its row order carries no pattern.
	for _, part := range [][]int{trainIdx, valIdx, testIdx} {
		rng.Shuffle(len(part), func(i, j int) { part[i], part[j] = part[j], part[i] })
	}
	return trainIdx, valIdx, testIdx, nil
}

// stratifiedOrder returns a permutation of d's rows in which every prefix
// holds each class in proportion to its frequency, to within one row.
// Each class's rows are shuffled and the j-th of the m rows of a class is
// given the key (j+u)/m, u a random offset in [0, 1) shared by the class;
// sorting all rows by key interleaves the classes evenly (systematic
// sampling), so taking the first k rows of the order samples every class
// proportionally.
func stratifiedOrder(d *Dataset, rng *rand.Rand) []int {
	byClass := make([][]int, d.Classes)
	for i := range d.N {
		c := int(d.Y[i])
		byClass[c] = append(byClass[c], i)
	}
	type keyed struct {
		key float64
		tie uint64
		row int
	}
	all := make([]keyed, 0, d.N)
	for _, rows := range byClass {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		m := float64(len(rows))
		u := rng.Float64()
		for j, r := range rows {
			all = append(all, keyed{key: (float64(j) + u) / m, tie: rng.Uint64(), row: r})
		}
	}
	slices.SortFunc(all, func(a, b keyed) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		if a.tie != b.tie {
			if a.tie < b.tie {
				return -1
			}
			return 1
		}
		return a.row - b.row
	})
	order := make([]int, len(all))
	for i, k := range all {
		order[i] = k.row
	}
	return order
}
