package safetensors

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	v1 := []Tensor{F32("w", []int{2, 2}, []float32{1, 2, 3, 4}), I64("n", nil, []int64{1})}
	if err := WriteFile(path, v1, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := f.Get("w"); !sameTensor(w, v1[0]) || f.Metadata["format"] != "pt" {
		t.Errorf("read back %+v", f)
	}
	if got := mustRead(t, path); !bytes.Equal(got, encode(t, v1, map[string]string{"format": "pt"})) {
		t.Errorf("WriteFile and Write differ")
	}

	// Overwrite an existing file.
	v2 := []Tensor{F32("w", []int{1}, []float32{9})}
	if err := WriteFile(path, v2, nil); err != nil {
		t.Fatal(err)
	}
	f, err = ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 1 || !sameTensor(f.Tensors[0], v2[0]) || f.Metadata != nil {
		t.Errorf("after overwrite: %+v", f)
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "model.safetensors" {
		t.Errorf("folder holds %q", names)
	}

	// A relative path in the current folder.
	t.Chdir(dir)
	if err := WriteFile("rel.safetensors", v2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile("rel.safetensors"); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFileKeepsPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []Tensor{F32("a", nil, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

func TestWriteFileFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, []Tensor{F32("w", []int{2}, []float32{1, 2})}, map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	old := mustRead(t, path)
	check := func(what string, err error, wantInvalid bool) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if errors.Is(err, ErrInvalid) != wantInvalid {
			t.Errorf("%s: errors.Is(ErrInvalid) = %v: %v", what, !wantInvalid, err)
		}
		if !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("%s: error does not name the file: %v", what, err)
		}
		if got := mustRead(t, path); !bytes.Equal(got, old) {
			t.Errorf("%s: old file changed", what)
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("%s: folder holds %q", what, names)
		}
	}

	// Detected before writing: data length does not match the shape.
	bad := F32("w", []int{3}, []float32{1, 2})
	check("bad tensor", WriteFile(path, []Tensor{F32("ok", []int{1}, []float32{1}), bad}, nil), true)

	// Failing midway through the data: the writer errors after some bytes.
	big := F32("big", []int{1 << 16}, make([]float32, 1<<16))
	for _, n := range []int{0, 7, 100, 1 << 17} {
		wrapFileWriter = func(w io.Writer) io.Writer { return &failWriter{w, n} }
		err := WriteFile(path, []Tensor{big}, nil)
		wrapFileWriter = nil
		check("failing writer", err, false)
		if !errors.Is(err, errDiskFull) {
			t.Errorf("error %v does not wrap the write error", err)
		}
	}

	// The destination is a folder: the rename fails.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []Tensor{big}, nil); err == nil {
		t.Errorf("writing over a folder succeeded")
	}
	if names := entries(t, dir); len(names) != 2 {
		t.Errorf("after failed rename the folder holds %q", names)
	}

	// The folder does not exist.
	if err := WriteFile(filepath.Join(dir, "missing", "m.safetensors"), []Tensor{big}, nil); err == nil {
		t.Errorf("writing into a missing folder succeeded")
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := ReadFile(missing); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 9)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bad.safetensors") || !strings.Contains(err.Error(), "1 trailing bytes") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := ReadFile(dir); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: %v", err)
	}
}
