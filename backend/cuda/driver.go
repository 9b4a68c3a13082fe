//go:build cuda

package cuda

import (
	"errors"
	"fmt"
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

// driver holds the entry points of libcuda.so.1 that this package calls.
type driver struct {
	path string

	init, driverGetVersion, deviceGetCount, deviceGet, deviceGetName, deviceGetAttribute uintptr
	devicePrimaryCtxRetain, devicePrimaryCtxRelease, devicePrimaryCtxReset               uintptr
	ctxSetCurrent, getErrorName                                                          uintptr
	memAlloc, memFree, memAllocHost, memFreeHost                                         uintptr
	memcpyHtoDAsync, memcpyDtoHAsync, memcpyDtoDAsync, memsetD32Async                    uintptr
	streamCreate, streamDestroy, streamSynchronize                                       uintptr
	eventCreate, eventDestroy, eventRecord, eventSynchronize, eventElapsedTime           uintptr
	moduleLoadDataEx, moduleUnload, moduleGetFunction, launchKernel                      uintptr
}

// symbols lists every entry point, with the versions cuda.h maps its name
// to: where a _v2 shares the unversioned signature the newest is taken
// and the other accepted (an older driver), where it does not (the memory
// calls, whose unversioned exports take 32-bit sizes) only the _v2 is.
func (d *driver) symbols() []symbol {
	return []symbol{
		{"cuInit", plain, &d.init},
		{"cuDriverGetVersion", plain, &d.driverGetVersion},
		{"cuDeviceGetCount", plain, &d.deviceGetCount},
		{"cuDeviceGet", plain, &d.deviceGet},
		{"cuDeviceGetName", plain, &d.deviceGetName},
		{"cuDeviceGetAttribute", plain, &d.deviceGetAttribute},
		{"cuDevicePrimaryCtxRetain", plain, &d.devicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease", v2First, &d.devicePrimaryCtxRelease},
		{"cuDevicePrimaryCtxReset", v2First, &d.devicePrimaryCtxReset},
		{"cuCtxSetCurrent", plain, &d.ctxSetCurrent},
		{"cuGetErrorName", plain, &d.getErrorName},
		{"cuMemAlloc", v2Only, &d.memAlloc},
		{"cuMemFree", v2Only, &d.memFree},
		{"cuMemAllocHost", v2Only, &d.memAllocHost},
		{"cuMemFreeHost", plain, &d.memFreeHost},
		{"cuMemcpyHtoDAsync", v2Only, &d.memcpyHtoDAsync},
		{"cuMemcpyDtoHAsync", v2Only, &d.memcpyDtoHAsync},
		{"cuMemcpyDtoDAsync", v2Only, &d.memcpyDtoDAsync},
		{"cuMemsetD32Async", plain, &d.memsetD32Async},
		{"cuStreamCreate", plain, &d.streamCreate},
		{"cuStreamDestroy", v2First, &d.streamDestroy},
		{"cuStreamSynchronize", plain, &d.streamSynchronize},
		{"cuEventCreate", plain, &d.eventCreate},
		{"cuEventDestroy", v2First, &d.eventDestroy},
		{"cuEventRecord", plain, &d.eventRecord},
		{"cuEventSynchronize", plain, &d.eventSynchronize},
		{"cuEventElapsedTime", plain, &d.eventElapsedTime},
		{"cuModuleLoadDataEx", plain, &d.moduleLoadDataEx},
		{"cuModuleUnload", plain, &d.moduleUnload},
		{"cuModuleGetFunction", plain, &d.moduleGetFunction},
		{"cuLaunchKernel", plain, &d.launchKernel},
	}
}

func loadDriver() (*driver, error) {
	return loadDriverFrom(defaultSearcher)
}

func loadDriverFrom(s searcher) (*driver, error) {
	d := new(driver)
	var err error
	if d.path, err = s.load(libCUDA, d.symbols()); err != nil {
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
