// Package kernels holds the CUDA C source of the CUDA backend's kernels
// (fastnn.cu) and the PTX that nvcc builds from it (fastnn.ptx), embedded
// so that a user's machine never compiles CUDA: the driver JIT-compiles the
// PTX for its GPU when the backend loads it.
//
// The PTX is committed. `make kernels` regenerates it (kernels/gen.sh, which
// needs nvcc); its header records the SHA-256 of the source it was built
// from, and a test fails when the source has changed since.
package kernels

import (
	_ "embed"
	"regexp"
	"strings"
)

// PTX is the PTX module of every kernel, for cuModuleLoadDataEx.
//
//go:embed fastnn.ptx
var PTX string

var sourceHashLine = regexp.MustCompile(`(?m)^// source-sha256: ([0-9a-f]{64})$`)

// SourceSHA256 is the hash of fastnn.cu that PTX was built from, as its
// header records it ("" if the header lacks it).
func SourceSHA256() string {
	m := sourceHashLine.FindStringSubmatch(PTX)
	if m == nil {
		return ""
	}
	return m[1]
}

// Entries lists the kernels PTX defines (its .visible .entry names).
func Entries() []string {
	var out []string
	for _, line := range strings.Split(PTX, "\n") {
		if name, ok := strings.CutPrefix(line, ".visible .entry "); ok {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(name), "("))
		}
	}
	return out
}
