// Kernels of the CUDA backend: every Backend operation except Gemm (cuBLAS)
// and the copies and fills (driver calls). Each kernel mirrors the plain-Go
// reference in backend/ref and the CPU backend's formulas; the conformance
// suite checks them on the device.
//
// Conventions:
//   - Matrices are row-major and dense: element (i, j) of a rows x cols
//     matrix is at i*cols + j.
//   - Sizes are 64-bit (long long) for element counts, 32-bit for rows and
//     cols; the host keeps every size and element count below 2^31 - 2^20.
//     Loop indices are 64-bit, so that stepping past the end cannot wrap.
//   - Elementwise kernels use grid-stride loops, so any grid size is correct;
//     the host picks one that fills the device.
//   - Row kernels (softmax, cross-entropy) run one block per row, with
//     BLOCK threads and a shared-memory reduction.
//   - Column kernels (sum_rows, BatchNorm, bias_activate's cousins) split
//     the matrix into tiles of blockDim.x consecutive columns by chunks of
//     rows: block b handles column tile b % colBlocks and row chunk
//     b / colBlocks, one thread per column, so reads are coalesced and a
//     few hundred columns still fill the device. Column sums are reduced in
//     two passes: each block writes its chunk's partial sums (in double),
//     and the next kernel adds a column's partials in chunk order. No
//     atomics: the result depends only on the chunk count, which the host
//     derives from the shape and the device's SM count, so a run repeats
//     bit for bit on one GPU model.
//   - Scalar outputs (loss sums, counts, sums of squares) are added to
//     element 0 of their buffer with atomicAdd, once per block.
//   - Activation codes are backend.Activation's values.
//
// Regenerate the PTX with `make kernels` (nvcc -ptx -arch=compute_70).

#define BLOCK 256

enum { ACT_IDENTITY = 0, ACT_RELU, ACT_LEAKYRELU, ACT_SIGMOID, ACT_TANH, ACT_GELU };

#define GELU_C 0.7978845608028654f // sqrt(2/pi)

__device__ __forceinline__ float sigmoidf_stable(float x) {
    // exp of a non-positive number only: no overflow, no 1/inf.
    if (x >= 0.f) {
        return 1.f / (1.f + expf(-x));
    }
    float e = expf(x);
    return e / (1.f + e);
}

__device__ __forceinline__ float act_forward(int act, float slope, float x) {
    switch (act) {
    case ACT_RELU:
        return x > 0.f ? x : 0.f;
    case ACT_LEAKYRELU:
        return x > 0.f ? x : slope * x;
    case ACT_SIGMOID:
        return sigmoidf_stable(x);
    case ACT_TANH:
        return tanhf(x);
    case ACT_GELU:
        return 0.5f * x * (1.f + tanhf(GELU_C * (x + 0.044715f * x * x * x)));
    }
    return x;
}

// act_derivative is f'(x), from the input x or the output y = f(x),
// whichever is cheaper; ReLU'(0) = 0 and LeakyReLU'(0) = slope, as PyTorch.
__device__ __forceinline__ float act_derivative(int act, float slope, float x, float y) {
    switch (act) {
    case ACT_RELU:
        return x > 0.f ? 1.f : 0.f;
    case ACT_LEAKYRELU:
        return x > 0.f ? 1.f : slope;
    case ACT_SIGMOID:
        return y * (1.f - y);
    case ACT_TANH:
        return 1.f - y * y;
    case ACT_GELU: {
        float t = tanhf(GELU_C * (x + 0.044715f * x * x * x));
        return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * GELU_C * (1.f + 3.f * 0.044715f * x * x);
    }
    }
    return 1.f;
}

#define GRID_STRIDE(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// block_sum returns the sum of v over the block to every thread. Every
// thread of the block must call it; blockDim.x is a multiple of 32, at most
// BLOCK. scratch holds 32 floats.
__device__ float block_sum(float v, float *scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_down_sync(0xffffffffu, v, o);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads(); // scratch may still be read from a previous call
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    int warps = blockDim.x >> 5;
    v = lane < warps ? scratch[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_down_sync(0xffffffffu, v, o);
    }
    return __shfl_sync(0xffffffffu, v, 0);
}

