package backend

import "fmt"

// Argument checks that every backend makes, in one place. Each panics, as
// the Backend contract asks of a programmer error, with a message that
// starts with the backend's name (who) and names the operation. A backend
// still checks its own buffers (their type, owner and length).

// CheckSizes panics if a size of op is negative. Rows and cols must be
// checked apart: their product would let two negative sizes through.
func CheckSizes(who, op string, sizes ...int) {
	for _, s := range sizes {
		if s < 0 {
			panic(fmt.Sprintf("%s: %s: negative size %d", who, op, s))
		}
	}
}

// CheckDropoutP panics unless 0 <= p < 1, DropoutMask's domain (NaN
// included).
func CheckDropoutP[F float32 | float64](who string, p F) {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("%s: DropoutMask: p = %v, want 0 <= p < 1", who, p))
	}
}

// CheckBatchNormRows panics when BatchNormForward is asked to train on one
// row: one value per column has no variance (PyTorch refuses it too).
func CheckBatchNormRows(who string, rows int, training bool) {
	if training && rows == 1 {
		panic(fmt.Sprintf("%s: BatchNormForward: training needs more than one row (one value per column has no variance)", who))
	}
}

// CheckAdamStep panics unless step >= 1: Adam's bias corrections divide
// by 1 - beta^step.
func CheckAdamStep(who string, step int) {
	if step < 1 {
		panic(fmt.Sprintf("%s: AdamStep: step %d, want >= 1", who, step))
	}
}
