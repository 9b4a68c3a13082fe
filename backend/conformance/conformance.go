// Package conformance is a test suite that every backend.Backend runs. It
// checks each operation of the interface against package ref on random
// inputs from fixed seeds and on hand-picked edge cases: sizes that are not
// multiples of any block size, every transpose, aliasing where the contract
// allows it, saturating and overflowing inputs, accumulation into scalar
// outputs. It also checks that a backend writes nothing beyond the elements
// an operation owns (output buffers carry a guard tail), reads nothing
// beyond the elements it needs (input buffers carry a NaN tail, which would
// poison a result), and leaves its inputs unchanged.
//
// A backend's tests call Run:
//
//	func TestConformance(t *testing.T) {
//		b, _, err := backend.Open("cpu", backend.Options{})
//		if err != nil {
//			t.Skip(err)
//		}
//		defer b.Close()
//		conformance.RequireConvolver(t, b) // for a backend that runs CNNs
//		conformance.Run(t, b)
//	}
//
// Tolerances assume float32 storage and arithmetic: elementwise results
// within a few float32 ulps (rtol 1e-5 for transcendental functions), sums
// and products within the worst-case float32 accumulation bound (see
// ref.GemmErrorBound and ref.Gamma). A backend computing in reduced
// precision (float16, TF32 tensor cores) fails the Gemm checks.
package conformance

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// Check is one named part of the suite. Run returns nil when the backend
// passes, or an error describing the first few failing cases and, for
// each, the first few mismatches (index, got, want, tolerance). A check of
// a backend.Convolver operation returns an error wrapping ErrNoConvolver
// for a backend that does not implement it.
type Check struct {
	Name string
	Run  func(b backend.Backend) error
}

// Checks returns the whole suite, in a fixed order. Each check draws its
// inputs from its own fixed seed, so checks may run alone or in any order.
func Checks() []Check {
	type def struct {
		name string
		run  func(s *suite)
	}
	defs := []def{
		{"Alloc", checkAlloc},
		{"UploadDownload", checkUploadDownload},
		{"Copy", checkCopy},
		{"GemmNN", gemmCheck(false, false)},
		{"GemmNT", gemmCheck(false, true)},
		{"GemmTN", gemmCheck(true, false)},
		{"GemmTT", gemmCheck(true, true)},
		{"GemmK0", checkGemmK0},
		{"GemmBetaZeroNaN", checkGemmBetaZeroNaN},
		{"AddBias", checkAddBias},
		{"BiasActivate", checkBiasActivate},
		{"Activate", checkActivate},
		{"ActivateBackward", checkActivateBackward},
		{"Softmax", checkSoftmax},
		{"SoftmaxBackward", checkSoftmaxBackward},
		{"DropoutMask", checkDropoutMask},
		{"BatchNormForward", checkBatchNormForward},
		{"BatchNormBackward", checkBatchNormBackward},
		{"Add", checkAdd},
		{"Mul", checkMul},
		{"Scale", checkScale},
		{"Axpy", checkAxpy},
		{"Fill", checkFill},
		{"SumRows", checkSumRows},
		{"SumSquares", checkSumSquares},
		{"ArgmaxRows", checkArgmaxRows},
		{"CountCorrect", checkCountCorrect},
		{"CountCorrectBinary", checkCountCorrectBinary},
		{"SoftmaxCrossEntropy", checkSoftmaxCrossEntropy},
		{"BCEWithLogits", checkBCEWithLogits},
		{"MSE", checkMSE},
		{"MAE", checkMAE},
		{"SGDStep", checkSGDStep},
		{"AdamStep", checkAdamStep},
		{"Panics", checkPanics},
	}
	// The checks of backend.Convolver (conv.go).
	convDefs := []def{
		{"Conv2d", checkConv2d},
		{"Conv2dBackwardData", checkConv2dBackwardData},
		{"Conv2dBackwardFilter", checkConv2dBackwardFilter},
		{"MaxPool2d", checkMaxPool2d},
		{"MaxPool2dBackward", checkMaxPool2dBackward},
		{"AvgPool2d", checkAvgPool2d},
		{"AvgPool2dBackward", checkAvgPool2dBackward},
		{"TransposeBatch", checkTransposeBatch},
		{"ConvPanics", checkConvPanics},
	}
	var checks []Check
	for _, d := range defs {
		checks = append(checks, Check{Name: d.name, Run: func(b backend.Backend) error {
			return runSuite(b, d.name, d.run)
		}})
	}
	for _, d := range convDefs {
		checks = append(checks, Check{Name: d.name, Run: func(b backend.Backend) error {
			if _, ok := b.(backend.Convolver); !ok {
				return fmt.Errorf("%s: %w", d.name, ErrNoConvolver)
			}
			return runSuite(b, d.name, d.run)
		}})
	}
	return checks
}

