package ref

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (tol %g)", what, got, want, tol)
	}
}

func nearAll(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.IsNaN(got[i]) || math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s[%d] = %.10g, want %.10g", what, i, got[i], want[i])
		}
	}
}

func TestClose(t *testing.T) {
	nan := math.NaN()
	inf := math.Inf(1)
	cases := []struct {
		got              float32
		want, atol, rtol float64
		close            bool
	}{
		{1, 1, 0, 0, true},
		{1.5, 1, 0.5, 0, true},
		{1.5, 1, 0.4, 0, false},
		{1.5, 1, 0, 0.5, true},
		{1.5, 1, 0.25, 0.25, true},
		{1.5, 1, 0.2, 0.2, false},
		{-2, 2, 1, 1, false},
		{float32(nan), 1, 1e9, 1e9, false},
		{1, nan, 1e9, 1e9, false},
		{float32(nan), nan, 0, 0, false},
		{float32(inf), inf, 0, 0, true},
		{float32(inf), -inf, 1e9, 1e9, false},
		{float32(inf), 1, 1e9, 1e9, false},
		{0, 1e-30, 1e-29, 0, true},
	}
	for _, c := range cases {
		if got := Close(c.got, c.want, c.atol, c.rtol); got != c.close {
			t.Errorf("Close(%v, %v, %v, %v) = %v, want %v", c.got, c.want, c.atol, c.rtol, got, c.close)
		}
	}
}

func TestGamma(t *testing.T) {
	if Gamma(0) != 0 {
		t.Errorf("Gamma(0) = %g, want 0", Gamma(0))
	}
	near(t, "Gamma(1)", Gamma(1), 0x1p-24/(1-0x1p-24), 1e-22)
	if !(Gamma(1000) > Gamma(10)) {
		t.Errorf("Gamma does not grow with n")
	}
	if !math.IsInf(Gamma(1<<24), 1) {
		t.Errorf("Gamma(2^24) = %g, want +Inf", Gamma(1<<24))
	}
}

func TestGemm2x2(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	b := []float32{5, 6, 7, 8}
	// A*B, A^T*B, A*B^T, A^T*B^T worked by hand.
	nearAll(t, "AB", Gemm(false, false, 2, 2, 2, 1, a, b, 0, nil), []float64{19, 22, 43, 50}, 0)
	nearAll(t, "AtB", Gemm(true, false, 2, 2, 2, 1, a, b, 0, nil), []float64{26, 30, 38, 44}, 0)
	nearAll(t, "ABt", Gemm(false, true, 2, 2, 2, 1, a, b, 0, nil), []float64{17, 23, 39, 53}, 0)
	nearAll(t, "AtBt", Gemm(true, true, 2, 2, 2, 1, a, b, 0, nil), []float64{23, 31, 34, 46}, 0)
	c := []float32{1, -1, 2, 0}
	nearAll(t, "2AB+3C", Gemm(false, false, 2, 2, 2, 2, a, b, 3, c), []float64{41, 41, 92, 100}, 0)
	// beta == 0: C is not read, NaNs do not propagate.
	nan := float32(math.NaN())
	nearAll(t, "beta0", Gemm(false, false, 2, 2, 2, -1, a, b, 0, []float32{nan, nan, nan, nan}), []float64{-19, -22, -43, -50}, 0)
	// k == 0: C = beta*C.
	nearAll(t, "k0", Gemm(false, false, 2, 2, 0, 1, nil, nil, 2.5, c), []float64{2.5, -2.5, 5, 0}, 0)
}

func TestGemmRectangular(t *testing.T) {
	// A is 2x3, B is 3x1: A*B = [1-3, 4-6].
	a := []float32{1, 2, 3, 4, 5, 6}
	at := []float32{1, 4, 2, 5, 3, 6} // A stored transposed, 3x2
	b := []float32{1, 0, -1}
	want := []float64{-2, -2}
	nearAll(t, "AB", Gemm(false, false, 2, 1, 3, 1, a, b, 0, nil), want, 0)
	nearAll(t, "AtB", Gemm(true, false, 2, 1, 3, 1, at, b, 0, nil), want, 0)
	// B as 1x3 stored transposed is the same memory.
	nearAll(t, "ABt", Gemm(false, true, 2, 1, 3, 1, a, b, 0, nil), want, 0)
	// A 1x3 times B 3x2: [1 2 3] * [[1 4] [2 5] [3 6]] = [14 32].
	nearAll(t, "row", Gemm(false, false, 1, 2, 3, 1, []float32{1, 2, 3}, at, 0, nil), []float64{14, 32}, 0)
}

