//go:build !noasm

package cpu

import "testing"

// TestNEONBlockSizes: cpuid reports an unknown cache size as -1, as it does
// for every level on arm64 Linux; the neon level then takes its documented
// defaults, not the generic ones that blockSizes uses for a size <= 0.
func TestNEONBlockSizes(t *testing.T) {
	for _, c := range []struct{ size, want int }{{-1, neonL1}, {0, neonL1}, {48 << 10, 48 << 10}} {
		if got := knownOr(c.size, neonL1); got != c.want {
			t.Errorf("knownOr(%d, %d) = %d, want %d", c.size, neonL1, got, c.want)
		}
	}
	mc, kc, nc := blockSizes(neonKernels.mr, neonKernels.nr, neonL1, neonL2, neonL3)
	if mc != 144 || kc != 512 || nc != 2040 {
		t.Errorf("the defaults give mc %d, kc %d, nc %d; the neonKernels comment says 144, 512, 2040", mc, kc, nc)
	}
}
