//go:build amd64 && !noasm

package cpu

// The avx512 level's table runs the AVX-512 pooling kernels only on rows
// of 16 outputs or more; TestMaxPool2x2Kernels checks them on every width.
func init() {
	if Detected() >= AVX512 {
		extraPool2x2 = append(extraPool2x2, pool2x2Kernels{"avx512 kernels",
			func(x, y []float32, rows, ow, w int) { maxPool2x2Asm(maxPool2x2AVX512, x, y, rows, ow, w) },
			func(x, dy, dx []float32, rows, ow, w int) {
				maxPool2x2BackwardAsm(maxPool2x2BackwardAVX512, x, dy, dx, rows, ow, w)
			}})
	}
}
