package conformance

import (
	"fmt"
	"strings"

	"github.com/fastnn/fastnn/backend"
)

// The panic contract (package backend's documentation): a call whose
// buffers are too short for the sizes it is given, or whose size is
// negative, is a programmer error and must panic with a message rather than
// read or write out of bounds, or return quietly. So must an argument
// outside an operation's domain (a dropout probability of 1, Adam step 0),
// and that message must name the operation. Training BatchNormForward on
// one row is checked with BatchNormForward.

// panicCase is one call that breaks the contract. mk allocates a buffer of
// n elements, freed after the case.
type panicCase struct {
	op, what string
	named    bool // the message must name op
	call     func(b backend.Backend, mk func(n int) backend.Buffer)
}

func panicCases() []panicCase {
	const r, k, n = 3, 5, 3 * 5 // rows, cols, rows*cols
	type mkf = func(n int) backend.Buffer
	sgd := backend.SGDConfig{LR: 0.1, Momentum: 0.9}
	adam := backend.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	adam0 := adam
	adam0.Step = 0
	return []panicCase{
		{"Upload", "dst shorter than src", false, func(b backend.Backend, mk mkf) { b.Upload(mk(n-1), make([]float32, n)) }},
		{"Download", "src shorter than dst", false, func(b backend.Backend, mk mkf) { b.Download(make([]float32, n), mk(n-1)) }},
		{"Copy", "src short", false, func(b backend.Backend, mk mkf) { b.Copy(mk(n), mk(n-1), n) }},
		{"Gemm", "A short", false, func(b backend.Backend, mk mkf) { b.Gemm(false, false, r, k, k, 1, mk(r*k-1), mk(k*k), 0, mk(r*k)) }},
		{"Gemm", "transposed B short", false, func(b backend.Backend, mk mkf) { b.Gemm(false, true, r, k, k, 1, mk(r*k), mk(k*k-1), 0, mk(r*k)) }},
		{"Gemm", "C short", false, func(b backend.Backend, mk mkf) { b.Gemm(false, false, r, k, k, 1, mk(r*k), mk(k*k), 0, mk(r*k-1)) }},
		{"Gemm", "m and k negative", false, func(b backend.Backend, mk mkf) { b.Gemm(false, false, -1, 0, -1, 1, mk(n), mk(n), 0, mk(n)) }},
		{"AddBias", "bias short", false, func(b backend.Backend, mk mkf) { b.AddBias(mk(n), mk(k-1), r, k) }},
		{"BiasActivate", "y short", false, func(b backend.Backend, mk mkf) { b.BiasActivate(backend.ReLU, 0, mk(n), mk(k), mk(n-1), r, k) }},
		{"Activate", "y short", false, func(b backend.Backend, mk mkf) { b.Activate(backend.Tanh, 0, mk(n), mk(n-1), n) }},
		{"ActivateBackward", "dx short", false, func(b backend.Backend, mk mkf) {
			b.ActivateBackward(backend.Sigmoid, 0, mk(n), mk(n), mk(n), mk(n-1), n)
		}},
		{"Softmax", "y short", false, func(b backend.Backend, mk mkf) { b.Softmax(mk(n), mk(n-1), r, k) }},
		{"SoftmaxBackward", "dy short", false, func(b backend.Backend, mk mkf) { b.SoftmaxBackward(mk(n), mk(n-1), mk(n), r, k) }},
		{"SoftmaxBackward", "rows and cols negative", false, func(b backend.Backend, mk mkf) { b.SoftmaxBackward(mk(n), mk(n), mk(n), -1, -1) }},
		{"SoftmaxCrossEntropy", "rows and cols negative", false, func(b backend.Backend, mk mkf) {
			b.SoftmaxCrossEntropy(mk(n), mk(r), mk(n), mk(1), -1, -1)
		}},
		{"BCEWithLogits", "rows and cols negative", false, func(b backend.Backend, mk mkf) { b.BCEWithLogits(mk(n), mk(n), mk(n), mk(1), -1, -1) }},
		{"MSE", "rows and cols negative", false, func(b backend.Backend, mk mkf) { b.MSE(mk(n), mk(n), mk(n), mk(1), -1, -1) }},
		{"MAE", "rows and cols negative", false, func(b backend.Backend, mk mkf) { b.MAE(mk(n), mk(n), mk(n), mk(1), -1, -1) }},
		{"DropoutMask", "mask short", false, func(b backend.Backend, mk mkf) { b.DropoutMask(mk(n-1), n, 0.5, 1) }},
		{"DropoutMask", "p = 1", true, func(b backend.Backend, mk mkf) { b.DropoutMask(mk(n), n, 1, 1) }},
		{"BatchNormForward", "gamma short", false, func(b backend.Backend, mk mkf) {
			b.BatchNormForward(mk(n), mk(n), mk(k-1), mk(k), mk(k), mk(k), mk(k), mk(k), r, k, 0.1, 1e-5, true)
		}},
		{"BatchNormForward", "rows and cols negative", false, func(b backend.Backend, mk mkf) {
			b.BatchNormForward(mk(n), mk(n), mk(k), mk(k), mk(k), mk(k), mk(k), mk(k), -1, -1, 0.1, 1e-5, false)
		}},
		{"BatchNormBackward", "dBeta short", false, func(b backend.Backend, mk mkf) {
			b.BatchNormBackward(mk(n), mk(n), mk(n), mk(k), mk(k), mk(k), mk(k), mk(k-1), r, k)
		}},
		{"Add", "c short", false, func(b backend.Backend, mk mkf) { b.Add(mk(n), mk(n), mk(n-1), n) }},
		{"Mul", "b short", false, func(b backend.Backend, mk mkf) { b.Mul(mk(n), mk(n-1), mk(n), n) }},
		{"Scale", "x short", false, func(b backend.Backend, mk mkf) { b.Scale(mk(n-1), 2, n) }},
		{"Axpy", "y short", false, func(b backend.Backend, mk mkf) { b.Axpy(2, mk(n), mk(n-1), n) }},
		{"Fill", "x short", false, func(b backend.Backend, mk mkf) { b.Fill(mk(n-1), 1, n) }},
		{"SumRows", "out short", false, func(b backend.Backend, mk mkf) { b.SumRows(mk(n), mk(k-1), r, k, 0) }},
		{"SumSquares", "x short", false, func(b backend.Backend, mk mkf) { b.SumSquares(mk(n-1), n, mk(1)) }},
		{"ArgmaxRows", "out short", false, func(b backend.Backend, mk mkf) { b.ArgmaxRows(mk(n), mk(r-1), r, k) }},
		{"CountCorrect", "labels short", false, func(b backend.Backend, mk mkf) { b.CountCorrect(mk(n), mk(r-1), mk(1), r, k) }},
		{"SoftmaxCrossEntropy", "labels short", false, func(b backend.Backend, mk mkf) { b.SoftmaxCrossEntropy(mk(n), mk(r-1), mk(n), mk(1), r, k) }},
		{"BCEWithLogits", "targets short", false, func(b backend.Backend, mk mkf) { b.BCEWithLogits(mk(n), mk(n-1), mk(n), mk(1), r, k) }},
		{"MSE", "grad short", false, func(b backend.Backend, mk mkf) { b.MSE(mk(n), mk(n), mk(n-1), mk(1), r, k) }},
		{"MAE", "lossSum empty", false, func(b backend.Backend, mk mkf) { b.MAE(mk(n), mk(n), mk(n), mk(0), r, k) }},
		{"SGDStep", "velocity short", false, func(b backend.Backend, mk mkf) { b.SGDStep(mk(n), mk(n), mk(n-1), n, sgd) }},
		{"AdamStep", "v short", false, func(b backend.Backend, mk mkf) { b.AdamStep(mk(n), mk(n), mk(n), mk(n-1), n, adam) }},
		{"AdamStep", "step 0", true, func(b backend.Backend, mk mkf) { b.AdamStep(mk(n), mk(n), mk(n), mk(n), n, adam0) }},
	}
}

func checkPanics(s *suite) {
	for _, pc := range panicCases() {
		s.run(fmt.Sprintf("%s: %s (must panic)", pc.op, pc.what), func(c *tcase) {
			var bufs []backend.Buffer
			mk := func(n int) backend.Buffer {
				b := c.b.Alloc(n)
				bufs = append(bufs, b)
				return b
			}
			defer func() {
				for _, b := range bufs {
					c.b.Free(b)
				}
			}()
			probe := mk(1)
			msg, panicked := func() (msg string, p bool) {
				defer func() {
					if v := recover(); v != nil {
						msg, p = fmt.Sprint(v), true
					}
				}()
				pc.call(c.b, mk)
				c.b.Download(make([]float32, 1), probe) // an asynchronous backend may report the error here
				return "", false
			}()
			switch {
			case !panicked:
				c.failf("returned without a panic")
			case strings.TrimSpace(msg) == "":
				c.failf("panicked with an empty message")
			case pc.named && !strings.Contains(msg, pc.op):
				c.failf("panic message %q does not name %s", msg, pc.op)
			}
		})
	}
}
