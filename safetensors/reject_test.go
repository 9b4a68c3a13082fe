package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// lengthOnly is a file holding only the 8-byte header length n, then pad.
func lengthOnly(n uint64, pad int) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), make([]byte, pad)...)
}

const ok8 = `"dtype":"F32","shape":[2],"data_offsets":[0,8]`

func TestReadRejects(t *testing.T) {
	eight := make([]byte, 8)
	cases := []struct {
		name string
		in   []byte
		want string // must appear in the error message
	}{
		{"empty input", nil, "too short"},
		{"short length", []byte{1, 0, 0}, "too short"},
		{"header over limit", lengthOnly(100_000_001, 16), "larger than the limit of 100000000 bytes"},
		{"header length 2^64-1", lengthOnly(1<<64-1, 16), "larger than the limit"},
		{"header longer than file", lengthOnly(1000, 50), "header length 1000 is larger than the 50 bytes that follow it"},
		{"header one past file", raw(`{}`, nil)[:9], "header length 2 is larger than the 1 bytes"},
		{"empty header", raw(``, nil), "header is empty"},
		{"blank header", raw(`        `, nil), "header is empty"},
		{"invalid UTF-8", raw("{\"a\xff\":1}", nil), "not valid UTF-8 (at byte 3"},
		{"not JSON", raw(`{"a":`, nil), "not valid JSON"},
		{"not JSON 2", raw(`{"a" 1}`, nil), "expected ':'"},
		{"unterminated string", raw(`{"a`, nil), "unterminated string"},
		{"control char", raw("{\"a\x01\":{}}", nil), "control character"},
		{"bad escape", raw(`{"\q":{}}`, nil), "invalid escape"},
		{"lone surrogate", raw(`{"\ud800":{}}`, nil), "lone high surrogate"},
		{"lone low surrogate", raw(`{"\udc00":{}}`, nil), "lone low surrogate"},
		{"surrogate then letter", raw(`{"\ud800\u0041":{}}`, nil), "high surrogate not followed by a low surrogate"},
		{"short escape", raw(`{"\u12`, nil), "short \\u escape"},
		{"bad hex", raw(`{"\u12zz":{}}`, nil), "invalid hex digit"},
		{"metadata truncated", raw(`{"__metadata__":`, nil), "expected a value at end of header"},
		{"bad fraction", raw(`{"a":{"dtype":"F32","shape":[1.],"data_offsets":[0,4]}}`, eight[:4]), "expected a digit after '.'"},
		{"bad exponent", raw(`{"a":{"dtype":"F32","shape":[1e+],"data_offsets":[0,4]}}`, eight[:4]), "expected a digit in exponent"},
		{"bare minus", raw(`{"a":{"dtype":"F32","shape":[-],"data_offsets":[0,4]}}`, eight[:4]), "expected a number"},
		{"trailing comma", raw(`{"a":{`+ok8+`},}`, eight), "expected a string member name"},
		{"array header", raw(`[1,2]`, nil), "not a JSON object"},
		{"string header", raw(`"x"`, nil), "not a JSON object"},
		{"null header", raw(`null`, nil), "not a JSON object"},
		{"garbage after object", raw(`{} x`, nil), "data after its JSON object"},
		{"two objects", raw(`{}{}`, nil), "data after its JSON object"},
		{"NUL padding", raw("{}\x00\x00", nil), "data after its JSON object"},
		{"duplicate name", raw(`{"a":{`+ok8+`},"a":{`+ok8+`}}`, eight), `duplicate tensor name "a"`},
		{"duplicate metadata", raw(`{"__metadata__":{},"__metadata__":{}}`, nil), "duplicate __metadata__"},
		{"metadata not object", raw(`{"__metadata__":[]}`, nil), "__metadata__ is not a JSON object"},
		{"metadata number", raw(`{"__metadata__":{"k":1}}`, nil), `__metadata__ value for key "k" is not a string`},
		{"metadata duplicate key", raw(`{"__metadata__":{"k":"a","k":"b"}}`, nil), `duplicate __metadata__ key "k"`},
		{"entry not object", raw(`{"a":[0,8]}`, eight), `tensor "a": entry is not a JSON object`},
		{"unknown dtype", raw(`{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": unknown dtype "F31"`},
		{"lowercase dtype", raw(`{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}`, eight), `unknown dtype "f32"`},
		{"dtype not string", raw(`{"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}`, eight), "dtype is not a string"},
		{"missing dtype", raw(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": missing field "dtype"`},
		{"missing shape", raw(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, eight), `missing field "shape"`},
		{"missing offsets", raw(`{"a":{"dtype":"F32","shape":[2]}}`, eight), `missing field "data_offsets"`},
		{"unknown field", raw(`{"a":{`+ok8+`,"stride":[1]}}`, eight), `tensor "a": unknown field "stride"`},
		{"duplicate field", raw(`{"a":{`+ok8+`,"dtype":"F32"}}`, eight), `tensor "a": duplicate field "dtype"`},
		{"shape not array", raw(`{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, eight), "shape is not a JSON array"},
		{"shape of strings", raw(`{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, eight), "shape[0] is not an integer"},
		{"negative dim", raw(`{"a":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,8]}}`, eight), `tensor "a": negative dimension -2 in shape[1]`},
		{"fractional dim", raw(`{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, eight), "shape[0] is not an integer (2.0)"},
		{"exponent dim", raw(`{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}`, eight), "is not an integer"},
		{"leading zero", raw(`{"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}`, eight), "expected ',' or ']'"},
		{"huge dim", raw(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}`, eight), "shape[0] is too large"},
		{"dim past int", raw(`{"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}}`, eight), "shape[0] is too large"},
		{"element overflow", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, eight), `tensor "a": shape [4294967296 4294967296]: element count overflows int`},
		{"element overflow with zero", raw(`{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "element count overflows int"},
		{"byte overflow", raw(`{"a":{"dtype":"F64","shape":[1152921504606846976,2],"data_offsets":[0,8]}}`, eight), "byte size of F64 data overflows int"},
		{"misaligned F6", raw(`{"a":{"dtype":"F6_E2M3","shape":[3],"data_offsets":[0,2]}}`, []byte{1, 2}), "do not fill whole bytes"},
		{"offsets not array", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":8}}`, eight), "data_offsets is not an array of two"},
		{"three offsets", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, eight), "data_offsets is not an array of two"},
		{"one offset", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, eight), "data_offsets is not an array of two"},
		{"negative offset", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}}`, eight), "data_offsets[0] is negative (-1)"},
		{"offset past uint64", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}}`, eight), "data_offsets[1] is too large"},
		{"offsets not ordered", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, eight), `tensor "a": data_offsets [8, 0] are not ordered`},
		{"offsets out of range", raw(`{"a":{`+ok8+`}}`, eight[:4]), `tensor "a": data_offsets [0, 8] are out of range: the data section has 4 bytes`},
		{"huge end", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}`, eight), "out of range"},
		{"size mismatch", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}`, make([]byte, 12)), `tensor "a": data_offsets [0, 12] span 12 bytes but shape [2] of F32 needs 8 bytes`},
		{"scalar mismatch", raw(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,4]}}`, eight[:4]), "needs 8 bytes"},
		{"overlap", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
			`tensor "b": data_offsets [4, 12] overlap tensor "a", which ends at 8`},
		{"same range", raw(`{"a":{`+ok8+`},"b":{`+ok8+`}}`, eight), "overlap"},
		{"empty inside other", raw(`{"a":{`+ok8+`},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, eight), `tensor "z": data_offsets [4, 4] overlap tensor "a"`},
		{"hole", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}`, make([]byte, 20)),
			`tensor "b": data_offsets [12, 20] leave a hole of 4 bytes at offset 8`},
		{"hole at start", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "leave a hole of 4 bytes at offset 0"},
		{"trailing garbage", raw(`{"a":{`+ok8+`}}`, make([]byte, 11)), "3 trailing bytes after the last tensor's data"},
		{"data but no tensors", raw(`{}`, []byte{1}), "1 trailing bytes"},
		{"metadata only with data", raw(`{"__metadata__":{"a":"b"}}`, eight), "8 trailing bytes"},
	}
	for _, c := range cases {
		if strconv.IntSize == 32 && strings.Contains(c.name, "overflow") {
			// The dimensions themselves are too large for a 32-bit int.
			c.want = "is too large"
		}
		f, err := readBytes(c.in)
		if err == nil {
			t.Errorf("%s: accepted: %+v", c.name, f)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant ErrInvalid mentioning %q", c.name, err, c.want)
		}
	}
}

func TestReadTruncated(t *testing.T) {
	good := encode(t, []Tensor{F32("a", []int{4}, []float32{1, 2, 3, 4})}, nil)
	// size claims more than the input holds: every cut must say truncated.
	for cut := 0; cut < len(good); cut++ {
		_, err := Read(bytes.NewReader(good[:cut]), int64(len(good)))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "truncated input") {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	// The same cut with an honest size is an offsets problem.
	_, err := readBytes(good[:len(good)-1])
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("honest truncated size: %v", err)
	}
	// Read stops at size and leaves the rest of the stream alone.
	r := bytes.NewReader(append(append([]byte{}, good...), "tail"...))
	if _, err := Read(r, int64(len(good))); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 4 {
		t.Errorf("Read consumed past size: %d bytes left", r.Len())
	}
	if _, err := Read(nil, 100); err == nil {
		t.Errorf("nil reader accepted")
	}
	if _, err := Read(bytes.NewReader(good), -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative size: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("device gone") }

func TestReadIOError(t *testing.T) {
	_, err := Read(errReader{}, 100)
	if err == nil || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "device gone") {
		t.Errorf("err = %v", err)
	}
}

// TestBoundedAllocation checks that lengths far beyond the input are
// rejected without allocating for them.
func TestBoundedAllocation(t *testing.T) {
	cases := [][]byte{
		lengthOnly(99_999_999, 100), // under the limit, over the input
		lengthOnly(1<<63, 100),
		raw(`{"a":{"dtype":"U8","shape":[1000000000],"data_offsets":[0,1000000000]}}`, nil),
		raw(`{"a":{"dtype":"U8","shape":[10],"data_offsets":[0,10]}}`, make([]byte, 10))[:40], // honest size claims but input short
	}
	for i, in := range cases {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := readBytes(in)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: err = %v", i, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("case %d: allocated %d bytes for a %d-byte input", i, d, len(in))
		}
	}
	// A lying size bounds the data allocation by the size, not the header:
	// the header is checked against size first.
	in := raw(`{"a":{"dtype":"U8","shape":[1000000000],"data_offsets":[0,1000000000]}}`, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(in), int64(len(in))+1000)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("err = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("allocated %d bytes", d)
	}
}
