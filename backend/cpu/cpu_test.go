package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/conformance"
	"github.com/fastnn/fastnn/backend/ref"
)

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

// TestMicroKernels checks every level's GEMM micro-kernel on its own, over
// k = 0..17 and alpha, beta in {0, 1, -1, 2.5}, against the float64
// reference. C sits inside a larger buffer with guard values around it, so a
// stray write outside the tile fails the test.
func TestMicroKernels(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(1, 1))
	scalars := []float32{0, 1, -1, 2.5}
	for _, level := range Supported() {
		kt := kernelTable[level]
		mr, nr := kt.mr, kt.nr
		ldc := nr + 3
		for k := 0; k <= 17; k++ {
			for _, alpha := range scalars {
				for _, beta := range scalars {
					name := fmt.Sprintf("%s/k=%d/alpha=%v/beta=%v", level, k, alpha, beta)
					a, b := randomSlice(rng, mr*k), randomSlice(rng, k*nr)
					c0 := randomSlice(rng, mr*nr)
					// Rows 0 and mr+1 and the columns past nr are guards.
					buf := make([]float32, (mr+2)*ldc)
					for i := range buf {
						buf[i] = guard
					}
					for r := range mr {
						copy(buf[(r+1)*ldc:], c0[r*nr:(r+1)*nr])
					}
					// The packed A sliver is op(A)^T stored k x mr.
					want := ref.Gemm(true, false, mr, nr, k, float64(alpha), a, b, float64(beta), c0)
					kt.gemmMicro(k, a, b, buf[ldc:], ldc, alpha, beta)
					for i, v := range buf {
						r, c := i/ldc-1, i%ldc
						if r < 0 || r >= mr || c >= nr {
							if v != guard {
								t.Fatalf("%s: wrote %v outside the tile at row %d col %d", name, v, r, c)
							}
							continue
						}
						if w := want[r*nr+c]; !ref.Close(v, w, 1e-5, 1e-5) {
							t.Fatalf("%s: C[%d][%d] = %v, want %v", name, r, c, v, w)
						}
					}
				}
			}
		}
	}
}

// TestEdgeMicroKernels checks the edge micro-kernels of every level that
// has them: for each shape a level claims (rows x cols inside its tile),
// the top-left rows x cols of the full tile's product, with guard values
// around C; a shape it declines must leave C untouched.
func TestEdgeMicroKernels(t *testing.T) {
	const guard = float32(-12345.5)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, level := range Supported() {
		kt := kernelTable[level]
		if kt.gemmMicroEdge == nil {
			continue
		}
		mr, nr := kt.mr, kt.nr
		shapes := 0
		for rows := 1; rows <= mr; rows++ {
			for cols := 1; cols <= nr; cols++ {
				ldc := cols + 3
				for _, k := range []int{0, 1, 5, 8, 17} {
					for _, beta := range []float32{0, 2.5} {
						const alpha = -1.5
						a, b := randomSlice(rng, mr*k), randomSlice(rng, k*nr)
						c0 := randomSlice(rng, mr*nr)
						buf := make([]float32, (rows+2)*ldc)
						for i := range buf {
							buf[i] = guard
						}
						for r := range rows {
							copy(buf[(r+1)*ldc:], c0[r*nr:r*nr+cols])
						}
						want := ref.Gemm(true, false, mr, nr, k, alpha, a, b, float64(beta), c0)
						ok := kt.gemmMicroEdge(rows, cols, k, a, b, buf[ldc:], ldc, alpha, beta)
						if ok && k == 0 && beta == 0 {
							shapes++
						}
						name := fmt.Sprintf("%s/%dx%d/k=%d/beta=%v", level, rows, cols, k, beta)
						for i, v := range buf {
							r, c := i/ldc-1, i%ldc
							if !ok || r < 0 || r >= rows || c >= cols {
								if (!ok && r >= 0 && r < rows && c < cols && v != c0[r*nr+c]) ||
									((r < 0 || r >= rows || c >= cols) && v != guard) {
									t.Fatalf("%s: wrote %v at row %d col %d (kernel ran: %v)", name, v, r, c, ok)
								}
								continue
							}
							if w := want[r*nr+c]; !ref.Close(v, w, 1e-5, 1e-5) {
								t.Fatalf("%s: C[%d][%d] = %v, want %v", name, r, c, v, w)
							}
						}
					}
				}
			}
		}
		if shapes == 0 {
			t.Errorf("%s: gemmMicroEdge ran no shape", level)
		}
		t.Logf("%s: %d edge shapes", level, shapes)
	}
}

