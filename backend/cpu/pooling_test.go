package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// benchPoolShapes are the max poolings of the cnn preset at batch 64:
// after conv1 (26 x 26, an even size) and after conv2 (11 x 11, odd, its
// last row and column unused).
var benchPoolShapes = map[string]backend.PoolShape{
	"pool1": {N: 64, C: 32, H: 26, W: 26, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	"pool2": {N: 64, C: 64, H: 11, W: 11, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
}

// BenchmarkMaxPool times 2 x 2 max pooling both ways at every level on one
// thread, in GB/s of x read (and dx written, backward).
func BenchmarkMaxPool(b *testing.B) {
	for _, name := range []string{"pool1", "pool2"} {
		s := benchPoolShapes[name]
		for _, l := range Supported() {
			be, err := New(backend.Options{Threads: 1, Level: l.String()})
			if err != nil {
				b.Fatal(err)
			}
			x, y, dx := be.Alloc(s.InLen()), be.Alloc(s.OutLen()), be.Alloc(s.InLen())
			be.Upload(x, randomSlice(rand.New(rand.NewPCG(1, 2)), s.InLen()))
			for _, pass := range []struct {
				name  string
				bytes int
				run   func()
			}{
				{"forward", 4 * (s.InLen() + s.OutLen()), func() { be.MaxPool2d(x, y, s) }},
				{"backward", 4 * (2*s.InLen() + s.OutLen()), func() { be.MaxPool2dBackward(x, y, dx, s) }},
			} {
				b.Run(fmt.Sprintf("%s/%s/%s", name, pass.name, l), func(b *testing.B) {
					for b.Loop() {
						pass.run()
					}
					b.ReportMetric(float64(pass.bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				})
			}
			be.Close()
		}
	}
}

// tieValues are mostly 0 and 1, so that most 2 x 2 windows hold a tie for
// the maximum, with zeros of both signs, infinities and NaNs of several
// payloads, so that a kernel that gives the wrong one of equal elements
// shows it in the bits (or, backward, in where the gradient goes).
var tieValues = []float32{0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, float32(math.Copysign(0, -1)), float32(math.Copysign(0, -1)),
	1, 0, -1, float32(math.Inf(-1)), float32(math.Inf(1)),
	math.Float32frombits(0x7fc00000), math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00002), math.Float32frombits(0x7f800003)}

// pool2x2Kernels are a pair of 2 x 2 max pooling kernels under test.
type pool2x2Kernels struct {
	name string
	fwd  func(x, y []float32, rows, ow, w int)
	bwd  func(x, dy, dx []float32, rows, ow, w int)
}

// extraPool2x2 are kernels that no level's table gives every shape (see
// pooling_amd64_test.go).
var extraPool2x2 []pool2x2Kernels

// TestMaxPool2x2Kernels checks every level's 2 x 2 max pooling kernels
// (and extraPool2x2)
// against maxPoolPlane and maxPoolPlaneBackward, the general loops,
// bit for bit, on tie-heavy planes of every size from 2 x 2 to 9 x 9 and
// of widths up to 2*40+1 (whole and partial groups of 8 and 16 outputs),
// one plane and several at once. Outputs sit between guard values that
// must survive, and x is followed by NaNs that must not be read into a
// result.
func TestMaxPool2x2Kernels(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(5, 6))
	type size struct{ planes, h, w int }
	var sizes []size
	for h := 2; h <= 9; h++ {
		for w := 2; w <= 9; w++ {
			sizes = append(sizes, size{1, h, w})
		}
	}
	for w := 10; w <= 81; w++ {
		sizes = append(sizes, size{1 + rng.IntN(3), 2 + rng.IntN(4), w})
	}
	guarded := func(n int) []float32 {
		s := make([]float32, n+40)
		for i := range s {
			s[i] = guard
		}
		return s[:n]
	}
	check := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: [%d] = %v (%#x), want %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
		for i, v := range got[len(want):cap(got)] {
			if v != guard {
				t.Fatalf("%s: wrote %v at %d past the end", what, v, len(want)+i)
			}
		}
	}
	kernels := extraPool2x2
	for _, level := range Supported() {
		kernels = append(kernels, pool2x2Kernels{level.String(), kernelTable[level].maxPool2x2, kernelTable[level].maxPool2x2Backward})
	}
	for _, kt := range kernels {
		for _, sz := range sizes {
			s := backend.PoolShape{N: 1, C: sz.planes, H: sz.h, W: sz.w, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
			oh, ow, hw := s.OutH(), s.OutW(), s.H*s.W
			x := make([]float32, s.InLen(), s.InLen()+40)
			for i := range x {
				x[i] = tieValues[rng.IntN(len(tieValues))]
			}
			for i := len(x); i < cap(x); i++ {
				x[:cap(x)][i] = float32(math.NaN())
			}
			dy := randomSlice(rng, s.OutLen())
			want, wantDx := make([]float32, s.OutLen()), make([]float32, s.InLen())
			for pl := range sz.planes {
				maxPoolPlane(x[pl*hw:(pl+1)*hw], want[pl*oh*ow:(pl+1)*oh*ow], s, oh, ow)
				maxPoolPlaneBackward(x[pl*hw:(pl+1)*hw], dy[pl*oh*ow:(pl+1)*oh*ow], wantDx[pl*hw:(pl+1)*hw], s, oh, ow)
			}
			name := fmt.Sprintf("%s %d planes %dx%d", kt.name, sz.planes, sz.h, sz.w)
			// Plane by plane, as for an odd H (its last row is not the
			// kernel's: the guard stays, and is cleared here).
			y, dx := guarded(s.OutLen()), guarded(s.InLen())
			for pl := range sz.planes {
				dxp := dx[pl*hw : (pl+1)*hw]
				for i := range dxp {
					dxp[i] = float32(math.NaN()) // the kernel must overwrite these
				}
				kt.fwd(x[pl*hw:(pl+1)*hw], y[pl*oh*ow:(pl+1)*oh*ow], oh, ow, s.W)
				kt.bwd(x[pl*hw:(pl+1)*hw], dy[pl*oh*ow:(pl+1)*oh*ow], dxp[:2*oh*s.W], oh, ow, s.W)
				clear(dxp[2*oh*s.W:])
			}
			check(t, name+" forward", y, want)
			check(t, name+" backward", dx, wantDx)
			if sz.h%2 == 0 && sz.planes > 1 { // all planes in one call
				y, dx = guarded(s.OutLen()), guarded(s.InLen())
				kt.fwd(x, y, sz.planes*oh, ow, s.W)
				kt.bwd(x, dy, dx, sz.planes*oh, ow, s.W)
				check(t, name+" forward, one call", y, want)
				check(t, name+" backward, one call", dx, wantDx)
			}
		}
	}
}
