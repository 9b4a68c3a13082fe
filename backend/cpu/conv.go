package cpu

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// Convolutions as im2col + GEMM. The input patches of all N images are
// unrolled into one (N*OH*OW) x (C*KH*KW) matrix, so that each direction
// is one large product:
//
//	forward:        Y' = col * W^T          (N*OH*OW) x K, then NHWC -> NCHW + bias
//	backward data:  dcol = dY' * W          then col2im sums the patches back
//	backward filter dW += dY'^T * col       dbias += column sums of dY'
//
// where W is the K x (C*KH*KW) weight matrix and Y' the output with its
// pixels as rows (NHWC). The scratch matrices are the backend's and grow to
// the largest shape seen, so that steps allocate nothing.

// convScratch is the memory of the convolution operations.
type convScratch struct {
	col, rows []float32
}

func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

func (be *Backend) convBuffers(op string, s backend.ConvShape, x, w backend.Buffer) (xs, ws []float32) {
	s.Check("cpu", op)
	return be.f(x, s.InLen(), op+" x"), be.f(w, s.WeightLen(), op+" weight")
}

// im2col writes the patch matrix of x: row (n*OH+i)*OW+j holds, in
// (c, p, q) order, the pixels that output (i, j) of image n sees, with 0
// for padding.
func (be *Backend) im2col(col, x []float32, s backend.ConvShape) {
	oh, ow := s.OutH(), s.OutW()
	ckk := s.C * s.KH * s.KW
	be.rows(s.N*oh, ow*ckk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			n, i := r/oh, r%oh
			for j := 0; j < ow; j++ {
				dst := col[(r*ow+j)*ckk : (r*ow+j+1)*ckk]
				d := 0
				for c := 0; c < s.C; c++ {
					plane := x[(n*s.C+c)*s.H*s.W : (n*s.C+c+1)*s.H*s.W]
					for p := 0; p < s.KH; p++ {
						h := i*s.StrideH - s.PadH + p
						w0 := j*s.StrideW - s.PadW
						if h < 0 || h >= s.H {
							clear(dst[d : d+s.KW])
							d += s.KW
							continue
						}
						row := plane[h*s.W : (h+1)*s.W]
						for q := 0; q < s.KW; q++ {
							if w := w0 + q; w >= 0 && w < s.W {
								dst[d] = row[w]
							} else {
								dst[d] = 0
							}
							d++
						}
					}
				}
			}
		}
	})
}

// toPixelRows writes the NCHW tensor t (N x K x P, P = OH*OW) as NHWC rows:
// dst[(n*P+p)*K+k] = t[(n*K+k)*P+p].
func (be *Backend) toPixelRows(dst, t []float32, n, k, p int) {
	be.rows(n, k*p, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			transpose(dst[b*p*k:(b+1)*p*k], t[b*k*p:(b+1)*k*p], k, p)
		}
	})
}

// transpose writes the rows x cols matrix x as its cols x rows transpose.
func transpose(dst, x []float32, rows, cols int) {
	const tile = 16
	for i0 := 0; i0 < rows; i0 += tile {
		i1 := min(i0+tile, rows)
		for j0 := 0; j0 < cols; j0 += tile {
			j1 := min(j0+tile, cols)
			for i := i0; i < i1; i++ {
				for j := j0; j < j1; j++ {
					dst[j*rows+i] = x[i*cols+j]
				}
			}
		}
	}
}

func (be *Backend) Conv2d(x, weight, bias, y backend.Buffer, s backend.ConvShape) {
	xs, ws := be.convBuffers("Conv2d", s, x, weight)
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
	p, ckk := s.OutH()*s.OutW(), s.C*s.KH*s.KW
	col := grow(&be.conv.col, s.N*p*ckk)
	rows := grow(&be.conv.rows, s.N*p*s.K)
	be.im2col(col, xs, s)
	be.gemm(gemmArgs{transB: true, m: s.N * p, n: s.K, k: ckk, alpha: 1, a: col, b: ws, c: rows})
	be.rows(s.N, s.K*p, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			out := ys[b*s.K*p : (b+1)*s.K*p]
			transpose(out, rows[b*p*s.K:(b+1)*p*s.K], p, s.K)
			if bs != nil {
				for k, v := range bs[:s.K] {
					for i := range out[k*p : (k+1)*p] {
						out[k*p+i] += v
					}
				}
			}
		}
	})
}