// TestStridedMicroKernels checks the micro-kernels that read A in place,
// for row-major and transposed A with padding between rows or columns. The
// padding holds NaN: a read outside the tile's rows and k columns poisons C.
func TestStridedMicroKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, level := range Supported() {
		kt := kernelTable[level]
		if kt.gemmMicroStrided == nil {
			continue
		}
		mr, nr := kt.mr, kt.nr
		for k := 0; k <= 17; k++ {
			for _, layout := range []string{"row-major", "transposed"} {
				for _, beta := range []float32{0, 2.5} {
					const alpha = -1.5
					packed := randomSlice(rng, mr*k) // column p at packed[p*mr:]
					var a []float32
					var rs, cs int
					if layout == "row-major" {
						rs, cs = k+3, 1
					} else {
						rs, cs = 1, mr+2
					}
					a = make([]float32, (mr-1)*rs+max(k-1, 0)*cs+1+5)
					for i := range a {
						a[i] = float32(math.NaN())
					}
					for r := range mr {
						for p := range k {
							a[r*rs+p*cs] = packed[p*mr+r]
						}
					}
					b := randomSlice(rng, k*nr)
					c := randomSlice(rng, mr*nr)
					want := ref.Gemm(true, false, mr, nr, k, alpha, packed, b, float64(beta), c)
					kt.gemmMicroStrided(k, a, rs, cs, b, c, nr, alpha, beta)
					for i, v := range c {
						if !ref.Close(v, want[i], 1e-5, 1e-5) {
							t.Fatalf("%s %s k=%d beta=%v: C[%d] = %v, want %v", level, layout, k, beta, i, v, want[i])
						}
					}
				}
			}
		}
	}
}

// packingCase is a source for a packing test: the n x kc operand (n rows or
// columns valid of a sliver w wide) inside a matrix with rows of ld and NaN
// around it, the generic packing of it, and a destination full of guard
// values one sliver long and 8 more.
type packingCase struct {
	src, want, got []float32
	ld             int
}

const packGuard = float32(-12345.5)

func newPackingCase(rng *rand.Rand, kc, w, n int, alongK bool) packingCase {
	rows, cols := kc, n // the sliver is rows x cols in the source
	if alongK {
		rows, cols = n, kc
	}
	c := packingCase{ld: cols + 3}
	c.src = make([]float32, (rows+1)*c.ld)
	for i := range c.src {
		c.src[i] = float32(math.NaN())
	}
	for r := range rows {
		for col := range cols {
			c.src[r*c.ld+col] = float32(rng.Float64()*2 - 1)
		}
	}
	c.want = make([]float32, kc*w)
	packSliverGeneric(c.want, c.src, c.ld, kc, w, n, alongK)
	c.got = make([]float32, kc*w+8)
	for i := range c.got {
		c.got[i] = packGuard
	}
	return c
}

// check compares the packed sliver with the generic one bit for bit and
// checks that nothing was written past it.
func (c packingCase) check(t *testing.T, name string) {
	t.Helper()
	for i, v := range c.got {
		if i >= len(c.want) {
			if v != packGuard {
				t.Fatalf("%s: wrote %v past the sliver at %d", name, v, i)
			}
			continue
		}
		if math.Float32bits(v) != math.Float32bits(c.want[i]) || math.IsNaN(float64(v)) {
			t.Fatalf("%s: dst[%d] = %v, want %v", name, i, v, c.want[i])
		}
	}
}

// TestPacking checks every level's packing of full A and B slivers against
// the generic loop, both layouts, k = 0..17 and 31..33, with NaN around the
// source and guard values past the destination.
func TestPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, level := range Supported() {
		kt := kernelTable[level]
		for _, w := range []int{kt.mr, kt.nr} {
			for _, kc := range []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33} {
				for _, alongK := range []bool{false, true} {
					c := newPackingCase(rng, kc, w, w, alongK)
					kt.pack(c.got, c.src, c.ld, kc, w, alongK)
					c.check(t, fmt.Sprintf("%s w=%d kc=%d alongK=%v", level, w, kc, alongK))
				}
			}
		}
	}
}

