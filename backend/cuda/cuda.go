//go:build cuda

package cuda

import (
	"errors"

	"github.com/fastnn/fastnn/backend"
)

// ErrNotImplemented: the run-time driver binding and kernels are not written
// yet; a -tags cuda binary falls back to the CPU.
var ErrNotImplemented = errors.New("cuda: the CUDA backend is not implemented yet")

func init() {
	backend.Register("cuda", 100, func(backend.Options) (backend.Backend, error) { return nil, ErrNotImplemented })
}
