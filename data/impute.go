package data

import (
	"fmt"
	"math"
	"slices"
)

// Imputer fills missing values (NaN) of each column of a row-major matrix
// with a value fitted on the training split, as Standardizer scales with
// statistics of the training split only.
type Imputer struct {
	Values []float32
}

// FitImputer computes, for each of the cols columns of the n x cols
// row-major matrix x, the mean (or, with median true, the median) of its
// values that are not NaN; a column with no value gets 0. For a one-hot
// block of a text column the means are the categories' frequencies.
// FitImputer panics if len(x) < n*cols.
func FitImputer(x []float32, n, cols int, median bool) *Imputer {
	if n < 0 || cols < 0 || len(x) < n*cols {
		panic(fmt.Sprintf("data: FitImputer: %d x %d matrix needs %d values, have %d", n, cols, n*cols, len(x)))
	}
	im := &Imputer{Values: make([]float32, cols)}
	col := make([]float64, 0, n)
	for j := range cols {
		col = col[:0]
		for i := range n {
			if v := x[i*cols+j]; !math.IsNaN(float64(v)) {
				col = append(col, float64(v))
			}
		}
		if len(col) == 0 {
			continue
		}
		if median {
			slices.Sort(col)
			m := len(col) / 2
			if len(col)%2 == 1 {
				im.Values[j] = float32(col[m])
			} else {
				im.Values[j] = float32((col[m-1] + col[m]) / 2)
			}
			continue
		}
		sum := 0.0
		for _, v := range col {
			sum += v
		}
		im.Values[j] = float32(sum / float64(len(col)))
	}
	return im
}

// Apply replaces every NaN of the n x len(im.Values) row-major matrix x
// by its column's value, in place, and returns how many it replaced.
func (im *Imputer) Apply(x []float32, n int) int {
	cols := len(im.Values)
	if n < 0 || len(x) < n*cols {
		panic(fmt.Sprintf("data: Imputer.Apply: %d x %d matrix needs %d values, have %d", n, cols, n*cols, len(x)))
	}
	filled := 0
	for i := range n * cols {
		if math.IsNaN(float64(x[i])) {
			x[i] = im.Values[i%cols]
			filled++
		}
	}
	return filled
}