// Run runs every check as a subtest of t named after the check. The
// checks of backend.Convolver's operations are skipped, saying so, on a
// backend that does not implement it (see RequireConvolver).
func Run(t *testing.T, b backend.Backend) {
	t.Helper()
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) { runCheck(t, c, b) })
	}
}

// runCheck runs one check as the test t.
func runCheck(t *testing.T, c Check, b backend.Backend) {
	err := c.Run(b)
	switch {
	case errors.Is(err, ErrNoConvolver):
		t.Skip(err)
	case err != nil:
		t.Error(err)
	}
}

const (
	// pad is the number of extra elements every buffer carries beyond what
	// the operation uses.
	pad = 17
	// guard fills the tail of output buffers; it must survive.
	guard = 12345
	// maxFailedCases bounds the cases a failing check reports (and runs).
	maxFailedCases = 3
	// maxMismatches bounds the elements reported per comparison.
	maxMismatches = 4
)

// sizes are the lengths used for elementwise operations: empty, tiny, odd,
// and large enough that a multi-threaded backend splits the work.
var sizes = []int{0, 1, 7, 1000, 100003}

// suite is the state of one check run.
type suite struct {
	b        backend.Backend
	rng      *rand.Rand
	failures []string
}

func runSuite(b backend.Backend, name string, run func(s *suite)) (err error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	s := &suite{b: b, rng: rand.New(rand.NewPCG(h.Sum64(), 0x5eed))}
	defer func() {
		if p := recover(); p != nil {
			s.failures = append(s.failures, fmt.Sprintf("panic: %v", p))
		}
		if len(s.failures) > 0 {
			msg := strings.Join(s.failures, "\n")
			if len(s.failures) >= maxFailedCases {
				msg += "\n(further cases skipped)"
			}
			err = fmt.Errorf("%d failing case(s):\n%s", len(s.failures), msg)
		}
	}()
	run(s)
	return nil
}

// full reports whether enough cases failed that the rest are skipped.
func (s *suite) full() bool { return len(s.failures) >= maxFailedCases }

// run runs one case: f sets it up, calls the backend and compares; then
// every input buffer is checked unchanged and every buffer freed.
func (s *suite) run(name string, f func(c *tcase)) {
	if s.full() {
		return
	}
	c := &tcase{b: s.b}
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.failf("panic: %v", p)
			}
		}()
		f(c)
		c.checkInputs()
	}()
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.failf("panic while freeing buffers: %v", p)
			}
		}()
		c.release()
	}()
	if len(c.msgs) > 0 {
		s.failures = append(s.failures, name+": "+strings.Join(c.msgs, "; "))
	}
}

// buf is a backend buffer allocated by a case, with what it was filled with.
type buf struct {
	h     backend.Buffer
	n     int       // elements the operation uses; the rest is the tail
	data  []float32 // everything uploaded, tail included
	input bool      // an input: must be unchanged at the end of the case
}

// tcase is one case of a check: its buffers and its failures.
type tcase struct {
	b    backend.Backend
	bufs []*buf
	msgs []string
}

func (c *tcase) failf(format string, args ...any) {
	c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
}

