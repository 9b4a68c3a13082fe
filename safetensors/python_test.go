package safetensors

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pythonReader reads a safetensors file the way safetensors.torch.load_file
// checks it, with only json and struct, compares it with the expectations in
// a JSON file, and, when torch is importable, builds the torch tensors too.
// It prints "ok" and then "torch ok", or "no torch: " and the import error.
const pythonReader = `
import json, struct, sys

path, want_path = sys.argv[1], sys.argv[2]
want = json.load(open(want_path))
blob = open(path, "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
assert n % 8 == 0, "header length %d not a multiple of 8" % n
raw = blob[8:8 + n]
assert raw[:1] == b"{", "header does not start with {"
assert raw.rstrip(b" ").endswith(b"}"), "header not padded with spaces"
hdr = json.loads(raw.decode("utf-8"))
assert isinstance(hdr, dict)
meta = hdr.pop("__metadata__", None)
assert meta == want["metadata"], (meta, want["metadata"])
data = blob[8 + n:]

fmt = {"F64": "d", "F32": "f", "I64": "q", "I32": "i", "I16": "h", "I8": "b",
       "U8": "B", "U16": "H", "U32": "I", "U64": "Q", "BOOL": "?", "F16": "e"}
size = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
        "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F16": 2, "BF16": 2}

pos = 0
for name, info in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"]):
    assert set(info) == {"dtype", "shape", "data_offsets"}, info
    b, e = info["data_offsets"]
    assert b == pos, "tensor %s starts at %d, expected %d" % (name, b, pos)
    count = 1
    for d in info["shape"]:
        count *= d
    assert e - b == count * size[info["dtype"]], name
    pos = e
assert pos == len(data), "data section %d bytes, tensors cover %d" % (len(data), pos)

assert sorted(hdr) == sorted(want["tensors"]), (sorted(hdr), sorted(want["tensors"]))
values = {}
for name, info in hdr.items():
    w = want["tensors"][name]
    assert info["dtype"] == w["dtype"], (name, info["dtype"], w["dtype"])
    assert info["shape"] == w["shape"], (name, info["shape"], w["shape"])
    b, e = info["data_offsets"]
    count = (e - b) // size[info["dtype"]]
    vals = list(struct.unpack("<%d%s" % (count, fmt[info["dtype"]]), data[b:e]))
    assert vals == w["values"], (name, vals, w["values"])
    values[name] = vals
print("ok")

try:
    import torch
except ImportError as e:
    print("no torch: %s" % e)
    sys.exit(0)
tdt = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64, "I32": torch.int32,
       "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "F16": torch.float16, "BOOL": torch.bool}
for name, info in hdr.items():
    b, e = info["data_offsets"]
    if e > b:
        t = torch.frombuffer(bytearray(data[b:e]), dtype=tdt[info["dtype"]]).reshape(info["shape"])
    else:
        t = torch.empty(info["shape"], dtype=tdt[info["dtype"]])
    assert list(t.shape) == info["shape"], (name, t.shape)
    assert t.flatten().tolist() == values[name], name
print("torch ok")
`

