package ref

import (
	"fmt"
	"math"
)

// logSumExp returns log(sum_j exp(row[j])) computed as
// max + log(sum_j exp(row[j] - max)).
func logSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum)
}

// SoftmaxCrossEntropy returns the sum over rows of the cross-entropy
// loss_i = logsumexp(logits[i,:]) - logits[i,label_i], and the gradient of
// the batch mean, grad[i,j] = (softmax(logits[i,:])[j] - [j == label_i]) /
// rows. labels holds class indices stored as float32.
func SoftmaxCrossEntropy(logits, labels []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("SoftmaxCrossEntropy", rows, cols)
	need("SoftmaxCrossEntropy", "logits", logits, rows*cols)
	need("SoftmaxCrossEntropy", "labels", labels, rows)
	grad = Softmax(logits, rows, cols)
	for i := 0; i < rows; i++ {
		label := int(labels[i])
		if float32(label) != labels[i] || label < 0 || label >= cols {
			panic(fmt.Sprintf("ref.SoftmaxCrossEntropy: label %v of row %d is not a class index below %d", labels[i], i, cols))
		}
		row := logits[i*cols : (i+1)*cols]
		lossSum += logSumExp(row) - float64(row[label])
		grad[i*cols+label] -= 1
		for j := 0; j < cols; j++ {
			grad[i*cols+j] /= float64(rows)
		}
	}
	return lossSum, grad
}

// BCEWithLogits returns the sum over rows of the per-row mean binary
// cross-entropy, with the element loss in its stable form
//
//	l(z, t) = max(z, 0) - z*t + log1p(exp(-|z|))
//
// and the gradient of the batch mean, (sigmoid(z) - t) / (rows*cols).
func BCEWithLogits(logits, targets []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("BCEWithLogits", rows, cols)
	n := rows * cols
	need("BCEWithLogits", "logits", logits, n)
	need("BCEWithLogits", "targets", targets, n)
	grad = make([]float64, n)
	for i := 0; i < n; i++ {
		z, t := float64(logits[i]), float64(targets[i])
		lossSum += (math.Max(z, 0) - z*t + math.Log1p(math.Exp(-math.Abs(z)))) / float64(cols)
		grad[i] = (Sigmoid(z) - t) / float64(n)
	}
	return lossSum, grad
}

// MSE returns the sum over rows of the per-row mean of (pred-target)^2, and
// the gradient of the batch mean, 2*(pred-target) / (rows*cols).
func MSE(pred, target []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("MSE", rows, cols)
	n := rows * cols
	need("MSE", "pred", pred, n)
	need("MSE", "target", target, n)
	grad = make([]float64, n)
	for i := 0; i < n; i++ {
		d := float64(pred[i]) - float64(target[i])
		lossSum += d * d / float64(cols)
		grad[i] = 2 * d / float64(n)
	}
	return lossSum, grad
}

// MAE returns the sum over rows of the per-row mean of |pred-target|, and
// the gradient of the batch mean, sign(pred-target) / (rows*cols), which is
// 0 where pred == target.
func MAE(pred, target []float32, rows, cols int) (lossSum float64, grad []float64) {
	dims("MAE", rows, cols)
	n := rows * cols
	need("MAE", "pred", pred, n)
	need("MAE", "target", target, n)
	grad = make([]float64, n)
	for i := 0; i < n; i++ {
		d := float64(pred[i]) - float64(target[i])
		lossSum += math.Abs(d) / float64(cols)
		switch {
		case d > 0:
			grad[i] = 1 / float64(n)
		case d < 0:
			grad[i] = -1 / float64(n)
		}
	}
	return lossSum, grad
}
