package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/data"
)

// writeIDXSet writes a tiny, valid four-file MNIST-style set into dir.
func writeIDXSet(t *testing.T, dir string) {
	t.Helper()
	for _, split := range []struct {
		prefix string
		n      int
	}{{"train", 20}, {"t10k", 10}} {
		img := &data.IDX{Dims: []int{split.n, 28, 28}, Data: make([]uint8, split.n*784)}
		lab := &data.IDX{Dims: []int{split.n}, Data: make([]uint8, split.n)}
		for i := range lab.Data {
			lab.Data[i] = uint8(i % 10)
		}
		for name, m := range map[string]*data.IDX{split.prefix + "-images-idx3-ubyte": img, split.prefix + "-labels-idx1-ubyte": lab} {
			var b bytes.Buffer
			if err := data.WriteIDX(&b, m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func idxHeader(dims ...uint32) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return b
}

// safetensorsFile builds a file from a raw header and data section.
func safetensorsFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// TestHostileInputs feeds train files and flags built to break it: every
// one must end with a message that names the file or flag, exit non-zero,
// and never panic or hang.
func TestHostileInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idxCase := func(name string, images []byte) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		writeIDXSet(t, d)
		os.WriteFile(filepath.Join(d, "train-images-idx3-ubyte"), images, 0o644)
		return d
	}
	goodIDX := t.TempDir()
	writeIDXSet(t, goodIDX)
	good := filepath.Join(dir, "good.safetensors")
	if code, _, stderr := train(t, "-data", "iris", "-epochs", "2", "-save", good); code != 0 {
		t.Fatal(stderr)
	}
	goodBytes, _ := os.ReadFile(good)
	f32 := make([]byte, 16)

	cases := []struct {
		name string
		args []string
		says string // a word the message must contain
	}{
		{"idx absurd dims", []string{"-data", "mnist", "-download=false", "-data-dir", idxCase("absurd", idxHeader(0x7fffffff, 28, 28))}, "train-images-idx3-ubyte"},
		{"idx truncated", []string{"-data", "mnist", "-download=false", "-data-dir", idxCase("trunc", append(idxHeader(20, 28, 28), make([]byte, 100)...))}, "train-images-idx3-ubyte"},
		{"idx zero dim", []string{"-data", "mnist", "-download=false", "-data-dir", idxCase("zero", idxHeader(0, 28, 28))}, "train-images-idx3-ubyte"},
		{"idx bad magic", []string{"-data", "mnist", "-download=false", "-data-dir", idxCase("magic", []byte("PK\x03\x04 not an idx file at all"))}, "train-images-idx3-ubyte"},
		{"idx gzip junk", []string{"-data", "mnist", "-download=false", "-data-dir", idxCase("gz", []byte{0x1f, 0x8b, 8, 0, 1, 2, 3})}, "train-images-idx3-ubyte"},
		{"idx missing, no download", []string{"-data", "mnist", "-download=false", "-data-dir", dir}, "mnist"},
		{"csv text", []string{"-data", write("text.csv", []byte("a,b,y\n1,two,0\n3,4,1\n"))}, "text.csv"},
		{"csv ragged", []string{"-data", write("ragged.csv", []byte("a,b,y\n1,2,0\n3,4\n"))}, "ragged.csv"},
		{"csv empty", []string{"-data", write("empty.csv", nil)}, "empty.csv"},
		{"csv header only", []string{"-data", write("header.csv", []byte("a,b,y\n"))}, "header.csv"},
		{"csv binary", []string{"-data", write("binary.csv", []byte("\x00\x01\x02\xff\xfe\n\x00,\x00\n"))}, "binary.csv"},
		{"csv nan", []string{"-data", write("nan.csv", []byte("a,y\nNaN,0\n1,1\n"))}, "nan.csv"},
		{"csv one row", []string{"-data", write("one.csv", []byte("a,y\n1,0\n"))}, "one"},
		{"st huge header length", []string{"-load", write("huge.safetensors", binary.LittleEndian.AppendUint64(nil, 1<<62))}, "huge.safetensors"},
		{"st header past end", []string{"-load", write("past.safetensors", safetensorsFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, nil))}, "past.safetensors"},
		{"st overlapping", []string{"-load", write("overlap.safetensors", safetensorsFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, f32))}, "overlap.safetensors"},
		{"st out of range", []string{"-load", write("range.safetensors", safetensorsFile(`{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}`, f32))}, "range.safetensors"},
		{"st truncated", []string{"-load", write("cut.safetensors", goodBytes[:len(goodBytes)-5])}, "cut.safetensors"},
		{"st not json", []string{"-load", write("json.safetensors", safetensorsFile("{{{{", nil))}, "json.safetensors"},
		{"st no metadata", []string{"-load", write("bare.safetensors", safetensorsFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32))}, "bare.safetensors"},
		{"st missing file", []string{"-load", filepath.Join(dir, "absent.safetensors")}, "absent.safetensors"},
		{"flag negative layers", []string{"-layers", "-5"}, "-layers"},
		{"flag nan lr", []string{"-lr", "nan"}, "-lr"},
		{"flag negative batch", []string{"-batch", "-7"}, "-batch"},
		{"flag huge layer", []string{"-layers", "100000000"}, "-layers"},
		{"flag dropout 1", []string{"-dropout", "1"}, "-dropout"},
		{"flag batchnorm online", []string{"-batchnorm", "-batch", "1"}, "-batchnorm"},
		{"flag load and save", []string{"-load", good, "-save", good}, "-load"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if !slices.Contains(args, "-load") {
				args = append(args, "-epochs", "1")
			}
			code, _, stderr := train(t, args...)
			if code == 0 || !strings.Contains(stderr, c.says) || strings.Contains(stderr, "panic") {
				t.Errorf("exit %d, stderr %q; want non-zero and a message naming %q", code, stderr, c.says)
			}
		})
	}
	// The good checkpoint survived every attempt above.
	if after, _ := os.ReadFile(good); !bytes.Equal(after, goodBytes) {
		t.Error("a failed run changed the existing checkpoint")
	}
	if code, _, stderr := train(t, "-data", "mnist", "-download=false", "-data-dir", goodIDX, "-epochs", "1", "-layers", "8"); code != 0 {
		t.Errorf("the valid tiny IDX set fails: %s", stderr)
	}
}
