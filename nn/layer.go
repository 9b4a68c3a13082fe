package nn

import (
	"fmt"

	"github.com/fastnn/fastnn/backend"
)

// Layer is one stage of a network.
type Layer interface {
	// Forward computes the layer's output for a batch x. training selects
	// training behaviour for layers that have one (dropout, batch norm).
	Forward(x Tensor, training bool) Tensor
	// Backward takes dL/d(output) for the batch of the last Forward,
	// accumulates dL/d(params) into the params' Grad buffers and returns
	// dL/d(input).
	Backward(dy Tensor) Tensor
	// Params lists the trainable parameters (none for an activation).
	Params() []*Param
	// OutFeatures is the number of output columns for in input columns.
	OutFeatures(in int) int
	// String describes the layer, PyTorch style: "Linear(in=64, out=32)".
	String() string
	// Free releases the layer's buffers.
	Free()
}

// Optional behaviours. A layer, the package's or a user's own, implements
// those of the interfaces below that apply to it; the Trainer, Sequential
// and the checkpoint code look for them instead of for concrete types.

// Container is implemented by layers made of other layers (Sequential,
// Residual): Walk looks inside them.
type Container interface {
	Children() []Layer // in forward order
}

// InputSizer is implemented by layers that take a fixed number of input
// features (Linear): the Trainer checks a data set's width against it.
type InputSizer interface {
	InFeatures() (n int, known bool)
}

// BatchStatistics is implemented by layers that, in training, compute
// statistics over the batch (BatchNorm) and so cannot train on one sample:
// Fit skips an epoch's last batch when it holds a single sample, as a
// PyTorch DataLoader with drop_last.
type BatchStatistics interface {
	UsesBatchStatistics() bool
}

// MaskCounter is implemented by layers that draw random masks from a
// counter (Dropout): a checkpoint saves the counter, and a resumed run sets
// it back so that it draws the masks the uninterrupted run would.
type MaskCounter interface {
	Steps() uint64
	SetSteps(n uint64)
}

// Walk calls f for l and, depth first in forward order, for every layer
// inside it.
func Walk(l Layer, f func(Layer)) {
	f(l)
	if c, ok := l.(Container); ok {
		for _, child := range c.Children() {
			Walk(child, f)
		}
	}
}

// inputGradSkipper is implemented by layers that can skip computing
// dL/d(input) when nobody needs it (the first layer of a network).
type inputGradSkipper interface {
	skipInputGrad(skip bool)
}

// Linear is a fully connected layer, y = x W^T + b, with W [out, in] and
// b [out] as in PyTorch's nn.Linear.
type Linear struct {
	In, Out      int
	Weight, Bias *Param

	be        backend.Backend
	params    []*Param // Weight, Bias: built once, steps allocate nothing
	x         Tensor   // input of the last Forward
	y, dx     workspace
	skipInput bool
}

// NewLinear makes a Linear layer with weights drawn by init and zero biases.
func NewLinear(be backend.Backend, in, out int, init Init) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear(%d, %d): sizes must be positive", in, out))
	}
	l := &Linear{In: in, Out: out, be: be,
		Weight: newParam(be, "weight", out, in),
		Bias:   newParam(be, "bias", out),
	}
	be.Upload(l.Weight.Value, init.Weights(in, out))
	l.params = []*Param{l.Weight, l.Bias}
	return l
}

func (l *Linear) Forward(x Tensor, training bool) Tensor {
	checkCols("Linear", x, l.In)
	l.x = x
	y := Tensor{Buf: l.y.get(l.be, x.Rows*l.Out), Rows: x.Rows, Cols: l.Out}
	l.be.Gemm(false, true, x.Rows, l.Out, l.In, 1, x.Buf, l.Weight.Value, 0, y.Buf)
	l.be.AddBias(y.Buf, l.Bias.Value, x.Rows, l.Out)
	return y
}

func (l *Linear) Backward(dy Tensor) Tensor {
	checkCols("Linear backward", dy, l.Out)
	be, x := l.be, l.x
	// dW += dy^T x ; db += column sums of dy ; dx = dy W
	be.Gemm(true, false, l.Out, l.In, x.Rows, 1, dy.Buf, x.Buf, 1, l.Weight.Grad)
	be.SumRows(dy.Buf, l.Bias.Grad, dy.Rows, l.Out, 1)
	if l.skipInput {
		return Tensor{}
	}
	dx := Tensor{Buf: l.dx.get(be, x.Rows*l.In), Rows: x.Rows, Cols: l.In}
	be.Gemm(false, false, x.Rows, l.In, l.Out, 1, dy.Buf, l.Weight.Value, 0, dx.Buf)
	return dx
}

// OutShape takes any input as flat rows (an image is read in C, H, W
// order, as a Flatten before it would) of In features.
func (l *Linear) OutShape(in Shape, cols int) (Shape, int, error) {
	if cols != l.In {
		return Shape{}, 0, fmt.Errorf("%s takes %d features, gets %d", l, l.In, cols)
	}
	return Shape{}, l.Out, nil
}

func (l *Linear) skipInputGrad(skip bool) { l.skipInput = skip }
func (l *Linear) InFeatures() (int, bool) { return l.In, true }
func (l *Linear) Params() []*Param        { return l.params }
func (l *Linear) OutFeatures(int) int     { return l.Out }
func (l *Linear) String() string          { return fmt.Sprintf("Linear(in=%d, out=%d)", l.In, l.Out) }

func (l *Linear) Free() {
	for _, p := range l.Params() {
		l.be.Free(p.Value)
		l.be.Free(p.Grad)
	}
	l.y.free(l.be)
	l.dx.free(l.be)
}

// Activation applies an elementwise non-linearity.
type Activation struct {
	Kind  backend.Activation
	Slope float32 // LeakyReLU's negative slope

	be    backend.Backend
	x, y  Tensor
	out   workspace
	dx    workspace
	skipD bool
}

// NewActivation makes an activation layer; slope is used by LeakyReLU only.
func NewActivation(be backend.Backend, kind backend.Activation, slope float32) *Activation {
	return &Activation{Kind: kind, Slope: slope, be: be}
}

func (a *Activation) Forward(x Tensor, training bool) Tensor {
	a.x = x
	a.y = x.With(a.out.get(a.be, x.Len()))
	a.be.Activate(a.Kind, a.Slope, x.Buf, a.y.Buf, x.Len())
	return a.y
}

func (a *Activation) Backward(dy Tensor) Tensor {
	if a.skipD {
		return Tensor{}
	}
	dx := dy.With(a.dx.get(a.be, dy.Len()))
	a.be.ActivateBackward(a.Kind, a.Slope, a.x.Buf, a.y.Buf, dy.Buf, dx.Buf, dy.Len())
	return dx
}

func (a *Activation) skipInputGrad(skip bool) { a.skipD = skip }
func (a *Activation) Params() []*Param        { return nil }
func (a *Activation) OutFeatures(in int) int  { return in }

func (a *Activation) String() string {
	if a.Kind == backend.LeakyReLU {
		return fmt.Sprintf("LeakyReLU(slope=%g)", a.Slope)
	}
	return activationTitles[a.Kind]
}

var activationTitles = map[backend.Activation]string{
	backend.Identity: "Identity()", backend.ReLU: "ReLU()", backend.Sigmoid: "Sigmoid()",
	backend.Tanh: "Tanh()", backend.GELU: "GELU(approximate='tanh')",
}

func (a *Activation) Free() {
	a.out.free(a.be)
	a.dx.free(a.be)
}
