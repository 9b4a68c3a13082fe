package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
		if r.Op != "gemm" || r.M != 33 || r.N != 17 || r.K != 9 || r.Threads != 2 || !(r.GFLOPS > 0) {
			t.Errorf("row %+v", r)
		}
		backends[r.Backend+"/"+r.Level] = true
	}
	if !backends["cpu/generic"] || !backends["gonum/go"] {
		t.Errorf("rows for %v; want every CPU level and gonum", backends)
	}
}

func TestTrainRow(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(strings.Fields("train -data digits -layers 16 -batch 64 -epochs 1 -json"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r TrainRow
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Op != "train" || !(r.SamplesPerSec > 0) || r.TestAcc <= 0 || !strings.HasPrefix(r.Backend, "cpu/") {
		t.Errorf("row %+v", r)
	}
}

func TestBadArgs(t *testing.T) {
	for _, args := range []string{"", "fly", "gemm -m 0", "gemm -level avx9", "train -layers x"} {
		var out, errOut bytes.Buffer
		if code := run(strings.Fields(args), &out, &errOut); code == 0 || errOut.Len() == 0 {
			t.Errorf("bench %s: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}