// TestPackingEdge checks each level's edge packing (packEdge) against the
// generic loop for every edge width it takes: the n valid rows or columns
// copied, the rest of the sliver zeroed (the destination starts full of
// guard values), nothing written past it, and nothing read from the
// source's rows past n (NaN there).
func TestPackingEdge(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for _, level := range Supported() {
		kt := kernelTable[level]
		if kt.packEdge == nil {
			continue
		}
		taken := 0
		for _, w := range []int{kt.mr, kt.nr} {
			for n := 1; n < w; n++ {
				for _, kc := range []int{1, 7, 8, 9, 16, 23, 160} {
					for _, alongK := range []bool{false, true} {
						c := newPackingCase(rng, kc, w, n, alongK)
						if !kt.packEdge(c.got[:kc*w], c.src, c.ld, kc, w, n, alongK) {
							continue
						}
						taken++
						c.check(t, fmt.Sprintf("%s w=%d n=%d kc=%d alongK=%v", level, w, n, kc, alongK))
					}
				}
			}
		}
		if taken == 0 {
			t.Errorf("%s: packEdge took no edge at all", level)
		}
	}
}

// TestUpdateKernels checks every level's SGD update (all three forms) and
// column-sum step against the generic loops, on lengths that exercise both
// the vector body and the scalar tail. The column sums agree bit for bit;
// the SGD update does too unless the compiler fuses the generic loop's
// multiply-adds (GOAMD64=v3), hence the tight tolerance.
func TestUpdateKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, level := range Supported() {
		kt := kernelTable[level]
		for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 100} {
			x := randomSlice(rng, n)
			acc := make([]float64, n)
			for i := range acc {
				acc[i] = rng.Float64()
			}
			want := append([]float64(nil), acc...)
			addF64Generic(x, want)
			kt.addF64(x, acc)
			for i := range acc {
				if acc[i] != want[i] {
					t.Fatalf("%s addF64 n=%d: acc[%d] = %v, want %v", level, n, i, acc[i], want[i])
				}
			}
			for _, c := range []sgdConsts{{0.1, 0, 0, false}, {0.05, 0.9, 1e-3, false}, {0.05, 0.9, 1e-3, true}} {
				p, g, v := randomSlice(rng, n), randomSlice(rng, n), randomSlice(rng, n)
				wp, wv := append([]float32(nil), p...), append([]float32(nil), v...)
				sgdGeneric(wp, g, wv, &c)
				kt.sgd(p, g, v, &c)
				for i := range p {
					if !ref.Close(p[i], float64(wp[i]), 1e-7, 1e-6) || !ref.Close(v[i], float64(wv[i]), 1e-7, 1e-6) {
						t.Fatalf("%s sgd %+v n=%d: p, v [%d] = %v, %v, want %v, %v", level, c, n, i, p[i], v[i], wp[i], wv[i])
					}
				}
			}
		}
	}
}

