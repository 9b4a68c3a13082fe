package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

// raw assembles a file from a header and a data section, unpadded.
func raw(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func readBytes(b []byte) (*File, error) {
	return Read(bytes.NewReader(b), int64(len(b)))
}

func encode(t testing.TB, tensors []Tensor, metadata map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, metadata); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// checkHeader checks that b starts with a valid, space-padded JSON header of
// a length that is a multiple of 8, and returns the header.
func checkHeader(t testing.TB, b []byte) []byte {
	t.Helper()
	if len(b) < 8 {
		t.Fatalf("file of %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	h := b[8 : 8+n]
	trimmed := bytes.TrimRight(h, " ")
	if len(h)-len(trimmed) >= 8 {
		t.Errorf("header padded with %d spaces", len(h)-len(trimmed))
	}
	if !json.Valid(h) {
		t.Errorf("header is not valid JSON: %s", h)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(h, &obj); err != nil {
		t.Errorf("header is not a JSON object: %v", err)
	}
	return h
}

func sameTensor(a, b Tensor) bool {
	return a.Name == b.Name && a.DType == b.DType &&
		len(a.Shape) == len(b.Shape) && (len(a.Shape) == 0 || reflect.DeepEqual(a.Shape, b.Shape)) &&
		bytes.Equal(a.Data, b.Data)
}

func TestRoundTrip(t *testing.T) {
	w1 := make([]float32, 12)
	for i := range w1 {
		w1[i] = float32(i)*0.5 - 3
	}
	tensors := []Tensor{
		F32("layer1.weight", []int{3, 4}, w1),
		F32("layer1.bias", []int{4}, []float32{1, -2, float32(math.Inf(1)), 1e-30}),
		I64("bn.num_batches_tracked", nil, []int64{7}),
		F32("empty", []int{0, 4}, nil),
		F64("f64", []int{2}, []float64{math.Pi, -1}),
		I32("idx", []int{3}, []int32{-1, 0, 1 << 30}),
		U8("mask", []int{5}, []uint8{0, 1, 2, 254, 255}),
		F32("layer0.weight", []int{2, 2, 1}, []float32{1, 2, 3, 4}),
	}
	meta := map[string]string{"format": "pt", "note": "π \"quoted\"\n<&>", "": "empty key"}
	b := encode(t, tensors, meta)
	checkHeader(t, b)

	f, err := readBytes(b)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata = %q, want %q", f.Metadata, meta)
	}
	if len(f.Tensors) != len(tensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(tensors))
	}
	for _, want := range tensors {
		got, ok := f.Get(want.Name)
		if !ok {
			t.Errorf("tensor %q missing", want.Name)
			continue
		}
		if !sameTensor(got, want) {
			t.Errorf("tensor %q = %+v, want %+v", want.Name, got, want)
		}
	}
	if _, ok := f.Get("nope"); ok {
		t.Errorf("Get found a tensor that is not there")
	}

	// File order: the reference writer's order, 8-byte types first, then
	// 4-byte ones, then 1-byte ones, by name within each dtype.
	var names []string
	for _, tn := range f.Tensors {
		names = append(names, tn.Name)
	}
	wantOrder := []string{"bn.num_batches_tracked", "f64", "empty", "layer0.weight", "layer1.bias", "layer1.weight", "idx", "mask"}
	if !reflect.DeepEqual(names, wantOrder) {
		t.Errorf("file order %q, want %q", names, wantOrder)
	}

	got, _ := f.Get("layer1.weight")
	vals, err := got.Float32s()
	if err != nil || !reflect.DeepEqual(vals, w1) {
		t.Errorf("Float32s = %v, %v; want %v", vals, err, w1)
	}
	scalar, _ := f.Get("bn.num_batches_tracked")
	if len(scalar.Shape) != 0 {
		t.Errorf("scalar shape %v, want []", scalar.Shape)
	}
	if iv, err := scalar.Int64s(); err != nil || !reflect.DeepEqual(iv, []int64{7}) {
		t.Errorf("Int64s = %v, %v", iv, err)
	}
	empty, _ := f.Get("empty")
	if ev, err := empty.Float32s(); err != nil || len(ev) != 0 {
		t.Errorf("empty Float32s = %v, %v", ev, err)
	}
	if n, err := empty.NumElements(); err != nil || n != 0 {
		t.Errorf("empty NumElements = %d, %v", n, err)
	}

	// The data slices must not run into each other.
	l0, _ := f.Get("layer0.weight")
	before := append([]byte(nil), b...)
	_ = append(l0.Data, 9, 9, 9, 9)
	if l1, _ := f.Get("layer1.bias"); !sameTensor(l1, tensors[1]) {
		t.Errorf("appending to one tensor's Data changed another")
	}
	if !bytes.Equal(before, b) {
		t.Errorf("reading changed the input")
	}

	// Writing what was read gives the same bytes.
	if b2 := encode(t, f.Tensors, f.Metadata); !bytes.Equal(b, b2) {
		t.Errorf("re-encoding differs")
	}
}

func TestGolden(t *testing.T) {
	got := encode(t, []Tensor{F32("a", []int{2}, []float32{1, 2})}, map[string]string{"k": "v"})
	want := []byte("\x50\x00\x00\x00\x00\x00\x00\x00" +
		`{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}` + " " +
		"\x00\x00\x80\x3f" + "\x00\x00\x00\x40")
	if !bytes.Equal(got, want) {
		t.Fatalf("Write =\n%q\nwant\n%q", got, want)
	}
	h := checkHeader(t, got)
	if len(h) != 80 || h[79] != ' ' {
		t.Errorf("header %q", h)
	}

	// Without metadata there is no "__metadata__" member.
	got = encode(t, []Tensor{I64("n", []int{}, []int64{3})}, map[string]string{})
	want = []byte("\x38\x00\x00\x00\x00\x00\x00\x00" +
		`{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}` + "   " +
		"\x03\x00\x00\x00\x00\x00\x00\x00")
	if !bytes.Equal(got, want) {
		t.Fatalf("Write =\n%q\nwant\n%q", got, want)
	}
	checkHeader(t, got)

	// No tensors at all.
	got = encode(t, nil, nil)
	want = []byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
	if !bytes.Equal(got, want) {
		t.Fatalf("Write =\n%q\nwant\n%q", got, want)
	}
	f, err := readBytes(got)
	if err != nil || len(f.Tensors) != 0 || f.Metadata != nil {
		t.Fatalf("Read(empty) = %+v, %v", f, err)
	}
}

func TestEscaping(t *testing.T) {
	names := []string{"quote\"", "back\\slash", "nl\n", "ctl\x01\x1f", "tab\t", "<html>&", "ü€😀", "", "\x7f", "a/b", "\b\f\r"}
	var tensors []Tensor
	for _, n := range names {
		tensors = append(tensors, U8(n, []int{1}, []uint8{1}))
	}
	b := encode(t, tensors, map[string]string{"\u2028": "\x00"})
	h := checkHeader(t, b)
	// serde_json escapes only ", \ and control characters.
	for _, frag := range []string{`"quote\""`, `"back\\slash"`, `"nl\n"`, `"ctl\u0001\u001f"`, `"tab\t"`, `"<html>&"`, `"ü€😀"`, "\"\x7f\"", `"a/b"`, `"\b\f\r"`, "\"\u2028\":\"\\u0000\""} {
		if !bytes.Contains(h, []byte(frag)) {
			t.Errorf("header %s lacks %s", h, frag)
		}
	}
	f, err := readBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := f.Get(n); !ok {
			t.Errorf("name %q lost", n)
		}
	}
	if f.Metadata["\u2028"] != "\x00" {
		t.Errorf("metadata %q", f.Metadata)
	}
	// Escapes the writer does not produce are read too.
	g, err := readBytes(raw(`{"\u00fc\/\ud83d\ude00":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{5}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Get("ü/😀"); !ok {
		t.Errorf("escaped name not decoded: %+v", g.Tensors)
	}
}

func TestReadTolerates(t *testing.T) {
	// Things the reference reader accepts and so must we.
	cases := map[string][]byte{
		"whitespace":      raw(" \t\n{ \"a\" : { \"shape\" : [ 2 ] , \"data_offsets\":[0,2],\"dtype\":\"I8\"} }\r\n", []byte{1, 2}),
		"null metadata":   raw(`{"__metadata__":null,"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}),
		"empty metadata":  raw(`{"__metadata__":{},"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}),
		"name order":      raw(`{"b":{"dtype":"I8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2}),
		"zero-size first": raw(`{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}),
		"zero-size last":  raw(`{"z":{"dtype":"F32","shape":[3,0],"data_offsets":[2,2]},"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}),
		"F4 pair":         raw(`{"a":{"dtype":"F4","shape":[2,2],"data_offsets":[0,2]}}`, []byte{1, 2}),
	}
	for name, b := range cases {
		f, err := readBytes(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == "name order" && (f.Tensors[0].Name != "a" || f.Tensors[1].Name != "b") {
			t.Errorf("%s: not in offset order: %+v", name, f.Tensors)
		}
		if name == "null metadata" && f.Metadata != nil {
			t.Errorf("%s: metadata %v", name, f.Metadata)
		}
	}
}

func TestDecode(t *testing.T) {
	half := func(name string, dt DType, v ...uint16) Tensor {
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
		return Tensor{Name: name, DType: dt, Shape: []int{len(v)}, Data: b}
	}
	f16 := half("h", Float16, 0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x8000, 0x0400)
	got, err := f16.Float32s()
	want := []float32{1, -2, float32(math.Ldexp(1, -24)), 65504, float32(math.Inf(1)), float32(math.Copysign(0, -1)), float32(math.Ldexp(1, -14))}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("F16 = %v, %v; want %v", got, err, want)
	}
	if math.Signbit(float64(got[5])) != true {
		t.Errorf("F16 -0 lost its sign")
	}
	nan := half("n", Float16, 0x7e00)
	if v, _ := nan.Float32s(); !math.IsNaN(float64(v[0])) {
		t.Errorf("F16 NaN = %v", v)
	}
	bf := half("b", BFloat16, 0x3f80, 0xc040)
	if v, err := bf.Float32s(); err != nil || !reflect.DeepEqual(v, []float32{1, -3}) {
		t.Errorf("BF16 = %v, %v", v, err)
	}
	if v, err := F64("d", []int{2}, []float64{0.5, 1e300}).Float32s(); err != nil || v[0] != 0.5 || !math.IsInf(float64(v[1]), 1) {
		t.Errorf("F64 = %v, %v", v, err)
	}
	if _, err := I64("i", []int{1}, []int64{1}).Float32s(); err == nil || !strings.Contains(err.Error(), "I64") {
		t.Errorf("Float32s of I64: %v", err)
	}
	if _, err := F32("bad", []int{3}, []float32{1, 2}).Float32s(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Float32s with short data: %v", err)
	}
	if v, err := I32("i", []int{2}, []int32{-5, 6}).Int64s(); err != nil || !reflect.DeepEqual(v, []int64{-5, 6}) {
		t.Errorf("I32 Int64s = %v, %v", v, err)
	}
	if v, err := (Tensor{Name: "s", DType: Int8, Shape: []int{2}, Data: []byte{0xff, 3}}).Int64s(); err != nil || !reflect.DeepEqual(v, []int64{-1, 3}) {
		t.Errorf("I8 Int64s = %v, %v", v, err)
	}
	if _, err := F32("f", []int{1}, []float32{1}).Int64s(); err == nil {
		t.Errorf("Int64s of F32 succeeded")
	}
	for _, d := range []DType{Float32, Int64, Bool, Float4, Float6E3M2, Uint64, Complex64} {
		if !d.Known() || d.Bits() == 0 {
			t.Errorf("%s not known", d)
		}
	}
	if DType("F31").Known() || DType("f32").Bits() != 0 {
		t.Errorf("unknown dtype accepted")
	}
	// The helpers copy the shape.
	shape := []int{2}
	tn := F32("c", shape, []float32{1, 2})
	shape[0] = 5
	if tn.Shape[0] != 2 {
		t.Errorf("F32 aliases its shape")
	}
}

func TestWriteRejects(t *testing.T) {
	good := F32("a", []int{2}, []float32{1, 2})
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"duplicate", []Tensor{good, good}, nil, `duplicate tensor name "a"`},
		{"reserved", []Tensor{F32("__metadata__", nil, []float32{1})}, nil, "reserved"},
		{"short data", []Tensor{F32("a", []int{3}, []float32{1, 2})}, nil, `tensor "a": shape [3] of F32 needs 12 bytes of data, have 8`},
		{"long data", []Tensor{F32("a", nil, []float32{1, 2})}, nil, "needs 4 bytes of data, have 8"},
		{"negative dim", []Tensor{{Name: "n", DType: Float32, Shape: []int{2, -1}}}, nil, "negative dimension -1 in shape[1]"},
		{"unknown dtype", []Tensor{{Name: "u", DType: "F12", Data: []byte{1}}}, nil, `unknown dtype "F12"`},
		{"empty dtype", []Tensor{{Name: "u", Shape: []int{0}}}, nil, `unknown dtype ""`},
		{"overflow", []Tensor{{Name: "o", DType: Float32, Shape: []int{math.MaxInt / 2, 3}}}, nil, "overflows int"},
		{"bad utf8 name", []Tensor{U8("\xff", nil, []uint8{1})}, nil, "not valid UTF-8"},
		{"bad utf8 metadata", []Tensor{good}, map[string]string{"k": "\xc3"}, "not valid UTF-8"},
		{"misaligned F4", []Tensor{{Name: "q", DType: Float4, Shape: []int{3}, Data: []byte{1, 2}}}, nil, "do not fill whole bytes"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := Write(&buf, c.tensors, c.meta)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrInvalid mentioning %q", c.name, err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before failing", c.name, buf.Len())
		}
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct {
	w io.Writer
	n int
}

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errDiskFull
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestWriteError(t *testing.T) {
	var buf bytes.Buffer
	big := F32("big", []int{1 << 16}, make([]float32, 1<<16))
	err := Write(&failWriter{&buf, 1000}, []Tensor{big}, nil)
	if !errors.Is(err, errDiskFull) || errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v", err)
	}
}
