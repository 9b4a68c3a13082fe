// Package ref is a plain-Go reference for every operation of
// backend.Backend. It takes float32 inputs, as a backend stores them,
// computes and accumulates in float64, and returns float64 results, so that
// a backend's float32 results can be compared with it under a tolerance
// (see Close and GemmErrorBound).
//
// The code is written for clarity, not speed: the obvious loops, with the
// formulas of the doc comments in package backend (PyTorch semantics). The
// functions never modify their inputs; they return new slices.
//
// Sizes follow the backend's conventions: matrices are row-major and densely
// packed, and an input may be longer than the operation needs, never
// shorter (a short input panics).
package ref

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// Unit is the unit roundoff of float32, 2^-24: the largest relative error
// of rounding a real number (in the normal range) to the nearest float32.
const Unit = 0x1p-24

// Gamma returns n*Unit/(1-n*Unit), the classical bound on the relative error
// accumulated by n successive float32 roundings (Higham's gamma_n). It
// returns +Inf when n*Unit >= 1.
func Gamma(n int) float64 {
	if n <= 0 {
		return 0
	}
	nu := float64(n) * Unit
	if nu >= 1 {
		return math.Inf(1)
	}
	return nu / (1 - nu)
}

// Close reports whether got matches want within |got-want| <= atol +
// rtol*|want|. NaN is never close to anything; equal values (including
// equal infinities) are always close, and an infinity is close only to
// itself.
func Close(got float32, want, atol, rtol float64) bool {
	g := float64(got)
	if math.IsNaN(g) || math.IsNaN(want) {
		return false
	}
	if g == want {
		return true
	}
	if math.IsInf(g, 0) || math.IsInf(want, 0) {
		return false
	}
	return math.Abs(g-want) <= atol+rtol*math.Abs(want)
}

func need(op, name string, x []float32, n int) {
	if n < 0 {
		panic(fmt.Sprintf("ref.%s: negative size %d", op, n))
	}
	if len(x) < n {
		panic(fmt.Sprintf("ref.%s: %s has %d elements, need %d", op, name, len(x), n))
	}
}

func dims(op string, sizes ...int) { backend.CheckSizes("ref", op, sizes...) }

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
