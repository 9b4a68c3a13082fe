package conformance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// fakeBuf is the fake backend's buffer: a slice, and whether it was freed.
type fakeBuf struct {
	data  []float32
	freed bool
}

func (b *fakeBuf) Len() int { return len(b.data) }

// fake is a Backend written in plain Go on top of package ref. It exists to
// prove that the suite runs and passes on a correct backend; faulty wraps
// it to prove that the suite fails on a broken one.
type fake struct{}

func (fake) Name() string    { return "fake" }
func (fake) Details() string { return "fake backend on top of package ref" }
func (fake) Close() error    { return nil }

// get returns the storage of b after checking that it holds n elements.
func get(b backend.Buffer, n int) []float32 {
	fb, ok := b.(*fakeBuf)
	if !ok {
		panic(fmt.Sprintf("fake: buffer of another backend (%T)", b))
	}
	if fb.freed {
		panic("fake: buffer used after Free")
	}
	if n < 0 {
		panic(fmt.Sprintf("fake: negative size %d", n))
	}
	if len(fb.data) < n {
		panic(fmt.Sprintf("fake: buffer of %d elements, need %d", len(fb.data), n))
	}
	return fb.data
}

// store writes the float64 results into dst, rounding to float32.
func store(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] = float32(v)
	}
}

// snap copies the first n elements of b, so that results computed from it
// may be stored into an aliasing buffer.
func snap(b backend.Buffer, n int) []float32 {
	return append([]float32(nil), get(b, n)[:n]...)
}

func (fake) Alloc(n int) backend.Buffer {
	if n < 0 {
		panic("fake: negative size")
	}
	return &fakeBuf{data: make([]float32, n)}
}

func (fake) Free(b backend.Buffer) {
	get(b, 0)
	b.(*fakeBuf).freed = true
}

func (fake) Upload(dst backend.Buffer, src []float32)   { copy(get(dst, len(src)), src) }
func (fake) Download(dst []float32, src backend.Buffer) { copy(dst, get(src, len(dst))) }
func (fake) Copy(dst, src backend.Buffer, n int)        { copy(get(dst, n)[:n], get(src, n)) }

func (fake) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b backend.Buffer, beta float32, c backend.Buffer) {
	backend.CheckSizes("fake", "Gemm", m, n, k)
	cc := get(c, m*n)
	store(cc, ref.Gemm(transA, transB, m, n, k, float64(alpha), get(a, m*k), get(b, k*n), float64(beta), cc))
}

func (fake) AddBias(x, bias backend.Buffer, rows, cols int) {
	xx := get(x, rows*cols)
	store(xx, ref.AddBias(xx, get(bias, cols), rows, cols))
}

func (fake) BiasActivate(act backend.Activation, slope float32, z, bias, y backend.Buffer, rows, cols int) {
	zz := get(z, rows*cols)
	zOut, _ := ref.BiasActivate(act, float64(slope), zz, get(bias, cols), rows, cols)
	store(zz, zOut)
	store(get(y, rows*cols), ref.Activate(act, float64(slope), zz[:rows*cols]))
}

func (fake) Activate(act backend.Activation, slope float32, x, y backend.Buffer, n int) {
	store(get(y, n), ref.Activate(act, float64(slope), get(x, n)[:n]))
}

func (fake) ActivateBackward(act backend.Activation, slope float32, x, y, dy, dx backend.Buffer, n int) {
	get(y, n)
	store(get(dx, n), ref.ActivateBackward(act, float64(slope), get(x, n)[:n], get(dy, n)))
}

func (fake) Softmax(x, y backend.Buffer, rows, cols int) {
	store(get(y, rows*cols), ref.Softmax(get(x, rows*cols), rows, cols))
}

func (fake) SoftmaxBackward(y, dy, dx backend.Buffer, rows, cols int) {
	store(get(dx, rows*cols), ref.SoftmaxBackward(get(y, rows*cols), get(dy, rows*cols), rows, cols))
}

func (fake) DropoutMask(mask backend.Buffer, n int, p float32, seed uint64) {
	store(get(mask, n), ref.DropoutMask(n, float64(p), seed))
}

func (fake) BatchNormForward(x, y, gamma, beta, mean, invStd, runMean, runVar backend.Buffer, rows, cols int, momentum, eps float32, training bool) {
	backend.CheckSizes("fake", "BatchNormForward", rows, cols)
	rm, rv := get(runMean, cols), get(runVar, cols)
	out := ref.BatchNormForward(get(x, rows*cols), get(gamma, cols), get(beta, cols), rm, rv, rows, cols, float64(momentum), float64(eps), training)
	yy, mm, ss := get(y, rows*cols), get(mean, cols), get(invStd, cols)
	store(yy, out.Y)
	if out.Mean != nil {
		store(mm, out.Mean)
		store(ss, out.InvStd)
	}
	if training {
		store(rm, out.RunMean)
		store(rv, out.RunVar)
	}
}

func (fake) BatchNormBackward(x, dy, dx, gamma, mean, invStd, dGamma, dBeta backend.Buffer, rows, cols int) {
	backend.CheckSizes("fake", "BatchNormBackward", rows, cols)
	dg, db := get(dGamma, cols), get(dBeta, cols)
	dxx, dgg, dbb := ref.BatchNormBackward(get(x, rows*cols), get(dy, rows*cols), get(gamma, cols), get(mean, cols), get(invStd, cols), dg, db, rows, cols)
	store(get(dx, rows*cols), dxx)
	store(dg, dgg)
	store(db, dbb)
}

