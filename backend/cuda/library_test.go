//go:build cuda

package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeSearch is a searcher over fake folders: env is its environment,
// dirs its fixed folders, sites what python3 would report.
func fakeSearch(env map[string]string, dirs, sites []string, calledPython *bool) searcher {
	return searcher{
		getenv: func(k string) string { return env[k] },
		dirs:   dirs,
		sitePackages: func() []string {
			if calledPython != nil {
				*calledPython = true
			}
			return sites
		},
	}
}

func TestSearchOrder(t *testing.T) {
	env := map[string]string{"LD_LIBRARY_PATH": "/ld/a::/ld/b:/ld/a/", "CUDA_PATH": "/opt/cuda"}
	s := fakeSearch(env, []string{"/usr/local/nvidia/lib64", "/ld/b"}, []string{"/site1", "/site2"}, nil)
	lib := libCUBLAS
	lib.files = []string{"libcublas.so.13"}
	got := slices.Collect(s.candidates(lib))
	want := []string{
		"libcublas.so.13",                                // the loader's own search first
		"/ld/a/libcublas.so.13", "/ld/b/libcublas.so.13", // LD_LIBRARY_PATH, each folder once
		"/usr/local/nvidia/lib64/libcublas.so.13",
		"/opt/cuda/lib64/libcublas.so.13",
		"/site1/nvidia/cu13/lib/libcublas.so.13", "/site1/nvidia/cublas/lib/libcublas.so.13", "/site1/torch/lib/libcublas.so.13",
		"/site2/nvidia/cu13/lib/libcublas.so.13", "/site2/nvidia/cublas/lib/libcublas.so.13", "/site2/torch/lib/libcublas.so.13",
	}
	if !slices.Equal(got, want) {
		t.Errorf("search order\n got %q\nwant %q", got, want)
	}

	// The driver is not shipped in wheels: no site-packages folders, and
	// Python is not even asked.
	called := false
	s = fakeSearch(env, []string{"/usr/local/nvidia/lib64"}, []string{"/site1"}, &called)
	got = slices.Collect(s.candidates(libCUDA))
	want = []string{"libcuda.so.1", "/ld/a/libcuda.so.1", "/ld/b/libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1", "/opt/cuda/lib64/libcuda.so.1"}
	if !slices.Equal(got, want) || called {
		t.Errorf("libcuda search %q (python asked: %v), want %q", got, called, want)
	}

	// Python is asked only when the search gets that far.
	called = false
	s = fakeSearch(env, nil, []string{"/site1"}, &called)
	for range s.candidates(lib) {
		break
	}
	if called {
		t.Error("python3 was asked although the first candidate was taken")
	}

	env[EnvLibCUBLAS] = "/x/libcublas.so"
	if got = slices.Collect(s.candidates(lib)); !slices.Equal(got, []string{"/x/libcublas.so"}) {
		t.Errorf("with %s set: %q", EnvLibCUBLAS, got)
	}
}