func (be *Backend) Conv2dBackwardData(dy, weight, dx backend.Buffer, s backend.ConvShape) {
	dxs, ws := be.convBuffers("Conv2dBackwardData", s, dx, weight)
	dys := be.f(dy, s.OutLen(), "Conv2dBackwardData dy")
	if s.N == 0 {
		return
	}
	be.convMu.Lock()
	defer be.convMu.Unlock()
	oh, ow := s.OutH(), s.OutW()
	p, ckk := oh*ow, s.C*s.KH*s.KW
	col := grow(&be.conv.col, s.N*p*ckk)
	rows := grow(&be.conv.rows, s.N*p*s.K)
	be.toPixelRows(rows, dys, s.N, s.K, p)
	be.gemm(gemmArgs{m: s.N * p, n: ckk, k: s.K, alpha: 1, a: rows, b: ws, c: col})
	// col2im: each image's pixels gather the patch entries that saw them;
	// one worker per image, so that no two write the same pixel.
	be.rows(s.N, p*ckk, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			img := dxs[n*s.C*s.H*s.W : (n+1)*s.C*s.H*s.W]
			clear(img)
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					src := col[((n*oh+i)*ow+j)*ckk:]
					d := 0
					for c := 0; c < s.C; c++ {
						plane := img[c*s.H*s.W : (c+1)*s.H*s.W]
						for pp := 0; pp < s.KH; pp++ {
							h := i*s.StrideH - s.PadH + pp
							if h < 0 || h >= s.H {
								d += s.KW
								continue
							}
							for q := 0; q < s.KW; q++ {
								if w := j*s.StrideW - s.PadW + q; w >= 0 && w < s.W {
									plane[h*s.W+w] += src[d]
								}
								d++
							}
						}
					}
				}
			}
		}
	})
}

func (be *Backend) Conv2dBackwardFilter(x, dy, dWeight, dBias backend.Buffer, s backend.ConvShape) {
	xs, dws := be.convBuffers("Conv2dBackwardFilter", s, x, dWeight)
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
	p, ckk := s.OutH()*s.OutW(), s.C*s.KH*s.KW
	col := grow(&be.conv.col, s.N*p*ckk)
	rows := grow(&be.conv.rows, s.N*p*s.K)
	be.im2col(col, xs, s)
	be.toPixelRows(rows, dys, s.N, s.K, p)
	be.gemm(gemmArgs{transA: true, m: s.K, n: ckk, k: s.N * p, alpha: 1, beta: 1, a: rows, b: col, c: dws})
	if dbs != nil {
		// Each channel's sum in float64, image by image in order: the same
		// for any thread count.
		be.rows(s.K, s.N*p, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				sum := 0.0
				for n := 0; n < s.N; n++ {
					for _, v := range dys[(n*s.K+k)*p : (n*s.K+k+1)*p] {
						sum += float64(v)
					}
				}
				dbs[k] = float32(float64(dbs[k]) + sum)
			}
		})
	}
}

func (be *Backend) poolBuffers(op string, s backend.PoolShape, x, y backend.Buffer, xLen, yLen int) (xs, ys []float32) {
	s.Check("cpu", op)
	return be.f(x, xLen, op+" x"), be.f(y, yLen, op+" y")
}

// poolPlanes runs fn for every (image, channel) plane, split across workers.
func (be *Backend) poolPlanes(s backend.PoolShape, fn func(plane int)) {
	be.rows(s.N*s.C, s.H*s.W, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			fn(pl)
		}
	})
}

// window is the input row and column range of output (i, j), clipped to
// the input.
func window(s backend.PoolShape, i, j int) (h0, h1, w0, w1 int) {
	h0, w0 = i*s.StrideH-s.PadH, j*s.StrideW-s.PadW
	return max(h0, 0), min(h0+s.KH, s.H), max(w0, 0), min(w0+s.KW, s.W)
}

