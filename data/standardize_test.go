package data

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// columnStats returns the mean and population standard deviation of
// column j of an n x cols matrix.
func columnStats(x []float32, n, cols, j int) (mean, std float64) {
	for i := range n {
		mean += float64(x[i*cols+j])
	}
	mean /= float64(n)
	for i := range n {
		d := float64(x[i*cols+j]) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(n))
}

func TestStandardizerOnTrainingSplit(t *testing.T) {
	wine, err := Builtin("wine")
	if err != nil {
		t.Fatal(err)
	}
	train, val, _, err := Split(wine, rand.New(rand.NewPCG(11, 12)), 0.2, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := FitStandardizer(train.X, train.N, train.Features)
	s.Apply(train.X, train.N)
	for j := range train.Features {
		mean, std := columnStats(train.X, train.N, train.Features, j)
		if math.Abs(mean) > 1e-5 || math.Abs(std-1) > 1e-5 {
			t.Errorf("column %d (%s): mean %v std %v after standardizing, want 0 and 1",
				j, train.FeatureNames[j], mean, std)
		}
	}
	// The validation split uses the training statistics, so it is only
	// roughly standardized; it must still be transformed, not refitted.
	before := slices.Clone(val.X)
	s.Apply(val.X, val.N)
	s.Invert(val.X, val.N)
	for i := range before {
		if math.Abs(float64(val.X[i]-before[i])) > 1e-3*math.Max(1, math.Abs(float64(before[i]))) {
			t.Fatalf("Invert(Apply(x))[%d] = %v, want %v", i, val.X[i], before[i])
		}
	}
}

func TestStandardizerConstantColumn(t *testing.T) {
	// Column 0 is constant (0.1 is not exact in binary, which is the
	// point), column 1 varies.
	x := []float32{0.1, 1, 0.1, 2, 0.1, 3, 0.1, 4}
	s := FitStandardizer(x, 4, 2)
	if s.Std[0] != 1 {
		t.Errorf("std of a constant column = %v, want 1", s.Std[0])
	}
	if s.Mean[1] != 2.5 || math.Abs(float64(s.Std[1])-math.Sqrt(1.25)) > 1e-6 {
		t.Errorf("column 1: mean %v std %v, want 2.5 and %v", s.Mean[1], s.Std[1], math.Sqrt(1.25))
	}
	s.Apply(x, 4)
	for i := 0; i < 8; i += 2 {
		if x[i] != 0 {
			t.Errorf("constant column standardized to %v, want 0", x[i])
		}
	}

	empty := FitStandardizer(nil, 0, 3)
	if !slices.Equal(empty.Mean, []float32{0, 0, 0}) || !slices.Equal(empty.Std, []float32{1, 1, 1}) {
		t.Errorf("FitStandardizer on no rows = %+v, want means 0 and stds 1", empty)
	}
}