// TestSearchError: every place tried is in the error, in order, absent
// files marked so, and each loader error given, not only the last.
func TestSearchError(t *testing.T) {
	root := t.TempDir()
	ld, nv, site := filepath.Join(root, "ld"), filepath.Join(root, "nvidia"), filepath.Join(root, "site")
	wheel := filepath.Join(site, "nvidia", "cu13", "lib")
	for _, d := range []string{ld, nv, wheel} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Two files that exist and do not load, for two different reasons.
	if err := os.WriteFile(filepath.Join(nv, "libcublas.so.99"), []byte(strings.Repeat("not a shared object\n", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wheel, "libcublas.so.99"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := fakeSearch(map[string]string{"LD_LIBRARY_PATH": ld}, []string{nv}, []string{site}, nil)
	lib := libCUBLAS
	lib.files = []string{"libcublas.so.99"}
	_, _, err := s.open(lib)
	var le *LibraryError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LibraryError", err)
	}
	msg := err.Error()
	t.Log(msg)
	var paths []string
	for _, a := range le.Tried {
		paths = append(paths, a.Path)
	}
	if want := slices.Collect(s.candidates(lib)); !slices.Equal(paths, want) {
		t.Errorf("tried %q, want every candidate %q", paths, want)
	}
	if le.Err == nil || le.Err != le.Tried[0].Err || !strings.Contains(msg, "cannot load libcublas: "+le.Tried[0].Err.Error()) {
		t.Errorf("the error does not lead with the first loader error: %v", msg)
	}
	last := -1
	for _, a := range le.Tried {
		i := strings.Index(msg, " "+a.Path+" (")
		if i < 0 || i < last {
			t.Errorf("%s is not listed, in order, with its outcome: %s", a.Path, msg)
		}
		last = i
		switch {
		case a.Path == filepath.Join(ld, "libcublas.so.99"):
			if a.Err != errAbsent || !strings.Contains(msg, a.Path+" (absent)") {
				t.Errorf("%s: %v, want absent", a.Path, a.Err)
			}
		case a.Path == filepath.Join(nv, "libcublas.so.99") || a.Path == filepath.Join(wheel, "libcublas.so.99"):
			// Both files exist: the loader was called and its own error is shown.
			if a.Err == errAbsent || a.Err == nil || !strings.Contains(msg, a.Path+" ("+a.Err.Error()+")") {
				t.Errorf("%s: %v, want the loader's error in the message", a.Path, a.Err)
			}
		}
	}
	if e2, e3 := le.Tried[2].Err, le.Tried[3].Err; e2 == nil || e3 == nil || e2.Error() == e3.Error() {
		t.Errorf("the two bad files should fail differently (no ELF header, empty): %v, %v", e2, e3)
	}

	// A named file that is not there.
	t.Setenv(EnvLibCUDA, "/nonexistent/libcuda.so.1")
	_, err = loadDriver()
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "/nonexistent/libcuda.so.1 (absent)") {
		t.Fatalf("got %v, want a LibraryError naming the absent file", err)
	}
}

// TestSearchFindsWheel: a libcublas found only in a pip wheel's folder of
// site-packages loads from there, and its entry points resolve.
func TestSearchFindsWheel(t *testing.T) {
	emu := emulatorPath(t)
	site := t.TempDir()
	wheel := filepath.Join(site, "nvidia", "cu13", "lib")
	if err := os.MkdirAll(wheel, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(emu)
	if err != nil {
		t.Fatal(err)
	}
	// A name no real library has, so that the loader's own search cannot find it.
	want := filepath.Join(wheel, "libcublas.so.97")
	if err := os.WriteFile(want, b, 0o755); err != nil {
		t.Fatal(err)
	}
	s := fakeSearch(map[string]string{}, []string{t.TempDir()}, []string{filepath.Join(site, "none"), site}, nil)
	lib := libCUBLAS
	lib.files = []string{"libcublas.so.97"}
	h, path, err := s.open(lib)
	if err != nil || path != want {
		t.Fatalf("open: %q, %v; want %q", path, err, want)
	}
	var bl blas
	if err := resolve(lib.name, path, dlsym(h), bl.symbols()); err != nil {
		t.Fatal(err)
	}
}

// TestPythonSitePackages runs a fake python3 from PATH: its answer is
// used, and one that hangs costs the timeout, not the start.
func TestPythonSitePackages(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "bin")
	globbed := filepath.Join(prefix, "lib", "python3.99", "site-packages")
	for _, d := range []string{bin, globbed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	py := filepath.Join(bin, "python3")
	write := func(script string) {
		if err := os.WriteFile(py, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	write("echo /from/python/site-packages; echo; echo relative")
	got := pythonSitePackages()
	if want := []string{"/from/python/site-packages", globbed}; !slices.Equal(got, want) {
		t.Errorf("site-packages %q, want %q", got, want)
	}

	old := pythonTimeout
	pythonTimeout = 200 * time.Millisecond
	defer func() { pythonTimeout = old }()
	write("exec sleep 30")
	start := time.Now()
	got = pythonSitePackages()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging python3 held the search for %v", d)
	}
	if !slices.Equal(got, []string{globbed}) {
		t.Errorf("with a hanging python3: %q, want the globbed folder only", got)
	}

	t.Setenv("PATH", t.TempDir())
	if got := pythonSitePackages(); got != nil {
		t.Errorf("without python3: %q", got)
	}
}

// TestResolveVersions: the _v2 export is taken where both exist, the
// unversioned one where only it does (an older driver), and never for a
// symbol whose unversioned export has another signature.
func TestResolveVersions(t *testing.T) {
	exports := map[string]uintptr{"cuA_v2": 1, "cuA": 2, "cuB": 3, "cuC": 4, "cuD": 5}
	lookup := func(name string) (uintptr, error) {
		if p, ok := exports[name]; ok {
			return p, nil
		}
		return 0, errors.New("undefined symbol " + name)
	}
	var a, b, c uintptr
	if err := resolve("libx", "/x", lookup, []symbol{{"cuA", v2First, &a}, {"cuB", v2First, &b}, {"cuC", plain, &c}}); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 3 || c != 4 {
		t.Errorf("resolved cuA=%d (want the _v2, 1), cuB=%d (want 3), cuC=%d (want 4)", a, b, c)
	}
	var d uintptr
	err := resolve("libx", "/x", lookup, []symbol{{"cuD", v2Only, &d}})
	var se *SymbolError
	if !errors.As(err, &se) || d != 0 || !strings.Contains(err.Error(), "cuD_v2") {
		t.Errorf("v2Only with only the unversioned export: %v (bound %d)", err, d)
	}
}
