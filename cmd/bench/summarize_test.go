package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWarmMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false},
		{[]float64{5}, 0, false},
		{[]float64{1, 3}, 3, true},
		{[]float64{1, 3, 5}, 4, true},
		{[]float64{100, 9, 1, 5}, 5, true}, // epoch 1 never counts, however fast
		{[]float64{0, 7, 1, 5, 3}, 4, true},
	} {
		got, ok := warmMedian(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("warmMedian(%v) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// summarizeInput is what bench/compare.sh prints: comments, a peer's
// progress lines and JSON rows, with more CPU levels than this machine has.
const summarizeInput = `# 2026-12-02 machine line
{"op":"gemm","backend":"cpu","level":"generic","m":256,"n":256,"k":256,"threads":1,"gflops":3}
{"op":"gemm","backend":"cpu","level":"avx2","m":256,"n":256,"k":256,"threads":1,"gflops":90}
{"op":"gemm","backend":"cpu","level":"avx512","m":256,"n":256,"k":256,"threads":1,"gflops":150}
{"op":"gemm","backend":"gonum","level":"go","m":256,"n":256,"k":256,"threads":1,"gflops":10}
{"op":"gemm","backend":"openblas","level":"SkylakeX","m":256,"n":256,"k":256,"threads":1,"gflops":180,"result":"n=256 best=0.0002s GFLOP/s=180.0 maxerr=1e-06"}
{"op":"gemm","backend":"cpu","level":"avx2","m":128,"n":256,"k":784,"threads":2,"gflops":120}
{"op":"gemm","backend":"cpu","level":"avx2","m":128,"n":256,"k":784,"threads":2,"gflops":125}
{"op":"gemm","backend":"openblas","level":"SkylakeX","m":128,"n":256,"k":784,"threads":2,"gflops":250}
{"op":"ops","kernel":"softmax_xent","backend":"cpu","level":"generic","n":1048576,"threads":1,"gbps":0.7}
{"op":"ops","kernel":"softmax_xent","backend":"cpu","level":"avx2","n":1048576,"threads":1,"gbps":2.8}
{"op":"ops","kernel":"softmax_xent","backend":"cpu","level":"avx512","n":1048576,"threads":1,"gbps":20}
{"op":"ops","kernel":"softmax_xent","backend":"cpu","level":"avx512","n":1048576,"threads":1,"gbps":24.5}
{"op":"ops","kernel":"adam","backend":"cpu","level":"avx2","n":1048576,"threads":1,"gbps":50}
{"op":"train","backend":"cpu/avx2 2 threads","data":"fashion-mnist","layers":[256],"batch":128,"epochs":4,"threads":2,"samples_per_sec":200,"test_acc":0.85,"epoch_samples_per_sec":[100,200,300,250]}
torch=1.13 threads=1 epoch=1 samples/s=50
{"op":"train","backend":"cpu/avx512 2 threads","data":"fashion-mnist","layers":[256],"batch":128,"epochs":4,"threads":2,"samples_per_sec":200,"test_acc":0.85,"epoch_samples_per_sec":[100,400,300,380]}
{"op":"train","backend":"cpu/avx512 2 threads","data":"fashion-mnist","layers":[256],"batch":128,"epochs":4,"threads":2,"samples_per_sec":200,"test_acc":0.85,"epoch_samples_per_sec":[100,390,360,350]}
{"op":"train","backend":"pytorch 1.13.0a0","data":"fashion-mnist","layers":[256],"batch":128,"epochs":4,"threads":1,"samples_per_sec":80,"test_acc":0.84,"epoch_samples_per_sec":[50,100,100,120]}
{"op":"train","backend":"pytorch 1.13.0a0","data":"fashion-mnist","layers":[256],"batch":128,"epochs":4,"threads":2,"samples_per_sec":70,"test_acc":0.84,"epoch_samples_per_sec":[40,80,90,85]}
{"op":"train","backend":"cpu/avx2 2 threads","data":"fashion-mnist","layers":[16,16],"batch":64,"epochs":1,"threads":2,"samples_per_sec":3000,"test_acc":0.8,"epoch_samples_per_sec":[3000]}
{"op":"train","backend":"cpu/avx512 2 threads","data":"fashion-mnist","layers":[16,16],"batch":64,"epochs":1,"threads":2,"samples_per_sec":4500,"test_acc":0.8,"epoch_samples_per_sec":[4500]}
{"op":"train","backend":"pytorch 1.13.0a0","data":"fashion-mnist","layers":[16,16],"batch":64,"epochs":1,"threads":1,"samples_per_sec":1000,"test_acc":0.8,"epoch_samples_per_sec":[1000]}
{"op":"train","backend":"cpu/avx2 2 threads","data":"fashion-mnist","arch":"cnn","layers":null,"batch":64,"epochs":2,"threads":2,"samples_per_sec":3000,"test_acc":0.87,"epoch_samples_per_sec":[2000,4000]}
{"op":"train","backend":"pytorch 1.13.0a0","data":"fashion-mnist","arch":"cnn","layers":[],"batch":64,"epochs":2,"threads":1,"samples_per_sec":2200,"test_acc":0.86,"epoch_samples_per_sec":[2000,2500]}
`

func TestSummarize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines")
	if err := os.WriteFile(path, []byte(summarizeInput), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run([]string{"summarize", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	wantLines(t, out.String(), []string{
		// Every level gets a column and each SIMD level its ratio; the
		// best of repeated rows counts; a missing figure is "-".
		"| m x n x k | threads | generic | avx2 | avx512 | gonum | OpenBLAS (SkylakeX) | avx2 / OpenBLAS | avx512 / OpenBLAS |",
		"| 256 x 256 x 256 | 1 | 3.0 | 90.0 | 150.0 | 10.0 | 180.0 | 0.50 | 0.83 |",
		"| 128 x 256 x 784 | 2 | - | 125.0 | - | - | 250.0 | 0.50 | - |",
		// Bandwidth-bound kernels: a column per level, the best of
		// repeated rows, each SIMD level against the one below it.
		"| kernel | elements | threads | generic | avx2 | avx512 | avx2 / generic | avx512 / avx2 |",
		"| softmax_xent | 1048576 | 1 | 0.7 | 2.8 | 24.5 | 4.00 | 8.75 |",
		"| adam | 1048576 | 1 | - | 50.0 | - | - | - |",
		// Per epoch, with the median of epochs 2 onward.
		"| fashion-mnist | 256 | 128 | fastnn cpu/avx2 2 threads | 100 | 200 | 300 | 250 | 250 | 0.8500 |",
		"| fashion-mnist | 256 | 128 | pytorch 1.13.0a0, 2 threads | 40 | 80 | 90 | 85 | 85 | 0.8400 |",
		// Ours against the better PyTorch run: 380 / 100.
		"| fashion-mnist | 256 | 128 | 380 (cpu/avx512 2 threads) | 100 (1 thread) | 3.80 |",
		// Our two levels against each other, each the best of its runs
		// (380 of 380 and 360): 380 / 250.
		"| fashion-mnist | 256 | 128 | 380 (cpu/avx512 2 threads) | 250 (cpu/avx2 2 threads) | 1.52 |",
		// One epoch: compared cold, and said so.
		"| fashion-mnist | 16,16 | 64 | fastnn cpu/avx2 2 threads | 3,000 | - | - | - | 3,000 (epoch 1 only) | 0.8000 |",
		"| fashion-mnist | 16,16 | 64 | 4,500 (cpu/avx512 2 threads, epoch 1 only) | 1,000 (1 thread, epoch 1 only) | 4.50 |",
		// Our own runs of one epoch are marked too.
		"| fashion-mnist | 16,16 | 64 | 4,500 (cpu/avx512 2 threads, epoch 1 only) | 3,000 (cpu/avx2 2 threads, epoch 1 only) | 1.50 |",
		// A model given by -arch is its own row, named by it, never
		// compared with an MLP of the same batch.
		"| fashion-mnist | cnn | 64 | 4,000 (cpu/avx2 2 threads) | 2,500 (1 thread) | 1.60 |",
	})
}

// wantLines fails t for each of want that is not a line of got.
func wantLines(t *testing.T, got string, want []string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("output lacks the line %q:\n%s", w, got)
		}
	}
}

func TestSummarizeBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"broken": "{\"op\":\"gemm\",\"gflops\":\n",
		"empty":  "# nothing measured\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errOut strings.Builder
		if code := run([]string{"summarize", path}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "summarize") {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut.String())
		}
	}
	var out, errOut strings.Builder
	if code := run([]string{"summarize", filepath.Join(dir, "missing")}, &out, &errOut); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}
