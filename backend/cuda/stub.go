//go:build !cuda

package cuda

import (
	"fmt"

	"github.com/fastnn/fastnn/backend"
)

// ErrNotCompiled says that this binary was built without -tags cuda.
var ErrNotCompiled = fmt.Errorf("cuda: backend %w: rebuild with `go build -tags cuda`", backend.ErrNotCompiled)

func init() {
	backend.Register("cuda", 100, func(backend.Options) (backend.Backend, error) { return nil, ErrNotCompiled })
}
