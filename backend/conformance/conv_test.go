package conformance

import (
	"errors"
	"math"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// The fake backend's backend.Convolver, on top of package ref, and broken
// versions of it that the conv checks must catch.

func (fake) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	s.Check("fake", "Conv2d")
	var bb []float32
	if bias != nil {
		bb = get(bias, s.K)
	}
	store(get(y, s.OutLen()), ref.Conv2d(get(x, s.InLen()), get(weight, s.WeightLen()), bb, s))
}

func (fake) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape) {
	s.Check("fake", "Conv2dBackwardData")
	store(get(dx, s.InLen()), ref.Conv2dBackwardData(get(dy, s.OutLen()), get(weight, s.WeightLen()), s))
}

func (fake) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	s.Check("fake", "Conv2dBackwardFilter")
	dw := get(dWeight, s.WeightLen())
	var db []float32
	if dBias != nil {
		db = get(dBias, s.K)
	}
	newW, newB := ref.Conv2dBackwardFilter(get(x, s.InLen()), get(dy, s.OutLen()), dw, db, s)
	store(dw, newW)
	store(db, newB)
}

func (fake) MaxPool2d(x, y backend.Buffer, s backend.PoolShape) {
	s.Check("fake", "MaxPool2d")
	store(get(y, s.OutLen()), ref.MaxPool2d(get(x, s.InLen()), s))
}

func (fake) MaxPool2dBackward(x, dy, dx backend.Buffer, s backend.PoolShape) {
	s.Check("fake", "MaxPool2dBackward")
	store(get(dx, s.InLen()), ref.MaxPool2dBackward(get(x, s.InLen()), get(dy, s.OutLen()), s))
}

func (fake) AvgPool2d(x, y backend.Buffer, s backend.PoolShape) {
	s.Check("fake", "AvgPool2d")
	store(get(y, s.OutLen()), ref.AvgPool2d(get(x, s.InLen()), s))
}

func (fake) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape) {
	s.Check("fake", "AvgPool2dBackward")
	store(get(dx, s.InLen()), ref.AvgPool2dBackward(get(dy, s.OutLen()), s))
}

func (fake) TransposeBatch(x, y backend.Buffer, batch, rows, cols int) {
	backend.CheckSizes("fake", "TransposeBatch", batch, rows, cols)
	n := batch * rows * cols
	store(get(y, n), ref.TransposeBatch(get(x, n), batch, rows, cols))
}

var _ backend.Convolver = fake{}

// mlpOnly is the fake without its Convolver methods: a backend written
// for MLPs.
type mlpOnly struct{ backend.Backend }

// TestNoConvolver checks that a backend without backend.Convolver is told
// so: its conv checks return ErrNoConvolver and Run skips them, while the
// other checks run; RequireConvolver fails it.
func TestNoConvolver(t *testing.T) {
	b := mlpOnly{fake{}}
	convChecks := 0
	for _, c := range Checks() {
		if _, isConv := convCheckNames[c.Name]; !isConv {
			if c.Name == "Copy" { // one of the others, which still runs
				if err := c.Run(b); err != nil {
					t.Errorf("check %s on a backend without Convolver: %v", c.Name, err)
				}
			}
			continue
		}
		convChecks++
		if err := c.Run(b); !errors.Is(err, ErrNoConvolver) {
			t.Errorf("check %s on a backend without Convolver returned %v, want ErrNoConvolver", c.Name, err)
		}
		t.Run(c.Name, func(t *testing.T) {
			defer func() {
				if !t.Skipped() {
					t.Errorf("Run did not skip %s on a backend without Convolver", c.Name)
				}
			}()
			runCheck(t, c, b)
		})
	}
	if convChecks != len(convCheckNames) {
		t.Errorf("%d conv checks in the suite, want %d", convChecks, len(convCheckNames))
	}
	without, with := &fatalRecorder{TB: t}, &fatalRecorder{TB: t}
	RequireConvolver(without, b)
	RequireConvolver(with, fake{})
	if !without.failed {
		t.Error("RequireConvolver accepted a backend without Convolver")
	}
	if with.failed {
		t.Error("RequireConvolver refused a backend with Convolver")
	}
}

