package cpu

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// allocFree lists the methods of backend.Backend and backend.Convolver
// that may allocate: Alloc makes a buffer, Details formats a string, Close
// ends the backend.
var allocFree = map[string]bool{"Alloc": false, "Details": false, "Close": false}

// TestOperationsAllocateNothing runs every operation of the Backend and
// Convolver interfaces once, then checks that running it again allocates
// nothing: a training step must not feed the garbage collector. The sizes
// are large enough for every parallel loop to be split across the four
// workers, so that the hand-off to the pool is measured too (AllocsPerRun
// counts the allocations of every goroutine). Scratch memory that grows
// on first use is allocated by the first run.
func TestOperationsAllocateNothing(t *testing.T) {
	be, err := New(backend.Options{Threads: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	const n, rows, cols = 1 << 17, 256, 512 // rows*cols == n
	up := func(v []float32) backend.Buffer {
		b := be.Alloc(len(v))
		be.Upload(b, v)
		return b
	}
	labels := func(rows, classes int) backend.Buffer {
		v := make([]float32, rows)
		for i := range v {
			v[i] = float32(i % classes)
		}
		return up(v)
	}
	host, idx := randomSlice(rng, n), []int{3, 1, 2, 0}
	a, b, c, d := up(randomSlice(rng, n)), up(randomSlice(rng, n)), be.Alloc(n), be.Alloc(n)
	vec := func() backend.Buffer { return up(randomSlice(rng, cols)) }
	gamma, beta, mean, invStd, runMean, runVar := vec(), vec(), vec(), vec(), vec(), be.Alloc(cols)
	be.Fill(runVar, 1, cols)
	sum, m, v := be.Alloc(1), be.Alloc(n), be.Alloc(n)
	labels16, labels10, labels2 := labels(n/16, 16), labels(n/16, 10), labels(n, 2)
	freed := be.Alloc(8)
	conv := []backend.ConvShape{
		{N: 8, C: 3, H: 16, W: 16, K: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 8, C: 3, H: 16, W: 16, K: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	}
	pools := []backend.PoolShape{
		{N: 8, C: 16, H: 16, W: 16, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
		{N: 8, C: 16, H: 16, W: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	}

	cases := map[string]func(){
		"Name":         func() { _ = be.Name() },
		"Free":         func() { be.Free(freed) },
		"Upload":       func() { be.Upload(c, host) },
		"Download":     func() { be.Download(host, c) },
		"Copy":         func() { be.Copy(c, a, n) },
		"Gemm":         func() { be.Gemm(false, false, rows, cols, 64, 1, a, b, 0, c) },
		"Gemm/T":       func() { be.Gemm(true, true, rows, cols, 64, 0.5, a, b, 1, c) },
		"AddBias":      func() { be.AddBias(c, beta, rows, cols) },
		"Softmax":      func() { be.Softmax(a, c, rows, cols) },
		"DropoutMask":  func() { be.DropoutMask(d, n, 0.3, 7) },
		"Add":          func() { be.Add(a, b, c, n) },
		"Mul":          func() { be.Mul(a, d, c, n) },
		"Scale":        func() { be.Scale(c, 0.5, n) },
		"Axpy":         func() { be.Axpy(-0.5, a, c, n) },
		"Fill":         func() { be.Fill(c, 0.25, n) },
		"SumRows":      func() { be.SumRows(a, mean, rows, cols, 1) },
		"SumSquares":   func() { be.SumSquares(a, n, sum) },
		"ArgmaxRows":   func() { be.ArgmaxRows(a, c, rows, cols) },
		"CountCorrect": func() { be.CountCorrect(a, labels10, sum, n/16, 10) },
		"CountCorrect/binary": func() {
			be.CountCorrect(a, labels2, sum, n, 1)
		},
		"SoftmaxBackward": func() { be.SoftmaxBackward(a, b, c, rows, cols) },
		"BatchNormForward": func() {
			be.BatchNormForward(a, c, gamma, beta, mean, invStd, runMean, runVar, rows, cols, 0.1, 1e-5, true)
		},
		"BatchNormForward/eval": func() {
			be.BatchNormForward(a, c, gamma, beta, mean, invStd, runMean, runVar, rows, cols, 0.1, 1e-5, false)
		},
		"BatchNormForward/2d": func() { // BatchNorm2d's shape: many rows, few columns
			be.BatchNormForward(a, c, gamma, beta, mean, invStd, runMean, runVar, n/32, 32, 0.1, 1e-5, true)
		},
		"BatchNormBackward": func() {
			be.BatchNormBackward(a, b, c, gamma, mean, invStd, runMean, runVar, rows, cols)
		},
		"BatchNormBackward/2d": func() {
			be.BatchNormBackward(a, b, c, gamma, mean, invStd, runMean, runVar, n/32, 32)
		},
		"SoftmaxCrossEntropy":    func() { be.SoftmaxCrossEntropy(a, labels16, c, sum, n/16, 16) },
		"SoftmaxCrossEntropy/10": func() { be.SoftmaxCrossEntropy(a, labels10, c, sum, n/16, 10) },
		"BCEWithLogits":          func() { be.BCEWithLogits(a, d, c, sum, rows, cols) },
		"MSE":                    func() { be.MSE(a, b, c, sum, rows, cols) },
		"MAE":                    func() { be.MAE(a, b, c, sum, rows, cols) },
		"SGDStep":                func() { be.SGDStep(c, a, nil, n, backend.SGDConfig{LR: 1e-3}) },
		"SGDStep/momentum": func() {
			be.SGDStep(c, a, v, n, backend.SGDConfig{LR: 1e-3, Momentum: 0.9, WeightDecay: 1e-4})
		},
		"SGDStep/nesterov": func() {
			be.SGDStep(c, a, v, n, backend.SGDConfig{LR: 1e-3, Momentum: 0.9, Nesterov: true})
		},
		"AdamStep": func() {
			be.AdamStep(c, a, m, v, n, backend.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 3})
		},
		"AdamStep/AdamW": func() {
			be.AdamStep(c, a, m, v, n, backend.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 3, Decoupled: true})
		},
		"TransposeBatch": func() { be.TransposeBatch(a, c, 8, 64, 256) },
	}
	for _, act := range backend.Activations() {
		cases["Activate/"+act.String()] = func() { be.Activate(act, 0.01, a, c, n) }
		cases["ActivateBackward/"+act.String()] = func() { be.ActivateBackward(act, 0.01, a, c, b, d, n) }
		cases["BiasActivate/"+act.String()] = func() { be.BiasActivate(act, 0.01, c, beta, d, rows, cols) }
	}
	for _, s := range conv {
		name := "/stride1"
		if s.StrideH != 1 {
			name = "/stride2"
		}
		cases["Conv2d"+name] = func() { be.Conv2d(a, b, beta, c, s) }
		cases["Conv2d"+name+"/nobias"] = func() { be.Conv2d(a, b, nil, c, s) }
		cases["Conv2dBackwardData"+name] = func() { be.Conv2dBackwardData(a, b, c, s) }
		cases["Conv2dBackwardFilter"+name] = func() { be.Conv2dBackwardFilter(a, b, d, mean, s) }
		cases["Conv2dBackwardFilter"+name+"/nobias"] = func() { be.Conv2dBackwardFilter(a, b, d, nil, s) }
	}
	for _, s := range pools {
		name := "/2x2"
		if s.KH != 2 {
			name = "/3x3"
		}
		cases["MaxPool2d"+name] = func() { be.MaxPool2d(a, c, s) }
		cases["MaxPool2dBackward"+name] = func() { be.MaxPool2dBackward(a, b, c, s) }
		cases["AvgPool2d"+name] = func() { be.AvgPool2d(a, c, s) }
		cases["AvgPool2dBackward"+name] = func() { be.AvgPool2dBackward(a, c, s) }
	}
	cases["UploadRows"] = func() { be.UploadRows(c, host, 16, idx) }

	// Every method of the interfaces has a case, so that a new operation
	// cannot be left out.
	covered := map[string]bool{}
	for name := range cases {
		covered[strings.Split(name, "/")[0]] = true
	}
	for _, it := range []reflect.Type{reflect.TypeFor[backend.Backend](), reflect.TypeFor[backend.Convolver]()} {
		for i := range it.NumMethod() {
			if name := it.Method(i).Name; !covered[name] {
				if _, skip := allocFree[name]; !skip {
					t.Errorf("%s has no case", name)
				}
			}
		}
	}

	for name, f := range cases {
		f() // grows whatever scratch the shape needs
		if allocs := testing.AllocsPerRun(5, f); allocs != 0 {
			t.Errorf("%s: %v allocations per call", name, allocs)
		}
	}
}