func TestGemmPanicsOnShortInput(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Gemm with a short A did not panic")
		}
	}()
	Gemm(false, false, 2, 2, 2, 1, []float32{1, 2, 3}, []float32{1, 2, 3, 4}, 0, nil)
}

// TestGemmErrorBound checks that a float32 dot product, accumulated
// naively, stays within the bound, and that the bound scales as documented.
func TestGemmErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m, n, k := 3, 4, 4000
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = float32(r.Float64()) // all positive: the worst case for drift
	}
	for i := range b {
		b[i] = float32(r.Float64())
	}
	for i := range c {
		c[i] = float32(r.NormFloat64())
	}
	alpha, beta := float32(1.5), float32(-0.5)
	want := Gemm(false, false, m, n, k, float64(alpha), a, b, float64(beta), c)
	bound := GemmErrorBound(false, false, m, n, k, float64(alpha), a, b, float64(beta), c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var sum float32
			for p := 0; p < k; p++ {
				sum += a[i*k+p] * b[p*n+j]
			}
			got := alpha*sum + beta*c[i*n+j]
			if !Close(got, want[i*n+j], bound[i*n+j], 0) {
				t.Errorf("float32 result (%d,%d) = %v, want %v within %g", i, j, got, want[i*n+j], bound[i*n+j])
			}
			if bound[i*n+j] <= 0 || bound[i*n+j] > 1e-2*math.Abs(want[i*n+j]) {
				t.Errorf("bound (%d,%d) = %g for value %g: not a small positive bound", i, j, bound[i*n+j], want[i*n+j])
			}
		}
	}
	// By hand: A = [1 -2], B = [3; 4], alpha 2, beta 0: sum |a b| = 11.
	got := GemmErrorBound(false, false, 1, 1, 2, 2, []float32{1, -2}, []float32{3, 4}, 0, nil)
	near(t, "bound", got[0], Gamma(6)*22, 1e-20)
	// Zero inputs give a zero bound; beta*C counts.
	got = GemmErrorBound(false, false, 1, 1, 2, 2, []float32{0, 0}, []float32{3, 4}, -2, []float32{3})
	near(t, "bound beta", got[0], Gamma(6)*6, 1e-20)
}

func TestActivationValues(t *testing.T) {
	cases := []struct {
		act         backend.Activation
		slope, x, y float64
	}{
		{backend.Identity, 0, -3, -3},
		{backend.ReLU, 0, -3, 0},
		{backend.ReLU, 0, 2, 2},
		{backend.ReLU, 0, 0, 0},
		{backend.LeakyReLU, 0.01, -3, -0.03},
		{backend.LeakyReLU, 0.2, -3, -0.6},
		{backend.LeakyReLU, 0.2, 3, 3},
		{backend.Sigmoid, 0, 0, 0.5},
		{backend.Sigmoid, 0, math.Log(3), 0.75},
		{backend.Sigmoid, 0, -math.Log(3), 0.25},
		{backend.Sigmoid, 0, 1000, 1},
		{backend.Sigmoid, 0, -1000, 0},
		{backend.Tanh, 0, 0, 0},
		{backend.Tanh, 0, math.Log(3), 0.8}, // (9-1)/(9+1)
		{backend.Tanh, 0, -1000, -1},
		{backend.GELU, 0, 0, 0},
		{backend.GELU, 0, 100, 100},
		{backend.GELU, 0, -100, 0},
	}
	for _, c := range cases {
		near(t, c.act.String()+"("+ftoa(c.x)+")", Apply(c.act, c.slope, c.x), c.y, 1e-7)
	}
}