// block_max is block_sum with max; -inf is the identity.
__device__ float block_max(float v, float *scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    int warps = blockDim.x >> 5;
    v = lane < warps ? scratch[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    }
    return __shfl_sync(0xffffffffu, v, 0);
}

// add_block_sum adds the block's sum of v, times scale, to out[0]: one
// atomic per block.
__device__ void add_block_sum(float v, float scale, float *out, float *scratch) {
    v = block_sum(v, scratch);
    if (threadIdx.x == 0) {
        atomicAdd(out, v * scale);
    }
}

// ---- elementwise ----

extern "C" __global__ void scale(float *x, float alpha, long long n) {
    GRID_STRIDE(i, n) { x[i] *= alpha; }
}

extern "C" __global__ void axpy(float alpha, const float *x, float *y, long long n) {
    GRID_STRIDE(i, n) { y[i] += alpha * x[i]; }
}

extern "C" __global__ void add(const float *a, const float *b, float *c, long long n) {
    GRID_STRIDE(i, n) { c[i] = a[i] + b[i]; }
}

extern "C" __global__ void mul(const float *a, const float *b, float *c, long long n) {
    GRID_STRIDE(i, n) { c[i] = a[i] * b[i]; }
}

// bias_activate: z[i,j] += bias[j], then y = f(z). With ACT_IDENTITY and
// y == z it is AddBias. The column j of element i is carried along the
// grid-stride loop (one division per thread, not one per element).
extern "C" __global__ void bias_activate(int act, float slope, float *z, const float *bias, float *y, long long rows,
                                         long long cols) {
    long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    long long j = first % cols, step = stride % cols;
    GRID_STRIDE(i, rows * cols) {
        float v = z[i] + bias[j];
        z[i] = v;
        y[i] = act_forward(act, slope, v);
        j += step;
        if (j >= cols) {
            j -= cols;
        }
    }
}

extern "C" __global__ void activate(int act, float slope, const float *x, float *y, long long n) {
    GRID_STRIDE(i, n) { y[i] = act_forward(act, slope, x[i]); }
}

extern "C" __global__ void activate_backward(int act, float slope, const float *x, const float *y, const float *dy,
                                             float *dx, long long n) {
    GRID_STRIDE(i, n) { dx[i] = dy[i] * act_derivative(act, slope, x[i], y[i]); }
}

// dropout_mask draws element i with the SplitMix64 finaliser of
// seed + (i+1)*golden (backend.DropoutUniform) and keeps it, scaled by keep =
// float32(1/(1-p)), unless the draw is below p.
extern "C" __global__ void dropout_mask(float *mask, long long n, float p, unsigned long long seed, float keep) {
    GRID_STRIDE(i, n) {
        unsigned long long z = seed + ((unsigned long long)i + 1ull) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * 0x1p-24f;
        mask[i] = u < p ? 0.f : keep;
    }
}

extern "C" __global__ void sgd_step(float *param, const float *grad, float *vel, long long n, float lr, float momentum,
                                    float wd, int nesterov) {
    GRID_STRIDE(i, n) {
        float g = grad[i] + wd * param[i];
        if (momentum != 0.f) {
            float v = momentum * vel[i] + g;
            vel[i] = v;
            g = nesterov ? g + momentum * v : v;
        }
        param[i] -= lr * g;
    }
}

// adam_step: decay is 1 - lr*wd for AdamW and 1 for Adam; coupled is wd for
// Adam (added to the gradient) and 0 for AdamW; stepSize = lr/(1-beta1^t) and
// invSqrtBC2 = 1/sqrt(1-beta2^t) are computed on the host in float64.
extern "C" __global__ void adam_step(float *param, const float *grad, float *m, float *v, long long n, float beta1,
                                     float oneMinusBeta1, float beta2, float oneMinusBeta2, float stepSize,
                                     float invSqrtBC2, float eps, float decay, float coupled) {
    GRID_STRIDE(i, n) {
        float p = param[i] * decay;
        float g = grad[i] + coupled * p;
        float mi = beta1 * m[i] + oneMinusBeta1 * g;
        float vi = beta2 * v[i] + oneMinusBeta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - stepSize * mi / (sqrtf(vi) * invSqrtBC2 + eps);
    }
}

// ---- rows: one block per row ----

