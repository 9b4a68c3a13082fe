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

// TestOpen: "auto" opens the best backend that opens here (the GPU on a
// machine with one under -tags cuda, the CPU otherwise) and names, in its
// fallback notes, each better one it skipped.
func TestOpen(t *testing.T) {
	opts := backend.Options{Threads: 1}
	var best string
	var bestDetails string
	var skipped []string
	for _, name := range backend.Names() {
		b, _, err := backend.Open(name, opts)
		if err == nil {
			best, bestDetails = name, b.Details()
			b.Close()
			break
		}
		if !errors.Is(err, backend.ErrNotCompiled) {
			skipped = append(skipped, name)
		}
	}
	if best == "" {
		t.Fatal("no registered backend opens here; the CPU always should")
	}
	be, fallback, err := backend.Open("auto", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if be.Details() != bestDetails {
		t.Errorf("auto opened %s; want %s (%s), the best that opens here", be.Details(), best, bestDetails)
	}
	for _, name := range skipped {
		if !strings.Contains(fallback, "backend "+name+" unavailable") {
			t.Errorf("fallback notes %q do not say why %s was skipped", fallback, name)
		}
	}
	if len(skipped) == 0 && fallback != "" {
		t.Errorf("the best backend opened, yet fallback notes are %q", fallback)
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
