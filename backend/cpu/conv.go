package cpu

import (
	"github.com/fastnn/fastnn/backend"
)

// Convolutions as one small GEMM per image, computed by the packed GEMM's
// micro-kernels with packing routines that read the image itself (an
// implicit GEMM: the patch matrix is never stored whole). With W the
// K x CKK weight matrix (CKK = C*KH*KW), X_n the CKK x P patch matrix of
// image n (column = output pixel) and Y_n, dY_n its K x P output and output
// gradient (P = OH*OW pixels, NCHW as they lie):
//
//	forward:          Y_n   = W * X_n + bias       M = K,   N = P,   depth CKK
//	backward data:    dX'_n = W^T * dY_n           M = CKK, N = P,   depth K
//	                  dx_n  = col2im(dX'_n)
//	backward filter:  dW^T += X_n * dY_n^T         M = CKK, N = K,   depth P
//
// Wide rows. With stride 1, row r of X_n is the input plane c shifted by
// p rows and q columns, so that if the output pixel (i, j) is numbered
// t = i*Wp + j with the (padded) input's width Wp rather than OW, row r is
// the contiguous slice plane[p*Wp+q : p*Wp+q+T], T = (OH-1)*Wp + OW. The
// columns with j >= OW are not output pixels: the forward pass computes
// and drops them, the backward passes give dY zeros there. So the packing
// copies runs of nr floats and col2im adds whole rows, at the price of
// Wp/OW more columns (13/11 for the 13 x 13 input of a 3 x 3 kernel).
// Padding is copied into a padded image first. Other strides take the
// same steps with packing that gathers pixel by pixel (t = i*OW + j).
//
// Depth order. Row r of X is the kernel position (p, q) and the channel c
// in the order r = (p*KW + q)*C + c, channels innermost, so that the rows
// of one kernel position lie a plane apart: the packing copies C rows of
// nr floats with one call of the level's packing kernel. W's columns are
// permuted into that order once a call (be.conv.wperm).
//
// Threads. The forward and backward-data passes give each image to one
// worker. The backward-filter pass sums over images: the batch is cut into
// groups whose number depends on the shape alone (convGroups), each group
// is summed by one worker into its own slot, and the slots are added in
// order; so every result has the same bits for any thread count.
//
// Bias. The forward product has one more depth row, of ones in X and of
// the bias in W, so that the bias is added in the product. The backward
// filter sums dY's rows per group alongside the product (float64, in
// order), and the groups in order, as for dW.
//
// The garbage columns of the wide form are multiplied by dY's zeros; only
// an infinite or NaN weight (backward data) or input pixel (backward
// filter) can make them NaN, and then NaN reaches a few more outputs than
// it would in PyTorch.

// convScratch is the memory of the convolutions, grown to the largest
// shape seen, so that steps allocate nothing.
type convScratch struct {
	wperm   []float32 // W with its columns in depth order
	packW   []float32 // the packed weight operand, shared by the workers
	slots   []float32 // the backward-filter groups' partial sums
	bslots  []float64 // and those of the bias gradient
	workers []convWorker
	job     convJob
}

// convWorker is one worker's memory.
type convWorker struct {
	img  []float32 // a padded image
	wide []float32 // the forward output, dX', or X_n: rows of ld floats
	dyw  []float32 // dY_n in wide columns (K rows of ld, zeros past OW)
	pa   []float32 // packed A (backward filter)
	pb   []float32 // packed B
	tile []float32
	acc  []float64 // the bias gradient's sums
}

func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// convGeom is a convolution's shape as the kernels see it.
type convGeom struct {
	s        backend.ConvShape
	wide     bool // stride 1: wide rows
	pad      bool // wide, with padding: images are copied padded
	hp, wp   int  // the input as read: padded when wide, else H x W
	oh, ow   int
	khw, ckk int
	t        int // columns of the products: T when wide, else OH*OW
	tcol     int // column step of an output row: Wp when wide, else OW
	ld       int // row stride of the worker's matrices: t rounded up to nr
}

