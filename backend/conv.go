package backend

import "fmt"

// Images are stored as PyTorch stores them: a batch of N images with C
// channels of H x W pixels is one dense N x C x H x W array (NCHW), element
// (n, c, h, w) at index ((n*C+c)*H+h)*W+w. A convolution's weight is
// K x C x KH x KW (K filters, PyTorch's Conv2d layout), its bias K values.

// ConvShape describes a 2-D convolution with PyTorch's Conv2d semantics
// (groups 1, dilation 1, zero padding): N images of C x H x W are
// correlated with K filters of C x KH x KW, moved StrideH rows and StrideW
// columns at a time over the input padded with PadH rows of zeros above
// and below and PadW columns left and right. The output is N x K x OutH() x
// OutW().
type ConvShape struct {
	N, C, H, W       int // input batch
	K, KH, KW        int // filters
	StrideH, StrideW int
	PadH, PadW       int
}

// OutH is the output height, (H + 2*PadH - KH)/StrideH + 1.
func (s ConvShape) OutH() int { return (s.H+2*s.PadH-s.KH)/s.StrideH + 1 }

// OutW is the output width, (W + 2*PadW - KW)/StrideW + 1.
func (s ConvShape) OutW() int { return (s.W+2*s.PadW-s.KW)/s.StrideW + 1 }

// InLen, OutLen and WeightLen are the element counts of x, y and weight.
func (s ConvShape) InLen() int     { return s.N * s.C * s.H * s.W }
func (s ConvShape) OutLen() int    { return s.N * s.K * s.OutH() * s.OutW() }
func (s ConvShape) WeightLen() int { return s.K * s.C * s.KH * s.KW }

// Valid returns an error unless the sizes are non-negative, strides and
// kernel sizes are at least 1, padding is non-negative, and the kernel fits
// in the padded input (so that the output has at least one pixel when the
// input has any). N == 0 is a legal empty batch; so are C == 0 and K == 0.
func (s ConvShape) Valid() error {
	if s.N < 0 || s.C < 0 || s.K < 0 || s.H < 1 || s.W < 1 {
		return fmt.Errorf("batch %d, channels %d -> %d, image %dx%d: want N, C, K >= 0 and H, W >= 1", s.N, s.C, s.K, s.H, s.W)
	}
	if s.KH < 1 || s.KW < 1 || s.StrideH < 1 || s.StrideW < 1 || s.PadH < 0 || s.PadW < 0 {
		return fmt.Errorf("kernel %dx%d, stride %dx%d, padding %dx%d: want kernel and stride >= 1, padding >= 0", s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW)
	}
	if s.KH > s.H+2*s.PadH || s.KW > s.W+2*s.PadW {
		return fmt.Errorf("kernel %dx%d is larger than the padded input %dx%d", s.KH, s.KW, s.H+2*s.PadH, s.W+2*s.PadW)
	}
	return nil
}

// Check panics, naming who and op, when s is not Valid.
func (s ConvShape) Check(who, op string) {
	if err := s.Valid(); err != nil {
		panic(fmt.Sprintf("%s: %s: %v", who, op, err))
	}
}

// PoolShape describes a 2-D pooling of N x C x H x W with PyTorch's
// MaxPool2d and AvgPool2d semantics (dilation 1, floor mode): windows of
// KH x KW moved StrideH rows and StrideW columns at a time over the input
// padded with PadH rows and PadW columns. Max pooling ignores the padding;
// average pooling counts it as zeros (count_include_pad=True, PyTorch's
// default). The output is N x C x OutH() x OutW().
type PoolShape struct {
	N, C, H, W       int
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
}

// OutH is the output height, (H + 2*PadH - KH)/StrideH + 1.
func (s PoolShape) OutH() int { return (s.H+2*s.PadH-s.KH)/s.StrideH + 1 }

// OutW is the output width, (W + 2*PadW - KW)/StrideW + 1.
func (s PoolShape) OutW() int { return (s.W+2*s.PadW-s.KW)/s.StrideW + 1 }

// InLen and OutLen are the element counts of x and y.
func (s PoolShape) InLen() int  { return s.N * s.C * s.H * s.W }
func (s PoolShape) OutLen() int { return s.N * s.C * s.OutH() * s.OutW() }