// geluTorch holds PyTorch 1.13's tanh-form GELU and its derivative in
// float64, independent values for the reference's formula. Printed once with
//
//	/usr/bin/python3 -c "import torch; x = torch.tensor([-3, -1, -0.5, 0.5, 1, 2, 3],
//	  dtype=torch.float64, requires_grad=True); y = torch.nn.functional.gelu(x, approximate='tanh');
//	  y.sum().backward(); [print(repr(a), repr(b), repr(c)) for a, b, c in zip(x.tolist(), y.tolist(), x.grad.tolist())]"
var geluTorch = []struct{ x, y, dy float64 }{
	{-3.0, -0.0036373920817729943, -0.011584166630969648},
	{-1.0, -0.15880800939172324, -0.08296408384578252},
	{-0.5, -0.15428599017485606, 0.13263009646535764},
	{0.5, 0.34571400982514394, 0.8673699035346424},
	{1.0, 0.8411919906082768, 1.0829640838457826},
	{2.0, 1.954597694087775, 1.0860992566236183},
	{3.0, 2.996362607918227, 1.0115841666309695},
}

// TestGELUMatchesPyTorch: the reference GELU and its derivative agree with
// PyTorch's to a few float64 ulps.
func TestGELUMatchesPyTorch(t *testing.T) {
	for _, c := range geluTorch {
		near(t, "GELU("+ftoa(c.x)+")", Apply(backend.GELU, 0, c.x), c.y, 1e-15)
		near(t, "GELU'("+ftoa(c.x)+")", Derivative(backend.GELU, 0, c.x), c.dy, 1e-14)
	}
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func TestDerivativeValues(t *testing.T) {
	cases := []struct {
		act          backend.Activation
		slope, x, dy float64
	}{
		{backend.Identity, 0, 5, 1},
		{backend.ReLU, 0, 2, 1},
		{backend.ReLU, 0, -2, 0},
		{backend.ReLU, 0, 0, 0}, // PyTorch: 0 at the kink
		{backend.LeakyReLU, 0.2, 2, 1},
		{backend.LeakyReLU, 0.2, -2, 0.2},
		{backend.LeakyReLU, 0.2, 0, 0.2}, // PyTorch: slope at the kink
		{backend.Sigmoid, 0, 0, 0.25},
		{backend.Sigmoid, 0, math.Log(3), 0.1875}, // 0.75 * 0.25
		{backend.Sigmoid, 0, 1000, 0},
		{backend.Tanh, 0, 0, 1},
		{backend.Tanh, 0, math.Log(3), 0.36}, // 1 - 0.8^2
		{backend.GELU, 0, 0, 0.5},
		{backend.GELU, 0, 100, 1},
		{backend.GELU, 0, -100, 0},
	}
	for _, c := range cases {
		near(t, c.act.String()+"'("+ftoa(c.x)+")", Derivative(c.act, c.slope, c.x), c.dy, 1e-12)
	}
}

// TestDerivativeMatchesFiniteDifference checks every derivative against a
// central difference of Apply, away from the kinks.
func TestDerivativeMatchesFiniteDifference(t *testing.T) {
	const h = 1e-6
	for _, act := range backend.Activations() {
		for _, x := range []float64{-4, -1.3, -0.5, -0.01, 0.01, 0.3, 1, 2.7, 6} {
			slope := 0.2
			fd := (Apply(act, slope, x+h) - Apply(act, slope, x-h)) / (2 * h)
			near(t, act.String()+"'("+ftoa(x)+")", Derivative(act, slope, x), fd, 1e-7)
		}
	}
}

func TestActivateSlices(t *testing.T) {
	x := []float32{-1, 0, 2}
	nearAll(t, "leaky", Activate(backend.LeakyReLU, 0.5, x), []float64{-0.5, 0, 2}, 0)
	nearAll(t, "relu'", ActivateBackward(backend.ReLU, 0, x, []float32{3, 4, 5}), []float64{0, 0, 5}, 0)
	nearAll(t, "leaky'", ActivateBackward(backend.LeakyReLU, 0.5, x, []float32{3, 4, 5}), []float64{1.5, 2, 5}, 0)
	for _, act := range backend.Activations() {
		for _, v := range Activate(act, 0.01, []float32{-1e30, -100, -30, 30, 100, 1e30}) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%v: non-finite value %v at large |x|", act, v)
			}
		}
		for _, v := range ActivateBackward(act, 0.01, []float32{-100, -30, 30, 100}, []float32{1, 1, 1, 1}) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%v: non-finite derivative %v at large |x|", act, v)
			}
		}
	}
}

