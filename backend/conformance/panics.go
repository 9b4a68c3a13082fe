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
// outside an operation's domain (a dropout probability of 1, Adam step 0,
// a ConvShape or PoolShape that is not Valid), and that message must name
// the operation. So must a buffer of another backend (checked for
// backend.Convolver's operations, in ConvPanics). Training
// BatchNormForward on one row is checked with BatchNormForward.

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

func checkPanics(s *suite) { runPanicCases(s, panicCases()) }

// foreignBuffer is a Buffer no backend allocated: every operation must
// refuse it.
type foreignBuffer struct{ n int }

func (f foreignBuffer) Len() int { return f.n }

// convPanicCases break the contract of backend.Convolver's operations:
// shapes that are not Valid (the message must name the operation), short
// buffers, and buffers of another backend. cs and ps are valid shapes;
// each case spoils one thing. Every operation with a shape gets stride 0:
// the output size divides by the stride, so a backend that computes it
// before checking the shape dies of a division by zero, a message that
// does not say what was wrong.
func convPanicCases() []panicCase {
	type mkf = func(n int) backend.Buffer
	type cv = backend.Convolver
	cs := backend.ConvShape{N: 2, C: 3, H: 5, W: 5, K: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	x, w, y := cs.InLen(), cs.WeightLen(), cs.OutLen()
	with := func(f func(s *backend.ConvShape)) backend.ConvShape { s := cs; f(&s); return s }
	stride0 := with(func(s *backend.ConvShape) { s.StrideW = 0 })
	negN := with(func(s *backend.ConvShape) { s.N = -2 })
	kernel0 := with(func(s *backend.ConvShape) { s.KH = 0 })
	negPad := with(func(s *backend.ConvShape) { s.PadH = -1 })
	tooBig := with(func(s *backend.ConvShape) { s.KW = 8 }) // 5 + 2*1 < 8

	ps := backend.PoolShape{N: 2, C: 3, H: 6, W: 5, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	px, py := ps.InLen(), ps.OutLen()
	pwith := func(f func(s *backend.PoolShape)) backend.PoolShape { s := ps; f(&s); return s }
	padHalf := pwith(func(s *backend.PoolShape) { s.PadH = 2 }) // more than half the window
	pstride0 := pwith(func(s *backend.PoolShape) { s.StrideH = 0 })
	pnegC := pwith(func(s *backend.PoolShape) { s.C = -1 })
	pbig := pwith(func(s *backend.PoolShape) { s.KW, s.StrideW = 6, 1 }) // wider than the input
	const tb, tr, tc = 2, 3, 5

	return []panicCase{
		{"Conv2d", "stride 0", true, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x), mk(w), mk(4), mk(y), stride0) }},
		{"Conv2d", "negative batch", true, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x), mk(w), nil, mk(y), negN) }},
		{"Conv2d", "kernel larger than the padded input", true, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x), mk(w*3), nil, mk(y), tooBig) }},
		{"Conv2d", "x short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x-1), mk(w), mk(4), mk(y), cs) }},
		{"Conv2d", "weight short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x), mk(w-1), mk(4), mk(y), cs) }},
		{"Conv2d", "bias short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x), mk(w), mk(3), mk(y), cs) }},
		{"Conv2d", "y short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2d(mk(x), mk(w), nil, mk(y-1), cs) }},
		{"Conv2d", "x of another backend", false, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2d(foreignBuffer{x}, mk(w), mk(4), mk(y), cs)
		}},
		{"Conv2d", "y of another backend", false, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2d(mk(x), mk(w), mk(4), foreignBuffer{y}, cs)
		}},
		{"Conv2dBackwardData", "kernel 0", true, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardData(mk(y), mk(w), mk(x), kernel0) }},
		{"Conv2dBackwardData", "stride 0", true, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardData(mk(y), mk(w), mk(x), stride0) }},
		{"Conv2dBackwardData", "dy short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardData(mk(y-1), mk(w), mk(x), cs) }},
		{"Conv2dBackwardData", "weight short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardData(mk(y), mk(w-1), mk(x), cs) }},
		{"Conv2dBackwardData", "dx short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardData(mk(y), mk(w), mk(x-1), cs) }},
		{"Conv2dBackwardData", "dx of another backend", false, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2dBackwardData(mk(y), mk(w), foreignBuffer{x}, cs)
		}},
		{"Conv2dBackwardFilter", "negative padding", true, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2dBackwardFilter(mk(x), mk(y), mk(w), mk(4), negPad)
		}},
		{"Conv2dBackwardFilter", "stride 0", true, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2dBackwardFilter(mk(x), mk(y), mk(w), mk(4), stride0)
		}},
		{"Conv2dBackwardFilter", "x short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardFilter(mk(x-1), mk(y), mk(w), mk(4), cs) }},
		{"Conv2dBackwardFilter", "dy short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardFilter(mk(x), mk(y-1), mk(w), mk(4), cs) }},
		{"Conv2dBackwardFilter", "dWeight short", false, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2dBackwardFilter(mk(x), mk(y), mk(w-1), nil, cs)
		}},
		{"Conv2dBackwardFilter", "dBias short", false, func(b backend.Backend, mk mkf) { b.(cv).Conv2dBackwardFilter(mk(x), mk(y), mk(w), mk(3), cs) }},
		{"Conv2dBackwardFilter", "dWeight of another backend", false, func(b backend.Backend, mk mkf) {
			b.(cv).Conv2dBackwardFilter(mk(x), mk(y), foreignBuffer{w}, mk(4), cs)
		}},
		{"MaxPool2d", "padding more than half the window", true, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2d(mk(px), mk(px), padHalf) }},
		{"MaxPool2d", "stride 0", true, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2d(mk(px), mk(px), pstride0) }},
		{"MaxPool2d", "x short", false, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2d(mk(px-1), mk(py), ps) }},
		{"MaxPool2d", "y short", false, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2d(mk(px), mk(py-1), ps) }},
		{"MaxPool2d", "x of another backend", false, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2d(foreignBuffer{px}, mk(py), ps) }},
		{"MaxPool2dBackward", "window wider than the input", true, func(b backend.Backend, mk mkf) {
			b.(cv).MaxPool2dBackward(mk(px), mk(px), mk(px), pbig)
		}},
		{"MaxPool2dBackward", "stride 0", true, func(b backend.Backend, mk mkf) {
			b.(cv).MaxPool2dBackward(mk(px), mk(px), mk(px), pstride0)
		}},
		{"MaxPool2dBackward", "x short", false, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2dBackward(mk(px-1), mk(py), mk(px), ps) }},
		{"MaxPool2dBackward", "dy short", false, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2dBackward(mk(px), mk(py-1), mk(px), ps) }},
		{"MaxPool2dBackward", "dx short", false, func(b backend.Backend, mk mkf) { b.(cv).MaxPool2dBackward(mk(px), mk(py), mk(px-1), ps) }},
		{"MaxPool2dBackward", "dx of another backend", false, func(b backend.Backend, mk mkf) {
			b.(cv).MaxPool2dBackward(mk(px), mk(py), foreignBuffer{px}, ps)
		}},
		{"AvgPool2d", "stride 0", true, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2d(mk(px), mk(px), pstride0) }},
		{"AvgPool2d", "y short", false, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2d(mk(px), mk(py-1), ps) }},
		{"AvgPool2d", "y of another backend", false, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2d(mk(px), foreignBuffer{py}, ps) }},
		{"AvgPool2dBackward", "negative channels", true, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2dBackward(mk(py), mk(px), pnegC) }},
		{"AvgPool2dBackward", "stride 0", true, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2dBackward(mk(px), mk(px), pstride0) }},
		{"AvgPool2dBackward", "dy short", false, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2dBackward(mk(py-1), mk(px), ps) }},
		{"AvgPool2dBackward", "dx short", false, func(b backend.Backend, mk mkf) { b.(cv).AvgPool2dBackward(mk(py), mk(px-1), ps) }},
		{"TransposeBatch", "rows and cols negative", true, func(b backend.Backend, mk mkf) {
			b.(cv).TransposeBatch(mk(tb*tr*tc), mk(tb*tr*tc), tb, -tr, -tc)
		}},
		{"TransposeBatch", "x short", false, func(b backend.Backend, mk mkf) { b.(cv).TransposeBatch(mk(tb*tr*tc-1), mk(tb*tr*tc), tb, tr, tc) }},
		{"TransposeBatch", "y short", false, func(b backend.Backend, mk mkf) { b.(cv).TransposeBatch(mk(tb*tr*tc), mk(tb*tr*tc-1), tb, tr, tc) }},
		{"TransposeBatch", "y of another backend", false, func(b backend.Backend, mk mkf) {
			b.(cv).TransposeBatch(mk(tb*tr*tc), foreignBuffer{tb * tr * tc}, tb, tr, tc)
		}},
	}
}

func checkConvPanics(s *suite) { runPanicCases(s, convPanicCases()) }

func runPanicCases(s *suite, cases []panicCase) {
	for _, pc := range cases {
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
