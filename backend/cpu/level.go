package cpu

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Level is a SIMD instruction-set level with its own table of kernels.
type Level int

const (
	Generic Level = iota // plain Go, any architecture
	AVX2                 // AVX2 + FMA3 (x86-64 v3)
	AVX512               // AVX-512 F, BW, DQ, VL
	NEON                 // arm64 Advanced SIMD (every ARMv8-A core)
)

var levelNames = [...]string{"generic", "avx2", "avx512", "neon"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel maps "generic", "avx2", "avx512" or "neon" to its Level.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(n, s) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown CPU level %q (want one of %v)", s, levelNames[:])
}

// LevelEnv names the environment variable that forces a lower kernel level
// than the machine supports, e.g. FASTNN_CPU_LEVEL=generic.
const LevelEnv = "FASTNN_CPU_LEVEL"

// Detected is the best level this CPU supports, as reported by cpuid,
// whether or not kernels for it are compiled in. On arm64 it is NEON:
// Advanced SIMD is part of every core that Go runs on there.
//
// AMD family 25 (Zen 4) CPUs that have AVX-512 run 512-bit operations as
// two 256-bit halves: the same floating-point work per cycle as AVX2, with
// half the instructions and twice the registers (a bigger GEMM tile), and
// without a lower clock. They get the avx512 level too. That choice is
// measured only on Zen 5 (family 26, full-width AVX-512; docs/BENCHMARKS.md),
// untested on Zen 4: where it loses there, FASTNN_CPU_LEVEL=avx2 forces
// the AVX2 kernels.
func Detected() Level {
	switch {
	case runtime.GOARCH == "arm64":
		return NEON
	case cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL, cpuid.BMI2):
		// BMI2: the masked tails build their masks with SHLX.
		return AVX512
	case cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3):
		return AVX2
	}
	return Generic
}

// Supported lists the levels that can run here: those the CPU supports and
// for which this build has kernels, lowest first. Generic is always there.
func Supported() []Level {
	var out []Level
	for l := Generic; l <= Detected(); l++ {
		if kernelTable[l] != nil {
			out = append(out, l)
		}
	}
	return out
}

// Built lists the levels this build has kernels for, lowest first, whether
// or not this CPU can run them: the choices a -level flag can offer.
func Built() []Level {
	var out []Level
	for l, k := range kernelTable {
		if k != nil {
			out = append(out, Level(l))
		}
	}
	return out
}

// Best is the highest supported level.
func Best() Level {
	s := Supported()
	return s[len(s)-1]
}

// chooseLevel resolves the level to use from an explicit request (Options.Level),
// then the environment variable, then the best supported.
func chooseLevel(requested string) (Level, error) {
	source := "level"
	if requested == "" {
		requested = os.Getenv(LevelEnv)
		source = LevelEnv
	}
	if requested == "" {
		return Best(), nil
	}
	l, err := ParseLevel(requested)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", source, err)
	}
	for _, s := range Supported() {
		if s == l {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%s %s: not supported here (CPU supports up to %s; built with %v)", source, l, Detected(), Supported())
}
