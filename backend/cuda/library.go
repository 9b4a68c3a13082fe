//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ebitengine/purego"
)

// This file finds and loads libcuda and libcublas. Real machines keep them
// in several places: the loader's path for a packaged driver,
// /usr/local/nvidia/lib64 in NVIDIA's containers, /usr/local/cuda/lib64
// for a toolkit, and, where PyTorch was installed with pip, the wheels'
// folders inside Python's site-packages (nvidia/cu13/lib for CUDA 13,
// nvidia/cublas/lib for CUDA 12), which are on no search path.

// Environment variables that name a library file, bypassing the search.
const (
	EnvLibCUDA   = "FASTNN_LIBCUDA"
	EnvLibCUBLAS = "FASTNN_LIBCUBLAS"
)

// Attempt is one place a library was looked for, and why it did not load.
type Attempt struct {
	Path string // a soname (the loader's own search) or a file path
	Err  error  // errAbsent for a path with no file
}

// errAbsent marks an Attempt at a path where no file exists (not dlopened).
var errAbsent = errors.New("absent")

// LibraryError says that a shared library could not be loaded from any of
// the places searched.
type LibraryError struct {
	Lib   string    // "libcuda" or "libcublas"
	Tried []Attempt // every place, in order
	Err   error     // the first loader error: the most telling, usually
}

func (e *LibraryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cuda: cannot load %s: ", e.Lib)
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("no file found")
	}
	b.WriteString("; tried, in order:")
	for i, a := range e.Tried {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + a.Path)
		switch {
		case a.Err == errAbsent:
			b.WriteString(" (absent)")
		case a.Err == e.Err:
			b.WriteString(" (the error above)")
		case a.Err != nil:
			b.WriteString(" (" + a.Err.Error() + ")")
		}
	}
	return b.String()
}

func (e *LibraryError) Unwrap() error { return e.Err }

// library describes one library to search for.
type library struct {
	name   string   // "libcuda", for messages
	env    string   // the variable that names the file outright
	files  []string // sonames, in order of preference
	wheels []string // folders under site-packages that pip wheels install it into
}

var (
	libCUDA = library{name: "libcuda", env: EnvLibCUDA, files: []string{"libcuda.so.1"}}
	// libCUBLAS's files are set per attempt (openBLAS tries one soname at a time).
	libCUBLAS = library{name: "libcublas", env: EnvLibCUBLAS,
		wheels: []string{"nvidia/cu13/lib", "nvidia/cublas/lib", "torch/lib"}}
)

// searcher holds what the search reads from its surroundings, so that a
// test can give it fake folders.
type searcher struct {
	getenv       func(string) string
	dirs         []string        // fixed folders, after LD_LIBRARY_PATH's
	sitePackages func() []string // Python's site-packages folders; called only when reached
}

var defaultSearcher = searcher{
	getenv:       os.Getenv,
	dirs:         []string{"/usr/local/nvidia/lib64", "/usr/local/cuda/lib64", "/usr/lib/wsl/lib"},
	sitePackages: pythonSitePackages,
}

// candidates yields the places to try, in order: the file the environment
// variable names, alone, when it is set; otherwise each soname through the
// loader's own search (the ld.so cache and LD_LIBRARY_PATH as it was when
// the process started), then in each folder of $LD_LIBRARY_PATH as it is
// now, the fixed folders and $CUDA_PATH/lib64, then in the pip wheels'
// folders under each site-packages folder of the python3 on PATH.
func (s searcher) candidates(lib library) iter.Seq[string] {
	return func(yield func(string) bool) {
		if f := s.getenv(lib.env); f != "" {
			yield(f)
			return
		}
		for _, f := range lib.files {
			if !yield(f) {
				return
			}
		}
		var dirs []string
		for _, d := range strings.Split(s.getenv("LD_LIBRARY_PATH"), ":") {
			if d != "" {
				dirs = append(dirs, d)
			}
		}
		dirs = append(dirs, s.dirs...)
		if p := s.getenv("CUDA_PATH"); p != "" {
			dirs = append(dirs, filepath.Join(p, "lib64"))
		}
		seen := map[string]bool{}
		inDirs := func(dirs []string) bool {
			for _, d := range dirs {
				d = filepath.Clean(d)
				if seen[d] {
					continue
				}
				seen[d] = true
				for _, f := range lib.files {
					if !yield(filepath.Join(d, f)) {
						return false
					}
				}
			}
			return true
		}
		if !inDirs(dirs) || len(lib.wheels) == 0 || s.sitePackages == nil {
			return
		}
		var wheelDirs []string
		for _, sp := range s.sitePackages() {
			for _, w := range lib.wheels {
				wheelDirs = append(wheelDirs, filepath.Join(sp, w))
			}
		}
		inDirs(wheelDirs)
	}
}

