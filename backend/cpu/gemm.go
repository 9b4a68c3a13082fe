package cpu

// The GEMM follows the GotoBLAS/BLIS structure:
//
//	for jc in N by nc:            // B panel of nc columns
//	  for pc in K by kc:          // K in equal blocks of at most kc (kcBlock);
//	                              // pack B[pc:pc+kc, jc:jc+nc] into nr-wide slivers
//	    for ic in M by mc:        // pack A[ic:ic+mc, pc:pc+kc] into mr-tall slivers
//	      for jr in nc by nr:
//	        for ir in mc by mr:   // micro-kernel: an mr x nr tile of C, kc deep
//
// Transposes are absorbed by the packing routines, so the micro-kernel sees
// one layout only. Edge tiles (fewer than mr rows or nr columns) go to the
// level's edge micro-kernel of their shape where it has one, else they are
// computed into a full-size temporary tile, C's valid part copied in and
// out, so that every path rounds an element of C the same way.
//
// Threads: C is cut into one strip per worker, along N when it is wide enough
// (each strip then reuses the whole of op(A)), else along M; each worker runs
// the serial algorithm above on its strip with its own packing buffers.
// A strip along N reads all of op(A): where op(A) is small enough to stay
// in L2 (inPlaceA), a level with a strided micro-kernel then reads it in
// place instead of packing it. Packing it in every worker, or once for all
// of them, cost more on two threads than the strided reads (BenchmarkGemm;
// a training step of 784-256-10 at batch 128 ran 8-11% faster in place).
// A larger op(A) is still packed: read in place, it streams from L3 once
// per B sliver, and rows 4 KiB apart (1024 floats) fall into one set of L1
// (1024^3 on two threads, alternated: 280 GFLOP/s in place, 332 packed). The
// summation order of every element of C depends only on K and kc, never on
// the thread count, so results are bit-identical for any number of threads.

// gemmScratch is one worker's packing memory, reused across calls.
type gemmScratch struct {
	packA, packB []float32
	tile         []float32
	acc          []float64 // SumRows's column sums
	trans        []float32 // TransposeBatch's blocks of nr rows
}

type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
}

func (be *Backend) gemm(g gemmArgs) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		scaleMatrix(g.c[:g.m*g.n], g.beta)
		return
	}
	be.opMu.Lock()
	defer be.opMu.Unlock()
	if be.narrowN(g) {
		// C^T = op(B)^T op(A)^T into scratch, then transposed into C.
		t := gemmArgs{transA: !g.transB, transB: !g.transA, m: g.n, n: g.m, k: g.k,
			alpha: g.alpha, a: g.b, b: g.a, c: be.growTransC(g.m * g.n)}
		be.gemmSplit(t)
		transposePacked(be.kern, &be.scratch[0].trans, g.c[:g.m*g.n], t.c, g.n, g.m)
		return
	}
	be.gemmSplit(g)
}

// narrowN reports whether C = op(A) op(B) is better computed transposed:
// a C of few columns (a classifier's 10 outputs) fills a small part of the
// nr-wide tiles, while its transpose fills most of the mr-tall ones
// (10 of 12 rows, against 10 of 32 columns). Only with beta == 0, so that
// the transposed product is C's value as it stands, rounded the same way
// (each element is the same sum of the same products in the same order).
// The choice depends on the shape alone, so results do not depend on the
// thread count.
func (be *Backend) narrowN(g gemmArgs) bool {
	kt := be.kern
	if g.beta != 0 || g.n >= kt.nr || g.m < 2*kt.nr || g.m*g.n > maxTransC {
		return false
	}
	fill := func(x, w int) float64 { return float64(x) / float64((x+w-1)/w*w) }
	return fill(g.n, kt.mr) > 2*fill(g.n, kt.nr)
}

// maxTransC is the largest C, in floats, that narrowN computes transposed
// into scratch (16 MiB).
const maxTransC = 1 << 22