// TestGemmThreadCountInvariant checks that the result of a GEMM is
// bit-identical for any number of threads: the work is split across C, never
// across K, so each element is summed in the same order.
func TestGemmThreadCountInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	// Every shape is split across threads: along M (67x129), along N with
	// op(A) read in place (128x256, 256x784 and 128x784 with a 16-column
	// edge, 12x784 one sliver tall) and along N with op(A) packed where L2
	// is 1 MiB (150x256x1000).
	shapes := [][3]int{{67, 129, 255}, {128, 256, 784}, {256, 784, 128}, {128, 784, 256}, {12, 784, 40}, {150, 256, 1000}}
	for _, level := range Supported() {
		for _, s := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				// beta 2.5: the epilogue's beta*C rounds differently fused
				// (assembly) and unfused (Go), so every thread count must
				// take the same path for each tile.
				for _, ab := range [][2]float32{{1, 0}, {-1.5, 2.5}} {
					m, n, k := s[0], s[1], s[2]
					a, b, c0 := randomSlice(rng, m*k), randomSlice(rng, k*n), randomSlice(rng, m*n)
					var first []float32
					for _, threads := range []int{1, 2, 3, 4} {
						be, err := New(backend.Options{Threads: threads, Level: level.String()})
						if err != nil {
							t.Fatal(err)
						}
						abuf, bbuf, cbuf := be.Alloc(len(a)), be.Alloc(len(b)), be.Alloc(m*n)
						be.Upload(abuf, a)
						be.Upload(bbuf, b)
						be.Upload(cbuf, c0)
						be.Gemm(tr[0], tr[1], m, n, k, ab[0], abuf, bbuf, ab[1], cbuf)
						got := make([]float32, m*n)
						be.Download(got, cbuf)
						be.Close()
						if first == nil {
							first = got
							continue
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
								t.Fatalf("%s %dx%dx%d transA=%v transB=%v alpha=%g beta=%g: %d threads differ from 1 thread at %d: %v vs %v",
									level, m, n, k, tr[0], tr[1], ab[0], ab[1], threads, i, got[i], first[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestLevels(t *testing.T) {
	if Supported()[0] != Generic {
		t.Fatalf("generic level missing from %v", Supported())
	}
	if _, err := New(backend.Options{Level: "sse9"}); err == nil {
		t.Fatal("unknown level accepted")
	}
	t.Setenv(LevelEnv, "generic")
	be, err := New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if be.Level() != Generic || be.Details() != "cpu/generic 1 threads" {
		t.Fatalf("%s=generic gave %s", LevelEnv, be.Details())
	}
	t.Logf("detected %s, supported %v", Detected(), Supported())
}

func TestCloseTwice(t *testing.T) {
	be, err := New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	be.Close()
	be.Close()
}

func TestForeignBufferPanics(t *testing.T) {
	a, _ := New(backend.Options{Threads: 1})
	b, _ := New(backend.Options{Threads: 1})
	defer a.Close()
	defer b.Close()
	x := b.Alloc(4)
	defer func() {
		if recover() == nil {
			t.Fatal("a buffer of another backend was accepted")
		}
	}()
	a.Fill(x, 1, 4)
}

func TestShortBufferPanics(t *testing.T) {
	be, _ := New(backend.Options{Threads: 1})
	defer be.Close()
	x := be.Alloc(3)
	defer func() {
		if recover() == nil {
			t.Fatal("a short buffer was accepted")
		}
	}()
	be.Fill(x, 1, 4)
}

// BenchmarkGemm reports GFLOP/s for square and MLP-shaped products at every
// supported level.
func BenchmarkGemm(b *testing.B) {
	shapes := []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"256", false, false, 256, 256, 256},
		{"512", false, false, 512, 512, 512},
		{"1024", false, false, 1024, 1024, 1024},
		{"mlp-forward-128x256x784", false, true, 128, 256, 784},
		{"mlp-dW-256x784x128", true, false, 256, 784, 128},
		{"mlp-dX-128x784x256", false, false, 128, 784, 256},
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for _, level := range Supported() {
		be, err := New(backend.Options{Level: level.String()})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/%s", level, s.name), func(b *testing.B) {
				ab, bb, cb := be.Alloc(s.m*s.k), be.Alloc(s.k*s.n), be.Alloc(s.m*s.n)
				be.Upload(ab, randomSlice(rng, s.m*s.k))
				be.Upload(bb, randomSlice(rng, s.k*s.n))
				for b.Loop() {
					be.Gemm(s.transA, s.transB, s.m, s.n, s.k, 1, ab, bb, 0, cb)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		be.Close()
	}
}

// BenchmarkMicroKernel reports the GFLOP/s of each level's micro-kernel on
// one tile with its operands in L1: the ceiling of the blocked GEMM.
func BenchmarkMicroKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, level := range Supported() {
		kt := kernelTable[level]
		for _, k := range []int{16, 256} {
			a, bb := randomSlice(rng, kt.mr*k), randomSlice(rng, k*kt.nr)
			c := make([]float32, kt.mr*kt.nr)
			b.Run(fmt.Sprintf("%s/k=%d", level, k), func(b *testing.B) {
				for b.Loop() {
					kt.gemmMicro(k, a, bb, c, kt.nr, 1, 1)
				}
				flops := 2 * float64(kt.mr*kt.nr*k)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// spinJob busies each piece for a fixed time.
type spinJob time.Duration

func (d spinJob) run(_, _, _ int) {
	for start := time.Now(); time.Since(start) < time.Duration(d); {
	}
}

// BenchmarkParallelFor measures the hand-off of the worker pool: two
// pieces of d each, then d of serial work, as between the parallel loops
// of a training step. The ideal is 2d per iteration.
func BenchmarkParallelFor(b *testing.B) {
	for _, d := range []time.Duration{0, 20 * time.Microsecond, 100 * time.Microsecond} {
		b.Run(d.String(), func(b *testing.B) {
			p := newPool(2)
			defer p.close()
			for b.Loop() {
				p.parallelFor(2, 1, 1, spinJob(d))
				spinJob(d).run(0, 0, 0)
			}
		})
	}
}

// TestNoLegacySSE checks that the generated assembly uses only VEX-encoded
// instructions on vector registers: a legacy SSE instruction (MOVSS, XORPS,
// ...) executed while the upper ymm halves are dirty cost the micro-kernel
// about 120 ns per call on the AMD EPYC it is measured on, as long as the
// whole of a 6x16 tile at k = 48.
func TestNoLegacySSE(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("amd64 assembly only")
	}
	src, err := os.ReadFile("gemm_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	vecReg := regexp.MustCompile(`\b[XY]\d+\b`)
	for i, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "//") || strings.HasPrefix(f[0], "V") {
			continue
		}
		if vecReg.MatchString(strings.Join(f[1:], " ")) {
			t.Errorf("gemm_amd64.s:%d: legacy SSE instruction %q", i+1, strings.TrimSpace(line))
		}
	}
}

// TestConformance runs the backend conformance suite once per supported
// level, each forced, with 1 and 2 threads. The CPU backend implements
// backend.Convolver: its convolution checks must run, not skip.
func TestConformance(t *testing.T) {
	for _, level := range Supported() {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%dthreads", level, threads), func(t *testing.T) {
				be, err := New(backend.Options{Threads: threads, Level: level.String()})
				if err != nil {
					t.Fatal(err)
				}
				defer be.Close()
				conformance.RequireConvolver(t, be)
				conformance.Run(t, be)
			})
		}
	}
}

// TestUploadRows checks that UploadRows writes row idx[i] of the source
// into row i, leaves the buffer past the rows alone, and refuses an index
// outside the source.
func TestUploadRows(t *testing.T) {
	const width, guard = 3, float32(-7.5)
	be, err := New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	src := []float32{0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}
	buf := be.Alloc(4 * width)
	be.Fill(buf, guard, 4*width)
	be.UploadRows(buf, src, width, []int{3, 0, 3})
	got := make([]float32, 4*width)
	be.Download(got, buf)
	want := []float32{30, 31, 32, 0, 1, 2, 30, 31, 32, guard, guard, guard}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("UploadRows: %v, want %v", got, want)
	}
	for _, r := range []int{-1, 4} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "UploadRows: row index") {
					t.Errorf("row %d: panic %v, want UploadRows naming the index", r, p)
				}
			}()
			be.UploadRows(buf, src, width, []int{0, r})
		}()
	}
}

