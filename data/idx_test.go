package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encodeIDX returns m in IDX format, gzip-compressed if zip is set.
func encodeIDX(t testing.TB, m *IDX, zip bool) []byte {
	t.Helper()
	var raw bytes.Buffer
	if err := WriteIDX(&raw, m); err != nil {
		t.Fatal(err)
	}
	if !zip {
		return raw.Bytes()
	}
	return gzipBytes(t, raw.Bytes())
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// header builds an IDX header by hand, for headers WriteIDX refuses.
func header(typ byte, dims ...uint32) []byte {
	h := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		h = binary.BigEndian.AppendUint32(h, d)
	}
	return h
}

func TestIDXRoundTrip(t *testing.T) {
	want := &IDX{Dims: []int{3, 2, 4}, Data: make([]uint8, 24)}
	for i := range want.Data {
		want.Data[i] = uint8(i * 11)
	}
	for _, zip := range []bool{false, true} {
		b := encodeIDX(t, want, zip)
		if zip != bytes.HasPrefix(b, gzipMagic) {
			t.Fatalf("zip=%v: encoding starts % x", zip, b[:2])
		}
		got, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("zip=%v: %v", zip, err)
		}
		if !slices.Equal(got.Dims, want.Dims) || !slices.Equal(got.Data, want.Data) {
			t.Fatalf("zip=%v: read %v %v, want %v %v", zip, got.Dims, got.Data, want.Dims, want.Data)
		}
	}

	// A one-dimensional array, through a file.
	labels := &IDX{Dims: []int{5}, Data: []uint8{0, 9, 3, 3, 1}}
	path := filepath.Join(t.TempDir(), "labels-idx1-ubyte")
	if err := os.WriteFile(path, encodeIDX(t, labels, false), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIDXFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Data, labels.Data) {
		t.Fatalf("ReadIDXFile = %v, want %v", got.Data, labels.Data)
	}
}

func TestIDXRejects(t *testing.T) {
	good := encodeIDX(t, &IDX{Dims: []int{2, 3}, Data: []uint8{1, 2, 3, 4, 5, 6}}, false)
	cases := []struct {
		name  string
		input []byte
		want  string
	}{
		{"empty", nil, "empty input"},
		{"short magic", []byte{0, 0}, "truncated header"},
		{"bad magic", append([]byte{0x50, 0x4b, 3, 4}, good[4:]...), "bad magic"},
		{"float type", header(0x0D, 2), "0x0D (float32) is not supported"},
		{"unknown type", header(0x42, 2), "unknown element type 0x42"},
		{"zero dims", header(0x08), "0 dimensions"},
		{"five dims", header(0x08, 1, 1, 1, 1, 1), "5 dimensions"},
		{"short dims", header(0x08, 2, 3)[:9], "truncated header"},
		{"zero dim", header(0x08, 3, 0), "dimension 1 is 0"},
		{"absurd dims", header(0x08, 60000, 60000, 60000), "claim more than"},
		{"oversized claim", append(header(0x08, 1<<29), 1, 2, 3), "truncated data"},
		{"truncated data", good[:len(good)-1], "truncated data"},
		{"trailing data", append(slices.Clone(good), 0), "trailing data"},
	}
	for _, c := range cases {
		for _, zip := range []bool{false, true} {
			if zip && c.input == nil {
				continue
			}
			input := c.input
			if zip {
				input = gzipBytes(t, input)
			}
			_, err := ReadIDX(bytes.NewReader(input))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s (gzip %v): error %v, want one mentioning %q", c.name, zip, err, c.want)
			}
		}
	}
}

func TestIDXCorruptGzip(t *testing.T) {
	z := encodeIDX(t, &IDX{Dims: []int{4, 4}, Data: make([]uint8, 16)}, true)
	// Flip a bit of the CRC-32 in the gzip trailer: the data decompresses
	// but must not be accepted.
	bad := slices.Clone(z)
	bad[len(bad)-8] ^= 1
	if _, err := ReadIDX(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("gzip with a bad CRC: error %v, want a checksum error", err)
	}
	if _, err := ReadIDX(bytes.NewReader(z[:len(z)/2])); err == nil {
		t.Error("half a gzip stream was accepted")
	}
	if _, err := ReadIDX(bytes.NewReader(gzipMagic)); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("bare gzip magic: error %v, want a gzip error", err)
	}
}

func TestIDXFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	good := encodeIDX(t, &IDX{Dims: []int{10, 10}, Data: make([]uint8, 100)}, false)
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"short-idx", "truncated file", good[:50]},
		{"long-idx", "trailing data", append(slices.Clone(good), 1, 2)},
		// A header claiming a gigabyte in a file of a few bytes is caught
		// from the file size, before anything is allocated for the data.
		{"huge-claim", "truncated file", header(0x08, 1024, 1024, 1024)},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadIDXFile(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming the file and mentioning %q", c.name, err, c.want)
		}
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ReadIDXFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want one naming it", err)
	}
}

func TestIDXOversizedClaimAllocatesLittle(t *testing.T) {
	// 2^30 bytes claimed, 3 delivered, through a gzip stream whose size
	// cannot be known in advance: ReadIDX must fail without allocating
	// anything near the claim.
	input := gzipBytes(t, append(header(0x08, 1<<15, 1<<15), 1, 2, 3))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadIDX(bytes.NewReader(input))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated data") {
		t.Fatalf("error %v, want a truncated-data error", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("rejecting a forged header allocated %d bytes, want < 1 MiB", n)
	}
}

func TestWriteIDXRejects(t *testing.T) {
	var b bytes.Buffer
	if err := WriteIDX(&b, &IDX{Dims: []int{2, 2}, Data: []uint8{1}}); err == nil {
		t.Error("WriteIDX accepted 1 byte for 2x2 dimensions")
	}
	if err := WriteIDX(&b, &IDX{Dims: nil}); err == nil {
		t.Error("WriteIDX accepted no dimensions")
	}
}