extern "C" __global__ void softmax(const float *x, float *y, int rows, int cols) {
    __shared__ float scratch[32];
    const float *xr = x + (long long)blockIdx.x * cols;
    float *yr = y + (long long)blockIdx.x * cols;
    float m = -INFINITY;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        m = fmaxf(m, xr[j]);
    }
    m = block_max(m, scratch);
    float s = 0.f;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        s += expf(xr[j] - m);
    }
    float inv = 1.f / block_sum(s, scratch);
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        yr[j] = expf(xr[j] - m) * inv;
    }
}

extern "C" __global__ void softmax_backward(const float *y, const float *dy, float *dx, int rows, int cols) {
    __shared__ float scratch[32];
    long long off = (long long)blockIdx.x * cols;
    float dot = 0.f;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        dot += y[off + j] * dy[off + j];
    }
    dot = block_sum(dot, scratch);
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        dx[off + j] = y[off + j] * (dy[off + j] - dot);
    }
}

// softmax_xent: grad = (softmax(z) - onehot(label)) / rows, and the row's
// loss logsumexp(z) - z[label] is added to lossSum[0]. A label that is not a
// class index makes the row's loss and gradient NaN, which the training
// loop's non-finite guard reports (a kernel cannot panic).
extern "C" __global__ void softmax_xent(const float *logits, const float *labels, float *grad, float *lossSum, int rows,
                                        int cols) {
    __shared__ float scratch[32];
    long long off = (long long)blockIdx.x * cols;
    const float *z = logits + off;
    float *g = grad + off;
    float lf = labels[blockIdx.x];
    int label = (int)lf;
    bool valid = lf >= 0.f && lf < (float)cols && (float)label == lf;
    float m = -INFINITY;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        m = fmaxf(m, z[j]);
    }
    m = block_max(m, scratch);
    float s = 0.f;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        s += expf(z[j] - m);
    }
    s = block_sum(s, scratch);
    float inv = 1.f / s, scaleRow = 1.f / (float)rows;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        float p = expf(z[j] - m) * inv;
        if (j == label) {
            p -= 1.f;
        }
        g[j] = valid ? p * scaleRow : NAN;
    }
    if (threadIdx.x == 0) {
        atomicAdd(lossSum, valid ? m + logf(s) - z[label] : NAN);
    }
}

// ---- columns: tiles of columns by chunks of rows (see the top) ----

// column_tile finds this thread's column j and its block's rows [i0, i1);
// it returns false for a thread past the last column.
__device__ __forceinline__ bool column_tile(int rows, int cols, int rowsPerChunk, int colBlocks, int *j, int *chunk,
                                            int *i0, int *i1) {
    int tile = blockIdx.x % colBlocks;
    *chunk = blockIdx.x / colBlocks;
    *j = tile * blockDim.x + threadIdx.x;
    *i0 = *chunk * rowsPerChunk;
    long long end = (long long)*i0 + rowsPerChunk;
    *i1 = end < rows ? (int)end : rows;
    return *j < cols;
}

// column_total adds column j's partial sums over the chunks, in order.
__device__ __forceinline__ double column_total(const double *part, int chunks, int cols, int j) {
    double s = 0;
    for (int c = 0; c < chunks; c++) {
        s += part[(long long)c * cols + j];
    }
    return s;
}

// col_sums: part[chunk, j] = the sum of x[i, j] over the chunk's rows.
extern "C" __global__ void col_sums(const float *x, double *part, int rows, int cols, int rowsPerChunk,
                                    int colBlocks) {
    int j, chunk, i0, i1;
    if (!column_tile(rows, cols, rowsPerChunk, colBlocks, &j, &chunk, &i0, &i1)) {
        return;
    }
    double s = 0;
    for (int i = i0; i < i1; i++) {
        s += x[(long long)i * cols + j];
    }
    part[(long long)chunk * cols + j] = s;
}

// sum_rows finishes col_sums: out[j] = beta*out[j] + sum_i x[i,j]; with
// beta == 0 out is not read. One thread per column.
extern "C" __global__ void sum_rows(const double *part, float *out, int chunks, int cols, float beta) {
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < cols; j += (long long)gridDim.x * blockDim.x) {
        float s = (float)column_total(part, chunks, cols, j);
        out[j] = beta == 0.f ? s : beta * out[j] + s;
    }
}

