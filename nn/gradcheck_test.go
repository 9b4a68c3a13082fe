package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
	"github.com/fastnn/fastnn/nn"
)

// Finite-difference gradient checks. Each one compares the analytic gradient
// of a scalar L with the central difference (L(v+eps) - L(v-eps)) / 2eps,
// with L summed in float64 from the float32 outputs. eps is large enough that
// float32 rounding in the forward pass stays well below the tolerance.
const (
	gcEps  = 1e-2
	gcAtol = 2e-3
	gcRtol = 2e-2
)

func newBackend(t testing.TB) backend.Backend {
	t.Helper()
	return newLevelBackend(t, cpu.Best())
}

func newLevelBackend(t testing.TB, level cpu.Level) backend.Backend {
	t.Helper()
	be, err := cpu.New(backend.Options{Threads: 2, Level: level.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// forLevels runs check once per CPU kernel level this machine supports,
// each on its own backend: the gradient checks cover every level's kernels.
func forLevels(t *testing.T, check func(t *testing.T, be backend.Backend)) {
	for _, level := range cpu.Supported() {
		t.Run(level.String(), func(t *testing.T) { check(t, newLevelBackend(t, level)) })
	}
}

func download(be backend.Backend, b backend.Buffer, n int) []float32 {
	out := make([]float32, n)
	be.Download(out, b)
	return out
}

func upload(be backend.Backend, v []float32) backend.Buffer {
	b := be.Alloc(len(v))
	be.Upload(b, v)
	return b
}

// randomAwayFromZero draws values in ±[0.1, 1.1): ReLU-like activations are
// not differentiable at 0, and eps must not step across the kink.
func randomAwayFromZero(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		x := 0.1 + rng.Float64()
		if rng.IntN(2) == 0 {
			x = -x
		}
		v[i] = float32(x)
	}
	return v
}

// compareGrad checks analytic against numeric gradients.
func compareGrad(what string, analytic []float32, numeric []float64) error {
	for i, n := range numeric {
		a := float64(analytic[i])
		if math.IsNaN(a) || math.Abs(a-n) > gcAtol+gcRtol*math.Abs(n) {
			return fmt.Errorf("%s[%d]: analytic %.6g, numeric %.6g", what, i, a, n)
		}
	}
	return nil
}

// numericGrad perturbs each of the n elements of buf by ±eps and returns
// dL/d(buf).
func numericGrad(be backend.Backend, buf backend.Buffer, n int, eps float32, loss func() float64) []float64 {
	vals := download(be, buf, n)
	grad := make([]float64, n)
	one := make([]float32, n)
	for i := range n {
		copy(one, vals)
		one[i] = vals[i] + eps
		be.Upload(buf, one)
		lp := loss()
		one[i] = vals[i] - eps
		be.Upload(buf, one)
		lm := loss()
		grad[i] = (lp - lm) / (2 * float64(eps))
	}
	be.Upload(buf, vals)
	return grad
}

// checkLayer checks dL/dx and dL/d(params) of a layer for L = sum(r * y),
// where r is a fixed random projection, so that dL/dy = r.
func checkLayer(be backend.Backend, layer nn.Layer, rows, in int, rng *rand.Rand) error {
	return checkShaped(be, layer, rows, nn.Shape{}, randomAwayFromZero(rng, rows*in), gcEps, rng)
}

// checkShaped is checkLayer for inputs x of rows samples of shape in (the
// zero Shape: flat rows of len(x)/rows values), the output's shape given
// by nn.OutShape, with steps of ±eps.
func checkShaped(be backend.Backend, layer nn.Layer, rows int, in nn.Shape, xv []float32, eps float32, rng *rand.Rand) error {
	cols := len(xv) / rows
	outShape, out, err := nn.OutShape(layer, in, cols)
	if err != nil {
		return err
	}
	x := nn.Tensor{Buf: upload(be, xv), Rows: rows, Cols: cols, Shape: in}
	r := randomAwayFromZero(rng, rows*out)
	loss := func() float64 {
		y := layer.Forward(x, true)
		if y.Rows != rows || y.Cols != out || y.Shape != outShape {
			panic(fmt.Sprintf("%v: output %d x %d of shape %v, OutShape says %d x %d of %v", layer, y.Rows, y.Cols, y.Shape, rows, out, outShape))
		}
		ys := download(be, y.Buf, rows*out)
		s := 0.0
		for i, v := range ys {
			s += float64(r[i]) * float64(v)
		}
		return s
	}
	loss()
	for _, p := range layer.Params() {
		be.Fill(p.Grad, 0, p.Len())
	}
	dx := layer.Backward(nn.Tensor{Buf: upload(be, r), Rows: rows, Cols: out, Shape: outShape})
	if dx.Rows != rows || dx.Cols != cols || dx.Shape != in {
		return fmt.Errorf("dL/dx is %d x %d of shape %v, want %d x %d of %v", dx.Rows, dx.Cols, dx.Shape, rows, cols, in)
	}
	if err := compareGrad("dL/dx", download(be, dx.Buf, rows*cols), numericGrad(be, x.Buf, rows*cols, eps, loss)); err != nil {
		return err
	}
	for _, p := range layer.Params() {
		if err := compareGrad("dL/d"+p.Name, download(be, p.Grad, p.Len()), numericGrad(be, p.Value, p.Len(), eps, loss)); err != nil {
			return err
		}
	}
	return nil
}

func TestGradLinear(t *testing.T) {
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(1)
		for _, s := range [][3]int{{1, 1, 1}, {3, 5, 4}, {7, 13, 9}} {
			l := nn.NewLinear(be, s[1], s[2], nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng})
			if err := checkLayer(be, l, s[0], s[1], rng); err != nil {
				t.Errorf("%v rows %d: %v", l, s[0], err)
			}
		}
	})
}