// growTransC returns the scratch of n floats that narrowN's transposed
// products are computed into.
func (be *Backend) growTransC(n int) []float32 {
	if len(be.transC) < n {
		be.transC = make([]float32, n)
	}
	return be.transC[:n]
}

// gemmSplit runs the product on the workers, with opMu held.
func (be *Backend) gemmSplit(g gemmArgs) {
	kt := be.kern
	flops := 2 * g.m * g.n * g.k
	j := &be.jobs.gemm
	*j = gemmJob{be: be, g: g}
	switch {
	case flops < 1<<16 || be.threads == 1:
		be.gemmStrip(0, g, 0, g.m, 0, g.n, false)
	case g.n >= be.threads*4*kt.nr:
		j.splitN = true
		j.inPlaceA = g.m*g.k <= 2*kt.mc*kt.kc // about half of L2
		be.pool.parallelFor(g.n, 4*kt.nr, kt.nr, j)
	default:
		be.pool.parallelFor(g.m, kt.mr, kt.mr, j)
	}
	*j = gemmJob{} // drop the references to the caller's buffers
}

// gemmStrip computes rows [m0, m1) and columns [n0, n1) of C. With
// inPlaceA, a level with a strided micro-kernel reads op(A) where it lies
// whatever the strip's width (see the top of this file).
func (be *Backend) gemmStrip(worker int, g gemmArgs, m0, m1, n0, n1 int, inPlaceA bool) {
	kt := be.kern
	mr, nr := kt.mr, kt.nr
	s := &be.scratch[worker]
	if s.packA == nil {
		s.packA = make([]float32, (kt.mc+mr)*kt.kc)
		s.packB = make([]float32, kt.kc*(kt.nc+nr))
		s.tile = make([]float32, mr*nr)
	}
	// A packed A block is reused by every sliver of the B panel. For a
	// panel of one or two slivers the packing costs about as much as it
	// saves, and a level with a strided micro-kernel reads A where it lies
	// instead (row-major A by rows, transposed A by its contiguous
	// columns): only an edge sliver of fewer than mr rows is packed.
	direct := kt.gemmMicroStrided != nil && (n1-n0 <= 2*nr || inPlaceA)
	rsA, csA := g.k, 1
	if g.transA {
		rsA, csA = 1, g.m
	}
	kcb := kcBlock(g.k, kt.kc)
	for jc := n0; jc < n1; jc += kt.nc {
		nc := min(kt.nc, n1-jc)
		for pc := 0; pc < g.k; pc += kcb {
			kc := min(kcb, g.k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1 // later K blocks accumulate onto the first
			}
			packB(kt, s.packB, g, pc, kc, jc, nc)
			for ic := m0; ic < m1; ic += kt.mc {
				mc := min(kt.mc, m1-ic)
				full := mc / mr * mr // rows in full slivers
				if !direct {
					packA(kt, s.packA, g, ic, mc, pc, kc)
				} else if full < mc {
					packA(kt, s.packA[full*kc:], g, ic+full, mc-full, pc, kc)
				}
				if !direct {
					microTiles(kt, kc, mc, nc, s.packA, s.packB, g.c[ic*g.n+jc:], g.n, g.alpha, beta, s.tile)
					continue
				}
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					pb := s.packB[jr*kc : (jr+nr)*kc]
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						ci := (ic+ir)*g.n + jc + jr
						if mrr < mr { // the packed edge sliver
							microTile(kt, kc, mrr, nrr, s.packA[ir*kc:(ir+mr)*kc], pb, g.c[ci:], g.n, g.alpha, beta, s.tile)
							continue
						}
						off := (ic+ir)*rsA + pc*csA
						switch {
						case nrr == nr:
							kt.gemmMicroStrided(kc, g.a[off:], rsA, csA, pb, g.c[ci:], g.n, g.alpha, beta)
						case kt.gemmMicroStridedEdge != nil && kt.gemmMicroStridedEdge(nrr, kc, g.a[off:], rsA, csA, pb, g.c[ci:], g.n, g.alpha, beta):
						default:
							tileIn(s.tile, nr, g.c[ci:], g.n, mrr, nrr, beta)
							kt.gemmMicroStrided(kc, g.a[off:], rsA, csA, pb, s.tile, nr, g.alpha, beta)
							tileOut(g.c[ci:], g.n, s.tile, nr, mrr, nrr)
						}
					}
				}
			}
		}
	}
}

