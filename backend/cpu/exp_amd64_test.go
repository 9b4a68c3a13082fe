//go:build amd64 && !noasm

package cpu

import (
	"math"
	"slices"
	"testing"
)

// expULPs is |got - want| in units of the float32 spacing at want.
func expULPs(got float32, want float64) float64 {
	w := float32(want)
	ulp := math.Nextafter32(w, float32(math.Inf(1))) - w
	return math.Abs(float64(got)-want) / float64(ulp)
}

// TestExpAVX2 checks the float32 exp of the softmax against math.Exp: at
// most 2 ulp where e^x is a normal float32, 0 (or the right denormal) below,
// +Inf above, and the special values.
func TestExpAVX2(t *testing.T) {
	if !slices.Contains(Supported(), AVX2) {
		t.Skip("no AVX2 on this CPU")
	}
	var xs []float32
	const steps = 1 << 21
	for i := 0; i <= steps; i++ {
		xs = append(xs, float32(-100+200*float64(i)/steps))
	}
	// Around 0, the ends of the normal range and where the exponent of the
	// result changes near them.
	for _, c := range []float32{0, -87.33654, -87.3365, 88.72283, 88.7, -88, 88, -1e-6, 1e-6} {
		v := c
		for range 64 {
			xs = append(xs, v)
			v = math.Nextafter32(v, float32(math.Inf(1)))
		}
		v = c
		for range 64 {
			xs = append(xs, v)
			v = math.Nextafter32(v, float32(math.Inf(-1)))
		}
	}
	for len(xs)%8 != 0 {
		xs = append(xs, 1)
	}
	ys := make([]float32, len(xs))
	expAVX2(len(xs), &xs[0], &ys[0])
	worst := 0.0
	for i, x := range xs {
		want, got := math.Exp(float64(x)), ys[i]
		switch {
		case want < 0x1p-126:
			if got != 0 && expULPs(got, want) > 2 {
				t.Fatalf("exp(%v) = %v, want 0 or %v", x, got, want)
			}
		case want > math.MaxFloat32:
			if !math.IsInf(float64(got), 1) {
				t.Fatalf("exp(%v) = %v, want +Inf", x, got)
			}
		default:
			e := expULPs(got, want)
			if e > 2 {
				t.Fatalf("exp(%v) = %v, want %v: %.2f ulp", x, got, want, e)
			}
			worst = max(worst, e)
		}
	}
	t.Logf("worst error %.3f ulp", worst)

	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	specials := []struct{ x, want float32 }{
		{0, 1}, {negZero, 1}, {inf, inf}, {-inf, 0}, {nan, nan},
		{-1000, 0}, {-104, 0}, {-3e38, 0}, {1000, inf}, {89, inf}, {1, math.E},
	}
	xs = make([]float32, 8*((len(specials)+7)/8))
	ys = make([]float32, len(xs))
	for i, s := range specials {
		xs[i] = s.x
	}
	expAVX2(len(xs), &xs[0], &ys[0])
	for i, s := range specials {
		got := ys[i]
		if s.want != s.want {
			if got == got {
				t.Errorf("exp(NaN) = %v", got)
			}
			continue
		}
		if got != s.want {
			t.Errorf("exp(%v) = %v, want %v", s.x, got, s.want)
		}
	}
}
