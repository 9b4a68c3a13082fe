package backend

import (
	"errors"
	"strings"
	"testing"
)

// withRegistry runs f with the registry holding only es, as in a program
// that imports only those backends, and restores it after.
func withRegistry(t *testing.T, es []entry, f func()) {
	t.Helper()
	mu.Lock()
	saved := registry
	registry = map[string]entry{}
	for _, e := range es {
		registry[e.name] = e
	}
	mu.Unlock()
	defer func() {
		mu.Lock()
		registry = saved
		mu.Unlock()
	}()
	f()
}

// TestOpenAutoWithoutCPUSaysWhatToImport: a program that forgot the blank
// import of backend/cpu is told which import to add, with the reasons of
// the backends it did link.
func TestOpenAutoWithoutCPUSaysWhatToImport(t *testing.T) {
	const want = `import _ "github.com/fastnn/fastnn/backend/cpu"`
	notCompiled := func(Options) (Backend, error) { return nil, ErrNotCompiled }
	noDevice := func(Options) (Backend, error) { return nil, errors.New("no CUDA device") }
	for _, c := range []struct {
		name     string
		entries  []entry
		mentions []string
	}{
		{"nothing linked", nil, []string{want}},
		{"cuda not compiled", []entry{{"cuda", 100, notCompiled}}, []string{want}},
		{"cuda without a GPU", []entry{{"cuda", 100, noDevice}}, []string{"backend cuda unavailable: no CUDA device", want}},
	} {
		withRegistry(t, c.entries, func() {
			b, _, err := Open("auto", Options{})
			if err == nil {
				b.Close()
				t.Fatalf("%s: Open(auto) succeeded", c.name)
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s: Open(auto) error %q does not say %q", c.name, err, m)
				}
			}
		})
	}
}
