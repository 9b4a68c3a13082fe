package backend

import (
	"fmt"
	"math"
	"time"
)

// Buffer is an opaque handle to float32 memory owned by one Backend. Code
// outside the backend never sees its storage: it allocates, uploads,
// downloads and frees buffers through the Backend that made them.
type Buffer interface {
	// Len is the number of float32 elements the buffer holds.
	Len() int
}

// Activation names an elementwise non-linearity.
type Activation int

const (
	Identity  Activation = iota // f(x) = x
	ReLU                        // f(x) = max(x, 0)
	LeakyReLU                   // f(x) = x if x > 0 else slope*x
	Sigmoid                     // f(x) = 1 / (1 + exp(-x))
	Tanh                        // f(x) = tanh(x)
	GELU                        // tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
)

var activationNames = [...]string{"identity", "relu", "leakyrelu", "sigmoid", "tanh", "gelu"}

func (a Activation) String() string {
	if a < 0 || int(a) >= len(activationNames) {
		return fmt.Sprintf("Activation(%d)", int(a))
	}
	return activationNames[a]
}

// ParseActivation maps a name ("relu", "tanh", ...) to its Activation.
func ParseActivation(name string) (Activation, error) {
	for i, n := range activationNames {
		if n == name {
			return Activation(i), nil
		}
	}
	return 0, fmt.Errorf("unknown activation %q (want one of %v)", name, activationNames[:])
}

// Activations lists every Activation, in declaration order.
func Activations() []Activation {
	out := make([]Activation, len(activationNames))
	for i := range out {
		out[i] = Activation(i)
	}
	return out
}

// SGDConfig holds the hyperparameters of one SGD step, with PyTorch's
// semantics (dampening 0):
//
//	g = grad + WeightDecay*param
//	if Momentum != 0 { v = Momentum*v + g; if Nesterov { g = g + Momentum*v } else { g = v } }
//	param -= LR*g
type SGDConfig struct {
	LR, Momentum, WeightDecay float32
	Nesterov                  bool
}

// AdamConfig holds the hyperparameters of one Adam or AdamW step, with
// PyTorch's semantics. Step is the 1-based step count used for the bias
// correction. With Decoupled (AdamW) the weight decay shrinks the parameter
// directly, param *= 1 - LR*WeightDecay; otherwise (Adam) it is added to the
// gradient, g = grad + WeightDecay*param. Then:
//
//	m = Beta1*m + (1-Beta1)*g
//	v = Beta2*v + (1-Beta2)*g*g
//	param -= LR * (m/(1-Beta1^Step)) / (sqrt(v/(1-Beta2^Step)) + Eps)
type AdamConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int
	Decoupled                          bool
}

// AdamScalars are the per-step scalars every backend derives from an
// AdamConfig, computed once on the host in float64 so that all backends
// round them alike. The update of one element is then
//
//	p = param*Decay; g = grad + Coupled*p
//	m = Beta1*m + (1-Beta1)*g; v = Beta2*v + (1-Beta2)*g*g
//	param = p - StepSize*m/(sqrt(v)*InvSqrtBC2 + Eps)
type AdamScalars struct {
	StepSize   float32 // LR / (1 - Beta1^Step)
	InvSqrtBC2 float32 // 1 / sqrt(1 - Beta2^Step)
	Decay      float32 // AdamW: 1 - LR*WeightDecay; Adam: 1
	Coupled    float32 // Adam: WeightDecay (added to the gradient); AdamW: 0
}

// Scalars computes the step's AdamScalars.
func (c AdamConfig) Scalars() AdamScalars {
	bc1 := 1 - math.Pow(float64(c.Beta1), float64(c.Step))
	bc2 := 1 - math.Pow(float64(c.Beta2), float64(c.Step))
	s := AdamScalars{StepSize: float32(float64(c.LR) / bc1), InvSqrtBC2: float32(1 / math.Sqrt(bc2)), Decay: 1, Coupled: c.WeightDecay}
	if c.Decoupled {
		s.Decay, s.Coupled = 1-c.LR*c.WeightDecay, 0
	}
	return s
}

