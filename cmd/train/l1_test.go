package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestL1 runs -l1 as a user would: it sparsifies the weights (the JSON's
// small_weights), leaves the reported losses the data loss (as -wd does),
// is refused with exit 2 when it is not a finite number >= 0 or comes with
// -load, and is part of the checkpoint: -resume continues the same run with
// the same -l1 and refuses another.
func TestL1(t *testing.T) {
	common := []string{"-data", "circles", "-layers", "32,32", "-opt", "sgd", "-lr", "0.05", "-epochs", "6", "-seed", "2", "-threads", "2", "-json"}
	code, plain, stderr := train(t, common...)
	if code != 0 {
		t.Fatal(stderr)
	}
	code, sparse, stderr := train(t, append(common, "-l1", "0.01")...)
	if code != 0 {
		t.Fatal(stderr)
	}
	p, s := result(t, plain), result(t, sparse)
	t.Logf("small_weights without -l1 %v, with %v; l1_penalty %v", p["small_weights"], s["small_weights"], s["l1_penalty"])
	if s["l1"] != 0.01 || !(s["l1_penalty"].(float64) > 0) || p["l1_penalty"] != nil {
		t.Errorf("l1 %v, l1_penalty %v (without -l1: %v)", s["l1"], s["l1_penalty"], p["l1_penalty"])
	}
	if !(s["small_weights"].(float64) > p["small_weights"].(float64)+0.1) {
		t.Errorf("-l1 did not sparsify: small_weights %v without, %v with", p["small_weights"], s["small_weights"])
	}

	// With a learning rate too small to move a weight, the epoch's loss is
	// the same with and without -l1: the penalty is not in it.
	still := []string{"-data", "circles", "-opt", "sgd", "-lr", "1e-30", "-epochs", "1", "-json"}
	_, a, _ := train(t, still...)
	_, b, _ := train(t, append(still, "-l1", "0.5")...)
	if la, lb := losses(t, a), losses(t, b); la[0] != lb[0] {
		t.Errorf("the reported train loss changed with -l1: %v without, %v with", la[0], lb[0])
	}

	for _, bad := range []string{"-1", "NaN", "inf", "x"} {
		if code, _, stderr := train(t, "-data", "iris", "-l1", bad); code != 2 || !strings.Contains(stderr, "l1") {
			t.Errorf("-l1 %s: exit %d, %q", bad, code, stderr)
		}
	}

	dir := t.TempDir()
	half := filepath.Join(dir, "half.safetensors")
	if code, _, stderr := train(t, append(common, "-l1", "0.01", "-epochs", "3", "-save", half)...); code != 0 {
		t.Fatal(stderr)
	}
	code, resumed, stderr := train(t, append(common, "-l1", "0.01", "-resume", half)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	full, rest := losses(t, sparse), losses(t, resumed)
	if len(rest) != 3 || rest[2] != full[5] {
		t.Errorf("resumed -l1 run: losses %v, the uninterrupted run's %v", rest, full)
	}
	for _, other := range [][]string{{}, {"-l1", "0.02"}} {
		code, _, stderr := train(t, append(append(common, other...), "-resume", half)...)
		if code != 1 || !strings.Contains(stderr, "-l1 0.01") {
			t.Errorf("-resume with %v: exit %d, %q", other, code, stderr)
		}
	}
	if code, _, stderr := train(t, "-load", half, "-l1", "0.01"); code != 2 || !strings.Contains(stderr, "-l1") {
		t.Errorf("-load with -l1: exit %d, %q", code, stderr)
	}
}