// convCheckNames are the checks that need backend.Convolver.
var convCheckNames = map[string]struct{}{
	"Conv2d": {}, "Conv2dBackwardData": {}, "Conv2dBackwardFilter": {},
	"MaxPool2d": {}, "MaxPool2dBackward": {}, "AvgPool2d": {}, "AvgPool2dBackward": {},
	"TransposeBatch": {}, "ConvPanics": {},
}

// fatalRecorder records a Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (r *fatalRecorder) Helper()                      {}
func (r *fatalRecorder) Fatalf(string, ...any)        { r.failed = true }
func (r *fatalRecorder) Errorf(string, ...any)        { r.failed = true }
func (r *fatalRecorder) Fatal(...any)                 { r.failed = true }
func (r *fatalRecorder) Error(...any)                 { r.failed = true }
func (r *fatalRecorder) Logf(format string, a ...any) {}

// convPadOffByOne places the image one column too far left in its
// padding, as an im2col with an off-by-one left edge would.
type convPadOffByOne struct{ fake }

func (f convPadOffByOne) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	if s.PadW == 0 || s.Valid() != nil {
		f.fake.Conv2d(x, weight, bias, y, s)
		return
	}
	xx := get(x, s.InLen())
	ps := s // the padded image, with no padding left to add
	ps.W, ps.PadW = s.W+2*s.PadW, 0
	xp := make([]float32, ps.InLen())
	for nc := 0; nc < s.N*s.C; nc++ {
		for h := 0; h < s.H; h++ {
			for w := 0; w < s.W; w++ {
				xp[(nc*ps.H+h)*ps.W+w+s.PadW-1] = xx[(nc*s.H+h)*s.W+w]
			}
		}
	}
	var bb []float32
	if bias != nil {
		bb = get(bias, s.K)
	}
	store(get(y, s.OutLen()), ref.Conv2d(xp, get(weight, s.WeightLen()), bb, ps))
}

// convDropsLastChannel leaves the last input channel out of the sum, as a
// channel loop that stops one early would.
type convDropsLastChannel struct{ fake }

func (f convDropsLastChannel) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	if s.C < 2 || s.Valid() != nil {
		f.fake.Conv2d(x, weight, bias, y, s)
		return
	}
	w := snap(weight, s.WeightLen())
	kk := s.KH * s.KW
	for k := 0; k < s.K; k++ {
		clear(w[(k*s.C+s.C-1)*kk : (k*s.C+s.C)*kk])
	}
	var bb []float32
	if bias != nil {
		bb = get(bias, s.K)
	}
	store(get(y, s.OutLen()), ref.Conv2d(get(x, s.InLen()), w, bb, s))
}

type convNoBias struct{ fake }

func (f convNoBias) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	f.fake.Conv2d(x, weight, nil, y, s)
}

// convBackwardDataAccumulates adds dx into the buffer instead of writing
// it: the NaN the suite leaves there survives.
type convBackwardDataAccumulates struct{ fake }

func (f convBackwardDataAccumulates) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape) {
	old := snap(dx, s.InLen())
	f.fake.Conv2dBackwardData(dy, weight, dx, s)
	d := get(dx, s.InLen())
	for i := range old {
		d[i] += old[i]
	}
}

// convFilterOverwrites stores dWeight and dBias instead of adding to them.
type convFilterOverwrites struct{ fake }

func (f convFilterOverwrites) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	clear(get(dWeight, s.WeightLen())[:s.WeightLen()])
	if dBias != nil {
		clear(get(dBias, s.K)[:s.K])
	}
	f.fake.Conv2dBackwardFilter(x, dy, dWeight, dBias, s)
}