// recordJob records the pieces a parallel loop runs.
type recordJob struct {
	mu     sync.Mutex
	pieces [][3]int // worker, lo, hi
}

func (j *recordJob) run(w, lo, hi int) {
	j.mu.Lock()
	j.pieces = append(j.pieces, [3]int{w, lo, hi})
	j.mu.Unlock()
}

// TestParallelForPieces checks that parallelFor covers [0, n) exactly once
// in pieces that start at multiples of align, one per worker at most, and
// that it cuts at the nearest multiple of align to the even share.
func TestParallelForPieces(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 8} {
		p := newPool(workers)
		for _, c := range []struct{ n, grain, align int }{
			{784, 128, 32}, {256, 128, 32}, {20, 1, 32}, {40, 16, 32}, {1, 1, 1},
			{100, 1, 1}, {1 << 15, 1 << 13, 16}, {97, 10, 16}, {5, 100, 1},
		} {
			var j recordJob
			p.parallelFor(c.n, c.grain, c.align, &j)
			slices.SortFunc(j.pieces, func(a, b [3]int) int { return a[1] - b[1] })
			next, seen := 0, map[int]bool{}
			for _, pc := range j.pieces {
				w, lo, hi := pc[0], pc[1], pc[2]
				if lo != next || hi <= lo || lo%c.align != 0 || seen[w] || w >= workers {
					t.Fatalf("workers %d, %+v: pieces %v", workers, c, j.pieces)
				}
				seen[w], next = true, hi
			}
			if next != c.n {
				t.Fatalf("workers %d, %+v: pieces %v do not end at n", workers, c, j.pieces)
			}
		}
		p.close()
	}
	p := newPool(2)
	defer p.close()
	var j recordJob
	p.parallelFor(784, 128, 32, &j)
	slices.SortFunc(j.pieces, func(a, b [3]int) int { return a[1] - b[1] })
	if len(j.pieces) != 2 || j.pieces[0][2] != 384 {
		t.Errorf("784 columns in slivers of 32 on 2 workers: pieces %v, want a cut at 384", j.pieces)
	}
}
