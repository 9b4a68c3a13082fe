// A CPU emulator of the slice of the CUDA driver API and cuBLAS that the
// CUDA backend binds, for testing the backend on machines without a GPU.
// It is built by the backend's tests (g++ -shared) and loaded in place of
// libcuda.so.1 and libcublas.so through FASTNN_LIBCUDA and FASTNN_LIBCUBLAS,
// so the Go binding, its argument packing, the launch configurations, the
// row-major cuBLAS mapping, the allocator and the kernels' own source
// (kernels/fastnn.cu, compiled here as C++) all run for real; only the
// hardware is replaced. What it cannot show: PTX JIT compilation, device
// math library accuracy, timing, and races that need real concurrency.
//
// Execution model: everything runs synchronously at the call, on the
// calling thread. A launch runs the grid's blocks one after another; a
// block's threads are fibers that meet at a barrier for __syncthreads, and
// warp shuffles exchange values through a block-wide buffer between two
// barriers (every kernel in fastnn.cu calls them from all threads of a
// block alike). Device memory is
// host memory, filled with NaN bytes when allocated, as real device memory
// is never zeroed for free.

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ucontext.h>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// ---- the CUDA C dialect, as far as fastnn.cu uses it ----

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
static dim3 threadIdx, blockIdx, blockDim, gridDim;

// The threads of a block are fibers (ucontext), run in turn by the
// launching thread: each runs until it reaches a barrier or returns, and a
// barrier is passed once every fiber has reached it or returned. This is
// __syncthreads' semantics, without an OS thread per CUDA thread.
struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    bool done;
};
static std::vector<Fiber> fibers;
static ucontext_t scheduler;
static unsigned running;          // the fiber in progress
static std::vector<float> shuffle; // the block's warp-shuffle exchange

static void __syncthreads() { swapcontext(&fibers[running].ctx, &scheduler); }

static float __shfl_down_sync(unsigned, float v, int offset) {
    int t = threadIdx.x;
    shuffle[t] = v;
    __syncthreads();
    float r = (t & 31) + offset < 32 ? shuffle[t + offset] : v;
    __syncthreads();
    return r;
}

static float __shfl_sync(unsigned, float v, int src) {
    int t = threadIdx.x;
    shuffle[t] = v;
    __syncthreads();
    float r = shuffle[(t & ~31) + src];
    __syncthreads();
    return r;
}

static float atomicAdd(float *p, float v) {
    float old = *p;
    *p = old + v;
    return old;
}

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static // one block runs at a time

#include "fastnn.cu"

// ---- launching ----

using Kernel = std::function<void(void **)>;

template <typename... A, size_t... I>
static void callWith(void (*k)(A...), void **p, std::index_sequence<I...>) {
    k(*static_cast<std::remove_reference_t<A> *>(p[I])...);
}

template <typename... A> static Kernel wrap(void (*k)(A...)) {
    return [k](void **p) { callWith(k, p, std::index_sequence_for<A...>{}); };
}

static const std::vector<std::pair<std::string, Kernel>> kernelTable = {
    {"scale", wrap(scale)},
    {"axpy", wrap(axpy)},
    {"add", wrap(add)},
    {"mul", wrap(mul)},
    {"bias_activate", wrap(bias_activate)},
    {"activate", wrap(activate)},
    {"activate_backward", wrap(activate_backward)},
    {"dropout_mask", wrap(dropout_mask)},
    {"sgd_step", wrap(sgd_step)},
    {"adam_step", wrap(adam_step)},
    {"softmax", wrap(softmax)},
    {"softmax_backward", wrap(softmax_backward)},
    {"softmax_xent", wrap(softmax_xent)},
    {"sum_rows", wrap(sum_rows)},
    {"batchnorm_forward", wrap(batchnorm_forward)},
    {"batchnorm_backward", wrap(batchnorm_backward)},
    {"sum_squares", wrap(sum_squares)},
    {"argmax_rows", wrap(argmax_rows)},
    {"count_correct", wrap(count_correct)},
    {"pointwise_loss", wrap(pointwise_loss)},
    {"col_sums", wrap(col_sums)},
    {"col_sq_devs", wrap(col_sq_devs)},
    {"batchnorm_backward_sums", wrap(batchnorm_backward_sums)},
    {"im2col", wrap(im2col)},
    {"col2im", wrap(col2im)},
    {"transpose_batch", wrap(transpose_batch)},
    {"max_pool", wrap(max_pool)},
    {"max_pool_backward", wrap(max_pool_backward)},
    {"avg_pool", wrap(avg_pool)},
    {"avg_pool_backward", wrap(avg_pool_backward)},
};

