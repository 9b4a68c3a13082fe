package data

import (
	"fmt"
	"math"
)

// Standardizer rescales each column of a row-major matrix to zero mean
// and unit standard deviation: x' = (x - Mean[j]) / Std[j].
//
// Fit it on the training split only and apply the same Standardizer to
// the validation and test splits: statistics computed over all rows would
// leak information about the held-out rows into training and make the
// held-out scores optimistic.
type Standardizer struct {
	Mean, Std []float32
}

// FitStandardizer computes the mean and the population standard deviation
// (divisor n, as scikit-learn's StandardScaler) of each of the cols
// columns of the n x cols row-major matrix x. A column whose standard
// deviation is zero, or negligible next to its mean (a constant column
// up to rounding), gets Std 1, so that Apply only centres it rather than
// dividing by zero. With n == 0 every Mean is 0 and every Std is 1.
//
// Sums are accumulated in float64 with two passes (mean, then squared
// deviations), which avoids the cancellation of the one-pass formula on
// columns with a large mean. FitStandardizer panics if len(x) < n*cols.
func FitStandardizer(x []float32, n, cols int) *Standardizer {
	if n < 0 || cols < 0 || len(x) < n*cols {
		panic(fmt.Sprintf("data: FitStandardizer: %d x %d matrix needs %d values, have %d", n, cols, n*cols, len(x)))
	}
	s := &Standardizer{Mean: make([]float32, cols), Std: make([]float32, cols)}
	mean := make([]float64, cols)
	ss := make([]float64, cols)
	for i := range n {
		row := x[i*cols : (i+1)*cols]
		for j, v := range row {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		if n > 0 {
			mean[j] /= float64(n)
		}
	}
	for i := range n {
		row := x[i*cols : (i+1)*cols]
		for j, v := range row {
			d := float64(v) - mean[j]
			ss[j] += d * d
		}
	}
	for j := range cols {
		std := 0.0
		if n > 0 {
			std = math.Sqrt(ss[j] / float64(n))
		}
		// float32 inputs carry about 7 significant digits, so a spread
		// below 1e-9 of the mean's magnitude can only be rounding noise
		// of a constant column.
		if !(std > 1e-9*math.Abs(mean[j])) || std == 0 {
			std = 1
		}
		s.Mean[j] = float32(mean[j])
		s.Std[j] = float32(std)
	}
	return s
}

// Apply standardizes the n x len(s.Mean) row-major matrix x in place.
func (s *Standardizer) Apply(x []float32, n int) {
	cols := s.check(x, n, "Apply")
	for i := range n {
		row := x[i*cols : (i+1)*cols]
		for j := range row {
			row[j] = (row[j] - s.Mean[j]) / s.Std[j]
		}
	}
}

// Invert undoes Apply in place, mapping standardized values back to the
// original units; it is used to report regression predictions in the
// units of the target.
func (s *Standardizer) Invert(x []float32, n int) {
	cols := s.check(x, n, "Invert")
	for i := range n {
		row := x[i*cols : (i+1)*cols]
		for j := range row {
			row[j] = row[j]*s.Std[j] + s.Mean[j]
		}
	}
}

func (s *Standardizer) check(x []float32, n int, op string) int {
	cols := len(s.Mean)
	if len(s.Std) != cols {
		panic(fmt.Sprintf("data: Standardizer.%s: %d means but %d standard deviations", op, cols, len(s.Std)))
	}
	if n < 0 || len(x) < n*cols {
		panic(fmt.Sprintf("data: Standardizer.%s: %d x %d matrix needs %d values, have %d", op, n, cols, n*cols, len(x)))
	}
	return cols
}