// maxAt is the index within the plane of the window's maximum, PyTorch's
// choice (see backend.Convolver.MaxPool2dBackward).
func maxAt(plane []float32, s backend.PoolShape, i, j int) int {
	h0, h1, w0, w1 := window(s, i, j)
	best, at := float32(math.Inf(-1)), h0*s.W+w0
	for h := h0; h < h1; h++ {
		for w := w0; w < w1; w++ {
			if v := plane[h*s.W+w]; v > best || v != v {
				best, at = v, h*s.W+w
			}
		}
	}
	return at
}

func (be *Backend) MaxPool2d(x, y backend.Buffer, s backend.PoolShape) {
	xs, ys := be.poolBuffers("MaxPool2d", s, x, y, s.InLen(), s.OutLen())
	oh, ow, hw := s.OutH(), s.OutW(), s.H*s.W
	be.poolPlanes(s, func(pl int) {
		plane, out := xs[pl*hw:(pl+1)*hw], ys[pl*oh*ow:(pl+1)*oh*ow]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				out[i*ow+j] = plane[maxAt(plane, s, i, j)]
			}
		}
	})
}

func (be *Backend) MaxPool2dBackward(x, dy, dx backend.Buffer, s backend.PoolShape) {
	xs, dys := be.poolBuffers("MaxPool2dBackward", s, x, dy, s.InLen(), s.OutLen())
	dxs := be.f(dx, s.InLen(), "MaxPool2dBackward dx")
	oh, ow, hw := s.OutH(), s.OutW(), s.H*s.W
	be.poolPlanes(s, func(pl int) {
		plane, g, d := xs[pl*hw:(pl+1)*hw], dys[pl*oh*ow:(pl+1)*oh*ow], dxs[pl*hw:(pl+1)*hw]
		clear(d)
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				d[maxAt(plane, s, i, j)] += g[i*ow+j]
			}
		}
	})
}

func (be *Backend) AvgPool2d(x, y backend.Buffer, s backend.PoolShape) {
	xs, ys := be.poolBuffers("AvgPool2d", s, x, y, s.InLen(), s.OutLen())
	oh, ow, hw := s.OutH(), s.OutW(), s.H*s.W
	div := float32(s.KH * s.KW)
	be.poolPlanes(s, func(pl int) {
		plane, out := xs[pl*hw:(pl+1)*hw], ys[pl*oh*ow:(pl+1)*oh*ow]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				h0, h1, w0, w1 := window(s, i, j)
				sum := float32(0)
				for h := h0; h < h1; h++ {
					for w := w0; w < w1; w++ {
						sum += plane[h*s.W+w]
					}
				}
				out[i*ow+j] = sum / div
			}
		}
	})
}

func (be *Backend) AvgPool2dBackward(dy, dx backend.Buffer, s backend.PoolShape) {
	dys, dxs := be.poolBuffers("AvgPool2dBackward", s, dy, dx, s.OutLen(), s.InLen())
	oh, ow, hw := s.OutH(), s.OutW(), s.H*s.W
	div := float32(s.KH * s.KW)
	be.poolPlanes(s, func(pl int) {
		g, d := dys[pl*oh*ow:(pl+1)*oh*ow], dxs[pl*hw:(pl+1)*hw]
		clear(d)
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				h0, h1, w0, w1 := window(s, i, j)
				v := g[i*ow+j] / div
				for h := h0; h < h1; h++ {
					for w := w0; w < w1; w++ {
						d[h*s.W+w] += v
					}
				}
			}
		}
	})
}

func (be *Backend) TransposeBatch(x, y backend.Buffer, batch, rows, cols int) {
	backend.CheckSizes("cpu", "TransposeBatch", batch, rows, cols)
	xs, ys := be.f(x, batch*rows*cols, "TransposeBatch x"), be.f(y, batch*rows*cols, "TransposeBatch y")
	be.rows(batch, rows*cols, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			transpose(ys[b*rows*cols:(b+1)*rows*cols], xs[b*rows*cols:(b+1)*rows*cols], rows, cols)
		}
	})
}

var _ backend.Convolver = (*Backend)(nil)
