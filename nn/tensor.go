package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
)

// Tensor is a batch of Rows samples of Cols values each, held row-major in
// a backend buffer. A batch of images also has the shape of one sample,
// C x H x W with C*H*W == Cols, stored as PyTorch stores it (N x C x H x W,
// see package backend); tabular data has the zero Shape.
type Tensor struct {
	Buf        backend.Buffer
	Rows, Cols int
	Shape      Shape // per sample; zero for tabular data
}

// Shape is the shape of one image, channels x height x width; the zero
// Shape stands for a flat row of features.
type Shape = data.Shape

// Len is the number of elements, Rows*Cols.
func (t Tensor) Len() int { return t.Rows * t.Cols }

// With is t's batch and shape held in another buffer: the output of a
// layer that keeps its input's shape (an activation, dropout).
func (t Tensor) With(buf backend.Buffer) Tensor {
	t.Buf = buf
	return t
}

// Param is one trainable tensor and its gradient.
type Param struct {
	Name  string // PyTorch's name within its layer: "weight", "bias"
	Shape []int  // e.g. [out, in]
	Value backend.Buffer
	Grad  backend.Buffer
}

// Len is the number of elements.
func (p *Param) Len() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

func newParam(be backend.Backend, name string, shape ...int) *Param {
	p := &Param{Name: name, Shape: shape}
	p.Value = be.Alloc(p.Len())
	p.Grad = be.Alloc(p.Len())
	return p
}

// NewRNG returns the generator that seeds everything random in a run (weight
// initialisation, shuffling, synthetic data), so that one seed reproduces a
// run exactly.
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(NewRNGSource(seed))
}

// NewRNGSource is NewRNG's generator, exposed so that its state can be saved
// in a checkpoint (MarshalBinary) and a resumed run can continue the same
// sequence.
func NewRNGSource(seed uint64) *rand.PCG {
	return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
}

// workspace is a layer-owned buffer that grows to the largest batch seen.
type workspace struct {
	buf backend.Buffer
}

// get returns a buffer of at least n elements, reallocating only to grow.
func (w *workspace) get(be backend.Backend, n int) backend.Buffer {
	if w.buf == nil || w.buf.Len() < n {
		if w.buf != nil {
			be.Free(w.buf)
		}
		w.buf = be.Alloc(n)
	}
	return w.buf
}

func (w *workspace) free(be backend.Backend) {
	if w.buf != nil {
		be.Free(w.buf)
		w.buf = nil
	}
}

func checkCols(layer string, x Tensor, want int) {
	if x.Cols != want {
		panic(fmt.Sprintf("nn: %s: input has %d columns, want %d", layer, x.Cols, want))
	}
}
