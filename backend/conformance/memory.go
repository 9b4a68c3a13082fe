package conformance

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// raw allocates n elements without uploading anything; the buffer is freed
// with the case.
func (c *tcase) raw(n int) backend.Buffer {
	h := c.b.Alloc(n)
	c.bufs = append(c.bufs, &buf{h: h, n: n})
	return h
}

func (c *tcase) expectZero(what string, got []float32) {
	for i, v := range got {
		if v != 0 {
			c.failf("%s: [%d] = %g, want 0 (Alloc returns zeroed memory)", what, i, v)
			return
		}
	}
}

func (c *tcase) expectBits(what string, got, want []float32) {
	if len(got) != len(want) {
		c.failf("%s: %d elements, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		if !sameBits(got[i], want[i]) {
			c.failf("%s: [%d] = %g (bits %#08x), want %g (bits %#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			return
		}
	}
}

func checkAlloc(s *suite) {
	for _, n := range sizes {
		s.run(fmt.Sprintf("Alloc(%d)", n), func(c *tcase) {
			h := c.raw(n)
			if h.Len() != n {
				c.failf("Len() = %d, want %d", h.Len(), n)
				return
			}
			got := filled(n, 99)
			c.b.Download(got, h)
			c.expectZero("fresh buffer", got)
		})
	}
	// A buffer allocated after another was filled and freed must still be
	// zeroed, whatever pooling the backend does.
	for _, sz := range [][2]int{{7, 7}, {1000, 1000}, {1000, 999}, {100003, 100003}, {100003, 5000}} {
		s.run(fmt.Sprintf("Alloc(%d) after Free of a filled Alloc(%d)", sz[1], sz[0]), func(c *tcase) {
			old := c.b.Alloc(sz[0])
			c.b.Upload(old, s.uniform(sz[0], 1, 2))
			c.b.Download(make([]float32, 1), old) // wait for the upload
			c.b.Free(old)
			h := c.raw(sz[1])
			got := filled(sz[1], 99)
			c.b.Download(got, h)
			c.expectZero("reused buffer", got)
		})
	}
}

var memSpecials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.Copysign(0, -1)), 0, math.SmallestNonzeroFloat32, -1e-40,
	math.MaxFloat32, -math.MaxFloat32, 1, -1,
}

func checkUploadDownload(s *suite) {
	for _, n := range sizes {
		s.run(fmt.Sprintf("round trip n=%d", n), func(c *tcase) {
			data := withSpecials(s.normal(n, 10), memSpecials)
			h := c.raw(n)
			c.b.Upload(h, data)
			got := make([]float32, n)
			c.b.Download(got, h)
			c.expectBits("download", got, data)
		})
	}
	s.run("partial upload", func(c *tcase) {
		h := c.raw(20)
		first := s.normal(7, 1)
		c.b.Upload(h, first)
		got := filled(20, 99)
		c.b.Download(got, h)
		want := append(append([]float32{}, first...), make([]float32, 13)...)
		c.expectBits("after Upload of 7", got, want)
		second := s.normal(3, 1)
		c.b.Upload(h, second)
		copy(want, second)
		c.b.Download(got, h)
		c.expectBits("after Upload of 3", got, want)
		c.b.Upload(h, nil)
		c.b.Download(got, h)
		c.expectBits("after Upload of nothing", got, want)
	})
	s.run("partial download", func(c *tcase) {
		h := c.raw(20)
		data := s.normal(20, 1)
		c.b.Upload(h, data)
		got := filled(7, 99)
		c.b.Download(got, h)
		c.expectBits("Download of 7", got, data[:7])
		c.b.Download(nil, h)
		got = filled(20, 99)
		c.b.Download(got, h)
		c.expectBits("Download of 20", got, data)
	})
}

func checkCopy(s *suite) {
	for _, n := range sizes {
		s.run(fmt.Sprintf("n=%d", n), func(c *tcase) {
			src := s.normal(n, 1)
			sb, db := c.in(src), c.out(s.normal(n, 1))
			c.b.Copy(db.h, sb.h, n)
			c.expectBits("dst", c.result("dst", db), src)
		})
		s.run(fmt.Sprintf("n=%d of longer buffers", n), func(c *tcase) {
			src, dst := s.normal(n+9, 1), s.normal(n+9, 1)
			sb, db := c.in(src), c.out(dst)
			c.b.Copy(db.h, sb.h, n)
			want := append(append([]float32{}, src[:n]...), dst[n:]...)
			c.expectBits("dst", c.result("dst", db), want)
		})
	}
}