func newConvGeom(s backend.ConvShape, nr int) convGeom {
	g := convGeom{s: s, oh: s.OutH(), ow: s.OutW(), khw: s.KH * s.KW}
	g.ckk = s.C * g.khw
	g.wide = s.StrideH == 1 && s.StrideW == 1
	if g.wide {
		g.pad = s.PadH > 0 || s.PadW > 0
		g.hp, g.wp = s.H+2*s.PadH, s.W+2*s.PadW
		g.t, g.tcol = (g.oh-1)*g.wp+g.ow, g.wp
	} else {
		g.hp, g.wp = s.H, s.W
		g.t, g.tcol = g.oh*g.ow, g.ow
	}
	g.ld = roundUp(g.t, nr)
	return g
}

// cols is the number of columns the products compute: t rounded up to a
// multiple of nr/2, so that the last sliver takes a half-width edge kernel
// where the level has one rather than a full tile merged into place. The
// columns past t are dropped.
func (g *convGeom) cols(nr int) int { return min(roundUp(g.t, max(nr/2, 1)), g.ld) }

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// image returns image n of x as the kernels read it: x's own planes, or
// when padding is needed a padded copy in w.img.
func (g *convGeom) image(w *convWorker, x []float32, n int) []float32 {
	s := g.s
	src := x[n*s.C*s.H*s.W : (n+1)*s.C*s.H*s.W]
	if !g.pad {
		return src
	}
	img := grow(&w.img, s.C*g.hp*g.wp)
	clear(img)
	for c := 0; c < s.C; c++ {
		for h := 0; h < s.H; h++ {
			d := (c*g.hp+h+s.PadH)*g.wp + s.PadW
			copy(img[d:d+s.W], src[(c*s.H+h)*s.W:(c*s.H+h+1)*s.W])
		}
	}
	return img
}

// patch returns row r of X (wide) as a slice of img from its column 0.
func (g *convGeom) patch(img []float32, r int) []float32 {
	pq, c := r/g.s.C, r%g.s.C
	p, q := pq/g.s.KW, pq%g.s.KW
	return img[(c*g.hp+p)*g.wp+q:]
}

// pixel is element (r, t) of X in gathered (not wide) form.
func (g *convGeom) pixel(img []float32, r, t int) float32 {
	s := g.s
	pq, c := r/s.C, r%s.C
	h := t/g.ow*s.StrideH - s.PadH + pq/s.KW
	w := t%g.ow*s.StrideW - s.PadW + pq%s.KW
	if h < 0 || h >= s.H || w < 0 || w >= s.W {
		return 0
	}
	return img[(c*s.H+h)*s.W+w]
}

// packPatches packs rows r0 .. r0+kc of X (image img), columns 0 .. n, as
// the B operand: slivers of nr columns, zero past t. Row CKK is the ones
// of the bias.
func (g *convGeom) packPatches(kt *kernels, dst, img []float32, r0, kc, n int) {
	nr := kt.nr
	rows := min(kc, g.ckk-r0) // rows of X; the one after them is the ones row
	if rows < kc {
		for t0 := 0; t0 < n; t0 += nr {
			ones := dst[t0*kc+rows*nr : t0*kc+rows*nr+nr]
			for i := range ones {
				ones[i] = 1
			}
		}
	}
	if rows > 0 {
		g.packRows(kt, dst, img, r0, rows, kc, n)
	}
}

// packRows packs rows r0 .. r0+kc of X into slivers of stride rows
// (stride >= kc: a sliver holds stride rows of nr floats).
func (g *convGeom) packRows(kt *kernels, dst, img []float32, r0, kc, stride, n int) {
	nr := kt.nr
	if !g.wide {
		for rr := 0; rr < kc; rr++ {
			for t0 := 0; t0 < n; t0 += nr {
				d := dst[t0*stride+rr*nr : t0*stride+rr*nr+nr]
				for i := range d {
					if t0+i < g.t {
						d[i] = g.pixel(img, r0+rr, t0+i)
					} else {
						d[i] = 0
					}
				}
			}
		}
		return
	}
	// Runs of rows a fixed distance apart in img: the channels of one
	// kernel position (a plane apart), or with one channel the columns of
	// one kernel row (next to each other).
	nc, kw := g.s.C, g.s.KW
	for r := r0; r < r0+kc; {
		run, ld := min(nc-r%nc, r0+kc-r), g.hp*g.wp
		if nc == 1 {
			run, ld = min(kw-r%kw, r0+kc-r), 1
		}
		src := g.patch(img, r)
		for t0 := 0; t0 < n; t0 += nr {
			d := dst[t0*stride+(r-r0)*nr:]
			// Past t the columns are dropped, so the kernel may read
			// whatever lies there, as long as it lies in img.
			if len(src)-t0 >= (run-1)*ld+nr {
				kt.pack(d, src[t0:], ld, run, nr, false)
			} else {
				packSliverGeneric(d, src[t0:], ld, run, nr, max(g.t-t0, 0), false)
			}
		}
		r += run
	}
}

