//go:build cuda

package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/conformance"
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

func TestConformanceEmulated(t *testing.T) {
	be := openEmulated(t, backend.Options{})
	t.Log(be.Details())
	conformance.Run(t, be)
}