// Valid returns an error unless sizes are non-negative, the window and
// stride are at least 1, the padding is at most half the window (PyTorch's
// rule, so that every window holds an input pixel) and the window fits in
// the padded input.
func (s PoolShape) Valid() error {
	if s.N < 0 || s.C < 0 || s.H < 1 || s.W < 1 {
		return fmt.Errorf("batch %d, channels %d, image %dx%d: want N, C >= 0 and H, W >= 1", s.N, s.C, s.H, s.W)
	}
	if s.KH < 1 || s.KW < 1 || s.StrideH < 1 || s.StrideW < 1 || s.PadH < 0 || s.PadW < 0 {
		return fmt.Errorf("window %dx%d, stride %dx%d, padding %dx%d: want window and stride >= 1, padding >= 0", s.KH, s.KW, s.StrideH, s.StrideW, s.PadH, s.PadW)
	}
	if 2*s.PadH > s.KH || 2*s.PadW > s.KW {
		return fmt.Errorf("padding %dx%d is more than half the window %dx%d", s.PadH, s.PadW, s.KH, s.KW)
	}
	if s.KH > s.H+2*s.PadH || s.KW > s.W+2*s.PadW {
		return fmt.Errorf("window %dx%d is larger than the padded input %dx%d", s.KH, s.KW, s.H+2*s.PadH, s.W+2*s.PadW)
	}
	return nil
}

// Check panics, naming who and op, when s is not Valid.
func (s PoolShape) Check(who, op string) {
	if err := s.Valid(); err != nil {
		panic(fmt.Sprintf("%s: %s: %v", who, op, err))
	}
}

// Convolver is implemented by backends that run convolutional networks
// (the CPU and CUDA backends): the operations behind nn's Conv2d, pooling
// and BatchNorm2d layers. It is a capability apart from Backend, as
// Asynchronous is, so that a Backend written for MLPs keeps compiling and
// working; nn's image layers refuse, with an error naming the layer, a
// backend without it.
//
// The layouts are those above. Buffers may be longer than an operation
// needs, never shorter; the panic policy is Backend's. Every operation
// with N == 0 does nothing, except that the backward-filter product still
// leaves dWeight and dBias unchanged (they accumulate).
type Convolver interface {
	// Conv2d computes y = conv(x, weight) + bias, PyTorch's F.conv2d:
	//
	//	y[n,k,i,j] = bias[k] + sum_{c,p,q} weight[k,c,p,q] * xpad[n,c,i*StrideH+p, j*StrideW+q]
	//
	// where xpad is x with the zero padding. bias may be nil (no bias).
	// y may not alias x or weight.
	Conv2d(x, weight, bias, y Buffer, s ConvShape)
	// Conv2dBackwardData writes dx = dL/dx for y = Conv2d(x, weight) from
	// dy = dL/dy: every x pixel receives weight * dy from each window that
	// covers it (pixels that no window covers get 0). dx may not alias dy.
	Conv2dBackwardData(dy, weight, dx Buffer, s ConvShape)
	// Conv2dBackwardFilter adds dL/dweight to dWeight and, when dBias is
	// not nil, dL/dbias (the sums of dy over n, i and j) to dBias:
	// gradients accumulate, as for every parameter.
	Conv2dBackwardFilter(x, dy, dWeight, dBias Buffer, s ConvShape)

	// MaxPool2d writes y = the maximum of each window of x, ignoring
	// padding. A NaN wins over any number, as in PyTorch.
	MaxPool2d(x, y Buffer, s PoolShape)
	// MaxPool2dBackward writes dx = dL/dx for y = MaxPool2d(x) from dy:
	// each window's gradient goes to one input, the position of its
	// maximum found as PyTorch finds it (scanning the window row by row
	// from its first pixel inside the input, moving on to a value that is
	// larger than the best so far or NaN), and is added there when windows
	// overlap; every other pixel gets 0.
	MaxPool2dBackward(x, dy, dx Buffer, s PoolShape)
	// AvgPool2d writes y = the mean of each window of x, the padding
	// counted as zeros (divisor KH*KW).
	AvgPool2d(x, y Buffer, s PoolShape)
	// AvgPool2dBackward writes dx = dL/dx for y = AvgPool2d(x) from dy:
	// every pixel receives dy/(KH*KW) from each window that covers it.
	AvgPool2dBackward(dy, dx Buffer, s PoolShape)

	// TransposeBatch transposes each of batch rows x cols matrices stored
	// one after another in x into y: y[b,j,i] = x[b,i,j]. It turns NCHW
	// into NHWC (rows C, cols H*W) and back, so that BatchNorm2d can use
	// BatchNormForward's per-column statistics. y may not alias x.
	TransposeBatch(x, y Buffer, batch, rows, cols int)
}
