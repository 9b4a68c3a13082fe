package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fastnn/fastnn/backend"
)

// Dropout zeroes each input with probability P during training and scales
// the rest by 1/(1-P) (inverted dropout), so that evaluation needs no
// rescaling: outside training it passes its input through. Masks come from
// the backend's counter-based generator with a seed that advances every
// training step, so runs are reproducible on every backend.
type Dropout struct {
	P float32

	be        backend.Backend
	seed      uint64
	step      uint64
	fixed     bool // tests: reuse one mask
	active    bool // the last Forward applied a mask
	mask, out workspace
	dx        workspace
}

// NewDropout makes a dropout layer; rng seeds its masks.
func NewDropout(be backend.Backend, p float32, rng *rand.Rand) *Dropout {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("nn: NewDropout(%v): p must be in [0, 1)", p))
	}
	return &Dropout{P: p, be: be, seed: rng.Uint64()}
}

// Steps is the number of masks drawn so far; a resumed run sets it back
// with SetSteps so that it draws the masks the uninterrupted run would.
func (d *Dropout) Steps() uint64 { return d.step }

// SetSteps sets the mask counter (resuming from a checkpoint).
func (d *Dropout) SetSteps(n uint64) { d.step = n }

// FixMask makes every training Forward draw the same mask, for gradient
// checks.
func (d *Dropout) FixMask() { d.fixed = true }

func (d *Dropout) Forward(x Tensor, training bool) Tensor {
	d.active = training && d.P > 0
	if !d.active {
		return x
	}
	if !d.fixed {
		d.step++
	}
	n := x.Len()
	mask := d.mask.get(d.be, n)
	d.be.DropoutMask(mask, n, d.P, d.seed+d.step*0x9e3779b97f4a7c15)
	y := x.With(d.out.get(d.be, n))
	d.be.Mul(x.Buf, mask, y.Buf, n)
	return y
}

func (d *Dropout) Backward(dy Tensor) Tensor {
	if !d.active {
		return dy
	}
	dx := dy.With(d.dx.get(d.be, dy.Len()))
	d.be.Mul(dy.Buf, d.mask.buf, dx.Buf, dy.Len())
	return dx
}

func (d *Dropout) Params() []*Param       { return nil }
func (d *Dropout) OutFeatures(in int) int { return in }
func (d *Dropout) String() string         { return fmt.Sprintf("Dropout(p=%g)", d.P) }
func (d *Dropout) Free() {
	d.mask.free(d.be)
	d.out.free(d.be)
	d.dx.free(d.be)
}

// BatchNorm normalises each feature over the batch, as PyTorch's
// BatchNorm1d: in training with the batch's mean and variance (updating
// running estimates with Momentum), in evaluation with the running
// estimates; then scales by Weight (gamma) and shifts by Bias (beta).
type BatchNorm struct {
	Features      int
	Momentum, Eps float32
	Weight, Bias  *Param
	// RunningMean and RunningVar are saved with the model, as is
	// NumBatchesTracked (PyTorch's state_dict entries).
	RunningMean, RunningVar backend.Buffer
	NumBatchesTracked       int64

	be        backend.Backend
	params    []*Param
	mean, inv backend.Buffer
	x         Tensor
	out, dx   workspace
}

// NewBatchNorm makes a BatchNorm1d with PyTorch's defaults: gamma 1, beta 0,
// running mean 0 and variance 1, momentum 0.1, eps 1e-5.
func NewBatchNorm(be backend.Backend, features int) *BatchNorm {
	b := &BatchNorm{Features: features, Momentum: 0.1, Eps: 1e-5, be: be,
		Weight: newParam(be, "weight", features), Bias: newParam(be, "bias", features),
		RunningMean: be.Alloc(features), RunningVar: be.Alloc(features),
		mean: be.Alloc(features), inv: be.Alloc(features)}
	be.Fill(b.Weight.Value, 1, features)
	be.Fill(b.RunningVar, 1, features)
	b.params = []*Param{b.Weight, b.Bias}
	return b
}

func (b *BatchNorm) Forward(x Tensor, training bool) Tensor {
	checkCols("BatchNorm", x, b.Features)
	if training && x.Rows < 2 {
		panic("nn: BatchNorm: training needs batches of at least 2 samples")
	}
	b.x = x
	y := x.With(b.out.get(b.be, x.Len()))
	b.be.BatchNormForward(x.Buf, y.Buf, b.Weight.Value, b.Bias.Value, b.mean, b.inv, b.RunningMean, b.RunningVar,
		x.Rows, x.Cols, b.Momentum, b.Eps, training)
	if training {
		b.NumBatchesTracked++
	}
	return y
}

func (b *BatchNorm) Backward(dy Tensor) Tensor {
	dx := dy.With(b.dx.get(b.be, dy.Len()))
	b.be.BatchNormBackward(b.x.Buf, dy.Buf, dx.Buf, b.Weight.Value, b.mean, b.inv, b.Weight.Grad, b.Bias.Grad, dy.Rows, dy.Cols)
	return dx
}

func (b *BatchNorm) UsesBatchStatistics() bool { return true }
func (b *BatchNorm) Params() []*Param          { return b.params }
func (b *BatchNorm) OutFeatures(in int) int    { return in }
func (b *BatchNorm) String() string {
	return fmt.Sprintf("BatchNorm1d(%d, eps=%g, momentum=%g)", b.Features, b.Eps, b.Momentum)
}

// OutShape refuses images, as PyTorch's BatchNorm1d does: BatchNorm2d
// normalises their channels.
func (b *BatchNorm) OutShape(in Shape, cols int) (Shape, int, error) {
	if in.IsImage() {
		return Shape{}, 0, fmt.Errorf("%s takes flat rows, got %s images (use BatchNorm2d, or a Flatten before it)", b, in)
	}
	if cols != b.Features {
		return Shape{}, 0, fmt.Errorf("%s takes %d features, gets %d", b, b.Features, cols)
	}
	return in, cols, nil
}