// col_sq_devs: sq[chunk, j] = the sum of (x[i, j] - mean_j)^2 over the
// chunk's rows, with mean_j from col_sums' partials (BatchNorm's variance,
// in two passes as the CPU backend computes it).
extern "C" __global__ void col_sq_devs(const float *x, const double *sum, double *sq, int rows, int cols,
                                       int rowsPerChunk, int colBlocks) {
    int j, chunk, i0, i1;
    if (!column_tile(rows, cols, rowsPerChunk, colBlocks, &j, &chunk, &i0, &i1)) {
        return;
    }
    int chunks = gridDim.x / colBlocks;
    double mu = column_total(sum, chunks, cols, j) / rows, s = 0;
    for (int i = i0; i < i1; i++) {
        double d = x[(long long)i * cols + j] - mu;
        s += d * d;
    }
    sq[(long long)chunk * cols + j] = s;
}

// batchnorm_forward: y from the batch statistics (training: the partials
// of col_sums and col_sq_devs) or the running ones. Every block computes
// its columns' statistics alike; the blocks of chunk 0 store them (mean,
// invStd and, training, the running averages). Statistics are in double,
// as the CPU backend's.
extern "C" __global__ void batchnorm_forward(const float *x, float *y, const float *gamma, const float *beta,
                                             float *mean, float *invStd, float *runMean, float *runVar,
                                             const double *sum, const double *sq, int rows, int cols,
                                             int rowsPerChunk, int colBlocks, float momentum, float eps,
                                             int training) {
    int j, chunk, i0, i1;
    if (!column_tile(rows, cols, rowsPerChunk, colBlocks, &j, &chunk, &i0, &i1)) {
        return;
    }
    double mu, s;
    if (training) {
        int chunks = gridDim.x / colBlocks;
        mu = column_total(sum, chunks, cols, j) / rows;
        double var = column_total(sq, chunks, cols, j) / rows, mom = momentum;
        s = 1.0 / sqrt(var + (double)eps);
        if (chunk == 0) {
            runMean[j] = (float)((1 - mom) * runMean[j] + mom * mu);
            runVar[j] = (float)((1 - mom) * runVar[j] + mom * var * rows / (rows - 1));
            mean[j] = (float)mu;
            invStd[j] = (float)s;
        }
    } else {
        mu = runMean[j];
        s = 1.0 / sqrt((double)runVar[j] + (double)eps);
        // Chunk 0 writes mean while every block reads runMean: the host
        // never passes one buffer as both.
        if (chunk == 0) {
            mean[j] = runMean[j];
            invStd[j] = (float)s;
        }
    }
    double sc = gamma[j] * s, b = beta[j];
    for (int i = i0; i < i1; i++) {
        long long k = (long long)i * cols + j;
        y[k] = (float)((x[k] - mu) * sc + b);
    }
}

// batchnorm_backward_sums: the chunk's partial sums of dy and of dy*xhat.
extern "C" __global__ void batchnorm_backward_sums(const float *x, const float *dy, const float *mean,
                                                   const float *invStd, double *sumDy, double *sumDyXhat, int rows,
                                                   int cols, int rowsPerChunk, int colBlocks) {
    int j, chunk, i0, i1;
    if (!column_tile(rows, cols, rowsPerChunk, colBlocks, &j, &chunk, &i0, &i1)) {
        return;
    }
    double mu = mean[j], s = invStd[j], a = 0, b = 0;
    for (int i = i0; i < i1; i++) {
        long long k = (long long)i * cols + j;
        double d = dy[k];
        a += d;
        b += d * (x[k] - mu) * s;
    }
    sumDy[(long long)chunk * cols + j] = a;
    sumDyXhat[(long long)chunk * cols + j] = b;
}

