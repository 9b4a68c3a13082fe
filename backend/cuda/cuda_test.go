//go:build cuda

package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/conformance"
	"github.com/fastnn/fastnn/kernels"
)

// EnvRequireGPU=1 turns the GPU tests' skips into failures, for runs on a
// machine that has a GPU.
const EnvRequireGPU = "FASTNN_REQUIRE_GPU"

// openOrSkip opens the backend. It skips the test, with the reason, only
// when this machine has no driver library or no device: any other failure
// (a JIT error, cuBLAS failing to start) is a failure, not a skip.
func openOrSkip(t *testing.T, o backend.Options) *Backend {
	t.Helper()
	be, err := New(o)
	if err != nil {
		if noGPU(err) && os.Getenv(EnvRequireGPU) != "1" {
			t.Skipf("no CUDA GPU here, GPU tests skipped: %v", err)
		}
		t.Fatalf("opening the CUDA backend: %v", err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Error(err)
		}
	})
	return be
}

// noGPU reports whether New's error means that there is no GPU to test on:
// no libcuda, or a driver that finds no device.
func noGPU(err error) bool {
	var libErr *LibraryError
	var drvErr *Error
	switch {
	case errors.As(err, &libErr):
		return libErr.Lib == "libcuda"
	case errors.As(err, &drvErr):
		return drvErr.Result == resultNoDevice
	}
	return errors.Is(err, errNoDevice)
}

func TestConformance(t *testing.T) {
	be := openOrSkip(t, backend.Options{})
	t.Log(be.Details())
	conformance.RequireConvolver(t, be)
	conformance.Run(t, be)
}

// TestTF32Gemm checks the opt-in TF32 mode on the GPU (see checkTF32Gemm).
func TestTF32Gemm(t *testing.T) {
	checkTF32Gemm(t, func(o backend.Options) backend.Backend { return openOrSkip(t, o) })
}

// checkTF32Gemm multiplies random matrices, whose entries use all 24 bits of
// float32's mantissa, once with TF32 off and once with it on. Off, the
// product must be float32's (relative error, against the sum of |a*b|, far
// below TF32's 2^-11 input rounding); on, it must differ from float32's by
// what TF32's rounding of the inputs makes (more than 1e-5, against a few
// 1e-8 in float32) yet stay within TF32's bound. Inputs exact in TF32 would
// let a float32 product pass for a TF32 one.
func checkTF32Gemm(t *testing.T, open func(backend.Options) backend.Backend) {
	const m, n, k = 96, 64, 512
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = rng.Float32()*2 - 1
	}
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	want, scale := make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			for p := range k {
				ab := float64(a[i*k+p]) * float64(b[p*n+j])
				want[i*n+j] += ab
				scale[i*n+j] += math.Abs(ab)
			}
		}
	}
	// maxErr is the largest error of the backend's product relative to the
	// sum of |a*b| of its element.
	maxErr := func(tf32 bool) float64 {
		be := open(backend.Options{TF32: tf32})
		if got := strings.Contains(be.Details(), "tf32"); got != tf32 {
			t.Errorf("TF32 %v: Details %q", tf32, be.Details())
		}
		da, db, dc := be.Alloc(m*k), be.Alloc(k*n), be.Alloc(m*n)
		defer func() { be.Free(da); be.Free(db); be.Free(dc) }()
		be.Upload(da, a)
		be.Upload(db, b)
		be.Gemm(false, false, m, n, k, 1, da, db, 0, dc)
		got := make([]float32, m*n)
		be.Download(got, dc)
		worst := 0.0
		for i, w := range want {
			e := math.Abs(float64(got[i])-w) / scale[i]
			if !(e <= worst) { // NaN included
				worst = e
			}
		}
		return worst
	}
	fp32, tf32 := maxErr(false), maxErr(true)
	t.Logf("largest relative error: fp32 %.3g, tf32 %.3g", fp32, tf32)
	if !(fp32 < 2e-6) {
		t.Errorf("TF32 off: relative error %.3g, want float32's (< 2e-6)", fp32)
	}
	// TF32 keeps 10 of the mantissa's 23 bits: each input is off by at most
	// 2^-10 of itself (truncated) and each product by about 2^-9.
	if !(tf32 > 1e-5 && tf32 < 0x1p-9) {
		t.Errorf("TF32 on: relative error %.3g, want TF32's (between 1e-5 and 2^-9); fp32 gave %.3g", tf32, fp32)
	}
}

// TestAllocatorReusesBlocks checks that a freed block is reused, so a
// training loop stops calling cuMemAlloc after its first step.
func TestAllocatorReusesBlocks(t *testing.T) {
	be := openOrSkip(t, backend.Options{})
	x := be.Alloc(1000)
	p := x.(*buffer).ptr
	be.Free(x)
	y := be.Alloc(900) // same 4 KiB size class
	if y.(*buffer).ptr != p {
		t.Errorf("Alloc after Free got a new block")
	}
	got := make([]float32, 900)
	got[3] = 1
	be.Download(got, y)
	for i, v := range got {
		if v != 0 {
			t.Fatalf("reused block not zeroed: [%d] = %v", i, v)
		}
	}
}