func TestBiasActivate(t *testing.T) {
	z, y := BiasActivate(backend.ReLU, 0, []float32{1, -2, 3, -4}, []float32{-2, 1, 5}, 2, 2)
	nearAll(t, "z", z, []float64{-1, -1, 1, -3}, 0)
	nearAll(t, "y", y, []float64{0, 0, 1, 0}, 0)
	nearAll(t, "AddBias", AddBias([]float32{1, 2, 3, 4, 5, 6}, []float32{10, 20, 30}, 2, 3), []float64{11, 22, 33, 14, 25, 36}, 0)
}

func TestSoftmax(t *testing.T) {
	ln3 := float32(math.Log(3))
	got := Softmax([]float32{0, ln3, 1000, 1000 + ln3, -1000, -1000 + ln3}, 3, 2)
	nearAll(t, "softmax", got, []float64{0.25, 0.75, 0.25, 0.75, 0.25, 0.75}, 1e-4)
	nearAll(t, "softmax 1 col", Softmax([]float32{-5, 7}, 2, 1), []float64{1, 1}, 0)
	nearAll(t, "uniform", Softmax([]float32{2, 2, 2, 2}, 1, 4), []float64{0.25, 0.25, 0.25, 0.25}, 1e-15)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	// Row 0: logits [0, ln 3], label 1: p = [0.25, 0.75], loss -ln 0.75.
	// Row 1: logits [0, 0], label 0: p = [0.5, 0.5], loss ln 2.
	ln3 := float32(math.Log(3))
	loss, grad := SoftmaxCrossEntropy([]float32{0, ln3, 0, 0}, []float32{1, 0}, 2, 2)
	near(t, "loss", loss, -math.Log(0.75)+math.Ln2, 1e-7)
	nearAll(t, "grad", grad, []float64{0.25 / 2, -0.25 / 2, -0.5 / 2, 0.5 / 2}, 1e-7)
	// Extreme logits: the loss of a confident wrong answer is the logit gap.
	loss, grad = SoftmaxCrossEntropy([]float32{100, -100}, []float32{1}, 1, 2)
	near(t, "loss extreme", loss, 200, 1e-9)
	nearAll(t, "grad extreme", grad, []float64{1, -1}, 1e-12)
	// A single column: always right, zero loss and gradient.
	loss, grad = SoftmaxCrossEntropy([]float32{7, -3}, []float32{0, 0}, 2, 1)
	near(t, "loss 1 col", loss, 0, 0)
	nearAll(t, "grad 1 col", grad, []float64{0, 0}, 0)
}

func TestSoftmaxCrossEntropyBadLabel(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("label out of range did not panic")
		}
	}()
	SoftmaxCrossEntropy([]float32{1, 2}, []float32{2}, 1, 2)
}

func TestBCEWithLogits(t *testing.T) {
	// z = 0, t = 1: ln 2, grad (0.5-1)/2. z = ln 3, t = 0: -ln(1-0.75) = ln 4, grad 0.75/2.
	loss, grad := BCEWithLogits([]float32{0, float32(math.Log(3))}, []float32{1, 0}, 1, 2)
	near(t, "loss", loss, (math.Ln2+math.Log(4))/2, 1e-7)
	nearAll(t, "grad", grad, []float64{-0.25, 0.375}, 1e-7)
	// Extreme logits: finite loss, and the same loss as rows, not as columns.
	loss, grad = BCEWithLogits([]float32{100, -100, 100, -100}, []float32{0, 0, 1, 1}, 4, 1)
	near(t, "loss extreme", loss, 200, 1e-9)
	nearAll(t, "grad extreme", grad, []float64{0.25, 0, 0, -0.25}, 1e-12)
}

