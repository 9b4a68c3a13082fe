package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/ref"
)

// TestConvAgainstRef checks the convolution and pooling operations against
// package ref on a few shapes; the conformance suite covers the rest.
func TestConvAgainstRef(t *testing.T) {
	be, err := New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	up := func(v []float32) backend.Buffer { b := be.Alloc(len(v)); be.Upload(b, v); return b }
	down := func(b backend.Buffer) []float32 { v := make([]float32, b.Len()); be.Download(v, b); return v }
	cmp := func(what string, got []float32, want []float64) {
		t.Helper()
		for i, w := range want {
			if !ref.Close(got[i], w, 1e-4, 1e-4) {
				t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], w)
			}
		}
	}
	for _, s := range []backend.ConvShape{
		{N: 2, C: 3, H: 7, W: 6, K: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
		{N: 3, C: 2, H: 9, W: 8, K: 4, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 1, PadW: 2},
		{N: 1, C: 5, H: 4, W: 4, K: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		// Stride 1 with padding (the padded copy), 9 images (groups of
		// two for the backward filter, the last of one).
		{N: 9, C: 2, H: 6, W: 7, K: 3, KH: 3, KW: 2, StrideH: 1, StrideW: 1, PadH: 1, PadW: 2},
		// Deeper than one block of every product: C*KH*KW = 360 and a
		// wide row of 20*22-2 = 438 columns, K = 300 (backward data).
		{N: 2, C: 40, H: 22, W: 22, K: 300, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	} {
		x, w, b := rnd(s.InLen()), rnd(s.WeightLen()), rnd(s.K)
		dy, dw, db := rnd(s.OutLen()), rnd(s.WeightLen()), rnd(s.K)
		y := be.Alloc(s.OutLen())
		be.Conv2d(up(x), up(w), up(b), y, s)
		cmp("Conv2d", down(y), ref.Conv2d(x, w, b, s))
		dx := be.Alloc(s.InLen())
		be.Conv2dBackwardData(up(dy), up(w), dx, s)
		cmp("Conv2dBackwardData", down(dx), ref.Conv2dBackwardData(dy, w, s))
		dwb, dbb := up(dw), up(db)
		be.Conv2dBackwardFilter(up(x), up(dy), dwb, dbb, s)
		wantW, wantB := ref.Conv2dBackwardFilter(x, dy, dw, db, s)
		cmp("Conv2dBackwardFilter dWeight", down(dwb), wantW)
		cmp("Conv2dBackwardFilter dBias", down(dbb), wantB)
	}
	for _, s := range []backend.PoolShape{
		{N: 2, C: 3, H: 6, W: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
		{N: 1, C: 2, H: 7, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1},
	} {
		x, dy := rnd(s.InLen()), rnd(s.OutLen())
		y, dx := be.Alloc(s.OutLen()), be.Alloc(s.InLen())
		be.MaxPool2d(up(x), y, s)
		cmp("MaxPool2d", down(y), ref.MaxPool2d(x, s))
		be.MaxPool2dBackward(up(x), up(dy), dx, s)
		cmp("MaxPool2dBackward", down(dx), ref.MaxPool2dBackward(x, dy, s))
		be.AvgPool2d(up(x), y, s)
		cmp("AvgPool2d", down(y), ref.AvgPool2d(x, s))
		be.AvgPool2dBackward(up(dy), dx, s)
		cmp("AvgPool2dBackward", down(dx), ref.AvgPool2dBackward(dy, s))
	}
	x := rnd(2 * 3 * 5)
	y := be.Alloc(len(x))
	be.TransposeBatch(up(x), y, 2, 3, 5)
	cmp("TransposeBatch", down(y), ref.TransposeBatch(x, 2, 3, 5))
}

// benchConvShapes are the convolutions of the cnn preset at batch 64
// (cmd/bench conv times the same).
var benchConvShapes = map[string]backend.ConvShape{
	"conv1": {N: 64, C: 1, H: 28, W: 28, K: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	"conv2": {N: 64, C: 32, H: 13, W: 13, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
}

func BenchmarkConv(b *testing.B) {
	for _, name := range []string{"conv1", "conv2"} {
		s := benchConvShapes[name]
		for _, threads := range []int{1, 2} {
			be, _ := New(backend.Options{Threads: threads})
			x, w, bias, y := be.Alloc(s.InLen()), be.Alloc(s.WeightLen()), be.Alloc(s.K), be.Alloc(s.OutLen())
			dx, dw := be.Alloc(s.InLen()), be.Alloc(s.WeightLen())
			flops := 2 * float64(s.N*s.K*s.C*s.KH*s.KW*s.OutH()*s.OutW())
			for _, pass := range []struct {
				name string
				run  func()
			}{
				{"forward", func() { be.Conv2d(x, w, bias, y, s) }},
				{"backward_data", func() { be.Conv2dBackwardData(y, w, dx, s) }},
				{"backward_filter", func() { be.Conv2dBackwardFilter(x, y, dw, bias, s) }},
			} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", name, pass.name, threads), func(b *testing.B) {
					for b.Loop() {
						pass.run()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			be.Close()
		}
	}
}