// microTiles computes C = alpha*A*B + beta*C for the m x n matrix C (row
// stride ldc) from packed operands kc deep: pa holds the mr-tall slivers of
// A (m rows, the last sliver zero-padded), pb the nr-wide slivers of B. The
// loop runs over B slivers outside, so that one stays in L1 while the A
// slivers stream past it.
func microTiles(kt *kernels, kc, m, n int, pa, pb, c []float32, ldc int, alpha, beta float32, tile []float32) {
	mr, nr := kt.mr, kt.nr
	for jr := 0; jr < n; jr += nr {
		pbs := pb[jr*kc : (jr+nr)*kc]
		for ir := 0; ir < m; ir += mr {
			microTile(kt, kc, min(mr, m-ir), min(nr, n-jr), pa[ir*kc:(ir+mr)*kc], pbs, c[ir*ldc+jr:], ldc, alpha, beta, tile)
		}
	}
}

// microTile computes one rows x cols tile of C from an A and a B sliver:
// with the full micro-kernel, else the level's edge kernel of that shape,
// else a full tile in tile (tileIn, tileOut).
func microTile(kt *kernels, kc, rows, cols int, pa, pb, c []float32, ldc int, alpha, beta float32, tile []float32) {
	if rows == kt.mr && cols == kt.nr {
		kt.gemmMicro(kc, pa, pb, c, ldc, alpha, beta)
		return
	}
	if kt.gemmMicroEdge != nil && kt.gemmMicroEdge(rows, cols, kc, pa, pb, c, ldc, alpha, beta) {
		return
	}
	tileIn(tile, kt.nr, c, ldc, rows, cols, beta)
	kt.gemmMicro(kc, pa, pb, tile, kt.nr, alpha, beta)
	tileOut(c, ldc, tile, kt.nr, rows, cols)
}

// kcBlock is the depth of the K blocks: K cut into the fewest blocks of at
// most kc, of equal depth rounded up to a multiple of 8 (the packing
// kernels' step), so that no block is a thin remainder that reads and
// writes all of C for a few steps of k. It depends on K alone, so the
// summation order does not depend on the thread count.
func kcBlock(k, kc int) int {
	blocks := (k + kc - 1) / kc
	d := (k + blocks - 1) / blocks
	return min((d+7)&^7, kc)
}