func TestPythonReadsOurFiles(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no", python)
	}
	dir := t.TempDir()
	type want struct {
		DType  DType `json:"dtype"`
		Shape  []int `json:"shape"`
		Values []any `json:"values"`
	}
	tensors := []Tensor{
		F32("conv.weight", []int{2, 1, 2, 2}, []float32{0.5, -1.25, 3, 4, 5, 6, 7, 1e-3}),
		F32("conv.bias", []int{2}, []float32{0.1, -0.1}),
		I64("bn.num_batches_tracked", []int{}, []int64{123}),
		F32("bn.empty", []int{0, 4}, nil),
		F64("d", []int{3}, []float64{math.Pi, -2, 1e300}),
		I32("i", []int{2}, []int32{-7, 1 << 30}),
		U8("u", []int{2, 2}, []uint8{0, 1, 128, 255}),
	}
	wants := map[string]want{}
	for _, tn := range tensors {
		var vals []any
		switch tn.DType {
		case Float32:
			v, _ := tn.Float32s()
			for _, x := range v {
				vals = append(vals, float64(x))
			}
		case Float64:
			for _, x := range []float64{math.Pi, -2, 1e300} {
				vals = append(vals, x)
			}
		default:
			v, _ := tn.Int64s()
			for _, x := range v {
				vals = append(vals, x)
			}
		}
		if vals == nil {
			vals = []any{}
		}
		wants[tn.Name] = want{tn.DType, tn.Shape, vals}
	}
	meta := map[string]string{"format": "pt", "note": "ü \"q\""}
	path := filepath.Join(dir, "m.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	wj, err := json.Marshal(map[string]any{"tensors": wants, "metadata": meta})
	if err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(dir, "want.json")
	if err := os.WriteFile(wantPath, wj, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "check.py")
	if err := os.WriteFile(script, []byte(pythonReader), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script, path, wantPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("python reader failed: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "ok\n") {
		t.Fatalf("python reader said %q", out.String())
	}
	t.Logf("python: %s", strings.TrimSpace(out.String()))
	// The torch half is its own subtest, so that where torch is missing the
	// skip says so rather than passing unseen.
	t.Run("torch", func(t *testing.T) {
		if _, why, absent := strings.Cut(out.String(), "no torch: "); absent {
			t.Skipf("PyTorch is not importable by %s (apt-get install python3-torch): %s", python, strings.TrimSpace(why))
		}
		if !strings.Contains(out.String(), "torch ok") {
			t.Fatalf("python reader with torch said %q", out.String())
		}
	})
}

// pythonWriter writes a file as the reference writer lays it out, with only
// json and struct: dtype rank descending, then name; compact JSON with
// "__metadata__" first; space padding to a multiple of 8.
const pythonWriter = `
import json, struct, sys
rank = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
        "C64", "F64", "I64", "U64"]
tensors = {
    "w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
    "b": ("F32", [2], struct.pack("<2f", 0.5, -0.5)),
    "n": ("I64", [], struct.pack("<q", 9)),
    "h": ("F16", [1], struct.pack("<e", 1.5)),
    "e": ("F32", [0, 3], b""),
    "m": ("BOOL", [2], b"\x01\x00"),
}
meta = {"format": "pt", "k": "v"}
order = sorted(tensors, key=lambda k: (-rank.index(tensors[k][0]), k))
hdr, off, body = {"__metadata__": meta}, 0, b""
for k in order:
    dt, shape, data = tensors[k]
    hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
    off += len(data)
    body += data
h = json.dumps(hdr, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
h += b" " * ((8 - len(h) % 8) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + body)
`

func TestReadPythonFiles(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no", python)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "write.py")
	if err := os.WriteFile(script, []byte(pythonWriter), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "py.safetensors")
	if out, err := exec.Command(python, script, path).CombinedOutput(); err != nil {
		t.Fatalf("python writer failed: %v\n%s", err, out)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tn := range f.Tensors {
		names = append(names, tn.Name)
	}
	if got, want := strings.Join(names, ","), "n,b,e,w,h,m"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	w, _ := f.Get("w")
	if v, err := w.Float32s(); err != nil || len(v) != 4 || v[3] != 4 {
		t.Errorf("w = %v, %v", v, err)
	}
	h, _ := f.Get("h")
	if v, err := h.Float32s(); err != nil || v[0] != 1.5 {
		t.Errorf("h = %v, %v", v, err)
	}
	// Our writer produces the same bytes for the same tensors.
	pyBytes := mustRead(t, path)
	if ours := encode(t, f.Tensors, f.Metadata); !bytes.Equal(ours, pyBytes) {
		t.Errorf("Write differs from the reference layout:\n%q\n%q", ours, pyBytes)
	}
}
