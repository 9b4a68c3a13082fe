package nn_test

import (
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/nn"
	"github.com/fastnn/fastnn/safetensors"
)

// TestStateSize: the size computed from the configuration alone is the
// size of the state dict of the model NewMLP builds, for every kind of
// layer stack.
func TestStateSize(t *testing.T) {
	be := newBackend(t)
	for _, cfg := range []nn.MLPConfig{
		{In: 3, Out: 2},
		{In: 5, Hidden: []int{7}, Out: 1, Act: backend.ReLU},
		{In: 4, Hidden: []int{8, 8, 6}, Out: 3, Act: backend.Tanh, Residual: true},
		{In: 2, Hidden: []int{16, 16}, Out: 3, Act: backend.GELU, BatchNorm: true, Dropout: 0.1, Residual: true},
	} {
		m, err := nn.NewMLP(be, cfg, nn.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ts := range m.StateDict() {
			size := 1
			for _, d := range ts.Shape {
				size *= d
			}
			n += size
		}
		if got := cfg.StateSize(); got != n {
			t.Errorf("%+v: StateSize %d, the built model's state dict holds %d", cfg, got, n)
		}
		m.Free()
	}
}

// TestMLPLimits: one limit for depth and width, checked before anything is
// allocated.
func TestMLPLimits(t *testing.T) {
	be := newBackend(t)
	deep := make([]int, nn.MaxHidden+1)
	for i := range deep {
		deep[i] = 2
	}
	for _, cfg := range []nn.MLPConfig{
		{In: 2, Hidden: deep, Out: 1},
		{In: 2, Hidden: []int{nn.MaxWidth + 1}, Out: 1},
		{In: 2, Out: 2_000_000_000},
		{In: nn.MaxFeatures + 1, Out: 1},
		{In: 2, Out: 1, Slope: -1},
	} {
		if _, err := nn.NewMLP(be, cfg, nn.NewRNG(1)); err == nil {
			t.Errorf("%+v: built", cfg)
		}
	}
	if _, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: deep[:nn.MaxHidden], Out: 1}, nn.NewRNG(1)); err != nil {
		t.Errorf("%d hidden layers: %v", nn.MaxHidden, err)
	}
}

// TestChecksumCoversMetadata: a changed metadata entry fails the
// checksum; a legacy file, whose checksum covers the tensors alone, loads.
func TestChecksumCoversMetadata(t *testing.T) {
	be := newBackend(t)
	m, _ := nn.NewMLP(be, nn.MLPConfig{In: 3, Hidden: []int{4}, Out: 2, Act: backend.ReLU}, nn.NewRNG(41))
	dir := t.TempDir()
	path := dir + "/m.safetensors"
	if err := nn.SaveModel(be, m, path, map[string]string{"arch": `{"outputs": 2}`}); err != nil {
		t.Fatal(err)
	}
	f, err := nn.ReadChecked(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata["arch"] = `{"outputs": 2000000000}`
	if err := safetensors.WriteFile(path, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	if _, err := nn.LoadModel(be, m, path); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("changed metadata loaded: %v", err)
	}

	legacy := map[string]string{"arch": `{"outputs": 2}`, "fastnn.sha256": nn.Checksum(f.Tensors, nil)}
	if err := safetensors.WriteFile(path, f.Tensors, legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := nn.LoadModel(be, m, path); err != nil {
		t.Errorf("legacy file: %v", err)
	}
	f.Tensors[0].Data[0] ^= 1
	if err := safetensors.WriteFile(path, f.Tensors, legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := nn.LoadModel(be, m, path); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("legacy file with a changed weight loaded: %v", err)
	}
}