// ---- the driver API ----

#define API extern "C" __attribute__((visibility("default")))
typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    SUCCESS = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    NOT_INITIALIZED = 3,
    INVALID_IMAGE = 200,
    INVALID_CONTEXT = 201,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    ILLEGAL_ADDRESS = 700,
    LAUNCH_OUT_OF_RESOURCES = 701,
    LAUNCH_FAILED = 719,
};

// Faults, for the tests of the backend's error handling. fastnnEmuFault
// arms one: the named kernel's next launch returns success (launches are
// asynchronous) but does not run, and from then on, as after a real
// illegal address, every call on the context returns the sticky error
// until cuDevicePrimaryCtxReset, which also frees every allocation and
// retires the context: a handle retained before the reset is invalid.
static std::string faultKernel;
static CUresult faultResult, sticky;
API void fastnnEmuFault(const char *kernel, int result) {
    faultKernel = kernel;
    faultResult = result;
}
#define RETURN_IF_STICKY() \
    do {                    \
        if (sticky) {       \
            return sticky;  \
        }                   \
    } while (0)

static bool initialised;
static std::mutex allocMu;
static std::map<uintptr_t, size_t> allocations; // device and pinned blocks

static void *allocate(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (p) {
        memset(p, 0xff, bytes); // NaN: memory is not zeroed for free
        std::lock_guard<std::mutex> g(allocMu);
        allocations[(uintptr_t)p] = bytes;
    }
    return p;
}

// inBlock reports whether [p, p+bytes) lies inside one allocation.
static bool inBlock(uintptr_t p, size_t bytes) {
    std::lock_guard<std::mutex> g(allocMu);
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) {
        return false;
    }
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

static CUresult release(uintptr_t p) {
    std::lock_guard<std::mutex> g(allocMu);
    if (!allocations.erase(p)) {
        return INVALID_VALUE;
    }
    free((void *)p);
    return SUCCESS;
}

