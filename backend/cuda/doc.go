// Package cuda is the NVIDIA GPU backend, compiled only with -tags cuda.
//
// It does not use gorgonia.org/cu: that binding's newest version fails to
// compile against CUDA 13 headers, calls os.Exit(1) in init() when no GPU is
// present, and fixes libcublas.so.N at link time. This package binds the
// few driver and cuBLAS entry points it needs itself, loading libcuda.so.1
// and libcublas.so.13, .12 or .11 at run time. Each is searched for through
// the loader, then in the folders of $LD_LIBRARY_PATH,
// /usr/local/nvidia/lib64, /usr/local/cuda/lib64, /usr/lib/wsl/lib and
// $CUDA_PATH/lib64, and libcublas also in the pip wheels' folders
// (nvidia/cu13/lib, nvidia/cublas/lib, torch/lib) of every site-packages
// folder of the python3 on PATH; FASTNN_LIBCUDA and FASTNN_LIBCUBLAS name
// the files outright. A failure lists every place tried and each loader
// error. So building needs no CUDA toolkit, and a -tags cuda binary on a
// machine without a GPU opens with an error that "auto" turns into a
// fallback to the CPU.
//
// FASTNN_CUDA_SYNC=1 waits for every kernel as it is launched, so that a
// fault names its kernel. A fault that leaves the context unusable (an
// illegal address, say) resets the device's primary context: the backend
// that saw it is lost, and the next one opened in the process starts clean.
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
// embedded PTX when the backend opens. Convolutions (backend.Convolver,
// conv.go) are im2col + cublasSgemm, with col2im and the pooling gradients
// written as gathers, so that no kernel needs atomics. See the README's
// CUDA section.
//
// Without the tag the package registers a stub whose Open returns
// ErrNotCompiled, so that "-backend cuda" says how to get it.
package cuda
