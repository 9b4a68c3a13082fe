package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"

	"github.com/fastnn/fastnn/backend/cpu"
)

// machine describes the CPU that figures come from: model, family, the
// x86-64 level and the kernel levels this build runs, the cache sizes the
// GEMM's blocks follow, and the CPUs the process may use. Results that
// depend on the order of sums can differ in the last digits between
// machines whose caches differ.
func machine() string {
	c := cpuid.CPU
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s family %d model %d)", c.BrandName, c.VendorID, c.Family, c.Model)
	if l := c.X64Level(); l > 0 {
		fmt.Fprintf(&b, ", x86-64-v%d", l)
	}
	var levels []string
	for _, l := range cpu.Supported() {
		levels = append(levels, l.String())
	}
	fmt.Fprintf(&b, ", CPU %s, kernels %s (used: %s)", cpu.Detected(), strings.Join(levels, "/"), cpu.Best())
	fmt.Fprintf(&b, ", L1d %s, L2 %s, L3 %s", size(c.Cache.L1D), size(c.Cache.L2), size(c.Cache.L3))
	fmt.Fprintf(&b, ", %d CPUs, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	return b.String()
}

// size writes a cache size in KiB or MiB; cpuid reports -1 for unknown.
func size(bytes int) string {
	switch {
	case bytes <= 0:
		return "unknown"
	case bytes >= 1<<20 && bytes%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", bytes>>20)
	}
	return fmt.Sprintf("%d KiB", bytes>>10)
}

func benchMachine(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("machine takes no arguments")
	}
	fmt.Fprintln(stdout, machine())
	return nil
}
