//go:build cuda

package cuda

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/conformance"
	"github.com/fastnn/fastnn/backend/cpu"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// The emulator (testdata/emulator.cpp) stands in for libcuda and libcublas
// on machines without a GPU: these tests run the whole backend, binding
// and kernels included, on the CPU.

var emulator struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emulator.dir != "" {
		os.RemoveAll(emulator.dir)
	}
	os.Exit(code)
}

// emulatorPath builds the emulator once per test binary and returns the
// library's path; it skips without a C++20 compiler.
func emulatorPath(t *testing.T) string {
	t.Helper()
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ to build the CUDA emulator")
	}
	emulator.once.Do(func() {
		// The sources are copied in through os.ReadFile so that go test's
		// cache sees them: a change to either reruns these tests.
		dir, err := os.MkdirTemp("", "cudaemu")
		if err != nil {
			emulator.err = err
			return
		}
		emulator.dir = dir
		for _, src := range []string{filepath.Join("testdata", "emulator.cpp"), filepath.Join("..", "..", "kernels", "fastnn.cu")} {
			b, err := os.ReadFile(src)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644)
			}
			if err != nil {
				emulator.err = err
				return
			}
		}
		emulator.path = filepath.Join(dir, "libcudaemu.so")
		out, err := exec.Command(cxx, "-std=c++20", "-O1", "-shared", "-fPIC", "-fvisibility=hidden",
			"-o", emulator.path, filepath.Join(dir, "emulator.cpp")).CombinedOutput()
		if err != nil {
			emulator.err = &buildError{out: string(out), err: err}
		}
	})
	if emulator.err != nil {
		t.Fatalf("building the CUDA emulator: %v", emulator.err)
	}
	return emulator.path
}

// openEmulated opens the backend on the emulator.
func openEmulated(t *testing.T, o backend.Options) *Backend {
	t.Helper()
	emulatorPath(t)
	t.Setenv(EnvLibCUDA, emulator.path)
	t.Setenv(EnvLibCUBLAS, emulator.path)
	be, err := New(o)
	if err != nil {
		t.Fatalf("opening the backend on the emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Error(err)
		}
	})
	return be
}

// openCPU opens a one-thread CPU backend, closed at the end of the test,
// for comparing the emulated GPU's results with.
func openCPU(t *testing.T) *cpu.Backend {
	t.Helper()
	be, err := cpu.New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// TestReopenEmulated: a second New in one process reuses the retained
// primary context; Free and Close after Close are harmless.
func TestReopenEmulated(t *testing.T) {
	a := openEmulated(t, backend.Options{})
	a.Close()
	b := openEmulated(t, backend.Options{TF32: true})
	x, y := b.Alloc(3), b.Alloc(5)
	b.Free(x)
	b.Close()
	b.Free(y) // after Close: nothing to do, no panic
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTF32GemmEmulated runs checkTF32Gemm on the emulator, whose Sgemm
// rounds its inputs to TF32 under the TF32 math mode.
func TestTF32GemmEmulated(t *testing.T) {
	checkTF32Gemm(t, func(o backend.Options) backend.Backend { return openEmulated(t, o) })
}

func TestConformanceEmulated(t *testing.T) {
	be := openEmulated(t, backend.Options{})
	t.Log(be.Details())
	conformance.RequireConvolver(t, be)
	conformance.Run(t, be)
}

// TestTrainingEmulated trains the same small MLP (BatchNorm, dropout, Adam)
// on the emulated GPU and on the CPU from the same seed: the histories agree
// to float32 rounding, so the device-resident training path (asynchronous
// loss reads, pinned uploads, the allocator's reuse) computes what the CPU
// does.
func TestTrainingEmulated(t *testing.T) {
	gpu := openEmulated(t, backend.Options{})
	host := openCPU(t)
	run := func(be backend.Backend) nn.History {
		rng := nn.NewRNG(3)
		d := data.Blobs(300, 3, 1.5, rng)
		model, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{16, 16}, Out: 3, Act: backend.GELU, BatchNorm: true, Dropout: 0.1}, rng)
		if err != nil {
			t.Fatal(err)
		}
		defer model.Free()
		tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{},
			Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.01})}
		defer tr.Free()
		hist, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 3, BatchSize: 20, RNG: rng})
		if err != nil {
			t.Fatal(err)
		}
		return hist
	}
	want, got := run(host), run(gpu)
	for i := range want {
		w, g := want[i].TrainLoss, got[i].TrainLoss
		if math.Abs(w-g) > 1e-4*(1+math.Abs(w)) || *want[i].TrainAcc != *got[i].TrainAcc {
			t.Errorf("epoch %d: loss %v acc %v on the emulated GPU, %v and %v on the CPU", i+1, g, *got[i].TrainAcc, w, *want[i].TrainAcc)
		}
	}
}

// TestDoubleFreeEmulated: a second Free of one buffer panics rather than
// caching its block twice (which would hand one block to two buffers).
func TestDoubleFreeEmulated(t *testing.T) {
	be := openEmulated(t, backend.Options{})
	x := be.Alloc(4)
	be.Free(x)
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("second Free did not panic")
		}
		if y, z := be.Alloc(4), be.Alloc(4); y.(*buffer).ptr == z.(*buffer).ptr {
			t.Error("two live buffers share a block")
		}
	}()
	be.Free(x)
}

