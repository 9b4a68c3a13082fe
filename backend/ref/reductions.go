package ref

// SumRows returns out[j] = beta*out[j] + sum_i x[i,j] for the rows x cols
// matrix x. With beta == 0, out is not read (it may be nil).
func SumRows(x []float32, rows, cols int, beta float64, out []float32) []float64 {
	dims("SumRows", rows, cols)
	need("SumRows", "x", x, rows*cols)
	if beta != 0 {
		need("SumRows", "out", out, cols)
	}
	res := make([]float64, cols)
	for j := 0; j < cols; j++ {
		sum := 0.0
		for i := 0; i < rows; i++ {
			sum += float64(x[i*cols+j])
		}
		if beta != 0 {
			sum += beta * float64(out[j])
		}
		res[j] = sum
	}
	return res
}

// SumSquares returns sum_i x[i]^2 (the amount a backend adds to out[0]).
func SumSquares(x []float32) float64 {
	sum := 0.0
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return sum
}

// ArgmaxRows returns, for each row of the rows x cols matrix x, the column
// index of its largest element; ties go to the lowest index.
func ArgmaxRows(x []float32, rows, cols int) []int {
	dims("ArgmaxRows", rows, cols)
	need("ArgmaxRows", "x", x, rows*cols)
	out := make([]int, rows)
	for i := 0; i < rows; i++ {
		best := 0
		for j := 1; j < cols; j++ {
			if x[i*cols+j] > x[i*cols+best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// CountCorrect returns the number of rows whose prediction matches the
// label. With cols > 1, x holds logits and labels[i] a class index: the
// prediction is the row's argmax (ties to the lowest index). With
// cols == 1, x holds one binary logit per row and labels[i] is 0 or 1: the
// prediction is 1 when x > 0, else 0.
func CountCorrect(x, labels []float32, rows, cols int) int {
	dims("CountCorrect", rows, cols)
	need("CountCorrect", "x", x, rows*cols)
	need("CountCorrect", "labels", labels, rows)
	count := 0
	if cols == 1 {
		for i := 0; i < rows; i++ {
			pred := float32(0)
			if x[i] > 0 {
				pred = 1
			}
			if pred == labels[i] {
				count++
			}
		}
		return count
	}
	for i, p := range ArgmaxRows(x, rows, cols) {
		if float32(p) == labels[i] {
			count++
		}
	}
	return count
}