// wideRows returns dY_n (K x P) with rows of ld floats and the output
// rows at their wide columns, zeros elsewhere: in w.dyw when wide (which
// the caller cleared for this shape), else dY_n itself with ld = P.
func (g *convGeom) wideRows(w *convWorker, dy []float32, n int) (rows []float32, ld int) {
	s, p := g.s, g.oh*g.ow
	src := dy[n*s.K*p : (n+1)*s.K*p]
	if !g.wide {
		return src, p
	}
	for k := 0; k < s.K; k++ {
		for i := 0; i < g.oh; i++ {
			copyShort(w.dyw[k*g.ld+i*g.tcol:][:g.ow], src[k*p+i*g.ow:][:g.ow])
		}
	}
	return w.dyw, g.ld
}

// copyShort is copy(dst, src) for len(dst) == len(src), without a call to
// memmove for rows shorter than 64 floats: image rows are short, and a
// call costs more than the copy.
func copyShort(dst, src []float32) {
	n := len(dst)
	if n >= 64 {
		copy(dst, src)
		return
	}
	src = src[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		*(*[8]float32)(dst[i:]) = *(*[8]float32)(src[i:])
	}
	for ; i < n; i++ {
		dst[i] = src[i]
	}
}

// packDyT packs dY_n^T (t x K, t in wide columns) as the B operand of the
// backward filter, whole: sliver k0/nr holds the filters k0 .. k0+nr for
// every t (t*nr + k), so that a block of depth is a part of it. The level's
// packing kernel transposes dY one output row at a time into its wide
// place; the rows of t between them are zeros.
func (g *convGeom) packDyT(kt *kernels, w *convWorker, dy []float32, n int) []float32 {
	s, p, nr := g.s, g.oh*g.ow, kt.nr
	src := dy[n*s.K*p : (n+1)*s.K*p]
	pb := grow(&w.pb, roundUp(s.K, nr)*g.t)
	for k0 := 0; k0 < s.K; k0 += nr {
		sl := pb[k0*g.t : (k0+nr)*g.t]
		for i := 0; i < g.oh; i++ {
			// Output row i: its ow pixels at t = i*tcol, a run of
			// depth ow in the sliver.
			d, from := sl[i*g.tcol*nr:], src[k0*p+i*g.ow:]
			if s.K-k0 >= nr {
				kt.pack(d, from, p, g.ow, nr, true)
			} else {
				packSliverGeneric(d, from, p, g.ow, nr, s.K-k0, true)
			}
			if g.tcol > g.ow && i < g.oh-1 {
				clear(sl[(i*g.tcol+g.ow)*nr : (i+1)*g.tcol*nr])
			}
		}
	}
	return pb
}

// convJob runs one pass over items [lo, hi): images for the forward and
// backward-data passes, image groups for the backward filter, filters for
// the sum of the groups.
type convJob struct {
	be             *Backend
	op             int
	g              convGeom
	kcb            int // depth of the products' blocks
	x, y           []float32
	dy, dx, dw, db []float32
	group, groups  int // images per group, groups
	mpad           int // M rounded up to mr: rows of the packed weights, or of a slot
}

const (
	convForward = iota
	convBackwardData
	convBackwardFilter
	convSumGroups
)

func (j *convJob) run(worker, lo, hi int) {
	w := &j.be.conv.workers[worker]
	kt := j.be.kern
	if w.tile == nil {
		w.tile = make([]float32, kt.mr*kt.nr)
	}
	switch j.op {
	case convForward:
		for n := lo; n < hi; n++ {
			j.forward(w, n)
		}
	case convBackwardData:
		j.prepareWide(w)
		for n := lo; n < hi; n++ {
			j.backwardData(w, n)
		}
	case convBackwardFilter:
		j.prepareWide(w)
		for grp := lo; grp < hi; grp++ {
			j.backwardFilter(w, grp)
		}
	case convSumGroups:
		j.sumGroups(lo, hi)
	}
}

// prepareWide sizes and clears the worker's wide dY for this shape.
func (j *convJob) prepareWide(w *convWorker) {
	if j.g.wide {
		clear(grow(&w.dyw, j.g.s.K*j.g.ld))
	}
}