func (fake) Add(a, b, c backend.Buffer, n int) {
	store(get(c, n), ref.Add(get(a, n)[:n], get(b, n)))
}

func (fake) Mul(a, b, c backend.Buffer, n int) {
	store(get(c, n), ref.Mul(get(a, n)[:n], get(b, n)))
}

func (fake) Scale(x backend.Buffer, alpha float32, n int) {
	xx := get(x, n)
	store(xx, ref.Scale(xx[:n], float64(alpha)))
}

func (fake) Axpy(alpha float32, x, y backend.Buffer, n int) {
	yy := get(y, n)
	store(yy, ref.Axpy(float64(alpha), get(x, n), yy[:n]))
}

func (fake) Fill(x backend.Buffer, v float32, n int) {
	store(get(x, n), ref.Fill(n, float64(v)))
}

func (fake) SumRows(x, out backend.Buffer, rows, cols int, beta float32) {
	oo := get(out, cols)
	store(oo, ref.SumRows(get(x, rows*cols), rows, cols, float64(beta), oo))
}

func (fake) SumSquares(x backend.Buffer, n int, out backend.Buffer) {
	oo := get(out, 1)
	oo[0] = float32(float64(oo[0]) + ref.SumSquares(get(x, n)[:n]))
}

func (fake) ArgmaxRows(x, out backend.Buffer, rows, cols int) {
	oo := get(out, rows)
	for i, j := range ref.ArgmaxRows(get(x, rows*cols), rows, cols) {
		oo[i] = float32(j)
	}
}

func (fake) CountCorrect(x, labels, out backend.Buffer, rows, cols int) {
	oo := get(out, 1)
	oo[0] += float32(ref.CountCorrect(get(x, rows*cols), get(labels, rows), rows, cols))
}

// loss runs a reference loss and accumulates its sum.
func loss(f func(x, t []float32, rows, cols int) (float64, []float64), x, t, grad, lossSum backend.Buffer, rows, cols, tLen int) {
	sum, g := f(get(x, rows*cols), get(t, tLen), rows, cols)
	store(get(grad, rows*cols), g)
	ls := get(lossSum, 1)
	ls[0] = float32(float64(ls[0]) + sum)
}

func (fake) SoftmaxCrossEntropy(logits, labels, grad, lossSum backend.Buffer, rows, cols int) {
	loss(ref.SoftmaxCrossEntropy, logits, labels, grad, lossSum, rows, cols, rows)
}

func (fake) BCEWithLogits(logits, targets, grad, lossSum backend.Buffer, rows, cols int) {
	loss(ref.BCEWithLogits, logits, targets, grad, lossSum, rows, cols, rows*cols)
}

func (fake) MSE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	loss(ref.MSE, pred, target, grad, lossSum, rows, cols, rows*cols)
}

func (fake) MAE(pred, target, grad, lossSum backend.Buffer, rows, cols int) {
	loss(ref.MAE, pred, target, grad, lossSum, rows, cols, rows*cols)
}

func (fake) SGDStep(param, grad, velocity backend.Buffer, n int, cfg backend.SGDConfig) {
	pp := get(param, n)
	var vv []float32
	if cfg.Momentum != 0 {
		vv = get(velocity, n)
	}
	p, v := ref.SGDStep(pp[:n], get(grad, n), vv, cfg)
	store(pp, p)
	store(vv, v)
}

func (fake) AdamStep(param, grad, m, v backend.Buffer, n int, cfg backend.AdamConfig) {
	pp, mm, vv := get(param, n), get(m, n), get(v, n)
	p, m1, v1 := ref.AdamStep(pp[:n], get(grad, n), mm, vv, cfg)
	store(pp, p)
	store(mm, m1)
	store(vv, v1)
}

var _ backend.Backend = fake{}

// TestFakePasses runs every check on the fake backend: it proves that the
// suite runs, that its tolerances accept a correct backend, and that it
// frees every buffer it allocates.
func TestFakePasses(t *testing.T) {
	b, cb := counting(fake{})
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			if err := c.Run(b); err != nil {
				t.Error(err)
			}
			if cb.live != 0 {
				t.Errorf("%d buffers left allocated", cb.live)
				cb.live = 0
			}
		})
	}
}

func TestCheckNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if c.Name == "" || strings.ContainsAny(c.Name, " /") || seen[c.Name] {
			t.Errorf("bad or duplicate check name %q", c.Name)
		}
		seen[c.Name] = true
	}
}

// countingBackend counts live buffers.
type countingBackend struct {
	backend.Backend
	live int
}

func (b *countingBackend) Alloc(n int) backend.Buffer { b.live++; return b.Backend.Alloc(n) }
func (b *countingBackend) Free(x backend.Buffer)      { b.live--; b.Backend.Free(x) }

// countingConvolver is a countingBackend that keeps the Convolver methods
// of the backend it wraps.
type countingConvolver struct {
	*countingBackend
	backend.Convolver
}

// counting wraps b so that the returned counter counts its live buffers;
// the wrapper implements backend.Convolver when b does.
func counting(b backend.Backend) (backend.Backend, *countingBackend) {
	cb := &countingBackend{Backend: b}
	if cv, ok := b.(backend.Convolver); ok {
		return countingConvolver{cb, cv}, cb
	}
	return cb, cb
}
