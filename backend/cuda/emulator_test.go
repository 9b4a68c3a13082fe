//go:build cuda

package cuda

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

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

// openEmulated opens the backend on the emulator, building it once per test
// binary; it skips without a C++20 compiler.
func openEmulated(t *testing.T, o backend.Options) *Backend {
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
	conformance.Run(t, be)
}

// TestTrainingEmulated trains the same small MLP (BatchNorm, dropout, Adam)
// on the emulated GPU and on the CPU from the same seed: the histories agree
// to float32 rounding, so the device-resident training path (asynchronous
// loss reads, pinned uploads, the allocator's reuse) computes what the CPU
// does.
func TestTrainingEmulated(t *testing.T) {
	gpu := openEmulated(t, backend.Options{})
	host, err := cpu.New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
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
		hist, err := tr.Fit(d, nil, nn.TrainConfig{Epochs: 3, BatchSize: 20, RNG: rng})
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
