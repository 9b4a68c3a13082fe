package cpu

import (
	"fmt"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

// BenchmarkActivate runs each activation forward on 2^20 floats on one
// thread, per level; bytes are those read and written.
func BenchmarkActivate(b *testing.B) {
	for _, level := range Supported() {
		for _, act := range []backend.Activation{backend.ReLU, backend.Sigmoid, backend.Tanh, backend.GELU} {
			b.Run(fmt.Sprintf("%s/%v", level, act), func(b *testing.B) {
				be, err := New(backend.Options{Threads: 1, Level: level.String()})
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				const n = 1 << 20
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(i%2001-1000) * 0.005
				}
				xb, yb := be.Alloc(n), be.Alloc(n)
				be.Upload(xb, x)
				b.SetBytes(8 * n)
				for b.Loop() {
					be.Activate(act, 0.01, xb, yb, n)
				}
			})
		}
	}
}