func (j *convJob) forward(w *convWorker, n int) {
	g, kt := &j.g, j.be.kern
	s, nr := g.s, kt.nr
	img := g.image(w, j.x, n)
	out := grow(&w.wide, s.K*g.ld)
	pb := grow(&w.pb, j.kcb*g.ld)
	cols := g.cols(nr)
	for pc := 0; pc < g.ckk+1; pc += j.kcb {
		kc := min(j.kcb, g.ckk+1-pc)
		g.packPatches(kt, pb, img, pc, kc, cols)
		beta := float32(1)
		if pc == 0 {
			beta = 0
		}
		microTiles(kt, kc, s.K, cols, j.be.conv.packW[pc*j.mpad:], pb, out, g.ld, 1, beta, w.tile)
	}
	// The output rows, out of the wide columns. Each row is copied in
	// whole groups of 8 floats, the excess landing on the next row, which
	// is written after it; the image's last row is copied exactly, since
	// past it lies another worker's image.
	p := g.oh * g.ow
	y := j.y[n*s.K*p : (n+1)*s.K*p]
	n8 := roundUp(g.ow, 8)
	for k := 0; k < s.K; k++ {
		for i := 0; i < g.oh; i++ {
			d, src := y[k*p+i*g.ow:], out[k*g.ld+i*g.tcol:]
			if len(d) < n8 || len(src) < n8 {
				copy(d[:g.ow], src)
				continue
			}
			for c := 0; c < n8; c += 8 {
				*(*[8]float32)(d[c:]) = *(*[8]float32)(src[c:])
			}
		}
	}
}

func (j *convJob) backwardData(w *convWorker, n int) {
	g, kt := &j.g, j.be.kern
	s, nr := g.s, kt.nr
	rows, ldy := g.wideRows(w, j.dy, n)
	dcol := grow(&w.wide, g.ckk*g.ld)
	pb := grow(&w.pb, j.kcb*g.ld)
	cols := g.cols(nr) // pb is zero past t
	for pc := 0; pc < s.K; pc += j.kcb {
		kc := min(j.kcb, s.K-pc)
		packPanel(kt, pb, rows, 0, g.t, pc, kc, 1, ldy, nr)
		beta := float32(1)
		if pc == 0 {
			beta = 0
		}
		microTiles(kt, kc, g.ckk, cols, j.be.conv.packW[pc*j.mpad:], pb, dcol, g.ld, 1, beta, w.tile)
	}
	// col2im: every pixel gathers the entries of dX' that saw it.
	dx := j.dx[n*s.C*s.H*s.W : (n+1)*s.C*s.H*s.W]
	if !g.wide {
		clear(dx)
		for r := 0; r < g.ckk; r++ {
			pq, c := r/s.C, r%s.C
			for t, v := range dcol[r*g.ld : r*g.ld+g.t] {
				h := t/g.ow*s.StrideH - s.PadH + pq/s.KW
				ww := t%g.ow*s.StrideW - s.PadW + pq%s.KW
				if h >= 0 && h < s.H && ww >= 0 && ww < s.W {
					dx[(c*s.H+h)*s.W+ww] += v
				}
			}
		}
		return
	}
	img := dx
	if g.pad {
		img = grow(&w.img, s.C*g.hp*g.wp)
	}
	clear(img)
	for r := 0; r < g.ckk; r++ {
		kt.add(dcol[r*g.ld:r*g.ld+g.t], g.patch(img, r)[:g.t])
	}
	if g.pad {
		for c := 0; c < s.C; c++ {
			for h := 0; h < s.H; h++ {
				d := (c*g.hp+h+s.PadH)*g.wp + s.PadW
				copy(dx[(c*s.H+h)*s.W:(c*s.H+h+1)*s.W], img[d:d+s.W])
			}
		}
	}
}