// batchnorm_backward: dx from the totals of batchnorm_backward_sums; the
// blocks of chunk 0 add them to dBeta and dGamma.
extern "C" __global__ void batchnorm_backward(const float *x, const float *dy, float *dx, const float *gamma,
                                              const float *mean, const float *invStd, float *dGamma, float *dBeta,
                                              const double *partDy, const double *partDyXhat, int rows, int cols,
                                              int rowsPerChunk, int colBlocks) {
    int j, chunk, i0, i1;
    if (!column_tile(rows, cols, rowsPerChunk, colBlocks, &j, &chunk, &i0, &i1)) {
        return;
    }
    int chunks = gridDim.x / colBlocks;
    double sumDy = column_total(partDy, chunks, cols, j), sumDyXhat = column_total(partDyXhat, chunks, cols, j);
    if (chunk == 0) {
        dBeta[j] = (float)(dBeta[j] + sumDy);
        dGamma[j] = (float)(dGamma[j] + sumDyXhat);
    }
    double mu = mean[j], s = invStd[j], n = rows, c = gamma[j] * s / n;
    for (int i = i0; i < i1; i++) {
        long long k = (long long)i * cols + j;
        double xhat = (x[k] - mu) * s;
        dx[k] = (float)(c * (n * dy[k] - sumDy - xhat * sumDyXhat));
    }
}

// ---- reductions into out[0] ----

extern "C" __global__ void sum_squares(const float *x, long long n, float *out) {
    __shared__ float scratch[32];
    float s = 0.f;
    GRID_STRIDE(i, n) { s += x[i] * x[i]; }
    add_block_sum(s, 1.f, out, scratch);
}

// argmax_rows: one thread per row; ties go to the lowest index.
extern "C" __global__ void argmax_rows(const float *x, float *out, int rows, int cols) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < rows; i += (long long)gridDim.x * blockDim.x) {
        const float *r = x + (long long)i * cols;
        int best = 0;
        for (int j = 1; j < cols; j++) {
            if (r[j] > r[best]) {
                best = j;
            }
        }
        out[i] = (float)best;
    }
}

// count_correct: with cols > 1 the prediction is the row's argmax, with
// cols == 1 it is x > 0; the number of matches is added to out[0].
extern "C" __global__ void count_correct(const float *x, const float *labels, float *out, int rows, int cols) {
    __shared__ float scratch[32];
    float hits = 0.f;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < rows; i += (long long)gridDim.x * blockDim.x) {
        const float *r = x + (long long)i * cols;
        float pred;
        if (cols == 1) {
            pred = r[0] > 0.f ? 1.f : 0.f;
        } else {
            int best = 0;
            for (int j = 1; j < cols; j++) {
                if (r[j] > r[best]) {
                    best = j;
                }
            }
            pred = (float)best;
        }
        hits += pred == labels[i] ? 1.f : 0.f;
    }
    add_block_sum(hits, 1.f, out, scratch);
}

// pointwise_loss computes one of the losses that are a mean over every
// element (codes as the host's lossBCEWithLogits, lossMSE, lossMAE): grad =
// d(mean over all n)/d(input), and sum(loss)/cols is added to lossSum[0]
// (the sum over rows of each row's mean).
enum { LOSS_BCE_LOGITS = 0, LOSS_MSE, LOSS_MAE };

extern "C" __global__ void pointwise_loss(int loss, const float *x, const float *t, float *grad, float *lossSum,
                                          long long n, int cols) {
    __shared__ float scratch[32];
    float s = 0.f, inv = 1.f / (float)n;
    GRID_STRIDE(i, n) {
        float z = x[i], y = t[i], d = z - y;
        switch (loss) {
        case LOSS_BCE_LOGITS:
            // max(z,0) - z*y + log(1 + exp(-|z|)) is log(1+exp(z)) - z*y without overflow.
            s += fmaxf(z, 0.f) - z * y + log1pf(expf(-fabsf(z)));
            grad[i] = (sigmoidf_stable(z) - y) * inv;
            break;
        case LOSS_MSE:
            s += d * d;
            grad[i] = 2.f * d * inv;
            break;
        default: // LOSS_MAE; its gradient at d == 0 is 0
            s += fabsf(d);
            grad[i] = d > 0.f ? inv : (d < 0.f ? -inv : 0.f);
        }
    }
    add_block_sum(s, 1.f / (float)cols, lossSum, scratch);
}