// injectFault arms the emulator's fault: the next launch of kernel faults
// with the CUresult res, which then sticks to the context.
func injectFault(t *testing.T, kernel string, res int) {
	t.Helper()
	h, err := purego.Dlopen(emulatorPath(t), purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := purego.Dlsym(h, "fastnnEmuFault")
	if err != nil {
		t.Fatal(err)
	}
	name := append([]byte(kernel), 0) // heap memory: it does not move
	purego.SyscallN(fn, uintptr(unsafe.Pointer(&name[0])), uintptr(res))
	runtime.KeepAlive(name)
}

// panicOf runs f and returns what it panicked with, as an error.
func panicOf(t *testing.T, f func()) (err error) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic")
		}
		e, ok := r.(error)
		if !ok {
			t.Fatalf("panicked with %T %v, want an error", r, r)
		}
		err = e
	}()
	f()
	return nil
}

// checkFresh opens a new backend after a fault and runs work on it: the
// fault must not have poisoned the process.
func checkFresh(t *testing.T) {
	t.Helper()
	be := openEmulated(t, backend.Options{})
	x, y, z := be.Alloc(3), be.Alloc(3), be.Alloc(3)
	be.Upload(x, []float32{1, 2, 3})
	be.Fill(y, 10, 3)
	be.Add(x, y, z, 3)
	got := make([]float32, 3)
	be.Download(got, z)
	if got[0] != 11 || got[2] != 13 {
		t.Fatalf("after the reset, Add gave %v", got)
	}
}

// TestFaultSyncEmulated: with FASTNN_CUDA_SYNC=1 a faulting kernel is
// named in the panic; the context is reset, so the faulted backend's next
// operation panics with the same fault (its memory is gone) and its Close
// succeeds, and a backend opened afterwards works.
func TestFaultSyncEmulated(t *testing.T) {
	t.Setenv(EnvSync, "1")
	be := openEmulated(t, backend.Options{})
	if !strings.Contains(be.Details(), EnvSync) {
		t.Errorf("Details %q does not say that launches are synchronised", be.Details())
	}
	x, y, z := be.Alloc(4), be.Alloc(4), be.Alloc(4)
	be.Add(x, y, z, 4) // a launch before the fault works
	injectFault(t, "mul", 700)
	err := panicOf(t, func() { be.Mul(x, y, z, 4) })
	var ke *KernelError
	var de *Error
	if !errors.As(err, &ke) || ke.Kernel != "mul" || !errors.As(err, &de) || de.Name != "CUDA_ERROR_ILLEGAL_ADDRESS" {
		t.Fatalf("got %v, want a KernelError naming mul with CUDA_ERROR_ILLEGAL_ADDRESS", err)
	}
	t.Log(err)
	err = panicOf(t, func() { be.Fill(x, 1, 4) })
	if !errors.As(err, &ke) || ke.Kernel != "mul" {
		t.Errorf("the faulted backend's next operation: %v, want the fault in mul", err)
	}
	if err := be.Close(); err != nil {
		t.Errorf("Close after the fault: %v", err)
	}
	checkFresh(t)
}

// TestFaultAsyncEmulated: without FASTNN_CUDA_SYNC the fault shows at the
// next call that waits (here Download), and the reset still happens.
// TestFaultAtCloseEmulated: a fault of the last queued kernel, first seen
// by Close, resets the context too, so that the next backend starts clean.
func TestFaultAtCloseEmulated(t *testing.T) {
	t.Setenv(EnvSync, "")
	emulatorPath(t)
	t.Setenv(EnvLibCUDA, emulator.path)
	t.Setenv(EnvLibCUBLAS, emulator.path)
	be, err := New(backend.Options{})
	if err != nil {
		t.Fatalf("opening the backend on the emulator: %v", err)
	}
	x := be.Alloc(4)
	injectFault(t, "scale", 719)
	be.Scale(x, 2, 4) // queued: the last work before Close
	var de *Error
	if err := be.Close(); !errors.As(err, &de) || de.Name != "CUDA_ERROR_LAUNCH_FAILED" {
		t.Errorf("Close after a fault: %v, want CUDA_ERROR_LAUNCH_FAILED", err)
	}
	checkFresh(t)
}

func TestFaultAsyncEmulated(t *testing.T) {
	t.Setenv(EnvSync, "")
	be := openEmulated(t, backend.Options{})
	x, y := be.Alloc(4), be.Alloc(4)
	injectFault(t, "scale", 719)
	be.Scale(x, 2, 4) // queued: no error yet
	err := panicOf(t, func() { be.Download(make([]float32, 4), y) })
	var de *Error
	if !errors.As(err, &de) || de.Name != "CUDA_ERROR_LAUNCH_FAILED" {
		t.Fatalf("got %v, want CUDA_ERROR_LAUNCH_FAILED", err)
	}
	var ke *KernelError
	if errors.As(err, &ke) {
		t.Errorf("without %s the kernel cannot be known, yet the error names %q", EnvSync, ke.Kernel)
	}
	if err := be.Synchronize(); err == nil || !errors.As(err, &de) {
		t.Errorf("Synchronize on the faulted backend: %v", err)
	}
	checkFresh(t)
}