// Backend executes the numerical kernels that nn needs. Every matrix is
// row-major and densely packed: element (i, j) of a rows x cols matrix is at
// index i*cols + j. Sizes are given explicitly; a buffer may be longer than
// the operation needs, never shorter.
//
// Zero sizes are legal and do nothing (Gemm with k == 0 still scales C by
// beta). Arithmetic is float32 with float32 (or wider) accumulation: a
// reduced-precision mode such as TF32 must be opt-in and is outside this
// contract. Programmer errors (a buffer too short, a negative size, a
// buffer of another backend) panic with a message. Operations may run asynchronously;
// Download waits for all work queued before it.
//
// Scalar results (loss sums, correct counts, sums of squares) are added to
// element 0 of an output buffer rather than returned, so that a device
// backend needs no host round trip per step: the caller reads them when it
// wants to, with Download. The CPU backend's results are the same bit for
// bit whatever its thread count; a GPU backend's reductions add their
// partial sums in whatever order the device finishes them, so its scalars
// may differ in the last bits from run to run.
type Backend interface {
	// Name is the backend's short name, as registered ("cpu", "cuda").
	Name() string
	// Details describes the configuration in use, e.g. "cpu/avx2 2 threads".
	Details() string
	// Close releases everything the backend holds.
	Close() error

	// Alloc returns a zeroed buffer of n elements.
	Alloc(n int) Buffer
	// Free releases a buffer; using it afterwards is an error.
	Free(b Buffer)
	// Upload copies src into dst[0:len(src)].
	Upload(dst Buffer, src []float32)
	// Download copies src[0:len(dst)] into dst.
	Download(dst []float32, src Buffer)
	// Copy copies src[0:n] into dst[0:n].
	Copy(dst, src Buffer, n int)

	// Gemm computes C = alpha*op(A)*op(B) + beta*C, where op(A) is m x k and
	// op(B) is k x n, and C is m x n. op(X) is X, or its transpose when the
	// flag is set: A is stored m x k, or k x m when transA is set. With
	// beta == 0, C is not read (NaNs in C do not propagate).
	Gemm(transA, transB bool, m, n, k int, alpha float32, a, b Buffer, beta float32, c Buffer)

	// AddBias adds bias[0:cols] to every row of the rows x cols matrix x.
	AddBias(x, bias Buffer, rows, cols int)
	// BiasActivate is the fused form: z[i,j] += bias[j], then y = f(z).
	// y may be the same buffer as z only for Identity.
	BiasActivate(act Activation, slope float32, z, bias, y Buffer, rows, cols int)
	// Activate computes y[i] = f(x[i]) for i < n; y may be x.
	// slope is used by LeakyReLU alone.
	Activate(act Activation, slope float32, x, y Buffer, n int)
	// ActivateBackward computes dx[i] = dy[i] * f'(x[i]), where y = f(x) is
	// the forward output (kernels use whichever of x and y is cheaper).
	// At the kink, as in PyTorch, ReLU'(0) = 0 and LeakyReLU'(0) = slope.
	// dx may be dy.
	ActivateBackward(act Activation, slope float32, x, y, dy, dx Buffer, n int)
	// Softmax computes y[i,:] = softmax(x[i,:]) for each of rows rows; y may be x.
	Softmax(x, y Buffer, rows, cols int)
	// SoftmaxBackward computes, for each of rows rows, the gradient through
	// y = softmax(x) from the forward output y:
	// dx[i,:] = y[i,:] * (dy[i,:] - sum_j dy[i,j]*y[i,j]). dx may be dy.
	SoftmaxBackward(y, dy, dx Buffer, rows, cols int)

	// DropoutMask sets, for i < n, mask[i] = 0 where DropoutUniform(seed, i)
	// < p, and mask[i] = 1/(1-p) elsewhere (inverted dropout: activations
	// and their gradients are multiplied by the mask, so the expected value
	// is unchanged). The kept value is 1/(1-p) evaluated in float64 and
	// rounded once to float32, float32(1/(1-float64(p))), so that every
	// backend writes the same mask, bit for bit, for the same seed.
	// p must satisfy 0 <= p < 1.
	DropoutMask(mask Buffer, n int, p float32, seed uint64)
	// BatchNormForward normalises each column of the rows x cols matrix x
	// with PyTorch's BatchNorm1d semantics:
	//
	//	y[i,j] = gamma[j]*(x[i,j]-mean[j])*invStd[j] + beta[j]
	//
	// With training, mean[j] and var_j are the column's batch mean and
	// biased variance (sum_i (x[i,j]-mean[j])^2 / rows); the operation
	// writes mean[j] and invStd[j] = 1/sqrt(var_j + eps) (the statistics
	// BatchNormBackward needs) and updates the running statistics in place:
	//
	//	runMean = (1-momentum)*runMean + momentum*mean
	//	runVar  = (1-momentum)*runVar + momentum*var_j*rows/(rows-1)  (unbiased)
	//
	// Training with rows == 1 panics (one sample has no variance; PyTorch
	// raises the same error). Without training it normalises with the
	// running statistics instead: it writes mean = runMean and
	// invStd = 1/sqrt(runVar + eps), and leaves runMean and runVar
	// unchanged. With rows == 0 nothing is written, in either mode, like
	// every zero size. gamma, beta and the four statistics hold cols
	// elements. y may not alias x.
	BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar Buffer, rows, cols int, momentum, eps float32, training bool)
	// BatchNormBackward computes the training-mode gradients of
	// BatchNormForward from the mean and invStd it saved. With
	// xhat[i,j] = (x[i,j]-mean[j])*invStd[j], it adds sum_i dy[i,j]*xhat[i,j]
	// to dGamma[j] and sum_i dy[i,j] to dBeta[j] (accumulated, like every
	// parameter gradient), and writes
	//
	//	dx[i,j] = gamma[j]*invStd[j]/rows * (rows*dy[i,j] - sum_i dy[i,j] - xhat[i,j]*sum_i dy[i,j]*xhat[i,j])
	//
	// dx may be dy.
	BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta Buffer, rows, cols int)

	// Add computes c = a + b elementwise; c may alias a or b.
	Add(a, b, c Buffer, n int)
	// Mul computes c = a * b elementwise; c may alias a or b.
	Mul(a, b, c Buffer, n int)
	// Scale computes x *= alpha.
	Scale(x Buffer, alpha float32, n int)
	// Axpy computes y += alpha*x.
	Axpy(alpha float32, x, y Buffer, n int)
	// Fill sets x[0:n] = v.
	Fill(x Buffer, v float32, n int)

	// SumRows computes out[j] = beta*out[j] + sum_i x[i,j] (bias gradients).
	SumRows(x, out Buffer, rows, cols int, beta float32)
	// SumSquares adds sum_i x[i]^2 to out[0]; out may not be x.
	SumSquares(x Buffer, n int, out Buffer)
	// ArgmaxRows sets out[i] to the column index (as float32) of the largest
	// element of row i; ties go to the lowest index.
	ArgmaxRows(x, out Buffer, rows, cols int)
	// CountCorrect adds to out[0] the number of rows whose prediction matches
	// the label. With cols > 1, x holds logits and labels[i] a class index:
	// the prediction is the row's argmax. With cols == 1, x holds one binary
	// logit per row and labels[i] is 0 or 1: the prediction is x > 0.
	CountCorrect(x, labels, out Buffer, rows, cols int)

	// The losses below share one convention, PyTorch's "mean" reduction:
	// each sample's loss is the mean over its outputs (for cross-entropy, the
	// row's one loss over its classes), the batch loss is the
	// mean over samples, grad receives d(batch loss)/d(input), and the sum of
	// the per-sample losses is added to lossSum[0] (so that an epoch's mean
	// loss is that sum over the number of samples). grad may not alias the
	// inputs.

	// SoftmaxCrossEntropy takes logits [rows, cols] and class indices
	// labels[rows] (stored as float32). A label that is not a class index
	// is a programmer error: the CPU backend panics; a device backend,
	// whose kernels cannot, makes that row's loss and gradient NaN.
	SoftmaxCrossEntropy(logits, labels, grad, lossSum Buffer, rows, cols int)
	// BCEWithLogits takes logits and 0/1 targets, both [rows, cols].
	BCEWithLogits(logits, targets, grad, lossSum Buffer, rows, cols int)
	// MSE is the mean squared error between pred and target, both [rows, cols].
	MSE(pred, target, grad, lossSum Buffer, rows, cols int)
	// MAE is the mean absolute error; its gradient at pred == target is 0.
	MAE(pred, target, grad, lossSum Buffer, rows, cols int)

	// SGDStep updates param[0:n] in place from grad; velocity holds the
	// momentum state, and is neither read nor written (and may be nil) when
	// Momentum is 0.
	SGDStep(param, grad, velocity Buffer, n int, cfg SGDConfig)
	// AdamStep updates param[0:n] in place from grad; m and v hold the
	// first and second moment estimates.
	AdamStep(param, grad, m, v Buffer, n int, cfg AdamConfig)
}