// ---- images: convolution and pooling (backend.Convolver) ----
//
// Tensors are NCHW: pixel (n, c, h, w) of an N x C x H x W batch is at
// ((n*C + c)*H + h)*W + w. A convolution is im2col + GEMM: im2col unrolls
// the patches into an (N*OH*OW) x (C*KH*KW) matrix (row (n*OH + i)*OW + j
// holds, in (c, p, q) order, what output pixel (i, j) of image n sees,
// with 0 for padding), cuBLAS multiplies it by the weight, and
// transpose_batch turns the product's pixel rows (NHWC) into NCHW, adding
// the bias on the way. The backward passes that scatter (col2im, the
// pooling gradients) are written as gathers instead: one thread per input
// pixel adds up, in window order, what each window that covers it
// contributes. No atomics, so a run repeats bit for bit, and the sums are
// added in the CPU backend's order.
//
// Every kernel here is elementwise (a grid-stride loop over its outputs)
// and takes the geometry as GEOM_PARAMS: batch N, channels C, input H x W,
// window KH x KW, strides SH, SW, padding PH, PW, output OH x OW. For
// pooling C is the channel count of input and output alike. The host keeps
// every extent, the padded input and every element count (of x, y, the
// weight and the patch matrix) below 2^31, so each kernel takes its element
// index into an int and computes coordinates and offsets in 32 bits:
// 64-bit division is several times slower on the GPU.

#define GEOM_PARAMS int N, int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW

// covering sets [*lo, *hi) to the outputs along one axis whose window (k
// taps, stride s, padding pad; out outputs) covers input position x: those
// o with o*s <= x + pad < o*s + k.
__device__ __forceinline__ void covering(int x, int k, int s, int pad, int out, int *lo, int *hi) {
    int xp = x + pad; // the position in the padded input
    *lo = xp < k ? 0 : (xp - k) / s + 1;
    int h = xp / s + 1;
    *hi = h < out ? h : out;
}

// im2col: col[r, (c*KH + p)*KW + q] = x[n, c, i*SH - PH + p, j*SW - PW + q]
// for row r = (n*OH + i)*OW + j, or 0 in the padding. One thread per entry
// of col, so that writes are coalesced.
extern "C" __global__ void im2col(const float *x, float *col, GEOM_PARAMS) {
    int taps = KH * KW, ckk = C * taps;
    GRID_STRIDE(e, (long long)N * OH * OW * ckk) {
        int k = (int)e, r = k / ckk, t = k - r * ckk;
        int c = t / taps, pq = t - c * taps, p = pq / KW, q = pq - p * KW;
        int j = r % OW, i = r / OW % OH, n = r / OW / OH;
        int h = i * SH - PH + p, w = j * SW - PW + q;
        col[k] = h >= 0 && h < H && w >= 0 && w < W ? x[((n * C + c) * H + h) * W + w] : 0.f;
    }
}

// col2im is im2col's adjoint as a gather: dx[n, c, h, w] = the sum of the
// entries of col that im2col copied from that pixel, window by window in
// row order.
extern "C" __global__ void col2im(const float *col, float *dx, GEOM_PARAMS) {
    int ckk = C * KH * KW;
    GRID_STRIDE(e, (long long)N * C * H * W) {
        int k = (int)e, w = k % W, h = k / W % H, c = k / W / H % C, n = k / W / H / C;
        int i0, i1, j0, j1;
        covering(h, KH, SH, PH, OH, &i0, &i1);
        covering(w, KW, SW, PW, OW, &j0, &j1);
        float s = 0.f;
        for (int i = i0; i < i1; i++) {
            int p = h + PH - i * SH;
            for (int j = j0; j < j1; j++) {
                int q = w + PW - j * SW;
                s += col[((n * OH + i) * OW + j) * ckk + (c * KH + p) * KW + q];
            }
        }
        dx[k] = s;
    }
}

// transpose_batch: y[b, j, i] = x[b, i, j] for batch rows x cols matrices,
// plus bias[j] when bias is not null (the convolution's NHWC -> NCHW with
// its bias). One thread per element of y: writes are coalesced, reads are
// strided by cols.
extern "C" __global__ void transpose_batch(const float *x, float *y, const float *bias, int batch, int rows, int cols) {
    int mat = rows * cols;
    GRID_STRIDE(e, (long long)batch * mat) {
        int k = (int)e, b = k / mat, t = k - b * mat, j = t / rows, i = t - j * rows;
        float v = x[b * mat + i * cols + j];
        if (bias) {
            v += bias[j];
        }
        y[k] = v;
    }
}