// convFilterZeroBatchClears clears the gradients when the batch is empty.
type convFilterZeroBatchClears struct{ fake }

func (f convFilterZeroBatchClears) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	if s.N == 0 {
		clear(get(dWeight, s.WeightLen())[:s.WeightLen()])
	}
	f.fake.Conv2dBackwardFilter(x, dy, dWeight, dBias, s)
}

// windows calls f(yi, xs) for every pooling window, xs its pixels inside
// the input in row order.
func windows(s backend.PoolShape, f func(yi int, xs []int)) {
	oh, ow := s.OutH(), s.OutW()
	for nc := 0; nc < s.N*s.C; nc++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var xs []int
				for h := max(i*s.StrideH-s.PadH, 0); h < min(i*s.StrideH-s.PadH+s.KH, s.H); h++ {
					for w := max(j*s.StrideW-s.PadW, 0); w < min(j*s.StrideW-s.PadW+s.KW, s.W); w++ {
						xs = append(xs, (nc*s.H+h)*s.W+w)
					}
				}
				f((nc*oh+i)*ow+j, xs)
			}
		}
	}
}

// argmax returns the pixel of xs that a scan keeping the best value so far
// picks, moving on where better(v, best) holds.
func argmax(x []float32, xs []int, better func(v, best float32) bool) int {
	at := xs[0]
	for _, i := range xs[1:] {
		if better(x[i], x[at]) {
			at = i
		}
	}
	return at
}

// maxPoolNaNLoses compares with > alone: a NaN never wins (unless it is
// the window's first pixel).
type maxPoolNaNLoses struct{ fake }

func (f maxPoolNaNLoses) MaxPool2d(x, y backend.Buffer, s backend.PoolShape) {
	if s.Valid() != nil {
		f.fake.MaxPool2d(x, y, s)
		return
	}
	xx, yy := get(x, s.InLen()), get(y, s.OutLen())
	windows(s, func(yi int, xs []int) {
		yy[yi] = xx[argmax(xx, xs, func(v, best float32) bool { return v > best })]
	})
}

// maxPoolBackwardLastMax sends each window's gradient to its last maximum
// (>= instead of >) instead of the first.
type maxPoolBackwardLastMax struct{ fake }

func (f maxPoolBackwardLastMax) MaxPool2dBackward(x, dy, dx backend.Buffer, s backend.PoolShape) {
	if s.Valid() != nil {
		f.fake.MaxPool2dBackward(x, dy, dx, s)
		return
	}
	xx, dyy, dxx := get(x, s.InLen()), get(dy, s.OutLen()), get(dx, s.InLen())
	clear(dxx[:s.InLen()])
	windows(s, func(yi int, xs []int) {
		dxx[argmax(xx, xs, func(v, best float32) bool { return v >= best || v != v })] += dyy[yi]
	})
}

// avgPoolExcludesPad divides by the pixels inside the input
// (count_include_pad=False) instead of KH*KW.
type avgPoolExcludesPad struct{ fake }

func (f avgPoolExcludesPad) AvgPool2d(x, y backend.Buffer, s backend.PoolShape) {
	if s.Valid() != nil {
		f.fake.AvgPool2d(x, y, s)
		return
	}
	xx, yy := get(x, s.InLen()), get(y, s.OutLen())
	windows(s, func(yi int, xs []int) {
		sum := 0.0
		for _, i := range xs {
			sum += float64(xx[i])
		}
		yy[yi] = float32(sum / float64(len(xs)))
	})
}

// avgPoolBackwardNoClear adds into dx without clearing it first.
type avgPoolBackwardNoClear struct{ fake }

func (f avgPoolBackwardNoClear) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape) {
	old := snap(dx, s.InLen())
	f.fake.AvgPool2dBackward(dy, dx, s)
	d := get(dx, s.InLen())
	for i := range old {
		d[i] += old[i]
	}
}

