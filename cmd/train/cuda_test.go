//go:build cuda

package main

import (
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// TestAutoFallsBackToCPU: a -tags cuda binary on a machine without a usable
// GPU trains on the CPU with -backend auto, saying why in one line, and
// -backend cuda fails with exit 1 and the reason.
func TestAutoFallsBackToCPU(t *testing.T) {
	if be, _, err := backend.Open("cuda", backend.Options{}); err == nil {
		be.Close()
		t.Skip("this machine has a GPU")
	}
	code, stdout, stderr := train(t, "-backend", "auto", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := result(t, stdout)
	if b, _ := r["backend"].(string); !strings.HasPrefix(b, "cpu") {
		t.Errorf("backend %q, want the CPU", b)
	}
	if acc, _ := r["test_acc"].(float64); acc < 0.95 {
		t.Errorf("test_acc %v on digits, want >= 0.95", acc)
	}
	if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; !strings.Contains(stderr, "backend cuda unavailable") || lines != 1 {
		t.Errorf("stderr should be one line saying why cuda was skipped, got:\n%s", stderr)
	}
	code, _, stderr = train(t, "-backend", "cuda", "-epochs", "1")
	if code != 1 || !strings.Contains(stderr, "cuda") {
		t.Errorf("-backend cuda without a GPU: exit %d, stderr %q; want exit 1 with the reason", code, stderr)
	}
}
