package ref

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// The operations of backend.Convolver, as direct loops over the formulas of
// its doc comments. Tensors are NCHW (see package backend).

func convInputs(op string, s backend.ConvShape, x, weight []float32) {
	s.Check("ref", op)
	need(op, "x", x, s.InLen())
	need(op, "weight", weight, s.WeightLen())
}

// Conv2d returns y = conv(x, weight) + bias (bias may be nil).
func Conv2d(x, weight, bias []float32, s backend.ConvShape) []float64 {
	convInputs("Conv2d", s, x, weight)
	if bias != nil {
		need("Conv2d", "bias", bias, s.K)
	}
	y := make([]float64, s.OutLen())
	if bias != nil {
		plane := s.OutH() * s.OutW()
		for i := range y {
			y[i] = float64(bias[i/plane%s.K])
		}
	}
	convTaps(s, func(xi, wi, yi int) { y[yi] += float64(weight[wi]) * float64(x[xi]) })
	return y
}

// convTaps calls f(xIndex, wIndex, yIndex) for every product term of
// Conv2d, output by output and within one in (c, p, q) order: the one loop
// nest that the forward and both backward operations walk.
func convTaps(s backend.ConvShape, f func(xi, wi, yi int)) {
	oh, ow := s.OutH(), s.OutW()
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					yi := ((n*s.K+k)*oh+i)*ow + j
					for c := 0; c < s.C; c++ {
						for p := 0; p < s.KH; p++ {
							h := i*s.StrideH - s.PadH + p
							if h < 0 || h >= s.H {
								continue
							}
							for q := 0; q < s.KW; q++ {
								w := j*s.StrideW - s.PadW + q
								if w < 0 || w >= s.W {
									continue
								}
								f(((n*s.C+c)*s.H+h)*s.W+w, ((k*s.C+c)*s.KH+p)*s.KW+q, yi)
							}
						}
					}
				}
			}
		}
	}
}

// Conv2dBackwardData returns dx for y = Conv2d(x, weight) from dy.
func Conv2dBackwardData(dy, weight []float32, s backend.ConvShape) []float64 {
	s.Check("ref", "Conv2dBackwardData")
	need("Conv2dBackwardData", "dy", dy, s.OutLen())
	need("Conv2dBackwardData", "weight", weight, s.WeightLen())
	dx := make([]float64, s.InLen())
	convTaps(s, func(xi, wi, yi int) { dx[xi] += float64(weight[wi]) * float64(dy[yi]) })
	return dx
}

// Conv2dBackwardFilter returns dWeight + dL/dweight and, when dBias is not
// nil, dBias + dL/dbias (nil otherwise).
func Conv2dBackwardFilter(x, dy, dWeight, dBias []float32, s backend.ConvShape) (newDWeight, newDBias []float64) {
	convInputs("Conv2dBackwardFilter", s, x, dWeight)
	need("Conv2dBackwardFilter", "dy", dy, s.OutLen())
	newDWeight = widen(dWeight[:s.WeightLen()])
	convTaps(s, func(xi, wi, yi int) { newDWeight[wi] += float64(x[xi]) * float64(dy[yi]) })
	if dBias != nil {
		need("Conv2dBackwardFilter", "dBias", dBias, s.K)
		newDBias = widen(dBias[:s.K])
		plane := s.OutH() * s.OutW()
		for n := 0; n < s.N; n++ {
			for k := 0; k < s.K; k++ {
				for _, v := range dy[(n*s.K+k)*plane : (n*s.K+k+1)*plane] {
					newDBias[k] += float64(v)
				}
			}
		}
	}
	return newDWeight, newDBias
}

// poolWindows calls f(yIndex, first, xs) for every output pixel, where xs
// lists the input indices of its window that lie inside the input, in row
// order (first == xs[0]).
func poolWindows(s backend.PoolShape, f func(yi int, xs []int)) {
	oh, ow := s.OutH(), s.OutW()
	xs := make([]int, 0, s.KH*s.KW)
	for nc := 0; nc < s.N*s.C; nc++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				xs = xs[:0]
				for p := 0; p < s.KH; p++ {
					h := i*s.StrideH - s.PadH + p
					if h < 0 || h >= s.H {
						continue
					}
					for q := 0; q < s.KW; q++ {
						w := j*s.StrideW - s.PadW + q
						if w >= 0 && w < s.W {
							xs = append(xs, (nc*s.H+h)*s.W+w)
						}
					}
				}
				f((nc*oh+i)*ow+j, xs)
			}
		}
	}
}

// maxIndex is the input index of a window's maximum, found as PyTorch
// finds it: start at the first pixel with -Inf as the best, move on to a
// larger value or a NaN.
func maxIndex(x []float32, xs []int) int {
	best, at := math.Inf(-1), xs[0]
	for _, i := range xs {
		if v := float64(x[i]); v > best || math.IsNaN(v) {
			best, at = v, i
		}
	}
	return at
}

// MaxPool2d returns the maximum of each window.
func MaxPool2d(x []float32, s backend.PoolShape) []float64 {
	s.Check("ref", "MaxPool2d")
	need("MaxPool2d", "x", x, s.InLen())
	y := make([]float64, s.OutLen())
	poolWindows(s, func(yi int, xs []int) { y[yi] = float64(x[maxIndex(x, xs)]) })
	return y
}

// MaxPool2dBackward returns dx for y = MaxPool2d(x) from dy.
func MaxPool2dBackward(x, dy []float32, s backend.PoolShape) []float64 {
	s.Check("ref", "MaxPool2dBackward")
	need("MaxPool2dBackward", "x", x, s.InLen())
	need("MaxPool2dBackward", "dy", dy, s.OutLen())
	dx := make([]float64, s.InLen())
	poolWindows(s, func(yi int, xs []int) { dx[maxIndex(x, xs)] += float64(dy[yi]) })
	return dx
}

// AvgPool2d returns the mean of each window, padding counted as zeros.
func AvgPool2d(x []float32, s backend.PoolShape) []float64 {
	s.Check("ref", "AvgPool2d")
	need("AvgPool2d", "x", x, s.InLen())
	y := make([]float64, s.OutLen())
	div := float64(s.KH * s.KW)
	poolWindows(s, func(yi int, xs []int) {
		sum := 0.0
		for _, i := range xs {
			sum += float64(x[i])
		}
		y[yi] = sum / div
	})
	return y
}

// AvgPool2dBackward returns dx for y = AvgPool2d(x) from dy.
func AvgPool2dBackward(dy []float32, s backend.PoolShape) []float64 {
	s.Check("ref", "AvgPool2dBackward")
	need("AvgPool2dBackward", "dy", dy, s.OutLen())
	dx := make([]float64, s.InLen())
	div := float64(s.KH * s.KW)
	poolWindows(s, func(yi int, xs []int) {
		for _, i := range xs {
			dx[i] += float64(dy[yi]) / div
		}
	})
	return dx
}

// TransposeBatch returns the transposes of batch rows x cols matrices.
func TransposeBatch(x []float32, batch, rows, cols int) []float64 {
	dims("TransposeBatch", batch, rows, cols)
	need("TransposeBatch", "x", x, batch*rows*cols)
	y := make([]float64, batch*rows*cols)
	for b := 0; b < batch; b++ {
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				y[(b*cols+j)*rows+i] = float64(x[(b*rows+i)*cols+j])
			}
		}
	}
	return y
}