func (j *convJob) backwardFilter(w *convWorker, grp int) {
	g, kt := &j.g, j.be.kern
	s := g.s
	// X_n with rows of ld floats, so that the packing can read it, and
	// M rounded up to mr with rows of zeros, so that every A sliver is
	// whole (the packing kernels take whole slivers, and the micro-kernel
	// writes whole tiles into the slot).
	mpad := j.mpad
	slot := j.be.conv.slots[grp*mpad*s.K : (grp+1)*mpad*s.K]
	x := grow(&w.wide, mpad*g.ld)
	clear(x[g.ckk*g.ld:])
	pa := grow(&w.pa, mpad*j.kcb)
	p := g.oh * g.ow
	var acc []float64
	if j.db != nil {
		if cap(w.acc) < s.K*p {
			w.acc = make([]float64, s.K*p)
		}
		acc = w.acc[:s.K*p]
		clear(acc)
	}
	beta := float32(0)
	for n := grp * j.group; n < min((grp+1)*j.group, s.N); n++ {
		img := g.image(w, j.x, n)
		for r := 0; r < g.ckk; r++ {
			row := x[r*g.ld : r*g.ld+g.t]
			if g.wide {
				copy(row, g.patch(img, r))
				continue
			}
			for t := range row {
				row[t] = g.pixel(img, r, t)
			}
		}
		pb := g.packDyT(kt, w, j.dy, n)
		for t0 := 0; t0 < g.t && mpad > 0; t0 += j.kcb { // no product without channels
			kc := min(j.kcb, g.t-t0)
			packPanel(kt, pa, x, 0, mpad, t0, kc, g.ld, 1, kt.mr)
			// Each B sliver holds all t: the block is a part of it.
			for k0 := 0; k0 < s.K; k0 += kt.nr {
				microTiles(kt, kc, mpad, min(kt.nr, s.K-k0), pa, pb[k0*g.t+t0*kt.nr:], slot[k0:], s.K, 1, beta, w.tile)
			}
			beta = 1
		}
		// The bias gradient: each filter's pixels summed over the
		// group's images in order.
		for k := 0; k < s.K && acc != nil; k++ {
			kt.addF64(j.dy[(n*s.K+k)*p:(n*s.K+k+1)*p], acc[k*p:(k+1)*p])
		}
	}
	for k := 0; k < s.K && acc != nil; k++ {
		sum := 0.0
		for _, v := range acc[k*p : (k+1)*p] {
			sum += v
		}
		j.be.conv.bslots[grp*s.K+k] = sum
	}
}

// sumGroups adds the groups' slots (each CKK x K, rows in depth order,
// padded to mpad rows) in order into dW (K x CKK), and those of the bias
// gradient into dBias, filters lo .. hi.
func (j *convJob) sumGroups(lo, hi int) {
	ckk, nk, nc, khw, mpad := j.g.ckk, j.g.s.K, j.g.s.C, j.g.khw, j.mpad
	for k := lo; k < hi; k++ {
		dw := j.dw[k*ckk : (k+1)*ckk]
		for r := 0; r < ckk; r++ {
			sum := j.be.conv.slots[r*nk+k]
			for grp := 1; grp < j.groups; grp++ {
				sum += j.be.conv.slots[(grp*mpad+r)*nk+k]
			}
			dw[r%nc*khw+r/nc] += sum
		}
		if j.db != nil {
			sum := 0.0
			for grp := 0; grp < j.groups; grp++ {
				sum += j.be.conv.bslots[grp*nk+k]
			}
			j.db[k] = float32(float64(j.db[k]) + sum)
		}
	}
}

// convGroups is the number of image groups of the backward filter: up to
// 8, fewer when the slots (CKK x K floats each) would pass 4 Mi floats.
// It depends on the shape alone.
func convGroups(s backend.ConvShape) (group, groups int) {
	groups = min(s.N, 8, max(1, (4<<20)/max(1, s.K*s.C*s.KH*s.KW)))
	group = (s.N + groups - 1) / groups
	return group, (s.N + group - 1) / group
}

// start sets up the job of one pass and the scratch it needs.
func (be *Backend) convStart(op int, s backend.ConvShape) *convJob {
	kt := be.kern
	if len(be.conv.workers) < be.threads {
		be.conv.workers = make([]convWorker, be.threads)
	}
	j := &be.conv.job
	*j = convJob{be: be, op: op, g: newConvGeom(s, kt.nr)}
	return j
}