// State lists the running statistics, as in PyTorch's state_dict.
func (b *BatchNorm) State() []NamedTensor {
	return []NamedTensor{
		{Name: "running_mean", Shape: []int{b.Features}, Buf: b.RunningMean},
		{Name: "running_var", Shape: []int{b.Features}, Buf: b.RunningVar},
		{Name: "num_batches_tracked", Shape: []int{}, Int: &b.NumBatchesTracked},
	}
}

func (b *BatchNorm) Free() {
	for _, buf := range []backend.Buffer{b.Weight.Value, b.Weight.Grad, b.Bias.Value, b.Bias.Grad, b.RunningMean, b.RunningVar, b.mean, b.inv} {
		b.be.Free(buf)
	}
	b.out.free(b.be)
	b.dx.free(b.be)
}

// Softmax turns each row into probabilities. Losses take logits, so a
// classifier does not end with it; it is for models whose output is used
// as probabilities.
type Softmax struct {
	be      backend.Backend
	y       Tensor
	out, dx workspace
}

// NewSoftmax makes a row-softmax layer.
func NewSoftmax(be backend.Backend) *Softmax { return &Softmax{be: be} }

func (s *Softmax) Forward(x Tensor, training bool) Tensor {
	s.y = x.With(s.out.get(s.be, x.Len()))
	s.be.Softmax(x.Buf, s.y.Buf, x.Rows, x.Cols)
	return s.y
}

func (s *Softmax) Backward(dy Tensor) Tensor {
	dx := dy.With(s.dx.get(s.be, dy.Len()))
	s.be.SoftmaxBackward(s.y.Buf, dy.Buf, dx.Buf, dy.Rows, dy.Cols)
	return dx
}

func (s *Softmax) Params() []*Param       { return nil }
func (s *Softmax) OutFeatures(in int) int { return in }
func (s *Softmax) String() string         { return "Softmax(dim=1)" }
func (s *Softmax) Free() {
	s.out.free(s.be)
	s.dx.free(s.be)
}

// L1 is L1 regularisation as the tutorials define it: Lambda * sum |w| over
// the model's weight tensors (see NamedWeights: Linear and Conv2d weights;
// not biases, not BatchNorm's scale and shift) is added to the training loss, so Lambda * sign(w) is
// added to those weights' gradients. At w = 0 the subgradient taken is 0,
// as PyTorch's sign() gives, so a weight that reaches exactly 0 stays
// there unless the data loss moves it.
//
// The gradient is composed from existing backend operations (ReLU and its
// derivative give the masks [w > 0] and [w < 0]), so that every backend
// runs it without a kernel of its own: about ten elementwise passes over
// the weights per step, little next to the matrix products of a step.
type L1 struct {
	Lambda float32

	be      backend.Backend
	weights []*Param
	a, b    backend.Buffer // scratch, as long as the largest weight tensor
}

// NewL1 makes the L1 term for the weights of m.
func NewL1(be backend.Backend, m Layer, lambda float32) *L1 {
	r := &L1{Lambda: lambda, be: be}
	_, r.weights = namedWeights(m)
	n := 0
	for _, w := range r.weights {
		n = max(n, w.Len())
	}
	r.a, r.b = be.Alloc(n), be.Alloc(n)
	return r
}

// AddGrad adds Lambda * sign(w) to the gradient of every weight tensor,
// with sign(0) = 0.
func (r *L1) AddGrad() {
	be, a, b := r.be, r.a, r.b
	for _, w := range r.weights {
		n := w.Len()
		// b = Lambda * [w > 0]; grad += b.
		be.Activate(backend.ReLU, 0, w.Value, a, n)
		be.Fill(b, r.Lambda, n)
		be.ActivateBackward(backend.ReLU, 0, w.Value, a, b, b, n)
		be.Add(w.Grad, b, w.Grad, n)
		// a = relu(-w), so that b = Lambda * [w < 0]; grad -= b. a serves
		// as both x and y = relu(x): relu(relu(-w)) = relu(-w).
		be.Copy(a, w.Value, n)
		be.Scale(a, -1, n)
		be.Activate(backend.ReLU, 0, a, a, n)
		be.Fill(b, r.Lambda, n)
		be.ActivateBackward(backend.ReLU, 0, a, a, b, b, n)
		be.Axpy(-1, b, w.Grad, n)
	}
}

// Free releases the scratch buffers.
func (r *L1) Free() {
	r.be.Free(r.a)
	r.be.Free(r.b)
}

// WeightStats are figures of a model's weight tensors (see NamedWeights),
// read back to the host and summed in float64.
type WeightStats struct {
	Count  int     // number of weights
	AbsSum float64 // sum |w|: the L1 penalty is Lambda times this
	Small  int     // weights with |w| < SmallWeight
}

// SmallWeight is the magnitude under which WeightStats counts a weight as
// (practically) zero, the figure that shows L1's sparsity.
const SmallWeight = 1e-3

// ReadWeightStats downloads m's weight tensors and returns their figures.
func ReadWeightStats(be backend.Backend, m *Sequential) WeightStats {
	var s WeightStats
	_, weights := m.NamedWeights()
	for _, w := range weights {
		v := make([]float32, w.Len())
		be.Download(v, w.Value)
		for _, x := range v {
			a := math.Abs(float64(x))
			s.AbsSum += a
			if a < SmallWeight {
				s.Small++
			}
		}
		s.Count += len(v)
	}
	return s
}