// transposeIgnoresBatch transposes the batch as one (batch*rows) x cols
// matrix.
type transposeIgnoresBatch struct{ fake }

func (f transposeIgnoresBatch) TransposeBatch(x, y backend.Buffer, batch, rows, cols int) {
	f.fake.TransposeBatch(x, y, 1, batch*rows, cols)
}

// poolOutLenFirst computes the output size before checking the shape, as
// a backend that evaluates s.OutLen() in its argument list does: stride 0
// dies of a division by zero, with a message that names nothing.
type poolOutLenFirst struct{ fake }

func (f poolOutLenFirst) MaxPool2d(x, y backend.Buffer, s backend.PoolShape) {
	get(y, s.OutLen())
	f.fake.MaxPool2d(x, y, s)
}

// convAcceptsShortY returns quietly when y is too short.
type convAcceptsShortY struct{ fake }

func (f convAcceptsShortY) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	if s.Valid() == nil && y.Len() < s.OutLen() {
		return
	}
	f.fake.Conv2d(x, weight, bias, y, s)
}

// convForeignBufferIgnored treats a buffer of another backend as a
// missing bias instead of refusing it.
type convForeignBufferIgnored struct{ fake }

func (f convForeignBufferIgnored) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	if _, ok := dWeight.(*fakeBuf); !ok {
		return
	}
	f.fake.Conv2dBackwardFilter(x, dy, dWeight, dBias, s)
}

func convFaults() []fault {
	return []fault{
		{"Conv2d padding off by one", convPadOffByOne{}, []string{"Conv2d"}, []string{"Conv2dBackwardData", "Conv2dBackwardFilter"}},
		{"Conv2d drops the last input channel", convDropsLastChannel{}, []string{"Conv2d"}, []string{"Conv2dBackwardData"}},
		{"Conv2d in reduced precision", convCoarse{}, []string{"Conv2d"}, nil},
		{"Conv2d without the bias", convNoBias{}, []string{"Conv2d"}, []string{"Conv2dBackwardFilter"}},
		{"Conv2dBackwardData adds into dx", convBackwardDataAccumulates{}, []string{"Conv2dBackwardData"}, []string{"Conv2d"}},
		{"Conv2dBackwardFilter overwrites instead of accumulating", convFilterOverwrites{}, []string{"Conv2dBackwardFilter"}, []string{"Conv2d"}},
		{"Conv2dBackwardFilter clears the gradients of an empty batch", convFilterZeroBatchClears{}, []string{"Conv2dBackwardFilter"}, nil},
		{"MaxPool2d lets NaN lose", maxPoolNaNLoses{}, []string{"MaxPool2d"}, []string{"MaxPool2dBackward"}},
		{"MaxPool2d gradient to the last maximum", maxPoolBackwardLastMax{}, []string{"MaxPool2dBackward"}, []string{"MaxPool2d"}},
		{"AvgPool2d excludes the padding", avgPoolExcludesPad{}, []string{"AvgPool2d"}, []string{"AvgPool2dBackward"}},
		{"AvgPool2dBackward adds into dx", avgPoolBackwardNoClear{}, []string{"AvgPool2dBackward"}, []string{"AvgPool2d"}},
		{"TransposeBatch ignores the batch", transposeIgnoresBatch{}, []string{"TransposeBatch"}, nil},
		{"MaxPool2d divides by the stride before checking it", poolOutLenFirst{}, []string{"ConvPanics"}, []string{"MaxPool2d"}},
		{"Conv2d accepts a short y", convAcceptsShortY{}, []string{"ConvPanics"}, []string{"Conv2d"}},
		{"Conv2dBackwardFilter ignores a buffer of another backend", convForeignBufferIgnored{}, []string{"ConvPanics"}, []string{"Conv2dBackwardFilter"}},
	}
}

