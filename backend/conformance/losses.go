package conformance

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// lossPrefill is lossSum[0] before each loss call: the loss must be added
// to it.
const lossPrefill = 1.5

// lossShapes are {rows, cols}.
var lossShapes = [][2]int{{1, 1}, {1, 5}, {7, 3}, {64, 1}, {64, 10}, {1000, 100}, {3, 1000}}

type lossInput struct {
	name       string
	rows, cols int
	x, t       []float32 // logits or predictions, and labels or targets
}

// lossFunc calls one of the four losses of the backend.
type lossFunc func(b backend.Backend, x, t, grad, lossSum backend.Buffer, rows, cols int)

// runLoss runs one loss and compares lossSum[0] and grad.
func runLoss(c *tcase, call lossFunc, in lossInput, wantLoss, lossTol float64, wantGrad []float64, gradTol func(int) float64) {
	xb, tb := c.in(in.x), c.in(in.t)
	gb, lb := c.out(filled(in.rows*in.cols, 7)), c.out([]float32{lossPrefill})
	call(c.b, xb.h, tb.h, gb.h, lb.h, in.rows, in.cols)
	c.scalar("lossSum[0] (accumulated onto 1.5)", c.result("lossSum", lb)[0], lossPrefill+wantLoss, lossTol)
	c.compare("grad", c.result("grad", gb), wantGrad, gradTol)
}

// logitInputs returns random logits and, appended, rows of extreme logits (+-100
// and 1000 plus noise), which must give finite losses and gradients.
func (s *suite) logitInputs(label func(cols int) float32, perElement bool) []lossInput {
	var out []lossInput
	mk := func(name string, rows, cols int, x []float32) {
		n := rows
		if perElement {
			n = rows * cols
		}
		t := make([]float32, n)
		for i := range t {
			t[i] = label(cols)
		}
		out = append(out, lossInput{name, rows, cols, x, t})
	}
	for _, sh := range lossShapes {
		mk("", sh[0], sh[1], s.normal(sh[0]*sh[1], 3))
	}
	ext := make([]float32, 16*10)
	for i := range ext {
		ext[i] = float32(100 * (1 - 2*s.rng.IntN(2)))
	}
	mk(" logits=+-100", 16, 10, ext)
	off := s.normal(8*10, 1)
	for i := range off {
		off[i] += 1000
	}
	mk(" logits=1000+noise", 8, 10, off)
	return out
}

func checkSoftmaxCrossEntropy(s *suite) {
	call := func(b backend.Backend, x, t, g, l backend.Buffer, rows, cols int) {
		b.SoftmaxCrossEntropy(x, t, g, l, rows, cols)
	}
	inputs := s.logitInputs(func(cols int) float32 { return float32(s.rng.IntN(cols)) }, false)
	for _, in := range inputs {
		rows, cols := in.rows, in.cols
		loss, grad := ref.SoftmaxCrossEntropy(in.x, in.t, rows, cols)
		p := ref.Softmax(in.x, rows, cols)
		// A row's loss is max + log(sum) - x[label] in float32: a few ulps of
		// the magnitudes involved, plus the float32 sum over rows.
		scale := 0.0
		for i := 0; i < rows; i++ {
			mx := 0.0
			for _, v := range in.x[i*cols : (i+1)*cols] {
				mx = math.Max(mx, abs32(v))
			}
			scale += 2*mx + 1
		}
		lossTol := 1e-5*scale + ref.Gamma(rows+4)*(loss+lossPrefill)
		gradTol := func(i int) float64 {
			onehot := 0.0
			if i%cols == int(in.t[i/cols]) {
				onehot = 1
			}
			return ((1e-5+ref.Gamma(cols+8))*(p[i]+onehot) + 1e-30) / float64(rows)
		}
		s.run(fmt.Sprintf("rows=%d cols=%d%s", rows, cols, in.name), func(c *tcase) {
			runLoss(c, call, in, loss, lossTol, grad, gradTol)
		})
	}
}

func checkBCEWithLogits(s *suite) {
	call := func(b backend.Backend, x, t, g, l backend.Buffer, rows, cols int) {
		b.BCEWithLogits(x, t, g, l, rows, cols)
	}
	inputs := s.logitInputs(func(int) float32 { return float32(s.rng.IntN(2)) }, true)
	for _, in := range inputs {
		rows, cols := in.rows, in.cols
		n := rows * cols
		loss, grad := ref.BCEWithLogits(in.x, in.t, rows, cols)
		scale := 0.0
		for _, z := range in.x {
			scale += (abs32(z) + 1) / float64(cols)
		}
		lossTol := 1e-5*scale + ref.Gamma(n+4)*(loss+lossPrefill)
		gradTol := func(i int) float64 {
			return (1e-6 + 1e-5*(ref.Sigmoid(float64(in.x[i]))+float64(in.t[i]))) / float64(n)
		}
		s.run(fmt.Sprintf("rows=%d cols=%d%s", rows, cols, in.name), func(c *tcase) {
			runLoss(c, call, in, loss, lossTol, grad, gradTol)
		})
	}
}

// regressionInputs returns predictions and targets; every fifth target
// equals its prediction (MAE's gradient is 0 there).
func (s *suite) regressionInputs() []lossInput {
	var out []lossInput
	for _, sh := range lossShapes {
		n := sh[0] * sh[1]
		pred, target := s.normal(n, 2), s.normal(n, 2)
		for i := 0; i < n; i += 5 {
			target[i] = pred[i]
		}
		out = append(out, lossInput{"", sh[0], sh[1], pred, target})
	}
	return out
}

func checkMSE(s *suite) {
	call := func(b backend.Backend, x, t, g, l backend.Buffer, rows, cols int) {
		b.MSE(x, t, g, l, rows, cols)
	}
	for _, in := range s.regressionInputs() {
		rows, cols := in.rows, in.cols
		loss, grad := ref.MSE(in.x, in.t, rows, cols)
		lossTol := (1e-6 + ref.Gamma(rows*cols+4)) * (loss + lossPrefill)
		s.run(fmt.Sprintf("rows=%d cols=%d", rows, cols), func(c *tcase) {
			runLoss(c, call, in, loss, lossTol, grad, rel(grad, 0, 1e-6))
		})
	}
}

func checkMAE(s *suite) {
	call := func(b backend.Backend, x, t, g, l backend.Buffer, rows, cols int) {
		b.MAE(x, t, g, l, rows, cols)
	}
	for _, in := range s.regressionInputs() {
		rows, cols := in.rows, in.cols
		loss, grad := ref.MAE(in.x, in.t, rows, cols)
		lossTol := (1e-6 + ref.Gamma(rows*cols+4)) * (loss + lossPrefill)
		s.run(fmt.Sprintf("rows=%d cols=%d", rows, cols), func(c *tcase) {
			runLoss(c, call, in, loss, lossTol, grad, rel(grad, 0, 2*ref.Unit))
		})
	}
}