// open dlopens the first candidate that loads. A path where no file exists
// is recorded as absent without calling the loader.
func (s searcher) open(lib library) (uintptr, string, error) {
	e := &LibraryError{Lib: lib.name}
	for path := range s.candidates(lib) {
		if strings.ContainsRune(path, '/') {
			if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
				e.Tried = append(e.Tried, Attempt{path, errAbsent})
				continue
			}
			preloadCompanions(path)
		}
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, path, nil
		}
		e.Tried = append(e.Tried, Attempt{path, err})
		if e.Err == nil {
			e.Err = err
		}
	}
	return 0, "", e
}

// load opens the library and resolves its symbols; it returns the path.
func (s searcher) load(lib library, syms []symbol) (string, error) {
	h, path, err := s.open(lib)
	if err != nil {
		return "", err
	}
	return path, resolve(lib.name, path, dlsym(h), syms)
}

// preloadCompanions loads, from the same folder, the libraries that a
// library found outside the loader's path needs and the loader would not
// find: libcublasLt beside libcublas (pip wheels do not always set a
// RUNPATH). A failure here shows as the library's own load error.
func preloadCompanions(path string) {
	dir, base := filepath.Split(path)
	if v, ok := strings.CutPrefix(base, "libcublas.so."); ok {
		lt := filepath.Join(dir, "libcublasLt.so."+v)
		if _, err := os.Stat(lt); err == nil {
			purego.Dlopen(lt, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		}
	}
}

// pythonTimeout bounds the python3 query: a broken interpreter must not
// hang the backend's start. A variable for the tests.
var pythonTimeout = 5 * time.Second

// pythonSitePackages lists the site-packages folders of the python3 on
// PATH: what the interpreter itself says (site.getsitepackages, the user
// site, sys.path), then the standard folders of its prefix, globbed, in
// case the interpreter could not be run.
func pythonSitePackages() []string {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	var dirs []string
	ctx, cancel := context.WithTimeout(context.Background(), pythonTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c",
		"import site, sys; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()] + sys.path))")
	cmd.WaitDelay = time.Second
	if out, err := cmd.Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if filepath.IsAbs(line) {
				dirs = append(dirs, line)
			}
		}
	}
	prefix := filepath.Dir(filepath.Dir(py)) // .../bin/python3 -> ...
	for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "local/lib/python3*/dist-packages", "lib/python3/dist-packages"} {
		m, _ := filepath.Glob(filepath.Join(prefix, pat))
		dirs = append(dirs, m...)
	}
	var out []string
	for _, d := range dirs {
		if d = filepath.Clean(d); !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// SymbolError says that a library lacks an entry point this package calls.
type SymbolError struct {
	Lib, Path string
	Names     []string // the exports tried
}

func (e *SymbolError) Error() string {
	return fmt.Sprintf("cuda: %s (%s) has none of %s", e.Lib, e.Path, strings.Join(e.Names, ", "))
}

// Versions of an entry point that may be bound.
const (
	plain   = iota // the unversioned export
	v2First        // the _v2 export, else the unversioned one: both have one signature
	v2Only         // the _v2 export: the unversioned one is the legacy ABI (32-bit sizes or pointers)
)

// symbol is one entry point to look up into *dst.
type symbol struct {
	name    string // as the header names it, without a version suffix
	version int
	dst     *uintptr
}

// exports lists the names to try for a symbol, in order.
func (s symbol) exports() []string {
	switch s.version {
	case v2First:
		return []string{s.name + "_v2", s.name}
	case v2Only:
		return []string{s.name + "_v2"}
	}
	return []string{s.name}
}

// resolve looks up every symbol with lookup (dlsym on one library).
func resolve(lib, path string, lookup func(string) (uintptr, error), syms []symbol) error {
	for _, s := range syms {
		names := s.exports()
		*s.dst = 0
		for _, n := range names {
			if p, err := lookup(n); err == nil && p != 0 {
				*s.dst = p
				break
			}
		}
		if *s.dst == 0 {
			return &SymbolError{Lib: lib, Path: path, Names: names}
		}
	}
	return nil
}

// dlsym returns resolve's lookup for a library handle.
func dlsym(h uintptr) func(string) (uintptr, error) {
	return func(name string) (uintptr, error) { return purego.Dlsym(h, name) }
}