func TestMSEAndMAE(t *testing.T) {
	loss, grad := MSE([]float32{1, 2}, []float32{0, 0}, 1, 2)
	near(t, "mse", loss, 2.5, 0)
	nearAll(t, "mse grad", grad, []float64{1, 2}, 0)
	loss, grad = MSE([]float32{1, 2}, []float32{0, 0}, 2, 1)
	near(t, "mse rows", loss, 5, 0)
	nearAll(t, "mse rows grad", grad, []float64{1, 2}, 0)
	loss, grad = MAE([]float32{1, -2, 3}, []float32{0, 0, 3}, 1, 3)
	near(t, "mae", loss, 1, 1e-15)
	nearAll(t, "mae grad", grad, []float64{1.0 / 3, -1.0 / 3, 0}, 1e-15)
}

func TestReductions(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	nearAll(t, "SumRows beta 0", SumRows(x, 2, 2, 0, nil), []float64{4, 6}, 0)
	nearAll(t, "SumRows beta 1", SumRows(x, 2, 2, 1, []float32{10, 20}), []float64{14, 26}, 0)
	nearAll(t, "SumRows beta 0.5", SumRows(x, 2, 2, 0.5, []float32{10, 20}), []float64{9, 16}, 0)
	nan := float32(math.NaN())
	nearAll(t, "SumRows beta 0 NaN", SumRows(x, 2, 2, 0, []float32{nan, nan}), []float64{4, 6}, 0)
	nearAll(t, "SumRows no rows", SumRows(nil, 0, 2, 2, []float32{1, 2}), []float64{2, 4}, 0)
	near(t, "SumSquares", SumSquares([]float32{1, -2, 3}), 14, 0)
	near(t, "SumSquares empty", SumSquares(nil), 0, 0)

	am := ArgmaxRows([]float32{1, 3, 3, 0, -5, -4, -4, -9, 2, 2, 2, 2}, 3, 4)
	if am[0] != 1 || am[1] != 1 || am[2] != 0 {
		t.Errorf("ArgmaxRows = %v, want [1 1 0] (ties to the lowest index)", am)
	}
	logits := []float32{1, 3, 3, 0, 5, 1}
	if got := CountCorrect(logits, []float32{1, 0}, 2, 3); got != 1 {
		t.Errorf("CountCorrect = %d, want 1", got)
	}
	if got := CountCorrect(logits, []float32{2, 0}, 2, 3); got != 0 {
		t.Errorf("CountCorrect (tie to the higher label) = %d, want 0", got)
	}
	// Binary form: the prediction is x > 0, so x == 0 predicts 0.
	if got := CountCorrect([]float32{0.5, -1, 0, 0, 2}, []float32{1, 0, 0, 1, 0}, 5, 1); got != 3 {
		t.Errorf("CountCorrect binary = %d, want 3", got)
	}
}

func TestElementwise(t *testing.T) {
	a := []float32{1, -2, 3}
	b := []float32{4, 5, -6}
	nearAll(t, "Add", Add(a, b), []float64{5, 3, -3}, 0)
	nearAll(t, "Mul", Mul(a, b), []float64{4, -10, -18}, 0)
	nearAll(t, "Scale", Scale(a, -2), []float64{-2, 4, -6}, 0)
	nearAll(t, "Axpy", Axpy(2, a, b), []float64{6, 1, 0}, 0)
	nearAll(t, "Fill", Fill(2, 1.5), []float64{1.5, 1.5}, 0)
	nearAll(t, "Copy", Copy(b, a, 2), []float64{1, -2, -6}, 0)
}

