// Package cuda is the NVIDIA GPU backend, compiled only with -tags cuda.
//
// It does not use gorgonia.org/cu: that binding's newest version fails to
// compile against CUDA 13 headers, calls os.Exit(1) in init() when no GPU is
// present, and fixes libcublas.so.N at link time. This package loads
// libcuda.so.1 and libcublas.so.13, .12 or .11 at run time instead, so that
// building needs no CUDA toolkit and a -tags cuda binary on a machine without
// a GPU falls back to the CPU.
//
// Without the tag the package registers a stub whose Open returns
// ErrNotCompiled, so that "-backend cuda" says how to get it.
package cuda
