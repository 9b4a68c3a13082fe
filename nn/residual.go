package nn

import (
	"fmt"

	"github.com/fastnn/fastnn/backend"
)

// Residual is a skip connection around a block whose output has its
// input's shape (as many features, or images of the same C x H x W):
// y = x + block(x). In backward the gradient takes
// both paths: dx = dy + block'(dy). The skip path is what keeps gradients
// alive through deep stacks.
type Residual struct {
	Block Layer

	be  backend.Backend
	out workspace
	dx  workspace
}

// NewResidual wraps block, which must keep its input's shape.
func NewResidual(be backend.Backend, block Layer) *Residual {
	return &Residual{Block: block, be: be}
}

// NamedParams names the block's parameters "block.<name>", as a PyTorch
// module with a block attribute would.
func (r *Residual) NamedParams() ([]string, []*Param) {
	names, params := namedParams(r.Block)
	for i := range names {
		names[i] = "block." + names[i]
	}
	return names, params
}

// OutShape is in and cols when the block keeps them, an error otherwise.
func (r *Residual) OutShape(in Shape, cols int) (Shape, int, error) {
	out, outCols, err := OutShape(r.Block, in, cols)
	if err != nil {
		return Shape{}, 0, fmt.Errorf("Residual: %w", err)
	}
	if out != in || outCols != cols {
		return Shape{}, 0, fmt.Errorf("Residual: the block maps %s (%d values) to %s (%d values); they must match", in, cols, out, outCols)
	}
	return in, cols, nil
}

func (r *Residual) Forward(x Tensor, training bool) Tensor {
	if _, _, err := r.OutShape(x.Shape, x.Cols); err != nil {
		panic("nn: " + err.Error())
	}
	f := r.Block.Forward(x, training)
	y := x.With(r.out.get(r.be, x.Len()))
	r.be.Add(x.Buf, f.Buf, y.Buf, x.Len())
	return y
}

func (r *Residual) Backward(dy Tensor) Tensor {
	df := r.Block.Backward(dy)
	dx := dy.With(r.dx.get(r.be, dy.Len()))
	r.be.Add(dy.Buf, df.Buf, dx.Buf, dy.Len())
	return dx
}

func (r *Residual) Children() []Layer { return []Layer{r.Block} }

// InFeatures is the block's.
func (r *Residual) InFeatures() (int, bool) { return inFeatures(r.Block) }

func (r *Residual) Params() []*Param       { return r.Block.Params() }
func (r *Residual) OutFeatures(in int) int { return in }
func (r *Residual) String() string         { return fmt.Sprintf("Residual(%s)", r.Block) }

func (r *Residual) Free() {
	r.Block.Free()
	r.out.free(r.be)
	r.dx.free(r.be)
}
