package cpu

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

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