// packWeights packs the weight operand into be.conv.packW, block by block
// of depth kcb, its columns in depth order: for the forward product W with
// the bias (zeros for none) as column CKK (M = K, depth CKK+1), for the
// backward data W^T (M = CKK, depth K).
func (be *Backend) packWeights(j *convJob, ws, bias []float32, transposed bool) {
	kt, g := be.kern, &j.g
	nc, khw, ckk := g.s.C, g.khw, g.ckk
	cols := ckk + 1 // W's columns and the bias
	if transposed {
		cols = ckk
	}
	wp := grow(&be.conv.wperm, g.s.K*cols)
	for k := 0; k < g.s.K; k++ {
		src, dst := ws[k*ckk:(k+1)*ckk], wp[k*cols:(k+1)*cols]
		for c := 0; c < nc; c++ {
			for pq := 0; pq < khw; pq++ {
				dst[pq*nc+c] = src[c*khw+pq]
			}
		}
		if !transposed {
			dst[ckk] = 0
			if bias != nil {
				dst[ckk] = bias[k]
			}
		}
	}
	a := gemmArgs{a: wp, m: g.s.K, k: cols}
	if transposed {
		a = gemmArgs{transA: true, a: wp, m: ckk, k: g.s.K}
	}
	j.kcb = kcBlock(a.k, kt.kc)
	j.mpad = roundUp(a.m, kt.mr)
	packW := grow(&be.conv.packW, j.mpad*a.k)
	for pc := 0; pc < a.k; pc += j.kcb {
		kc := min(j.kcb, a.k-pc)
		packA(kt, packW[pc*j.mpad:], a, 0, a.m, pc, kc)
	}
}

// convBuffers checks s and returns x and the weight; the names are whole
// constants, since building them would allocate on every call.
func (be *Backend) convBuffers(op, xName, wName string, s backend.ConvShape, x, w backend.Buffer) (xs, ws []float32) {
	s.Check("cpu", op)
	return be.f(x, s.InLen(), xName), be.f(w, s.WeightLen(), wName)
}

func (be *Backend) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	xs, ws := be.convBuffers("Conv2d", "Conv2d x", "Conv2d weight", s, x, weight)
	ys := be.f(y, s.OutLen(), "Conv2d y")
	var bs []float32
	if bias != nil {
		bs = be.f(bias, s.K, "Conv2d bias")
	}
	if s.N == 0 || s.K == 0 {
		return
	}
	be.convMu.Lock()
	defer be.convMu.Unlock()
	j := be.convStart(convForward, s)
	j.x, j.y = xs, ys
	be.packWeights(j, ws, bs, false)
	be.pool.parallelFor(s.N, 1, 1, j)
	*j = convJob{}
}

func (be *Backend) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape) {
	dxs, ws := be.convBuffers("Conv2dBackwardData", "Conv2dBackwardData dx", "Conv2dBackwardData weight", s, dx, weight)
	dys := be.f(dy, s.OutLen(), "Conv2dBackwardData dy")
	if s.N == 0 {
		return
	}
	be.convMu.Lock()
	defer be.convMu.Unlock()
	if s.K == 0 || s.C == 0 {
		clear(dxs)
		return
	}
	j := be.convStart(convBackwardData, s)
	j.dy, j.dx = dys, dxs
	be.packWeights(j, ws, nil, true)
	be.pool.parallelFor(s.N, 1, 1, j)
	*j = convJob{}
}

func (be *Backend) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	xs, dws := be.convBuffers("Conv2dBackwardFilter", "Conv2dBackwardFilter x", "Conv2dBackwardFilter dWeight", s, x, dWeight)
	dys := be.f(dy, s.OutLen(), "Conv2dBackwardFilter dy")
	var dbs []float32
	if dBias != nil {
		dbs = be.f(dBias, s.K, "Conv2dBackwardFilter dBias")
	}
	if s.N == 0 || s.K == 0 {
		return
	}
	be.convMu.Lock()
	defer be.convMu.Unlock()
	j := be.convStart(convBackwardFilter, s)
	j.x, j.dy, j.dw, j.db = xs, dys, dws, dbs
	j.kcb = kcBlock(j.g.t, be.kern.kc)
	j.group, j.groups = convGroups(s)
	j.mpad = roundUp(j.g.ckk, be.kern.mr)
	grow(&be.conv.slots, j.groups*j.mpad*s.K)
	if cap(be.conv.bslots) < j.groups*s.K {
		be.conv.bslots = make([]float64, j.groups*s.K)
	}
	be.pool.parallelFor(j.groups, 1, 1, j)
	j.op = convSumGroups
	be.pool.parallelFor(s.K, rowGrain(j.g.ckk*j.groups), 1, j)
	*j = convJob{}
}

var _ backend.Convolver = (*Backend)(nil)