// Asynchronous is implemented by backends that queue operations on a
// device and return at once (the CUDA backend). Reading a result there
// (Download) waits for the queue to drain, so callers read scalars as
// rarely as they can: the training loop checks its loss every few steps
// rather than every step.
type Asynchronous interface {
	Asynchronous() bool
}

// RowUploader is implemented by backends that upload chosen rows of a host
// matrix straight into a buffer (the CPU backend): the training loop's
// shuffled batch then takes one copy instead of a gather into staging
// memory and an Upload of that. UploadRows copies row idx[i] of src (rows
// of width floats) into row i of dst; it panics where an index is outside
// src, as Upload does on a wrong size.
type RowUploader interface {
	UploadRows(dst Buffer, src []float32, width int, idx []int)
}

// DeviceTimer is implemented by device backends that time their own work
// with device events: DeviceTime runs fn, which queues operations on the
// backend, and returns the device time between its first and last.
type DeviceTimer interface {
	DeviceTime(fn func()) (time.Duration, error)
}

// DropoutUniform returns the uniform draw in [0, 1) of element i (i >= 0)
// of the dropout mask with the given seed (see Backend.DropoutMask). It is
// counter-based, so that any element can be drawn on its own, in any order
// and on any device: SplitMix64's finaliser applied to
// seed + (i+1)*0x9E3779B97F4A7C15 (wrapping uint64 arithmetic), whose top
// 24 bits are scaled by 2^-24. The draws for i = 0, 1, 2, ... are the
// outputs of a SplitMix64 generator started at seed.
func DropoutUniform(seed uint64, i int) float32 {
	z := seed + (uint64(i)+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return float32(z>>40) * 0x1p-24
}
