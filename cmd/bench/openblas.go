//go:build openblas

package main

// With -tags openblas (cgo, Debian's libopenblas-dev), bench gemm adds
// OpenBLAS's cblas_sgemm as a row, so that a user compares with it in one
// run. OpenBLAS picks its kernels by OPENBLAS_CORETYPE (SkylakeX for
// AVX-512, Haswell for AVX2).

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
*/
import "C"

import "unsafe"

func init() {
	peers = append(peers, peer{
		name: "openblas",
		level: func() string {
			return C.GoString(C.openblas_get_corename())
		},
		setThreads: func(threads int) func() {
			C.openblas_set_num_threads(C.int(threads))
			return func() {}
		},
		sgemm: func(m, n, k int, a, b, c []float32) {
			C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.int(m), C.int(n), C.int(k), 1,
				(*C.float)(unsafe.Pointer(&a[0])), C.int(k), (*C.float)(unsafe.Pointer(&b[0])), C.int(n), 0,
				(*C.float)(unsafe.Pointer(&c[0])), C.int(n))
		},
	})
}
