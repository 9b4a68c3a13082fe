// Package cpu is the CPU backend: every operation of backend.Backend on the
// host, in float32, with the kernels of one SIMD level and a fixed pool of
// worker goroutines. It registers itself as "cpu".
//
// # Levels
//
// A Level is an instruction set with its own table of kernels (kernels.go):
// generic (plain Go, any architecture), avx2 (AVX2 + FMA3), avx512 (AVX-512
// F, BW, DQ, VL) and neon (arm64 Advanced SIMD). New picks the best level
// that the CPU supports (cpuid) and this build contains; Options.Level or
// FASTNN_CPU_LEVEL forces a lower one. Every level fills every entry of
// the table; where a level has no faster form of a routine it keeps the
// generic one (avx512 keeps avx2's where it has none of its own).
//
// What each level has in assembly (the rest is the plain-Go code that all
// levels share):
//
//	                   generic   avx2            avx512          neon
//	GEMM micro-kernel  Go 4x4    6x16            12x32           8x12
//	  ... A in place   -         6x16 (strided)  12x32 (strided) -
//	GEMM packing       Go        asm + Go        asm + Go        Go
//	bias add, ReLU     Go        asm             asm             asm
//	  and its backward
//	column sums        Go        asm             asm             asm
//	softmax exp        Go        asm             asm (avx2's)    asm
//	  rows <= 16 cols, -         -               asm             -
//	  16 at a time
//	cross-entropy's    Go        Go              asm             Go
//	  label check
//	sigmoid, tanh,     Go        asm             asm             asm
//	  GELU, GELU'
//	SGD, Adam          Go        asm             asm             asm
//
// Most avx2 and neon kernels run on whole groups of 8 (avx2) or 4 (neon)
// elements and leave the rest to the generic loop (avx2's softmax exp takes
// its last partial group under a mask); the avx512 kernels take the last
// partial group of 16 under a mask. The generic level computes
// exp, sigmoid, tanh and GELU in float64 with package math; the SIMD levels
// use a float32 exp (and sum a softmax row in float32 lanes), so two levels
// may differ in the last bits, which the conformance suite's tolerances
// allow.
//
// Convolutions (conv.go) have no kernels of their own: each image is one
// implicit GEMM on the level's micro-kernels and packing kernels, with
// packing routines in Go that read the patches from the image (see the
// comment at the top of conv.go). Max pooling with 2 x 2 windows at
// stride 2 (the cnn preset's) has AVX2 and AVX-512 kernels, exact as the
// Go loop is (the chosen element itself); other pooling is plain Go.
// TransposeBatch moves blocks of nr rows with the level's transposing
// packing kernel.
//
// Everything else (LeakyReLU, the backward of sigmoid and tanh, Add, Mul,
// Scale, Axpy, Fill, SoftmaxBackward, Dropout, BatchNorm, the losses'
// element loops, argmax) is plain Go at every level, split across the
// workers where it is large enough to pay.
//
// The amd64 assembly (gemm_amd64.s and its stubs) is generated with avo by
// internal/asmgen (go generate; make check-generated checks that it is up
// to date); the arm64 assembly, gemm_arm64.s, is written by hand.
//
// # The noasm build tag
//
// Built with -tags noasm, or for an architecture other than amd64 and
// arm64, the package compiles no assembly: only the generic level exists
// (Built lists it alone), and asking for another is an error that names
// the levels available. make test runs the package's tests under noasm
// too.
//
// # GEMM blocking
//
// Gemm follows the GotoBLAS/BLIS structure (gemm.go): op(B) is packed in
// panels of kc x nc, cut into slivers nr wide; op(A) in blocks of mc x kc,
// cut into slivers mr tall; the mr x nr micro-kernel multiplies one A
// sliver by one B sliver, kc deep, into a tile of C held in registers.
// Transposes are absorbed by the packing, so the micro-kernel sees one
// layout. Edge tiles run the level's edge micro-kernel of their shape where
// it has one, else are computed into a full-size scratch tile whose valid
// part is merged into C. On avx2 and avx512, full slivers of A are read in
// place by the strided micro-kernel instead of being packed when C is at
// most two B slivers wide (a narrow product), and on the strips of a
// product split along N across threads when op(A) fits in about half of
// L2. A C of few columns and many rows (a classifier's output, 128 x 10)
// is computed transposed, with beta 0 only.
//
// The block sizes come from the data cache sizes cpuid reports
// (blockSizes, kernels.go), in the BLIS manner: a B sliver (kc x nr) fills
// half of L1, a packed A block (mc x kc) 9/32 of L2, a packed B panel
// (kc x nc) an eighth of L3, with defaults where cpuid reports nothing (as
// it usually does on arm64). The generic level uses fixed sizes (mc 128,
// kc 256, nc 4096). K is not cut into blocks of kc and a thin remainder:
// kcBlock cuts it into the fewest blocks of at most kc, of nearly equal
// depth (rounded up to a multiple of 8), and later blocks accumulate onto
// C.
//
// # Threads and reproducibility
//
// Results do not depend on the number of threads: for a given level and
// machine, one thread and sixty-four give the same bits. Each parallel
// operation splits its output, never a sum that one output element needs:
//
//   - Gemm cuts C into strips, along N (aligned to nr) when C is wide
//     enough, else along M (aligned to mr). Every element of C is computed
//     by one worker with the same K blocks (kcBlock depends on K and kc
//     alone) and in the same tile position, so its summation order is
//     fixed.
//   - Elementwise operations split in multiples of 16 elements, so each
//     element takes the same path (SIMD body or scalar tail) whatever the
//     split. Row-wise operations (bias add, softmax) give each row to one
//     worker.
//   - Column sums (SumRows, BatchNorm's statistics and gradients) give each
//     column to one worker, which adds its rows in order, in float64.
//   - Convolutions give each image to one worker (forward, backward data).
//     The backward filter, a sum over images, cuts the batch into groups
//     whose number depends on the shape alone; each group is summed by
//     one worker into its own slot and the slots are added in order.
//     Pooling gives each (image, channel) plane to one worker (the 2 x 2
//     kernels take a worker's planes in one call when H is even).
//   - Whole-array sums (SumSquares, the cross-entropy's loss) are taken in
//     pieces of a fixed size (reduceChunk elements; whole rows for the
//     loss), each into its own slot, and the slots are added in order by
//     the caller. The pieces depend on the sizes alone.
//
// The block sizes, kc above all, do depend on the machine's caches, so two
// machines with different L1 sizes may round a product differently.
// TestGemmThreadCountInvariant, TestLayersThreadCountInvariant,
// TestSoftmaxCrossEntropyThreadCountInvariant and
// TestConvThreadCountInvariant hold the package to this.
//
// The workers (pool.go) are started once with the backend and poll briefly
// for work before they sleep; every operation keeps its loop state in the
// Backend (jobs.go), so that once its scratch memory has grown to the
// shapes in use no operation allocates (TestOperationsAllocateNothing), and
// neither does a training step.
package cpu
