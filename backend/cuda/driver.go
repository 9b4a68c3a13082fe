//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// This file is the binding to the CUDA driver API (libcuda.so.1), loaded at
// run time. Every entry point is looked up by name with dlsym and called
// with purego.SyscallN. Arguments are integers, device pointers (uint64)
// and host pointers; host pointers always point at memory that cannot move
// while the call runs: Go heap objects owned by the Backend (the Go heap is
// not moved), or page-locked memory from cuMemAllocHost. Go stack
// variables are never passed, since a stack may be copied when it grows.

// Error is a failed CUDA driver call: the function and its CUresult, with
// the result's name as cuGetErrorName gives it (CUDA_ERROR_OUT_OF_MEMORY).
type Error struct {
	Func   string
	Result int
	Name   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cuda: %s: %s (%d)", e.Func, e.Name, e.Result)
}

// LibraryError says that a shared library could not be loaded, or lacks a
// symbol this package needs.
type LibraryError struct {
	Lib   string   // "libcuda" or "libcublas"
	Tried []string // the file names and paths tried, in order
	Err   error    // the last loader error
}

func (e *LibraryError) Error() string {
	return fmt.Sprintf("cuda: cannot load %s (tried %s): %v", e.Lib, strings.Join(e.Tried, ", "), e.Err)
}

func (e *LibraryError) Unwrap() error { return e.Err }

// Environment variables that name a library file, bypassing the search.
const (
	EnvLibCUDA   = "FASTNN_LIBCUDA"
	EnvLibCUBLAS = "FASTNN_LIBCUBLAS"
)

// libraryCandidates lists where to look for a library, in order: the file
// named by the environment variable alone when it is set; otherwise each
// name through the dynamic loader's normal search (LD_LIBRARY_PATH, the
// ld.so cache), then in /usr/local/cuda/lib64 and $CUDA_PATH/lib64.
func libraryCandidates(envVar string, names []string, getenv func(string) string) []string {
	if f := getenv(envVar); f != "" {
		return []string{f}
	}
	var out []string
	out = append(out, names...)
	dirs := []string{"/usr/local/cuda/lib64"}
	if p := getenv("CUDA_PATH"); p != "" {
		dirs = append(dirs, filepath.Join(p, "lib64"))
	}
	for _, d := range dirs {
		for _, n := range names {
			out = append(out, filepath.Join(d, n))
		}
	}
	return out
}

// openLibrary dlopens the first candidate that loads.
func openLibrary(lib, envVar string, names []string) (uintptr, string, error) {
	tried := libraryCandidates(envVar, names, os.Getenv)
	var last error
	for _, path := range tried {
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, path, nil
		}
		last = err
	}
	return 0, "", &LibraryError{Lib: lib, Tried: tried, Err: last}
}

// symbols looks up every name into the matching *uintptr.
func symbols(lib string, h uintptr, table map[string]*uintptr) error {
	for name, fn := range table {
		p, err := purego.Dlsym(h, name)
		if err != nil {
			return &LibraryError{Lib: lib, Tried: []string{name}, Err: err}
		}
		*fn = p
	}
	return nil
}

// driver holds the entry points of libcuda.so.1.
type driver struct {
	path string

	init, driverGetVersion, deviceGetCount, deviceGet, deviceGetName, deviceGetAttribute uintptr
	devicePrimaryCtxRetain, devicePrimaryCtxRelease, ctxSetCurrent, getErrorName         uintptr
	memAlloc, memFree, memAllocHost, memFreeHost, memGetInfo                             uintptr
	memcpyHtoDAsync, memcpyDtoHAsync, memcpyDtoDAsync, memsetD32Async                    uintptr
	streamCreate, streamDestroy, streamSynchronize                                       uintptr
	eventCreate, eventDestroy, eventRecord, eventSynchronize, eventElapsedTime           uintptr
	moduleLoadDataEx, moduleUnload, moduleGetFunction, launchKernel                      uintptr
}

func loadDriver() (*driver, error) {
	h, path, err := openLibrary("libcuda", EnvLibCUDA, []string{"libcuda.so.1"})
	if err != nil {
		return nil, err
	}
	d := &driver{path: path}
	err = symbols("libcuda", h, map[string]*uintptr{
		"cuInit":                    &d.init,
		"cuDriverGetVersion":        &d.driverGetVersion,
		"cuDeviceGetCount":          &d.deviceGetCount,
		"cuDeviceGet":               &d.deviceGet,
		"cuDeviceGetName":           &d.deviceGetName,
		"cuDeviceGetAttribute":      &d.deviceGetAttribute,
		"cuDevicePrimaryCtxRetain":  &d.devicePrimaryCtxRetain,
		"cuDevicePrimaryCtxRelease": &d.devicePrimaryCtxRelease,
		"cuCtxSetCurrent":           &d.ctxSetCurrent,
		"cuGetErrorName":            &d.getErrorName,
		"cuMemAlloc_v2":             &d.memAlloc,
		"cuMemFree_v2":              &d.memFree,
		"cuMemAllocHost_v2":         &d.memAllocHost,
		"cuMemFreeHost":             &d.memFreeHost,
		"cuMemGetInfo_v2":           &d.memGetInfo,
		"cuMemcpyHtoDAsync_v2":      &d.memcpyHtoDAsync,
		"cuMemcpyDtoHAsync_v2":      &d.memcpyDtoHAsync,
		"cuMemcpyDtoDAsync_v2":      &d.memcpyDtoDAsync,
		"cuMemsetD32Async":          &d.memsetD32Async,
		"cuStreamCreate":            &d.streamCreate,
		"cuStreamDestroy_v2":        &d.streamDestroy,
		"cuStreamSynchronize":       &d.streamSynchronize,
		"cuEventCreate":             &d.eventCreate,
		"cuEventDestroy_v2":         &d.eventDestroy,
		"cuEventRecord":             &d.eventRecord,
		"cuEventSynchronize":        &d.eventSynchronize,
		"cuEventElapsedTime":        &d.eventElapsedTime,
		"cuModuleLoadDataEx":        &d.moduleLoadDataEx,
		"cuModuleUnload":            &d.moduleUnload,
		"cuModuleGetFunction":       &d.moduleGetFunction,
		"cuLaunchKernel":            &d.launchKernel,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// call runs a driver entry point and turns a non-zero CUresult into *Error.
func (d *driver) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if res := int(int32(r)); res != 0 {
		return &Error{Func: name, Result: res, Name: d.errorName(res)}
	}
	return nil
}

// errorName asks the driver for a CUresult's name.
func (d *driver) errorName(res int) string {
	// The driver writes a pointer to its own static string into *out.
	out := new(unsafe.Pointer)
	r, _, _ := purego.SyscallN(d.getErrorName, uintptr(res), uintptr(unsafe.Pointer(out)))
	if r != 0 || *out == nil {
		return "CUDA_ERROR_UNRECOGNIZED"
	}
	return cString(*out, 128)
}

// cString copies a NUL-terminated C string of at most max bytes.
func cString(p unsafe.Pointer, max int) string {
	b := unsafe.Slice((*byte)(p), max)
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// errNoDevice is New's error when the driver loads but reports no device.
var errNoDevice = errors.New("cuda: the driver reports no CUDA device")

// resultNoDevice and resultOutOfMemory are the CUresults this package acts on.
const (
	resultOutOfMemory = 2   // CUDA_ERROR_OUT_OF_MEMORY
	resultNoDevice    = 100 // CUDA_ERROR_NO_DEVICE
)
