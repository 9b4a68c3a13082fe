package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
)

// fuzzSeeds are valid and invalid inputs for FuzzRead.
func fuzzSeeds(t testing.TB) [][]byte {
	valid := encode(t, []Tensor{
		F32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		I64("n", nil, []int64{42}),
		F32("e", []int{0, 4}, nil),
		U8("m", []int{3}, []uint8{1, 0, 1}),
		{Name: "h", DType: BFloat16, Shape: []int{1}, Data: []byte{0x80, 0x3f}},
	}, map[string]string{"format": "pt"})
	return [][]byte{
		valid,
		valid[:len(valid)-1],
		encode(t, nil, nil),
		encode(t, []Tensor{F32("a", []int{2}, []float32{1, 2})}, map[string]string{"k": "v"}),
		raw(`{"a":{"dtype":"F4","shape":[2,2],"data_offsets":[0,2]},"b\u00e9":{"dtype":"BOOL","shape":[1],"data_offsets":[2,3]}}`, []byte{1, 2, 1}),
		raw(`{"__metadata__":null,"z":{"dtype":"C64","shape":[0],"data_offsets":[0,0]}}`, nil),
		raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
		raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, make([]byte, 16)),
		raw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}`, make([]byte, 8)),
		raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
		raw(`{"a":{"dtype":"X","shape":[1],"data_offsets":[0,1]}}`, []byte{1}),
		raw(`{"\ud83d\ude00":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}),
		raw("[]", nil),
		lengthOnly(100_000_001, 8),
		lengthOnly(1<<63, 0),
		{1, 2, 3},
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := readBytes(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			// A reader that delivers less than size must fail too.
			if _, err2 := Read(bytes.NewReader(in), int64(len(in))+1); err2 == nil {
				t.Fatalf("accepted with a size one past the input")
			}
			return
		}
		// Whatever is accepted has a valid JSON object header of the
		// declared length.
		n := binary.LittleEndian.Uint64(in)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(in[8:8+n], &obj); err != nil {
			t.Fatalf("accepted a header encoding/json rejects: %v", err)
		}
		if len(obj) != len(file.Tensors)+btoi(hasKey(obj, metadataKey)) {
			t.Fatalf("header has %d members, read %d tensors", len(obj), len(file.Tensors))
		}
		// The tensors tile the data section in file order.
		var total int
		for _, tn := range file.Tensors {
			size, err := byteSize(tn.DType, tn.Shape)
			if err != nil || size != len(tn.Data) {
				t.Fatalf("tensor %q: size %d, %v; data %d", tn.Name, size, err, len(tn.Data))
			}
			total += size
		}
		if uint64(total) != uint64(len(in))-8-n {
			t.Fatalf("tensors cover %d bytes of a %d-byte data section", total, uint64(len(in))-8-n)
		}

		// Re-encode and read back: the same tensors and metadata.
		var buf bytes.Buffer
		if err := Write(&buf, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-encoding an accepted file: %v", err)
		}
		again, err := readBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("reading back the re-encoded file: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors read back, want %d", len(again.Tensors), len(file.Tensors))
		}
		for _, want := range file.Tensors {
			got, ok := again.Get(want.Name)
			if !ok || !sameTensor(got, want) {
				t.Fatalf("tensor %q read back as %+v, want %+v", want.Name, got, want)
			}
		}
		if len(again.Metadata) != len(file.Metadata) {
			t.Fatalf("metadata %q read back as %q", file.Metadata, again.Metadata)
		}
		for k, v := range file.Metadata {
			if again.Metadata[k] != v {
				t.Fatalf("metadata %q read back as %q", file.Metadata, again.Metadata)
			}
		}
		// The writer's output is canonical: writing it again is identical.
		var buf2 bytes.Buffer
		if err := Write(&buf2, again.Tensors, again.Metadata); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
			t.Fatalf("writing is not idempotent")
		}
	})
}

func hasKey(m map[string]json.RawMessage, k string) bool {
	_, ok := m[k]
	return ok
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
