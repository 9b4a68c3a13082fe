package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// Read reads a safetensors file of exactly size bytes from r. Nothing is
// allocated beyond what size allows: the header length is checked against
// size and the 100,000,000-byte limit before the header is read, and the
// header is fully validated before the data section is allocated. Read does
// not read past size bytes. Malformed input gives an error wrapping
// ErrInvalid; a failing reader gives its own error.
func Read(r io.Reader, size int64) (*File, error) {
	if r == nil {
		return nil, errors.New("safetensors: nil reader")
	}
	if size < 8 {
		return nil, invalidf("input is %d bytes, too short to hold the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], "header length"); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeaderSize {
		return nil, invalidf("header length %d is larger than the limit of %d bytes", n, maxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, invalidf("header length %d is larger than the %d bytes that follow it", n, size-8)
	}
	hbuf := make([]byte, n)
	if err := readFull(r, hbuf, "header"); err != nil {
		return nil, err
	}
	h, err := parseHeader(hbuf)
	if err != nil {
		return nil, err
	}
	dataLen := size - 8 - int64(n)
	if dataLen > math.MaxInt {
		return nil, invalidf("data section of %d bytes is too large for this platform", dataLen)
	}
	order, err := layout(h.entries, uint64(dataLen))
	if err != nil {
		return nil, err
	}
	data := make([]byte, dataLen)
	if err := readFull(r, data, "data section"); err != nil {
		return nil, err
	}
	f := &File{
		Tensors:  make([]Tensor, len(order)),
		Metadata: h.metadata,
		index:    make(map[string]int, len(order)),
	}
	for i, e := range order {
		f.Tensors[i] = Tensor{
			Name:  e.name,
			DType: e.dtype,
			Shape: e.shape,
			Data:  data[e.begin:e.end:e.end],
		}
		f.index[e.name] = i
	}
	return f, nil
}

// readFull fills buf from r, reporting a short input as a truncated file.
func readFull(r io.Reader, buf []byte, what string) error {
	got, err := io.ReadFull(r, buf)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("truncated input: %s has %d of its %d bytes", what, got, len(buf))
	}
	return fmt.Errorf("safetensors: reading %s: %w", what, err)
}

// layout sorts the entries by their data offsets and checks that they tile
// the data section of dataLen bytes exactly. It returns the entries in file
// order.
func layout(entries []entry, dataLen uint64) ([]entry, error) {
	order := append([]entry(nil), entries...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].begin != order[j].begin {
			return order[i].begin < order[j].begin
		}
		return order[i].end < order[j].end
	})
	var pos uint64 // end of the previous tensor
	prev := ""
	for _, e := range order {
		switch {
		case e.end < e.begin:
			return nil, invalidf("tensor %q: data_offsets [%d, %d] are not ordered: end is before begin", e.name, e.begin, e.end)
		case e.end > dataLen:
			return nil, invalidf("tensor %q: data_offsets [%d, %d] are out of range: the data section has %d bytes (truncated file?)", e.name, e.begin, e.end, dataLen)
		case e.begin > pos:
			return nil, invalidf("tensor %q: data_offsets [%d, %d] leave a hole of %d bytes at offset %d", e.name, e.begin, e.end, e.begin-pos, pos)
		case e.begin < pos:
			return nil, invalidf("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d", e.name, e.begin, e.end, prev, pos)
		case e.end-e.begin != uint64(e.size):
			return nil, invalidf("tensor %q: data_offsets [%d, %d] span %d bytes but shape %v of %s needs %d bytes", e.name, e.begin, e.end, e.end-e.begin, e.shape, e.dtype, e.size)
		}
		pos, prev = e.end, e.name
	}
	if pos != dataLen {
		return nil, invalidf("%d trailing bytes after the last tensor's data (data section has %d bytes, tensors cover %d)", dataLen-pos, dataLen, pos)
	}
	return order, nil
}

// ReadFile reads the safetensors file at path. Its errors name the file.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &pathError{path, invalidf("not a regular file")}
	}
	file, err := Read(f, fi.Size())
	if err != nil {
		return nil, &pathError{path, err}
	}
	return file, nil
}

// pathError puts a file name into an error from this package.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string {
	return "safetensors: " + e.path + ": " + strings.TrimPrefix(e.err.Error(), "safetensors: ")
}

func (e *pathError) Unwrap() error { return e.err }
