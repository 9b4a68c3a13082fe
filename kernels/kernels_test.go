package kernels

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPTXMatchesSource fails when fastnn.cu changed without `make kernels`.
func TestPTXMatchesSource(t *testing.T) {
	src, err := os.ReadFile("fastnn.cu")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	got, want := SourceSHA256(), hex.EncodeToString(sum[:])
	if got != want {
		t.Fatalf("fastnn.ptx was built from source %q, but fastnn.cu hashes to %s: run `make kernels`", got, want)
	}
}

// TestEntries checks that the PTX defines kernels and that Entries reads
// their names (the CUDA backend's tests match them to its kernel table).
func TestEntries(t *testing.T) {
	entries := Entries()
	if len(entries) == 0 || !slices.Contains(entries, "adam_step") {
		t.Fatalf("entries of the PTX: %v", entries)
	}
}

// TestPTXTarget pins the PTX ISA and target that every supported driver
// (CUDA 11.8 and later) can JIT-compile.
func TestPTXTarget(t *testing.T) {
	for _, line := range []string{".version 7.8", ".target sm_70", ".address_size 64"} {
		if !slices.Contains(strings.Split(PTX, "\n"), line) {
			t.Errorf("PTX lacks the line %q", line)
		}
	}
}