API CUresult cuInit(unsigned flags) {
    if (flags != 0) {
        return INVALID_VALUE;
    }
    initialised = true;
    return SUCCESS;
}
API CUresult cuDriverGetVersion(int *v) {
    *v = 12080;
    return SUCCESS;
}
API CUresult cuDeviceGetCount(int *n) {
    *n = initialised ? 1 : 0;
    return initialised ? SUCCESS : NOT_INITIALIZED;
}
API CUresult cuDeviceGet(int *d, int ordinal) {
    *d = ordinal;
    return ordinal == 0 ? SUCCESS : INVALID_VALUE;
}
API CUresult cuDeviceGetName(char *name, int len, int dev) {
    snprintf(name, len, "CUDA emulator");
    return dev == 0 ? SUCCESS : INVALID_VALUE;
}
API CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
    switch (attr) {
    case 16: *v = 2; break; // SMs: keeps grid-stride grids small
    case 75: *v = 7; break;
    case 76: *v = 0; break;
    default: return INVALID_VALUE;
    }
    return dev == 0 ? SUCCESS : INVALID_VALUE;
}
static int contextTokens[1024], contextGeneration; // the context is &contextTokens[generation % 1024]
static void *context() { return &contextTokens[contextGeneration % 1024]; }
API CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) {
    *ctx = context();
    return dev == 0 ? SUCCESS : INVALID_VALUE;
}
// Only the unversioned export: the backend falls back to it from _v2, as
// it must on a driver older than CUDA 11.
API CUresult cuDevicePrimaryCtxRelease(int dev) { return dev == 0 ? SUCCESS : INVALID_VALUE; }
API CUresult cuDevicePrimaryCtxReset_v2(int dev) {
    if (dev != 0) {
        return INVALID_VALUE;
    }
    std::lock_guard<std::mutex> g(allocMu);
    for (auto &a : allocations) {
        free((void *)a.first);
    }
    allocations.clear();
    sticky = SUCCESS;
    contextGeneration++;
    return SUCCESS;
}
API CUresult cuCtxSetCurrent(void *ctx) { return ctx == context() ? SUCCESS : INVALID_CONTEXT; }
API CUresult cuGetErrorName(CUresult r, const char **s) {
    switch (r) {
    case SUCCESS: *s = "CUDA_SUCCESS"; return SUCCESS;
    case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return SUCCESS;
    case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return SUCCESS;
    case NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; return SUCCESS;
    case INVALID_IMAGE: *s = "CUDA_ERROR_INVALID_IMAGE"; return SUCCESS;
    case INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; return SUCCESS;
    case ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; return SUCCESS;
    case LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; return SUCCESS;
    case INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; return SUCCESS;
    case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; return SUCCESS;
    case LAUNCH_OUT_OF_RESOURCES: *s = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"; return SUCCESS;
    }
    *s = nullptr;
    return INVALID_VALUE;
}
API CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    RETURN_IF_STICKY();
    if (bytes == 0) {
        return INVALID_VALUE;
    }
    *p = (CUdeviceptr)allocate(bytes);
    return *p ? SUCCESS : OUT_OF_MEMORY;
}
API CUresult cuMemFree_v2(CUdeviceptr p) {
    RETURN_IF_STICKY();
    return release(p);
}
API CUresult cuMemAllocHost_v2(void **p, size_t bytes) {
    RETURN_IF_STICKY();
    *p = allocate(bytes);
    return *p ? SUCCESS : OUT_OF_MEMORY;
}
API CUresult cuMemFreeHost(void *p) {
    RETURN_IF_STICKY();
    return release((uintptr_t)p);
}
// The copies check both ranges against the allocations: a wrong size or
// offset in the binding is an error here, not silent corruption.
static CUresult copyChecked(uintptr_t dst, uintptr_t src, size_t bytes) {
    RETURN_IF_STICKY();
    if (!inBlock(dst, bytes) || !inBlock(src, bytes)) {
        return INVALID_VALUE;
    }
    memmove((void *)dst, (const void *)src, bytes);
    return SUCCESS;
}
API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, void *) {
    return copyChecked(dst, (uintptr_t)src, bytes);
}
API CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, void *) {
    return copyChecked((uintptr_t)dst, src, bytes);
}
API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void *) {
    return copyChecked(dst, src, bytes);
}
API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, void *) {
    RETURN_IF_STICKY();
    if (!inBlock(dst, 4 * n)) {
        return INVALID_VALUE;
    }
    for (size_t i = 0; i < n; i++) {
        ((unsigned *)dst)[i] = v;
    }
    return SUCCESS;
}
static int streamToken;
// An event records the wall time: work is synchronous here, so that is
// when everything queued before it finished.
struct Event {
    std::chrono::steady_clock::time_point at;
};
API CUresult cuStreamCreate(void **s, unsigned) {
    *s = &streamToken;
    return SUCCESS;
}
API CUresult cuStreamDestroy_v2(void *) { return SUCCESS; }
API CUresult cuStreamSynchronize(void *) { return sticky; }
API CUresult cuEventCreate(void **e, unsigned) {
    *e = new Event;
    return SUCCESS;
}
API CUresult cuEventDestroy_v2(void *e) {
    delete (Event *)e;
    return SUCCESS;
}
API CUresult cuEventRecord(void *e, void *s) {
    RETURN_IF_STICKY();
    if (s != &streamToken) {
        return INVALID_HANDLE;
    }
    ((Event *)e)->at = std::chrono::steady_clock::now();
    return SUCCESS;
}
API CUresult cuEventSynchronize(void *) { return sticky; }
API CUresult cuEventElapsedTime(float *ms, void *start, void *stop) {
    *ms = std::chrono::duration<float, std::milli>(((Event *)stop)->at - ((Event *)start)->at).count();
    return SUCCESS;
}
static int moduleToken;
API CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *opts, void **vals) {
    // The image must be the generated PTX, NUL-terminated.
    const char *ptx = (const char *)image;
    if (strncmp(ptx, "// Code generated", 17) != 0 || !strstr(ptx, ".version ")) {
        return INVALID_IMAGE;
    }
    for (unsigned i = 0; i < n; i++) {
        if (opts[i] == 5 && vals[i]) { // CU_JIT_ERROR_LOG_BUFFER
            ((char *)vals[i])[0] = 0;
        }
    }
    *m = &moduleToken;
    return SUCCESS;
}
API CUresult cuModuleUnload(void *m) { return m == &moduleToken ? SUCCESS : INVALID_HANDLE; }
API CUresult cuModuleGetFunction(uintptr_t *f, void *m, const char *name) {
    if (m != &moduleToken) {
        return INVALID_HANDLE;
    }
    for (size_t i = 0; i < kernelTable.size(); i++) {
        if (kernelTable[i].first == name) {
            *f = i + 1;
            return SUCCESS;
        }
    }
    return NOT_FOUND;
}

static const Kernel *launchKernel;
static void **launchParams;

static void fiberMain() {
    (*launchKernel)(launchParams);
    fibers[running].done = true; // then uc_link returns to the scheduler
}