// pool_argmax is the index, within its H x W plane, of the maximum of
// output (i, j)'s window, found as PyTorch finds it (see
// backend.Convolver.MaxPool2dBackward): the window's pixels inside the input
// are scanned row by row from -inf, moving on to a larger value or a NaN;
// a window of -infs gives its first pixel.
__device__ __forceinline__ int pool_argmax(const float *plane, int H, int W, int KH, int KW, int SH, int SW, int PH,
                                           int PW, int i, int j) {
    int h0 = i * SH - PH, w0 = j * SW - PW;
    int h1 = h0 + KH < H ? h0 + KH : H, w1 = w0 + KW < W ? w0 + KW : W;
    h0 = h0 > 0 ? h0 : 0;
    w0 = w0 > 0 ? w0 : 0;
    float best = -INFINITY;
    int at = h0 * W + w0;
    for (int h = h0; h < h1; h++) {
        for (int w = w0; w < w1; w++) {
            float v = plane[h * W + w];
            if (v > best || v != v) {
                best = v;
                at = h * W + w;
            }
        }
    }
    return at;
}

extern "C" __global__ void max_pool(const float *x, float *y, GEOM_PARAMS) {
    GRID_STRIDE(e, (long long)N * C * OH * OW) {
        int k = (int)e, j = k % OW, i = k / OW % OH;
        const float *plane = x + k / OW / OH * H * W;
        y[k] = plane[pool_argmax(plane, H, W, KH, KW, SH, SW, PH, PW, i, j)];
    }
}

// max_pool_backward: dx[pixel] = the sum of dy over the windows whose
// argmax (pool_argmax, recomputed) is that pixel, in window order.
extern "C" __global__ void max_pool_backward(const float *x, const float *dy, float *dx, GEOM_PARAMS) {
    GRID_STRIDE(e, (long long)N * C * H * W) {
        int k = (int)e, w = k % W, h = k / W % H, plane = k / W / H;
        const float *xp = x + plane * H * W, *g = dy + plane * OH * OW;
        int i0, i1, j0, j1;
        covering(h, KH, SH, PH, OH, &i0, &i1);
        covering(w, KW, SW, PW, OW, &j0, &j1);
        int self = h * W + w;
        float s = 0.f;
        for (int i = i0; i < i1; i++) {
            for (int j = j0; j < j1; j++) {
                if (pool_argmax(xp, H, W, KH, KW, SH, SW, PH, PW, i, j) == self) {
                    s += g[i * OW + j];
                }
            }
        }
        dx[k] = s;
    }
}

// avg_pool: the sum of the window's pixels inside the input, row by row,
// over KH*KW (the padding counts as zeros).
extern "C" __global__ void avg_pool(const float *x, float *y, GEOM_PARAMS) {
    float div = (float)(KH * KW);
    GRID_STRIDE(e, (long long)N * C * OH * OW) {
        int k = (int)e, j = k % OW, i = k / OW % OH;
        const float *plane = x + k / OW / OH * H * W;
        int h0 = i * SH - PH, w0 = j * SW - PW;
        int h1 = h0 + KH < H ? h0 + KH : H, w1 = w0 + KW < W ? w0 + KW : W;
        h0 = h0 > 0 ? h0 : 0;
        w0 = w0 > 0 ? w0 : 0;
        float s = 0.f;
        for (int h = h0; h < h1; h++) {
            for (int w = w0; w < w1; w++) {
                s += plane[h * W + w];
            }
        }
        y[k] = s / div;
    }
}

// avg_pool_backward: dx[pixel] = the sum of dy/(KH*KW) over the windows
// that cover the pixel, in window order.
extern "C" __global__ void avg_pool_backward(const float *dy, float *dx, GEOM_PARAMS) {
    float div = (float)(KH * KW);
    GRID_STRIDE(e, (long long)N * C * H * W) {
        int k = (int)e, w = k % W, h = k / W % H;
        const float *g = dy + k / W / H * OH * OW;
        int i0, i1, j0, j1;
        covering(h, KH, SH, PH, OH, &i0, &i1);
        covering(w, KW, SW, PW, OW, &j0, &j1);
        float s = 0.f;
        for (int i = i0; i < i1; i++) {
            for (int j = j0; j < j1; j++) {
                s += g[i * OW + j] / div;
            }
        }
        dx[k] = s;
    }
}
