package backend

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Options configure a backend when it is opened.
type Options struct {
	// Threads is the number of worker threads a CPU backend uses; 0 means
	// one per logical CPU.
	Threads int
	// Level forces a kernel level (for the CPU backend "generic", "avx2",
	// "avx512"); "" picks the best the machine supports.
	Level string
	// TF32 lets a GPU backend run Gemm on TF32 tensor cores: inputs are
	// rounded to a 10-bit mantissa (relative error about 5e-4 per product,
	// against 6e-8 in float32), outputs are accumulated in float32. Off by
	// default; the CPU backend ignores it.
	TF32 bool
}

// Factory opens a backend. It returns an error, never panics, when the
// backend cannot run here (no device, no driver, level not supported).
type Factory func(Options) (Backend, error)

type entry struct {
	name     string
	priority int
	open     Factory
}

var (
	mu       sync.Mutex
	registry = map[string]entry{}
)

// Register makes a backend available under name. Among the backends that
// open successfully, "auto" picks the one with the highest priority.
// Registering a name twice panics.
func Register(name string, priority int, open Factory) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || name == "auto" {
		panic(fmt.Sprintf("backend: invalid name %q", name))
	}
	if _, dup := registry[name]; dup {
		panic("backend: Register called twice for " + name)
	}
	registry[name] = entry{name, priority, open}
}

// Names lists the registered backends, best first.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	var es []entry
	for _, e := range registry {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].priority != es[j].priority {
			return es[i].priority > es[j].priority
		}
		return es[i].name < es[j].name
	})
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.name
	}
	return names
}

// ErrUnknown is returned by Open for a name that no backend registered.
var ErrUnknown = errors.New("unknown backend")

// ErrNotCompiled is wrapped by the errors of backends that this binary was
// built without (the CUDA backend without -tags cuda). "auto" skips them
// without a word.
var ErrNotCompiled = errors.New("not compiled into this binary")

// Open opens the named backend. "auto" (or "") tries the registered
// backends from the highest priority down and returns the first that opens;
// fallback then describes, one line per backend, why the better ones were
// skipped ("" when the best one opened).
func Open(name string, opts Options) (b Backend, fallback string, err error) {
	if name == "" || name == "auto" {
		var skipped []string
		for _, n := range Names() {
			b, err := open(n, opts)
			if err == nil {
				return b, strings.Join(skipped, "\n"), nil
			}
			if errors.Is(err, ErrNotCompiled) {
				continue
			}
			skipped = append(skipped, fmt.Sprintf("backend %s unavailable: %v", n, err))
		}
		mu.Lock()
		_, haveCPU := registry["cpu"]
		mu.Unlock()
		if !haveCPU {
			skipped = append(skipped, cpuHint)
		}
		return nil, "", fmt.Errorf("no backend could be opened: %s", strings.Join(skipped, "; "))
	}
	b, err = open(name, opts)
	return b, "", err
}

// cpuHint is what Open("auto") says when the program links no CPU backend:
// backends register themselves from their package's init, so a program
// opens only those it imports.
const cpuHint = `the CPU backend is not linked into this program: add import _ "github.com/fastnn/fastnn/backend/cpu"`

func open(name string, opts Options) (Backend, error) {
	mu.Lock()
	e, ok := registry[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	return e.open(opts)
}