// f32's convolutions and average pooling accumulate one term at a time in
// float32, in the order of the loops of package ref: the rounding of a
// plain kernel, whose error grows with the sum's length. The tolerances
// must accept it (TestFloat32BackendPasses).

// convTaps calls f(xIndex, wIndex, yIndex) for every product term of
// Conv2d, in the order n, k, i, j, c, p, q.
func convTaps(s backend.ConvShape, f func(xi, wi, yi int)) {
	oh, ow := s.OutH(), s.OutW()
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			for yi := (n*s.K + k) * oh * ow; yi < (n*s.K+k+1)*oh*ow; yi++ {
				i, j := yi%(oh*ow)/ow, yi%ow
				for c := 0; c < s.C; c++ {
					for p := 0; p < s.KH; p++ {
						for q := 0; q < s.KW; q++ {
							h, w := i*s.StrideH-s.PadH+p, j*s.StrideW-s.PadW+q
							if h >= 0 && h < s.H && w >= 0 && w < s.W {
								f(((n*s.C+c)*s.H+h)*s.W+w, ((k*s.C+c)*s.KH+p)*s.KW+q, yi)
							}
						}
					}
				}
			}
		}
	}
}

func (f32) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	s.Check("f32", "Conv2d")
	xx, ww, yy := get(x, s.InLen()), get(weight, s.WeightLen()), get(y, s.OutLen())
	clear(yy[:s.OutLen()])
	convTaps(s, func(xi, wi, yi int) { yy[yi] += ww[wi] * xx[xi] })
	if bias != nil {
		bb, plane := get(bias, s.K), s.OutH()*s.OutW()
		for yi := range yy[:s.OutLen()] {
			yy[yi] += bb[yi/plane%s.K]
		}
	}
}

func (f32) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape) {
	s.Check("f32", "Conv2dBackwardData")
	dyy, ww, dxx := get(dy, s.OutLen()), get(weight, s.WeightLen()), get(dx, s.InLen())
	clear(dxx[:s.InLen()])
	convTaps(s, func(xi, wi, yi int) { dxx[xi] += ww[wi] * dyy[yi] })
}

func (f32) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	s.Check("f32", "Conv2dBackwardFilter")
	xx, dyy, dww := get(x, s.InLen()), get(dy, s.OutLen()), get(dWeight, s.WeightLen())
	convTaps(s, func(xi, wi, yi int) { dww[wi] += xx[xi] * dyy[yi] })
	if dBias != nil {
		dbb, plane := get(dBias, s.K), s.OutH()*s.OutW()
		for yi, v := range dyy[:s.OutLen()] {
			dbb[yi/plane%s.K] += v
		}
	}
}

func (f32) AvgPool2d(x, y backend.Buffer, s backend.PoolShape) {
	s.Check("f32", "AvgPool2d")
	xx, yy := get(x, s.InLen()), get(y, s.OutLen())
	div := float32(s.KH * s.KW)
	windows(s, func(yi int, xs []int) {
		var sum float32
		for _, i := range xs {
			sum += xx[i]
		}
		yy[yi] = sum / div
	})
}

func (f32) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape) {
	s.Check("f32", "AvgPool2dBackward")
	dyy, dxx := get(dy, s.OutLen()), get(dx, s.InLen())
	clear(dxx[:s.InLen()])
	div := float32(s.KH * s.KW)
	windows(s, func(yi int, xs []int) {
		for _, i := range xs {
			dxx[i] += dyy[yi] / div
		}
	})
}

// convCoarse rounds y to 11 significant bits, as float16 or TF32 inputs
// would: beyond the float32 bound.
type convCoarse struct{ fake }

func (f convCoarse) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	f.fake.Conv2d(x, weight, bias, y, s)
	if s.Valid() != nil {
		return
	}
	yy := get(y, s.OutLen())
	for i := range yy[:s.OutLen()] {
		yy[i] = math.Float32frombits(math.Float32bits(yy[i]) &^ 0x1fff)
	}
}