func TestSGDStep(t *testing.T) {
	p := []float32{1, -1}
	g := []float32{0.5, 2}
	// Plain SGD: p - lr*g.
	np, nv := SGDStep(p, g, nil, backend.SGDConfig{LR: 0.5})
	nearAll(t, "plain", np, []float64{0.75, -2}, 0)
	if nv != nil {
		t.Errorf("velocity without momentum = %v, want nil", nv)
	}
	// Weight decay 0.5: g' = g + 0.5p = [1, 1.5].
	np, _ = SGDStep(p, g, nil, backend.SGDConfig{LR: 0.5, WeightDecay: 0.5})
	nearAll(t, "decay", np, []float64{0.5, -1.75}, 0)
	// Momentum 0.5 from zero velocity: v1 = g, p1 = p - lr*g; then
	// v2 = 0.5*g + g = 1.5g, p2 = p1 - lr*1.5g.
	cfg := backend.SGDConfig{LR: 0.5, Momentum: 0.5}
	p1, v1 := SGDStep(p, g, []float32{0, 0}, cfg)
	nearAll(t, "p1", p1, []float64{0.75, -2}, 0)
	nearAll(t, "v1", v1, []float64{0.5, 2}, 0)
	p2, v2 := SGDStep(narrow(p1), g, narrow(v1), cfg)
	nearAll(t, "p2", p2, []float64{0.375, -3.5}, 0)
	nearAll(t, "v2", v2, []float64{0.75, 3}, 0)
	// Nesterov, first step: v = g, step g + 0.5*v = 1.5g.
	cfg.Nesterov = true
	p1, v1 = SGDStep(p, g, []float32{0, 0}, cfg)
	nearAll(t, "nesterov p1", p1, []float64{0.625, -2.5}, 0)
	nearAll(t, "nesterov v1", v1, []float64{0.5, 2}, 0)
}

func narrow(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func TestAdamStep(t *testing.T) {
	const lr = 1e-3
	p := []float32{1, -1, 0.5, 2}
	g := []float32{0.5, -3, 1e-2, -0.25}
	zero := make([]float32, len(p))
	cfg := backend.AdamConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	// First step: m/(1-b1) = g and v/(1-b2) = g^2, so each parameter moves
	// by lr*g/(|g|+eps), about lr*sign(g).
	np, m, v := AdamStep(p, g, zero, zero, cfg)
	for i := range p {
		sign := math.Copysign(1, float64(g[i]))
		near(t, "adam step 1", np[i], float64(p[i])-float64(cfg.LR)*sign, 1e-9)
		// float32(0.9) and float32(0.999) are not exactly 0.9 and 0.999.
		near(t, "m", m[i], 0.1*float64(g[i]), 1e-6*math.Abs(float64(g[i])))
		near(t, "v", v[i], 0.001*float64(g[i])*float64(g[i]), 1e-4*0.001*float64(g[i])*float64(g[i]))
	}
	// AdamW shrinks the parameter first: p*(1 - lr*wd) - lr*sign(g).
	cfgW := cfg
	cfgW.WeightDecay, cfgW.Decoupled = 0.5, true
	np, _, _ = AdamStep(p, g, zero, zero, cfgW)
	for i := range p {
		sign := math.Copysign(1, float64(g[i]))
		near(t, "adamw step 1", np[i], float64(p[i])*(1-lr*0.5)-lr*sign, 1e-9)
	}
	// Adam's weight decay enters the gradient: with p = 1, g = -0.25 and
	// wd = 1, the effective gradient is +0.75, so the step is -lr.
	cfgL2 := cfg
	cfgL2.WeightDecay = 1
	np, m, _ = AdamStep([]float32{1}, []float32{-0.25}, []float32{0}, []float32{0}, cfgL2)
	near(t, "adam L2", np[0], 1-lr, 1e-9)
	near(t, "adam L2 m", m[0], 0.075, 1e-7)
	// A constant gradient keeps the bias-corrected step at lr*sign(g).
	pp, mm, vv := p, zero, zero
	for step := 1; step <= 3; step++ {
		cfg.Step = step
		np, m, v := AdamStep(pp, g, mm, vv, cfg)
		for i := range p {
			sign := math.Copysign(1, float64(g[i]))
			near(t, "constant gradient", np[i]-float64(pp[i]), -lr*sign, 1e-8)
		}
		pp, mm, vv = narrow(np), narrow(m), narrow(v)
	}
}

func TestAdamBadStep(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("step 0 did not panic")
		}
	}()
	AdamStep([]float32{1}, []float32{1}, []float32{0}, []float32{0}, backend.AdamConfig{LR: 1, Beta1: 0.9, Beta2: 0.999})
}
