package nn

import (
	"fmt"

	"github.com/fastnn/fastnn/backend"
)

// The layers of convolutional networks, with PyTorch's semantics, weight
// layouts and state_dict names. They take batches of images (a Tensor with
// an image Shape, N x C x H x W) and run on backends that implement
// backend.Convolver.

// ShapeMapper is implemented by layers whose output shape is not simply
// their input's, or that take only some inputs (Conv2d, the pools,
// Flatten, Linear, BatchNorm): OutShape maps the shape of one input
// sample, in (the zero Shape for a flat row) of cols values, to the
// output's, or returns an error that names the layer. A layer without it
// keeps its input's shape when OutFeatures keeps the width, and makes flat
// rows otherwise.
type ShapeMapper interface {
	OutShape(in Shape, cols int) (out Shape, outCols int, err error)
}

// OutShape is the shape of l's output for one input sample of shape in
// (zero for a flat row) and cols values, or an error naming the first
// layer that cannot take what it is given.
func OutShape(l Layer, in Shape, cols int) (Shape, int, error) {
	if m, ok := l.(ShapeMapper); ok {
		return m.OutShape(in, cols)
	}
	out := l.OutFeatures(cols)
	if out == cols {
		return in, out, nil
	}
	return Shape{}, out, nil
}

// OutShape chains the layers' shapes; an error names the layer's index.
func (s *Sequential) OutShape(in Shape, cols int) (Shape, int, error) {
	for i, l := range s.Layers {
		var err error
		if in, cols, err = OutShape(l, in, cols); err != nil {
			return Shape{}, 0, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return in, cols, nil
}

// convolver is be's Convolver, or a panic naming the layer: a layer that
// needs one cannot be built on a backend without it.
func convolver(be backend.Backend, layer string) backend.Convolver {
	c, ok := be.(backend.Convolver)
	if !ok {
		panic(fmt.Sprintf("nn: %s needs a backend with convolutions (backend.Convolver); %s has none", layer, be.Name()))
	}
	return c
}

// HasConvolutions reports whether be runs the layers of this file.
func HasConvolutions(be backend.Backend) bool {
	_, ok := be.(backend.Convolver)
	return ok
}

// needImage is the error, naming layer, when an input of shape in and cols
// values is not an image. The layer is named only on error: Forward calls
// it every step, and a step allocates nothing.
func needImage(layer fmt.Stringer, in Shape, cols int) error {
	if !in.IsImage() {
		return fmt.Errorf("%s takes images (N x C x H x W), got flat rows of %d features", layer, cols)
	}
	if in.Len() != cols {
		return fmt.Errorf("%s: %s images have %d values, got %d", layer, in, in.Len(), cols)
	}
	return nil
}

// Conv2d is a 2-D convolution, PyTorch's nn.Conv2d (groups 1, dilation 1,
// zero padding): Weight is [Out, In, KernelH, KernelW], Bias [Out].
type Conv2d struct {
	In, Out          int
	KernelH, KernelW int
	StrideH, StrideW int
	PadH, PadW       int
	Weight, Bias     *Param

	be        backend.Backend
	conv      backend.Convolver
	params    []*Param
	x         Tensor
	y, dx     workspace
	skipInput bool
}

// Conv2dConfig gives Conv2d's sizes: square kernel, stride and padding,
// as PyTorch's integer arguments do. Stride 0 means 1.
type Conv2dConfig struct {
	In, Out, Kernel, Stride, Padding int
}

// NewConv2d makes a Conv2d with weights drawn by init (fan-in
// In*Kernel*Kernel, fan-out Out*Kernel*Kernel, as PyTorch counts them) and
// zero biases.
func NewConv2d(be backend.Backend, cfg Conv2dConfig, init Init) *Conv2d {
	if cfg.Stride == 0 {
		cfg.Stride = 1
	}
	if cfg.In < 1 || cfg.Out < 1 || cfg.Kernel < 1 || cfg.Stride < 1 || cfg.Padding < 0 {
		panic(fmt.Sprintf("nn: NewConv2d(%+v): channels, kernel and stride must be positive, padding >= 0", cfg))
	}
	c := &Conv2d{In: cfg.In, Out: cfg.Out, KernelH: cfg.Kernel, KernelW: cfg.Kernel,
		StrideH: cfg.Stride, StrideW: cfg.Stride, PadH: cfg.Padding, PadW: cfg.Padding, be: be}
	c.conv = convolver(be, c.String())
	c.Weight = newParam(be, "weight", cfg.Out, cfg.In, cfg.Kernel, cfg.Kernel)
	c.Bias = newParam(be, "bias", cfg.Out)
	area := cfg.Kernel * cfg.Kernel
	be.Upload(c.Weight.Value, init.draw(cfg.In*area, cfg.Out*area, c.Weight.Len()))
	c.params = []*Param{c.Weight, c.Bias}
	return c
}

func (c *Conv2d) shape(n int, in Shape) backend.ConvShape {
	return backend.ConvShape{N: n, C: in.C, H: in.H, W: in.W, K: c.Out, KH: c.KernelH, KW: c.KernelW,
		StrideH: c.StrideH, StrideW: c.StrideW, PadH: c.PadH, PadW: c.PadW}
}

func (c *Conv2d) OutShape(in Shape, cols int) (Shape, int, error) {
	if err := needImage(c, in, cols); err != nil {
		return Shape{}, 0, err
	}
	if in.C != c.In {
		return Shape{}, 0, fmt.Errorf("%s takes %d channels, got %s images", c, c.In, in)
	}
	s := c.shape(1, in)
	if err := s.Valid(); err != nil {
		return Shape{}, 0, fmt.Errorf("%s on %s images: %v", c, in, err)
	}
	out := Shape{C: c.Out, H: s.OutH(), W: s.OutW()}
	return out, out.Len(), nil
}

func (c *Conv2d) Forward(x Tensor, training bool) Tensor {
	out, cols, err := c.OutShape(x.Shape, x.Cols)
	if err != nil {
		panic("nn: " + err.Error())
	}
	c.x = x
	y := Tensor{Buf: c.y.get(c.be, x.Rows*cols), Rows: x.Rows, Cols: cols, Shape: out}
	c.conv.Conv2d(x.Buf, c.Weight.Value, c.Bias.Value, y.Buf, c.shape(x.Rows, x.Shape))
	return y
}

func (c *Conv2d) Backward(dy Tensor) Tensor {
	s := c.shape(c.x.Rows, c.x.Shape)
	c.conv.Conv2dBackwardFilter(c.x.Buf, dy.Buf, c.Weight.Grad, c.Bias.Grad, s)
	if c.skipInput {
		return Tensor{}
	}
	dx := c.x.With(c.dx.get(c.be, c.x.Len()))
	c.conv.Conv2dBackwardData(dy.Buf, c.Weight.Value, dx.Buf, s)
	return dx
}

func (c *Conv2d) skipInputGrad(skip bool) { c.skipInput = skip }
func (c *Conv2d) Params() []*Param        { return c.params }

// OutFeatures is the output width for in input values, which for a
// convolution depends on the image's shape: it assumes square images of
// In channels (use OutShape when the shape is known).
func (c *Conv2d) OutFeatures(in int) int {
	side := 0
	for side*side*c.In < in {
		side++
	}
	_, cols, err := c.OutShape(Shape{C: c.In, H: side, W: side}, in)
	if err != nil {
		return 0
	}
	return cols
}

func (c *Conv2d) String() string {
	s := fmt.Sprintf("Conv2d(%d, %d, kernel_size=(%d, %d)", c.In, c.Out, c.KernelH, c.KernelW)
	if c.StrideH != 1 || c.StrideW != 1 {
		s += fmt.Sprintf(", stride=(%d, %d)", c.StrideH, c.StrideW)
	}
	if c.PadH != 0 || c.PadW != 0 {
		s += fmt.Sprintf(", padding=(%d, %d)", c.PadH, c.PadW)
	}
	return s + ")"
}

func (c *Conv2d) Free() {
	for _, p := range c.params {
		c.be.Free(p.Value)
		c.be.Free(p.Grad)
	}
	c.y.free(c.be)
	c.dx.free(c.be)
}

// Pool2d is max or average pooling, PyTorch's nn.MaxPool2d and
// nn.AvgPool2d (count_include_pad=True), with square windows. A zero
// Kernel pools each whole image to one pixel per channel (global average
// pooling, PyTorch's nn.AdaptiveAvgPool2d(1)).
type Pool2d struct {
	Max                     bool
	Kernel, Stride, Padding int

	be    backend.Backend
	conv  backend.Convolver
	x, y  Tensor
	out   workspace
	dx    workspace
	skipD bool
}

// NewMaxPool2d makes a max pooling layer; stride 0 means the kernel size
// (PyTorch's default).
func NewMaxPool2d(be backend.Backend, kernel, stride, padding int) *Pool2d {
	return newPool2d(be, true, kernel, stride, padding)
}

// NewAvgPool2d makes an average pooling layer; stride 0 means the kernel
// size.
func NewAvgPool2d(be backend.Backend, kernel, stride, padding int) *Pool2d {
	return newPool2d(be, false, kernel, stride, padding)
}

// NewGlobalAvgPool2d averages each channel of an image to one value,
// PyTorch's nn.AdaptiveAvgPool2d(1).
func NewGlobalAvgPool2d(be backend.Backend) *Pool2d {
	return &Pool2d{be: be, conv: convolver(be, "AdaptiveAvgPool2d")}
}

func newPool2d(be backend.Backend, isMax bool, kernel, stride, padding int) *Pool2d {
	if stride == 0 {
		stride = kernel
	}
	p := &Pool2d{Max: isMax, Kernel: kernel, Stride: stride, Padding: padding, be: be}
	if kernel < 1 || stride < 1 || padding < 0 || 2*padding > kernel {
		panic(fmt.Sprintf("nn: %s: kernel and stride must be positive, padding at most half the kernel", p))
	}
	p.conv = convolver(be, p.String())
	return p
}

func (p *Pool2d) shape(n int, in Shape) backend.PoolShape {
	if p.Kernel == 0 { // global
		return backend.PoolShape{N: n, C: in.C, H: in.H, W: in.W, KH: in.H, KW: in.W, StrideH: 1, StrideW: 1}
	}
	return backend.PoolShape{N: n, C: in.C, H: in.H, W: in.W, KH: p.Kernel, KW: p.Kernel,
		StrideH: p.Stride, StrideW: p.Stride, PadH: p.Padding, PadW: p.Padding}
}

func (p *Pool2d) OutShape(in Shape, cols int) (Shape, int, error) {
	if err := needImage(p, in, cols); err != nil {
		return Shape{}, 0, err
	}
	s := p.shape(1, in)
	if err := s.Valid(); err != nil {
		return Shape{}, 0, fmt.Errorf("%s on %s images: %v", p, in, err)
	}
	out := Shape{C: in.C, H: s.OutH(), W: s.OutW()}
	return out, out.Len(), nil
}

func (p *Pool2d) Forward(x Tensor, training bool) Tensor {
	out, cols, err := p.OutShape(x.Shape, x.Cols)
	if err != nil {
		panic("nn: " + err.Error())
	}
	p.x = x
	p.y = Tensor{Buf: p.out.get(p.be, x.Rows*cols), Rows: x.Rows, Cols: cols, Shape: out}
	s := p.shape(x.Rows, x.Shape)
	if p.Max {
		p.conv.MaxPool2d(x.Buf, p.y.Buf, s)
	} else {
		p.conv.AvgPool2d(x.Buf, p.y.Buf, s)
	}
	return p.y
}

func (p *Pool2d) Backward(dy Tensor) Tensor {
	if p.skipD {
		return Tensor{}
	}
	dx := p.x.With(p.dx.get(p.be, p.x.Len()))
	s := p.shape(p.x.Rows, p.x.Shape)
	if p.Max {
		p.conv.MaxPool2dBackward(p.x.Buf, dy.Buf, dx.Buf, s)
	} else {
		p.conv.AvgPool2dBackward(dy.Buf, dx.Buf, s)
	}
	return dx
}

func (p *Pool2d) skipInputGrad(skip bool) { p.skipD = skip }
func (p *Pool2d) Params() []*Param        { return nil }

// OutFeatures assumes square single-channel images (use OutShape when the
// shape is known).
func (p *Pool2d) OutFeatures(in int) int {
	side := 0
	for side*side < in {
		side++
	}
	_, cols, err := p.OutShape(Shape{C: 1, H: side, W: side}, in)
	if err != nil {
		return 0
	}
	return cols
}

func (p *Pool2d) String() string {
	switch {
	case p.Kernel == 0:
		return "AdaptiveAvgPool2d(output_size=1)"
	case p.Max:
		return fmt.Sprintf("MaxPool2d(kernel_size=%d, stride=%d, padding=%d)", p.Kernel, p.Stride, p.Padding)
	}
	return fmt.Sprintf("AvgPool2d(kernel_size=%d, stride=%d, padding=%d)", p.Kernel, p.Stride, p.Padding)
}

func (p *Pool2d) Free() {
	p.out.free(p.be)
	p.dx.free(p.be)
}

// Flatten turns each image into a flat row in C, H, W order, PyTorch's
// nn.Flatten(): the data do not move, so that a Linear after it reads the
// features in the order PyTorch's does.
type Flatten struct {
	in Shape // of the last Forward's input, which Backward gives back
}

// NewFlatten makes a Flatten layer.
func NewFlatten() *Flatten { return &Flatten{} }

func (f *Flatten) Forward(x Tensor, training bool) Tensor {
	f.in, x.Shape = x.Shape, Shape{}
	return x
}

func (f *Flatten) Backward(dy Tensor) Tensor {
	dy.Shape = f.in
	return dy
}

func (*Flatten) Params() []*Param       { return nil }
func (*Flatten) OutFeatures(in int) int { return in }
func (*Flatten) String() string         { return "Flatten(start_dim=1, end_dim=-1)" }
func (*Flatten) Free()                  {}
func (*Flatten) OutShape(in Shape, cols int) (Shape, int, error) {
	return Shape{}, cols, nil
}

// BatchNorm2d normalises each channel over the batch and the image's
// pixels, PyTorch's nn.BatchNorm2d: a BatchNorm over the rows of the
// channels-last view of the batch (N*H*W rows of C values), which it makes
// with the backend's TransposeBatch.
type BatchNorm2d struct {
	*BatchNorm

	conv    backend.Convolver
	x       Tensor
	xRows   workspace // the channels-last input, kept for Backward
	dyRows  workspace
	out, dx workspace
}

// NewBatchNorm2d makes a BatchNorm2d with PyTorch's defaults.
func NewBatchNorm2d(be backend.Backend, channels int) *BatchNorm2d {
	conv := convolver(be, fmt.Sprintf("BatchNorm2d(%d)", channels)) // before allocating
	return &BatchNorm2d{BatchNorm: NewBatchNorm(be, channels), conv: conv}
}

func (b *BatchNorm2d) OutShape(in Shape, cols int) (Shape, int, error) {
	if err := needImage(b, in, cols); err != nil {
		return Shape{}, 0, err
	}
	if in.C != b.Features {
		return Shape{}, 0, fmt.Errorf("%s takes %d channels, got %s images", b, b.Features, in)
	}
	return in, cols, nil
}

// channelsLast runs f on the N*H*W x C view of the image batch t (t's
// buffer transposed into scratch) and transposes f's result, of the same
// shape, back into dst.
func (b *BatchNorm2d) channelsLast(t Tensor, scratch, dst *workspace, f func(Tensor) Tensor) Tensor {
	hw := t.Shape.H * t.Shape.W
	rows := Tensor{Buf: scratch.get(b.be, t.Len()), Rows: t.Rows * hw, Cols: t.Shape.C}
	b.conv.TransposeBatch(t.Buf, rows.Buf, t.Rows, t.Shape.C, hw)
	r := f(rows)
	out := t.With(dst.get(b.be, t.Len()))
	b.conv.TransposeBatch(r.Buf, out.Buf, t.Rows, hw, t.Shape.C)
	return out
}

func (b *BatchNorm2d) Forward(x Tensor, training bool) Tensor {
	if _, _, err := b.OutShape(x.Shape, x.Cols); err != nil {
		panic("nn: " + err.Error())
	}
	b.x = x
	return b.channelsLast(x, &b.xRows, &b.out, func(rows Tensor) Tensor { return b.BatchNorm.Forward(rows, training) })
}

func (b *BatchNorm2d) Backward(dy Tensor) Tensor {
	dy.Shape = b.x.Shape
	return b.channelsLast(dy, &b.dyRows, &b.dx, b.BatchNorm.Backward)
}

func (b *BatchNorm2d) String() string {
	return fmt.Sprintf("BatchNorm2d(%d, eps=%g, momentum=%g)", b.Features, b.Eps, b.Momentum)
}

func (b *BatchNorm2d) Free() {
	b.BatchNorm.Free()
	b.xRows.free(b.be)
	b.dyRows.free(b.be)
	b.out.free(b.be)
	b.dx.free(b.be)
}

var (
	_ ShapeMapper = (*Conv2d)(nil)
	_ ShapeMapper = (*Pool2d)(nil)
	_ ShapeMapper = (*Flatten)(nil)
	_ ShapeMapper = (*BatchNorm2d)(nil)
)
