package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/fastnn/fastnn/backend"
)

// Tensor is a rows x cols row-major matrix held in a backend buffer.
type Tensor struct {
	Buf        backend.Buffer
	Rows, Cols int
}

// Len is the number of elements, Rows*Cols.
func (t Tensor) Len() int { return t.Rows * t.Cols }

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
