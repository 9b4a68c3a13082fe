package ref

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// Finite-difference checks of the backward formulas of the convolution and
// pooling references: each analytic gradient of L = sum dy*y is compared
// with the central difference (L(v+h) - L(v-h)) / 2h of the float64
// forward. The inputs are multiples of 1/64 and h = 2^-10, so that v+h and
// v-h are exact in float32; convolution and average pooling are linear, so
// the difference is exact up to float64 rounding, and max pooling's inputs
// are distinct by more than 2h, so that no step moves a window's maximum.

// centralDiff is dL/dv by central differences, v restored afterwards.
func centralDiff(loss func() float64, v *float32) float64 {
	const h = 0x1p-10
	old := *v
	*v = old + h
	up := loss()
	*v = old - h
	down := loss()
	*v = old
	return (up - down) / (2 * h)
}

// dot is sum dy*y, the loss whose gradient with respect to y is dy.
func dot(dy []float32, y []float64) float64 {
	s := 0.0
	for i, v := range y {
		s += float64(dy[i]) * v
	}
	return s
}

// distinctValues is n different multiples of 1/64 in random order, so that
// max pooling has no ties.
func distinctValues(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i, p := range r.Perm(n) {
		out[i] = float32(p-n/2) / 64
	}
	return out
}

var convCases = []backend.ConvShape{
	{N: 2, C: 3, H: 5, W: 4, K: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1},                   // C = 3, non-square
	{N: 1, C: 2, H: 6, W: 5, K: 3, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, // stride 2, padding
	{N: 2, C: 3, H: 3, W: 4, K: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1},                   // 1x1
	{N: 1, C: 1, H: 7, W: 4, K: 2, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 2, PadW: 0}, // unequal kernel, stride, padding
}

func TestConv2dBackwardFiniteDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range convCases {
		x, w, b := gridValues(r, s.InLen()), gridValues(r, s.WeightLen()), gridValues(r, s.K)
		dy := gridValues(r, s.OutLen())
		loss := func() float64 { return dot(dy, Conv2d(x, w, b, s)) }
		dx := Conv2dBackwardData(dy, w, s)
		// The filter gradients accumulate: start them from 1 and take 1 off.
		ones := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = 1
			}
			return v
		}
		dw, db := Conv2dBackwardFilter(x, dy, ones(len(w)), ones(len(b)), s)
		for i := range x {
			near(t, "Conv2d dx", dx[i], centralDiff(loss, &x[i]), 1e-9)
		}
		for i := range w {
			near(t, "Conv2d dWeight", dw[i]-1, centralDiff(loss, &w[i]), 1e-9)
		}
		for i := range b {
			near(t, "Conv2d dBias", db[i]-1, centralDiff(loss, &b[i]), 1e-9)
		}
		if t.Failed() {
			t.Fatalf("shape %+v", s)
		}
	}
}

var poolCases = []backend.PoolShape{
	{N: 2, C: 3, H: 4, W: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2},                   // the usual 2x2, non-square image
	{N: 1, C: 2, H: 5, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, // overlapping, padded
	{N: 2, C: 1, H: 4, W: 5, KH: 2, KW: 3, StrideH: 1, StrideW: 1},                   // stride < kernel
	{N: 2, C: 3, H: 3, W: 4, KH: 3, KW: 4, StrideH: 1, StrideW: 1},                   // global
	{N: 1, C: 1, H: 7, W: 3, KH: 3, KW: 2, StrideH: 3, StrideW: 1, PadH: 1, PadW: 1}, // unequal window, stride, padding
}

func TestPool2dBackwardFiniteDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, s := range poolCases {
		x, dy := distinctValues(r, s.InLen()), gridValues(r, s.OutLen())
		maxLoss := func() float64 { return dot(dy, MaxPool2d(x, s)) }
		avgLoss := func() float64 { return dot(dy, AvgPool2d(x, s)) }
		dxMax, dxAvg := MaxPool2dBackward(x, dy, s), AvgPool2dBackward(dy, s)
		for i := range x {
			near(t, "MaxPool2d dx", dxMax[i], centralDiff(maxLoss, &x[i]), 1e-9)
			near(t, "AvgPool2d dx", dxAvg[i], centralDiff(avgLoss, &x[i]), 1e-9)
		}
		if t.Failed() {
			t.Fatalf("shape %+v", s)
		}
	}
}

// TestMaxPool2dCoversEveryWindow: in the overlapping cases some pixel is
// the maximum of two windows and gets both gradients, and the sum of dx is
// the sum of dy (every window passes its gradient to exactly one pixel).
func TestMaxPool2dCoversEveryWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	s := poolCases[1]
	x := distinctValues(r, s.InLen())
	dy := make([]float32, s.OutLen())
	for i := range dy {
		dy[i] = 1
	}
	dx := MaxPool2dBackward(x, dy, s)
	sum, most := 0.0, 0.0
	for _, v := range dx {
		sum, most = sum+v, math.Max(most, v)
	}
	if sum != float64(len(dy)) || most < 2 {
		t.Errorf("windows of ones: dx sums to %v (want %d), largest %v (want an overlap >= 2)", sum, len(dy), most)
	}
}