API CUresult cuLaunchKernel(uintptr_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shared, void *stream, void **params, void **extra) {
    RETURN_IF_STICKY();
    if (f < 1 || f > kernelTable.size() || stream != &streamToken) {
        return INVALID_HANDLE;
    }
    if (gx == 0 || gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra != nullptr || !params) {
        return INVALID_VALUE;
    }
    if (bx == 0 || bx > 1024 || bx % 32 != 0) { // every launch of the backend uses whole warps
        return LAUNCH_OUT_OF_RESOURCES;
    }
    if (!faultKernel.empty() && kernelTable[f - 1].first == faultKernel) {
        faultKernel.clear();
        sticky = faultResult;
        return SUCCESS;
    }
    static std::mutex launchMu; // the fibers' state is global
    std::lock_guard<std::mutex> g(launchMu);
    launchKernel = &kernelTable[f - 1].second;
    launchParams = params;
    fibers.resize(bx);
    shuffle.assign(bx, 0.f);
    blockDim = {bx, 1, 1};
    gridDim = {gx, 1, 1};
    for (unsigned b = 0; b < gx; b++) {
        blockIdx = {b, 0, 0};
        for (unsigned t = 0; t < bx; t++) {
            Fiber &fb = fibers[t];
            fb.stack.resize(64 << 10);
            fb.done = false;
            getcontext(&fb.ctx);
            fb.ctx.uc_stack.ss_sp = fb.stack.data();
            fb.ctx.uc_stack.ss_size = fb.stack.size();
            fb.ctx.uc_link = &scheduler;
            makecontext(&fb.ctx, fiberMain, 0);
        }
        for (unsigned live = bx; live > 0;) {
            live = 0;
            for (unsigned t = 0; t < bx; t++) {
                if (fibers[t].done) {
                    continue;
                }
                running = t;
                threadIdx = {t, 0, 0};
                swapcontext(&scheduler, &fibers[t].ctx);
                live += !fibers[t].done;
            }
        }
    }
    return SUCCESS;
}

// ---- cuBLAS ----

static int handleToken;
API int cublasCreate_v2(void **h) {
    *h = &handleToken;
    return 0;
}
API int cublasDestroy_v2(void *h) { return h == &handleToken ? 0 : 7; }
API int cublasSetStream_v2(void *h, void *s) { return h == &handleToken && s == &streamToken ? 0 : 7; }
// mathMode is the handle's math mode: 0 (CUBLAS_DEFAULT_MATH) or 3
// (CUBLAS_TF32_TENSOR_OP_MATH), under which Sgemm rounds its inputs to TF32.
static int mathMode;
API int cublasSetMathMode(void *h, int mode) {
    if (h != &handleToken || (mode != 0 && mode != 3)) {
        return 7;
    }
    mathMode = mode;
    return 0;
}
API int cublasGetVersion_v2(void *h, int *v) {
    *v = 110800;
    return h == &handleToken ? 0 : 7;
}

// tf32 rounds a float to TF32, the tensor cores' input format: the 10 high
// bits of the mantissa are kept, rounded to nearest (ties away from zero, as
// cvt.rna.tf32.f32); infinities and NaNs pass unchanged.
static float tf32(float x) {
    uint32_t b = std::bit_cast<uint32_t>(x);
    if ((b & 0x7f800000u) != 0x7f800000u) {
        b = (b + 0x1000u) & ~0x1fffu;
    }
    return std::bit_cast<float>(b);
}

// cublasSgemm_v2 is the column-major reference: C = alpha op(A) op(B) + beta C,
// C is m x n; with beta == 0, C is not read. Leading dimensions are checked
// as cuBLAS checks them (CUBLAS_STATUS_INVALID_VALUE = 7). Under the TF32
// math mode the inputs are rounded to TF32 and the sums kept in float, as the
// tensor cores do.
API int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda,
                       const float *B, int ldb, const float *beta, float *C, int ldc) {
    if (h != &handleToken || m < 0 || n < 0 || k < 0) {
        return 7;
    }
    if (lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m)) {
        return 7;
    }
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < m; i++) {
            float s = 0;
            for (int p = 0; p < k; p++) {
                float a = ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
                float b = tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
                if (mathMode == 3) {
                    a = tf32(a), b = tf32(b);
                }
                s += a * b;
            }
            float &c = C[i + (size_t)j * ldc];
            c = *beta == 0 ? *alpha * s : *alpha * s + *beta * c;
        }
    }
    return 0;
}