// packA copies op(A)[ic:ic+mc, pc:pc+kc] into slivers of mr rows: sliver s
// holds rows ic+s*mr .. +mr, column-major within the sliver (p*mr + r), and
// rows past mc are zero.
func packA(kt *kernels, dst []float32, g gemmArgs, ic, mc, pc, kc int) {
	if g.transA { // A is k x m: op(A)[i][p] = a[p*m + i]
		packPanel(kt, dst, g.a, ic, mc, pc, kc, 1, g.m, kt.mr)
	} else {
		packPanel(kt, dst, g.a, ic, mc, pc, kc, g.k, 1, kt.mr)
	}
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into slivers of nr columns: sliver s
// holds columns jc+s*nr .. +nr, row-major within the sliver (p*nr + c), and
// columns past nc are zero.
func packB(kt *kernels, dst []float32, g gemmArgs, pc, kc, jc, nc int) {
	if g.transB { // B is n x k: op(B)[p][j] = b[j*k + p]
		packPanel(kt, dst, g.b, jc, nc, pc, kc, g.k, 1, kt.nr)
	} else {
		packPanel(kt, dst, g.b, jc, nc, pc, kc, 1, g.n, kt.nr)
	}
}

// packPanel packs the elements i0 .. i0+n of an operand's m or n dimension
// and p0 .. p0+kc of its k, element (i, p) at x[i*is + p*ps], into slivers
// w wide: full slivers with the level's kernel, the last, narrower one with
// the level's edge packing where it has one for that width, else the generic
// loop; both zero-pad it.
func packPanel(kt *kernels, dst, x []float32, i0, n, p0, kc, is, ps, w int) {
	alongK, ld := ps == 1, ps // with is == ps == 1 both readings agree
	if alongK {
		ld = is
	}
	for s := 0; s < n; s += w {
		sl := dst[s*kc : (s+w)*kc]
		src := x[(i0+s)*is+p0*ps:]
		switch {
		case n-s >= w:
			kt.pack(sl, src, ld, kc, w, alongK)
		case kt.packEdge != nil && kt.packEdge(sl, src, ld, kc, w, n-s, alongK):
		default:
			packSliverGeneric(sl, src, ld, kc, w, n-s, alongK)
		}
	}
}

// packSliverGeneric packs one sliver w wide and kc deep: dst[p*w+i] =
// X(i, p) for i < n and 0 for n <= i < w, where X(i, p) is src[i*ld+p] when
// alongK (the source runs along k: row-major A, transposed B), else
// src[p*ld+i] (transposed A, row-major B).
func packSliverGeneric(dst, src []float32, ld, kc, w, n int, alongK bool) {
	dst = dst[:kc*w]
	if !alongK {
		for p := 0; p < kc; p++ {
			out := dst[p*w : p*w+w]
			copy(out[:n], src[p*ld:p*ld+n])
			clear(out[n:])
		}
		return
	}
	for i := 0; i < w; i++ {
		if i >= n {
			for p := 0; p < kc; p++ {
				dst[p*w+i] = 0
			}
			continue
		}
		for p, v := range src[i*ld : i*ld+kc] {
			dst[p*w+i] = v
		}
	}
}

// tileIn copies the valid rows x cols part of C into the full-size tile
// (row stride ldt) that an edge tile is computed in, when beta != 0: the
// micro-kernel then applies beta itself, so an edge element rounds exactly
// as it would in a full tile or an edge kernel (the kernels fuse
// beta*C + alpha*acc), whichever path the thread count sends it down. With
// beta == 0, C is not read.
func tileIn(tile []float32, ldt int, c []float32, ldc, rows, cols int, beta float32) {
	if beta == 0 {
		return
	}
	for r := 0; r < rows; r++ {
		copy(tile[r*ldt:r*ldt+cols], c[r*ldc:r*ldc+cols])
	}
}

// tileOut copies the valid rows x cols part of the tile back into C.
func tileOut(c []float32, ldc int, tile []float32, ldt, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(c[r*ldc:r*ldc+cols], tile[r*ldt:r*ldt+cols])
	}
}

// scaleMatrix sets c = beta*c; with beta == 0 it writes zeros without
// reading c, so NaNs in c do not survive (BLAS semantics).
func scaleMatrix(c []float32, beta float32) {
	switch beta {
	case 0:
		clear(c)
	case 1:
	default:
		for i := range c {
			c[i] *= beta
		}
	}
}

// gemmMicroGeneric4x4 is the plain-Go micro-kernel: 16 accumulators in
// registers, one rank-1 update of the 4x4 tile per step of k.
func gemmMicroGeneric4x4(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:4*k]
	b = b[:4*k]
	for len(a) >= 4 && len(b) >= 4 { // the length tests drop the bounds checks below
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a, b = a[4:], b[4:]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0:4], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[ldc:ldc+4], c10, c11, c12, c13, alpha, beta)
	storeRow4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	storeRow4(c[3*ldc:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func storeRow4(c []float32, v0, v1, v2, v3, alpha, beta float32) {
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}
