//go:build cuda

package cuda

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ebitengine/purego"
)

// BLASError is a failed cuBLAS call: the function and its cublasStatus_t.
type BLASError struct {
	Func   string
	Status int
}

func (e *BLASError) Error() string {
	return fmt.Sprintf("cuda: %s: %s (%d)", e.Func, blasStatusName(e.Status), e.Status)
}

// blasStatusName names a cublasStatus_t (cublas_api.h); the values have
// been stable since CUDA 6.
func blasStatusName(s int) string {
	switch s {
	case 0:
		return "CUBLAS_STATUS_SUCCESS"
	case 1:
		return "CUBLAS_STATUS_NOT_INITIALIZED"
	case 3:
		return "CUBLAS_STATUS_ALLOC_FAILED"
	case 7:
		return "CUBLAS_STATUS_INVALID_VALUE"
	case 8:
		return "CUBLAS_STATUS_ARCH_MISMATCH"
	case 11:
		return "CUBLAS_STATUS_MAPPING_ERROR"
	case 13:
		return "CUBLAS_STATUS_EXECUTION_FAILED"
	case 14:
		return "CUBLAS_STATUS_INTERNAL_ERROR"
	case 15:
		return "CUBLAS_STATUS_NOT_SUPPORTED"
	case 16:
		return "CUBLAS_STATUS_LICENSE_ERROR"
	}
	return "CUBLAS_STATUS_UNKNOWN"
}

// cuBLAS constants (cublas_api.h).
const (
	cublasOpN = 0
	cublasOpT = 1

	cublasDefaultMath      = 0
	cublasTF32TensorOpMath = 3
)

// cublasLibraries are the sonames tried, newest first: the CUDA 13, 12 and
// 11 runtimes. The soname is chosen at run time, not link time, so one
// binary runs with whichever the machine has.
var cublasLibraries = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}

// blas holds the entry points of libcublas.
type blas struct {
	path                                                    string
	create, destroy, setStream, setMathMode, sgemm, version uintptr
}

// sonameMajor reads N from libcublas.so.N.
func sonameMajor(name string) (int, bool) {
	i := strings.LastIndexByte(name, '.')
	n, err := strconv.Atoi(name[i+1:])
	return n, err == nil
}

// symbols lists every entry point; the _v2 ones have no unversioned twin
// of the same signature (cublas.h's names without it are the legacy API).
func (b *blas) symbols() []symbol {
	return []symbol{
		{"cublasCreate", v2Only, &b.create},
		{"cublasDestroy", v2Only, &b.destroy},
		{"cublasSetStream", v2Only, &b.setStream},
		{"cublasSetMathMode", plain, &b.setMathMode},
		{"cublasSgemm", v2Only, &b.sgemm},
		{"cublasGetVersion", v2Only, &b.version},
	}
}

// loadBLAS loads the first of the sonames found.
func loadBLAS(names []string) (*blas, error) {
	lib := libCUBLAS
	lib.files = names
	b := new(blas)
	var err error
	if b.path, err = defaultSearcher.load(lib, b.symbols()); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *blas) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if s := int(int32(r)); s != 0 {
		return &BLASError{Func: name, Status: s}
	}
	return nil
}
