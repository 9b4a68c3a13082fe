package backend_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/conformance"
	_ "github.com/fastnn/fastnn/backend/cpu"
	_ "github.com/fastnn/fastnn/backend/cuda"
)

// TestEveryRegisteredBackend runs the conformance suite on every backend
// this build registers; one that cannot open here (no GPU, or not compiled
// in) is skipped with its reason.
func TestEveryRegisteredBackend(t *testing.T) {
	for _, name := range backend.Names() {
		t.Run(name, func(t *testing.T) {
			be, _, err := backend.Open(name, backend.Options{})
			if err != nil {
				t.Skipf("backend %s cannot open here: %v", name, err)
			}
			defer be.Close()
			t.Logf("running the suite on %s", be.Details())
			conformance.Run(t, be)
		})
	}
}

func TestOpen(t *testing.T) {
	be, fallback, err := backend.Open("auto", backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if !strings.HasPrefix(be.Details(), "cpu/") {
		t.Errorf("auto opened %s; without a GPU it should be the CPU", be.Details())
	}
	t.Logf("auto: %s (fallback notes: %q)", be.Details(), fallback)

	if _, _, err := backend.Open("tpu", backend.Options{}); !errors.Is(err, backend.ErrUnknown) {
		t.Errorf("Open(tpu) = %v, want ErrUnknown", err)
	}
	if _, _, err := backend.Open("cuda", backend.Options{}); err == nil {
		t.Log("cuda opened: this machine has a GPU")
	} else if !strings.Contains(err.Error(), "cuda") {
		t.Errorf("Open(cuda) error %q does not say what is missing", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering cpu twice did not panic")
		}
	}()
	backend.Register("cpu", 0, nil)
}
