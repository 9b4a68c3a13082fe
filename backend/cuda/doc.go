// Package cuda is the NVIDIA GPU backend, compiled only with -tags cuda.
//
// It does not use gorgonia.org/cu: that binding's newest version fails to
// compile against CUDA 13 headers, calls os.Exit(1) in init() when no GPU is
// present, and fixes libcublas.so.N at link time. This package binds the
// few driver and cuBLAS entry points it needs itself, loading libcuda.so.1
// and libcublas.so.13, .12 or .11 at run time (the loader's search path,
// then /usr/local/cuda/lib64 and $CUDA_PATH/lib64; FASTNN_LIBCUDA and
// FASTNN_LIBCUBLAS name the files outright). So building needs no CUDA
// toolkit, and a -tags cuda binary on a machine without a GPU opens with an
// error that "auto" turns into a fallback to the CPU.
//
// The binding uses github.com/ebitengine/purego rather than cgo with
// dlopen: purego needs no C compiler, so `CGO_ENABLED=0 go build -tags cuda`
// works and cross-compiles like any Go program, and every call is an
// ordinary Go function call on integers and pointers. The price is that Go
// memory handed to the driver must not move: the package passes only heap
// objects it owns (the Go heap does not move) and page-locked memory from
// cuMemAllocHost, never stack variables.
//
// Errors carry the failing function and the CUresult's name (*Error) or the
// cublasStatus_t's (*BLASError). The backend makes its CUDA calls with the
// device's primary context current on a locked OS thread, for the length of
// each operation, so any goroutine may use it.
//
// Execution: every operation is queued on one stream and returns at once;
// Download waits. GEMM runs through cublasSgemm (row-major through the
// transpose identity; TF32 tensor cores when Options.TF32 is set), every
// other operation is a kernel of package kernels, JIT-compiled from the
// embedded PTX when the backend opens. See the README's CUDA section.
//
// Without the tag the package registers a stub whose Open returns
// ErrNotCompiled, so that "-backend cuda" says how to get it.
package cuda