func (c *tcase) alloc(data []float32, tail float32, input bool) *buf {
	full := make([]float32, len(data)+pad)
	copy(full, data)
	for i := len(data); i < len(full); i++ {
		full[i] = tail
	}
	bb := &buf{h: c.b.Alloc(len(full)), n: len(data), data: full, input: input}
	c.bufs = append(c.bufs, bb)
	if got := bb.h.Len(); got != len(full) {
		panic(fmt.Sprintf("Alloc(%d) returned a buffer of Len %d", len(full), got))
	}
	c.b.Upload(bb.h, full)
	return bb
}

// in returns a buffer holding data followed by a NaN tail, which the
// operation must not read (it would poison the result) and must leave, with
// the data, unchanged.
func (c *tcase) in(data []float32) *buf { return c.alloc(data, float32(math.NaN()), true) }

// out returns a buffer holding data followed by a guard tail, which the
// operation must not write. The data may be overwritten; read it back with
// result.
func (c *tcase) out(data []float32) *buf { return c.alloc(data, guard, false) }

// download returns the whole content of b, tail included.
func (c *tcase) download(b *buf) []float32 {
	full := make([]float32, len(b.data))
	c.b.Download(full, b.h)
	return full
}

// result downloads an output buffer, checks that its tail still holds the
// guard, and returns its first n elements.
func (c *tcase) result(what string, b *buf) []float32 {
	full := c.download(b)
	for i := b.n; i < len(full); i++ {
		if !sameBits(full[i], b.data[i]) {
			c.failf("%s: wrote beyond element %d: [%d] = %g, want the guard %g untouched", what, b.n, i, full[i], b.data[i])
			break
		}
	}
	return full[:b.n]
}

func sameBits(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func (c *tcase) checkInputs() {
	for k, b := range c.bufs {
		if !b.input {
			continue
		}
		full := c.download(b)
		for i := range full {
			if !sameBits(full[i], b.data[i]) {
				c.failf("input buffer #%d modified: [%d] = %g, was %g", k, i, full[i], b.data[i])
				break
			}
		}
	}
}

func (c *tcase) release() {
	bufs := c.bufs
	c.bufs = nil
	for _, b := range bufs {
		c.b.Free(b.h)
	}
}

// compare checks got[i] against want[i] within tol(i) for every i,
// reporting the first few mismatches.
func (c *tcase) compare(what string, got []float32, want []float64, tol func(i int) float64) {
	if len(got) != len(want) {
		c.failf("%s: %d elements, want %d", what, len(got), len(want))
		return
	}
	bad := 0
	var first []string
	for i := range want {
		t := tol(i)
		if !ref.Close(got[i], want[i], t, 0) {
			if bad < maxMismatches {
				first = append(first, fmt.Sprintf("[%d] got %.9g want %.9g (tol %.3g)", i, got[i], want[i], t))
			}
			bad++
		}
	}
	if bad > 0 {
		c.failf("%s: %d of %d elements differ: %s", what, bad, len(want), strings.Join(first, ", "))
	}
}

// scalar compares a single value.
func (c *tcase) scalar(what string, got float32, want, tol float64) {
	c.compare(what, []float32{got}, []float64{want}, func(int) float64 { return tol })
}

// rel is the tolerance atol + rtol*|want[i]|.
func rel(want []float64, atol, rtol float64) func(int) float64 {
	return func(i int) float64 { return atol + rtol*math.Abs(want[i]) }
}

// each is an elementwise tolerance given in full.
func each(tol []float64) func(int) float64 {
	return func(i int) float64 { return tol[i] }
}

// Random inputs.

func (s *suite) uniform(n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*s.rng.Float64())
	}
	return x
}

func (s *suite) normal(n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * s.rng.NormFloat64())
	}
	return x
}

func filled(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func nans(n int) []float32 { return filled(n, float32(math.NaN())) }

// withSpecials overwrites the start and the end of x with specials (as far
// as x is long), so that both the head and the tail of a split loop see
// them.
func withSpecials(x []float32, specials []float32) []float32 {
	for i, v := range specials {
		if i < len(x) {
			x[i] = v
		}
		if j := len(x) - 1 - i; j >= len(specials) {
			x[j] = v
		}
	}
	return x
}

func narrow(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func abs32(x float32) float64 { return math.Abs(float64(x)) }