// TestReopen opens, closes and opens the backend again in one process, as
// the tests and a long-lived program do.
func TestReopen(t *testing.T) {
	be := openOrSkip(t, backend.Options{})
	x := be.Alloc(10)
	be.Fill(x, 2, 10)
	be.Close()
	be2 := openOrSkip(t, backend.Options{})
	y := be2.Alloc(10)
	be2.Fill(y, 3, 10)
	got := make([]float32, 10)
	be2.Download(got, y)
	if got[9] != 3 {
		t.Fatalf("after reopening, Fill wrote %v", got)
	}
}

// TestOpenError runs everywhere: on a machine without a GPU, New must fail
// with an error that says why (no library, no device, a driver error with
// its CUresult name), never panic or exit.
func TestOpenError(t *testing.T) {
	be, err := New(backend.Options{})
	if err == nil {
		be.Close()
		t.Skip("a GPU is present")
	}
	var libErr *LibraryError
	var drvErr *Error
	switch {
	case errors.As(err, &libErr):
		if len(libErr.Tried) == 0 || !strings.Contains(err.Error(), "libcu") {
			t.Errorf("library error does not say what was tried: %v", err)
		}
	case errors.As(err, &drvErr):
		if !strings.HasPrefix(drvErr.Name, "CUDA_ERROR_") {
			t.Errorf("driver error without a CUresult name: %v", err)
		}
	case errors.Is(err, errNoDevice):
	default:
		t.Errorf("unexpected error type %T: %v", err, err)
	}
	t.Logf("New without a GPU: %v", err)
}

// TestKernelTableMatchesPTX: every kernel the backend looks up is an entry
// of the embedded PTX, and every entry is looked up.
func TestKernelTableMatchesPTX(t *testing.T) {
	var fn kernelFuncs
	var names []string
	for name := range fn.table() {
		names = append(names, name)
	}
	entries := kernels.Entries()
	slices.Sort(names)
	slices.Sort(entries)
	if !slices.Equal(names, entries) {
		t.Errorf("the backend looks up %v, the PTX defines %v", names, entries)
	}
}

func TestSonameMajor(t *testing.T) {
	for name, want := range map[string]int{"libcublas.so.13": 13, "libcublas.so.11": 11} {
		if got, ok := sonameMajor(name); !ok || got != want {
			t.Errorf("sonameMajor(%q) = %d, %v", name, got, ok)
		}
	}
	if _, ok := sonameMajor("/x/libcublas.so"); ok {
		t.Error("sonameMajor read a version from a name without one")
	}
}

// TestDriverSymbols resolves every entry point in the machine's libcuda and
// libcublas, where they are installed, and names a CUresult through the
// driver; it is the binding's check that needs no GPU.
func TestDriverSymbols(t *testing.T) {
	d, err := loadDriver()
	if err != nil {
		t.Skipf("libcuda not installed: %v", err)
	}
	if got := d.errorName(2); got != "CUDA_ERROR_OUT_OF_MEMORY" {
		t.Errorf("errorName(2) = %q", got)
	}
	if got := d.errorName(100); got != "CUDA_ERROR_NO_DEVICE" {
		t.Errorf("errorName(100) = %q", got)
	}
	if _, err := loadBLAS(cublasLibraries); err != nil {
		if os.Getenv(EnvLibCUBLAS) != "" {
			t.Error(err)
		}
		t.Logf("libcublas: %v", err)
	}
}

// TestColumnSplit: a column reduction of a few hundred columns spreads its
// rows over enough blocks to fill a 132-SM GPU, and the chunks cover every
// row exactly once.
func TestColumnSplit(t *testing.T) {
	be := &Backend{smCount: 132}
	for _, c := range []struct{ rows, cols, minGrid int }{
		{128, 256, 8},     // a batch: 8 chunks of 16 rows
		{60000, 256, 500}, // a whole data set: about four blocks per SM
		{60000, 1024, 500},
		{3, 33335, 131},
		{100003, 1, 500},
		{0, 5, 1},
		{1, 1, 1},
	} {
		sp := be.columnSplit(c.rows, c.cols)
		if sp.grid() < c.minGrid {
			t.Errorf("rows=%d cols=%d: %+v, a grid of %d blocks, want at least %d", c.rows, c.cols, sp, sp.grid(), c.minGrid)
		}
		if sp.threads*sp.colBlocks < c.cols || sp.threads%32 != 0 || sp.threads > block {
			t.Errorf("rows=%d cols=%d: %+v does not cover the columns in whole warps", c.rows, c.cols, sp)
		}
		if sp.chunks*sp.rowsPerChunk < c.rows || (c.rows > 0 && (sp.chunks-1)*sp.rowsPerChunk >= c.rows) {
			t.Errorf("rows=%d cols=%d: %+v does not cover the rows, or has an empty chunk", c.rows, c.cols, sp)
		}
	}
}
