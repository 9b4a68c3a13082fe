package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
)

func TestGemmRows(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(strings.Fields("gemm -m 33 -n 17 -k 9 -threads 2 -reps 1 -json"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	backends := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r GemmRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if r.Backend == "cuda" {
			r.Threads = 2 // a GPU row has no thread count
		}
		if r.Op != "gemm" || r.M != 33 || r.N != 17 || r.K != 9 || r.Threads != 2 || !(r.GFLOPS > 0) {
			t.Errorf("row %+v", r)
		}
		backends[r.Backend+"/"+r.Level] = true
	}
	if !backends["cpu/generic"] || !backends["gonum/go"] {
		t.Errorf("rows for %v; want every CPU level and gonum", backends)
	}
}

func TestOpsRows(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(strings.Fields("ops -n 4096 -reps 1 -level generic -json"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	kernels := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r OpsRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if r.Op != "ops" || r.N != 4096 || !(r.GBps > 0) {
			t.Errorf("row %+v", r)
		}
		if r.Backend == "cpu" {
			kernels[r.Kernel] = true
		}
	}
	if len(kernels) != len(opsKernels) {
		t.Errorf("CPU rows for %v, want all %d kernels", kernels, len(opsKernels))
	}
}

// TestCUDARowsWithoutGPU: -cuda auto skips the rows with a note, -cuda on
// fails, on a machine (or a build) without CUDA.
func TestCUDARowsWithoutGPU(t *testing.T) {
	if be, _, err := backend.Open("cuda", backend.Options{}); err == nil {
		be.Close()
		t.Skip("this machine has a GPU")
	}
	var out, errOut bytes.Buffer
	_, _, openErr := backend.Open("cuda", backend.Options{})
	note := !errors.Is(openErr, backend.ErrNotCompiled) // only a -tags cuda build explains the missing rows
	if code := run(strings.Fields("gemm -m 8 -n 8 -k 8 -reps 1 -level generic -no-gonum -cuda auto"), &out, &errOut); code != 0 || strings.Contains(errOut.String(), "no CUDA rows") != note {
		t.Errorf("-cuda auto: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(strings.Fields("gemm -m 8 -n 8 -k 8 -reps 1 -level generic -no-gonum -cuda on"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "cuda") {
		t.Errorf("-cuda on: exit %d, stderr %q", code, errOut.String())
	}
}

// trainRow runs bench with args and decodes its JSON line.
func trainRow(t *testing.T, args string) TrainRow {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(strings.Fields(args), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r TrainRow
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTrainRow(t *testing.T) {
	r := trainRow(t, "train -data digits -layers 16 -batch 64 -epochs 3 -threads 1 -json")
	if r.Op != "train" || !(r.SamplesPerSec > 0) || r.TestAcc <= 0 || !strings.HasPrefix(r.Backend, "cpu/") || r.Threads != 1 {
		t.Errorf("row %+v", r)
	}
	// Each epoch's samples/s (together they make the run's figure), and
	// the median of epochs 2 and 3 to compare by.
	e := r.EpochSamplesPerSec
	if len(e) != 3 || math.Abs(3/(1/e[0]+1/e[1]+1/e[2])/r.SamplesPerSec-1) > 1e-6 || r.WarmSamplesPerSec != (e[1]+e[2])/2 {
		t.Errorf("per epoch %v, run %v, warm %v", e, r.SamplesPerSec, r.WarmSamplesPerSec)
	}
}

// TestTrainCNNRow: bench train -arch cnn names the preset, as the PyTorch
// peer does, so that bench summarize sets the two side by side.
func TestTrainCNNRow(t *testing.T) {
	r := trainRow(t, "train -data digits -arch cnn -batch 64 -epochs 1 -threads 1 -json")
	if r.Arch != "cnn" || len(r.Layers) != 0 || r.Batch != 64 || !(r.SamplesPerSec > 0) || r.TestAcc <= 0.5 {
		t.Errorf("row %+v", r)
	}
}

func TestBadArgs(t *testing.T) {
	for _, args := range []string{"", "fly", "gemm -m 0", "gemm -level avx9", "gemm -cuda maybe", "ops -n 1000", "train -layers x",
		"train -arch cnn -layers 64", "train -arch Conv9d"} {
		var out, errOut bytes.Buffer
		if code := run(strings.Fields(args), &out, &errOut); code == 0 || errOut.Len() == 0 {
			t.Errorf("bench %s: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}

func TestConvRows(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(strings.Fields("conv -level generic -reps 1 -batch 2 -threads 2 -json"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r ConvRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if r.Op != "conv" || r.Backend != "cpu" || r.Level != "generic" || r.N != 2 || r.Threads != 2 || !(r.GFLOPS > 0) || !(r.Millis > 0) {
			t.Errorf("row %+v", r)
		}
		seen[r.Shape+"/"+r.Pass] = true
	}
	if len(seen) != len(convShapes)*len(convPasses) {
		t.Errorf("rows for %v, want every shape and pass", seen)
	}
	out.Reset()
	if code := run([]string{"conv", "-shapes"}, &out, &errOut); code != 0 {
		t.Fatalf("-shapes: exit %d: %s", code, errOut.String())
	}
	if got, want := strings.TrimSpace(out.String()), "conv1:64,1,28,28,32,3,3,1,0 conv2:64,32,13,13,64,3,3,1,0"; got != want {
		t.Errorf("-shapes printed %q, want %q", got, want)
	}
	errOut.Reset()
	if code := run([]string{"conv", "-shape", "conv9"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "conv1, conv2") {
		t.Errorf("-shape conv9: exit %d, %q; want an error naming the shapes", code, errOut.String())
	}
	errOut.Reset()
	if code := run(strings.Fields("conv -clock thread -threads 2"), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "-threads 1") {
		t.Errorf("-clock thread -threads 2: exit %d, %q; want an error asking for one thread", code, errOut.String())
	}
	out.Reset()
	if code := run(strings.Fields("conv -clock thread -threads 1 -level generic -shape conv1 -batch 1 -reps 1 -json"), &out, &errOut); code != 0 {
		t.Fatalf("-clock thread: exit %d: %s", code, errOut.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r ConvRow
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Clock != "thread" || r.Shape != "conv1" || !(r.GFLOPS > 0) {
			t.Errorf("-clock thread row %q (%v)", line, err)
		}
	}
}

func TestSummarizeConv(t *testing.T) {
	in := `{"op":"conv","backend":"cpu","level":"avx2","shape":"conv2","pass":"forward","n":64,"c":32,"h":13,"w":13,"k":64,"kh":3,"kw":3,"threads":1,"ms":4,"gflops":70}
{"op":"conv","backend":"cpu","level":"avx512","shape":"conv2","pass":"forward","n":64,"c":32,"h":13,"w":13,"k":64,"kh":3,"kw":3,"threads":1,"ms":2,"gflops":140}
{"op":"conv","backend":"pytorch 1.13.0a0","level":"onednn","shape":"conv2","pass":"forward","n":64,"c":32,"h":13,"w":13,"k":64,"kh":3,"kw":3,"threads":1,"ms":2.5,"gflops":112}
{"op":"conv","backend":"cpu","level":"avx512","shape":"conv2","pass":"forward","n":64,"c":32,"h":13,"w":13,"k":64,"kh":3,"kw":3,"threads":2,"ms":1,"gflops":280}
`
	var s summary
	if err := s.read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.write(&out)
	for _, want := range []string{
		"| conv2 64x32x13x13 k64x3x3 | forward | 1 | 140.0 (avx512) | 112.0 | 1.25 |",
		"| conv2 64x32x13x13 k64x3x3 | forward | 2 | 280.0 (avx512) | - | - |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