func TestGradActivations(t *testing.T) {
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(2)
		for _, act := range backend.Activations() {
			for _, slope := range []float32{0.01, 0.2} {
				a := nn.NewActivation(be, act, slope)
				if err := checkLayer(be, a, 4, 6, rng); err != nil {
					t.Errorf("%v: %v", a, err)
				}
			}
		}
	})
}

func TestGradMLP(t *testing.T) {
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(3)
		for _, act := range []backend.Activation{backend.Tanh, backend.Sigmoid, backend.GELU} {
			m, err := nn.NewMLP(be, nn.MLPConfig{In: 5, Hidden: []int{7, 6}, Out: 3, Act: act}, rng)
			if err != nil {
				t.Fatal(err)
			}
			m.SetInputGrad(true)
			if err := checkLayer(be, m, 4, 5, rng); err != nil {
				t.Errorf("MLP %v: %v", act, err)
			}
		}
	})
}

func TestGradLosses(t *testing.T) {
	forLevels(t, func(t *testing.T, be backend.Backend) {
		rng := nn.NewRNG(4)
		const rows, cols = 5, 3
		targets := map[string][]float32{}
		labels := make([]float32, rows)
		binary := make([]float32, rows*cols)
		values := randomAwayFromZero(rng, rows*cols)
		for i := range labels {
			labels[i] = float32(rng.IntN(cols))
		}
		for i := range binary {
			binary[i] = float32(rng.IntN(2))
		}
		targets["cross-entropy"], targets["bce"], targets["mse"], targets["mae"] = labels, binary, values, values
		for _, name := range []string{"cross-entropy", "bce", "mse", "mae"} {
			loss, _ := nn.ParseLoss(name)
			pred := make([]float32, rows*cols)
			for i := range pred {
				// MAE is not differentiable where pred == target: stay 0.1 away.
				pred[i] = values[i] + randomAwayFromZero(rng, 1)[0]
			}
			p := nn.Tensor{Buf: upload(be, pred), Rows: rows, Cols: cols}
			target, grad, sum := upload(be, targets[name]), be.Alloc(rows*cols), be.Alloc(1)
			meanLoss := func() float64 {
				be.Fill(sum, 0, 1)
				loss.Compute(be, p, target, grad, sum)
				return float64(download(be, sum, 1)[0]) / rows
			}
			meanLoss()
			analytic := download(be, grad, rows*cols)
			if err := compareGrad(name, analytic, numericGrad(be, p.Buf, rows*cols, gcEps, meanLoss)); err != nil {
				t.Error(err)
			}
		}
	})
}

// brokenLinear scales its input gradient by 1.05: the checker must notice.
type brokenLinear struct {
	*nn.Linear
	be backend.Backend
}

func (b brokenLinear) Backward(dy nn.Tensor) nn.Tensor {
	dx := b.Linear.Backward(dy)
	b.be.Scale(dx.Buf, 1.05, dx.Len())
	return dx
}

// TestGradCheckDetectsErrors proves the gradient checks can fail.
func TestGradCheckDetectsErrors(t *testing.T) {
	be := newBackend(t)
	rng := nn.NewRNG(5)
	l := nn.NewLinear(be, 4, 3, nn.Init{Scheme: nn.XavierNormal, Gain: 1, RNG: rng})
	if err := checkLayer(be, brokenLinear{l, be}, 3, 4, rng); err == nil {
		t.Fatal("a gradient 5% off passed the check")
	}
}
