package nn

import (
	"fmt"

	"github.com/fastnn/fastnn/backend"
)

// Loss scores a batch of outputs against targets. Compute writes
// d(mean loss)/d(pred) into grad and adds the sum of the per-sample losses to
// lossSum[0] (PyTorch's "mean" reduction; see backend.Backend).
type Loss interface {
	Compute(be backend.Backend, pred Tensor, target, grad, lossSum backend.Buffer)
	// TargetCols is the number of target columns per sample for a model
	// with outCols outputs: 1 (a class index) for cross-entropy.
	TargetCols(outCols int) int
	String() string
}

// CrossEntropy is softmax cross-entropy from logits against class indices,
// PyTorch's nn.CrossEntropyLoss.
type CrossEntropy struct{}

// BCEWithLogits is binary cross-entropy from logits against 0/1 targets,
// PyTorch's nn.BCEWithLogitsLoss.
type BCEWithLogits struct{}

// MSE is the mean squared error, PyTorch's nn.MSELoss.
type MSE struct{}

// MAE is the mean absolute error, PyTorch's nn.L1Loss.
type MAE struct{}

func (CrossEntropy) Compute(be backend.Backend, p Tensor, t, g, s backend.Buffer) {
	be.SoftmaxCrossEntropy(p.Buf, t, g, s, p.Rows, p.Cols)
}
func (BCEWithLogits) Compute(be backend.Backend, p Tensor, t, g, s backend.Buffer) {
	be.BCEWithLogits(p.Buf, t, g, s, p.Rows, p.Cols)
}
func (MSE) Compute(be backend.Backend, p Tensor, t, g, s backend.Buffer) {
	be.MSE(p.Buf, t, g, s, p.Rows, p.Cols)
}
func (MAE) Compute(be backend.Backend, p Tensor, t, g, s backend.Buffer) {
	be.MAE(p.Buf, t, g, s, p.Rows, p.Cols)
}

func (CrossEntropy) TargetCols(int) int    { return 1 }
func (BCEWithLogits) TargetCols(c int) int { return c }
func (MSE) TargetCols(c int) int           { return c }
func (MAE) TargetCols(c int) int           { return c }

func (CrossEntropy) String() string  { return "cross-entropy" }
func (BCEWithLogits) String() string { return "bce" }
func (MSE) String() string           { return "mse" }
func (MAE) String() string           { return "mae" }

// ParseLoss maps "cross-entropy" (or "ce"), "bce", "mse" and "mae" to a Loss.
func ParseLoss(name string) (Loss, error) {
	switch name {
	case "cross-entropy", "ce":
		return CrossEntropy{}, nil
	case "bce":
		return BCEWithLogits{}, nil
	case "mse":
		return MSE{}, nil
	case "mae":
		return MAE{}, nil
	}
	return nil, fmt.Errorf("unknown loss %q (want cross-entropy, bce, mse or mae)", name)
}
