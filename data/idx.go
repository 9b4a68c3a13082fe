package data

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// IDX is an array read from a file in the IDX format that MNIST is
// distributed in: Dims are the sizes of its dimensions, outermost first,
// and Data holds the product of Dims bytes in row-major order.
type IDX struct {
	Dims []int
	Data []uint8
}

// The IDX header is two zero bytes, an element-type code, the number of
// dimensions, then one big-endian uint32 per dimension.
const (
	idxTypeUint8   = 0x08
	idxMaxDims     = 4
	idxMaxElements = 1 << 30 // 1 GiB of bytes: far above any MNIST-like set, far below a bogus header's claim
)

var idxTypeNames = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// ReadIDX reads one IDX array of unsigned bytes (element type 0x08) from
// r, which may be gzip-compressed (detected from the 1f 8b signature) or
// raw. It checks the magic number, that there are 1 to 4 dimensions, each
// greater than zero, that their product is at most 2^30, and that the
// data that follows holds exactly that many bytes: a short stream and
// trailing bytes are both errors, as is a corrupt gzip stream, and so is
// gzip data that expands more than MaxGzipRatio times (see
// ErrGzipExpansion).
//
// Memory grows with the data actually read, never with what the header
// claims, so a forged header cannot make ReadIDX allocate more than about
// twice the (decompressed) input's size.
func ReadIDX(r io.Reader) (*IDX, error) {
	return readIDXInput(r, -1)
}

// readIDXInput is ReadIDX for an input of size bytes, or of unknown size
// if size < 0. Knowing the size of gzip input lets the header's claim be
// checked against what the input may expand to before any data is read.
func readIDXInput(r io.Reader, size int64) (*IDX, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err != nil && len(head) == 0 {
		if err == io.EOF {
			return nil, errors.New("idx: empty input")
		}
		return nil, fmt.Errorf("idx: %w", err)
	}
	src, zipped, err := gunzipIfCompressed(br, size)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	maxBytes := int64(-1)
	if zipped && size >= 0 {
		maxBytes = maxGzipOutput(size)
	}
	return readIDX(src, maxBytes)
}

// readIDX reads an IDX array from r. If maxBytes >= 0, r cannot deliver
// more than maxBytes bytes in all (gzip input of known size), and a header
// that claims more is refused before its data is read.
func readIDX(r io.Reader, maxBytes int64) (*IDX, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: truncated header: read %d of 4 magic bytes: %w", n, unexpected(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic number % x: want 00 00 <type> <ndim>", magic)
	}
	typ, ndim := magic[2], int(magic[3])
	if typ != idxTypeUint8 {
		if name, ok := idxTypeNames[typ]; ok {
			return nil, fmt.Errorf("idx: element type 0x%02X (%s) is not supported, only 0x08 (unsigned byte)", typ, name)
		}
		return nil, fmt.Errorf("idx: unknown element type 0x%02X in magic number % x", typ, magic)
	}
	if ndim < 1 || ndim > idxMaxDims {
		return nil, fmt.Errorf("idx: %d dimensions, want 1 to %d", ndim, idxMaxDims)
	}
	raw := make([]byte, 4*ndim)
	if n, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("idx: truncated header: read %d of %d dimension bytes: %w", n, len(raw), unexpected(err))
	}
	dims := make([]int, ndim)
	total := 1
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if d == 0 {
			return nil, fmt.Errorf("idx: dimension %d is 0, want > 0", i)
		}
		if uint64(d) > idxMaxElements || uint64(total)*uint64(d) > idxMaxElements {
			return nil, fmt.Errorf("idx: dimensions %v claim more than %d elements", dimsSoFar(raw, i), idxMaxElements)
		}
		dims[i] = int(d)
		total *= int(d)
	}
	if maxBytes >= 0 && int64(4+len(raw)+total) > maxBytes {
		return nil, fmt.Errorf("idx: dimensions %v need %d bytes, more than gzip input of this size may hold: %w: at most %d bytes (%s); if the file is genuine, decompress it first (gunzip) and read it raw",
			dims, total, ErrGzipExpansion, maxBytes, gzipLimitText())
	}
	data, err := readAtMost(r, total)
	if err != nil {
		return nil, fmt.Errorf("idx: reading data: %w", err)
	}
	if len(data) < total {
		return nil, fmt.Errorf("idx: truncated data: dimensions %v need %d bytes, input holds %d", dims, total, len(data))
	}
	// Reading on to the end also makes a gzip reader verify its checksum.
	var extra [1]byte
	if n, err := io.ReadFull(r, extra[:]); n > 0 {
		return nil, fmt.Errorf("idx: trailing data after the %d bytes of dimensions %v", total, dims)
	} else if err != io.EOF {
		return nil, fmt.Errorf("idx: after the data: %w", err)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// dimsSoFar decodes the first i+1 dimensions of a header for an error
// message.
func dimsSoFar(raw []byte, i int) []uint32 {
	out := make([]uint32, i+1)
	for k := range out {
		out[k] = binary.BigEndian.Uint32(raw[4*k:])
	}
	return out
}

// unexpected turns a bare io.EOF from io.ReadFull into
// io.ErrUnexpectedEOF, since running out of input inside a header is
// never a clean end.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readAtMost reads up to n bytes from r. The buffer starts small and
// doubles as data arrives, so its size is bounded by what r actually
// delivers rather than by n.
func readAtMost(r io.Reader, n int) ([]byte, error) {
	const first = 64 << 10
	buf := make([]byte, 0, min(n, first))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			next := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(next, buf)
			buf = next
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// ReadIDXFile reads an IDX file, raw or gzip-compressed, as ReadIDX
// does; its errors name the file. The size the header claims is checked
// before any data is read: for a raw file against the file's size, for a
// gzip file against the most that MaxGzipRatio lets it expand to.
func ReadIDXFile(path string) (*IDX, error) {
	f, size, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkRawIDXSize(f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := readIDXInput(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// checkRawIDXSize compares an uncompressed IDX file's size with the size
// its header implies, so that a wrong file fails fast with both numbers in
// the message. Gzip files and headers it cannot parse are left to ReadIDX,
// which reports them in detail. It leaves f at offset 0.
func checkRawIDXSize(f *os.File) error {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	var head [4 + 4*idxMaxDims]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n < 4 || head[0] != 0 || head[1] != 0 || head[2] != idxTypeUint8 {
		return nil
	}
	ndim := int(head[3])
	if ndim < 1 || ndim > idxMaxDims || n < 4+4*ndim {
		return nil
	}
	want := uint64(1)
	for i := range ndim {
		want *= uint64(binary.BigEndian.Uint32(head[4+4*i:]))
		if want > idxMaxElements {
			return nil
		}
	}
	want += uint64(4 + 4*ndim)
	if size := uint64(st.Size()); size != want {
		if size < want {
			return fmt.Errorf("idx: truncated file: header claims %d bytes in all, file holds %d", want, size)
		}
		return fmt.Errorf("idx: trailing data: header claims %d bytes in all, file holds %d", want, size)
	}
	return nil
}

// WriteIDX writes m as an uncompressed IDX array of unsigned bytes. It
// checks that Dims has 1 to 4 positive entries whose product is len(Data).
func WriteIDX(w io.Writer, m *IDX) error {
	if len(m.Dims) < 1 || len(m.Dims) > idxMaxDims {
		return fmt.Errorf("idx: %d dimensions, want 1 to %d", len(m.Dims), idxMaxDims)
	}
	head := []byte{0, 0, idxTypeUint8, byte(len(m.Dims))}
	total := 1
	for i, d := range m.Dims {
		if d < 1 || uint64(d) > idxMaxElements || uint64(total)*uint64(d) > idxMaxElements {
			return fmt.Errorf("idx: dimension %d is %d, want 1 to %d elements in all", i, d, idxMaxElements)
		}
		total *= d
		head = binary.BigEndian.AppendUint32(head, uint32(d))
	}
	if total != len(m.Data) {
		return fmt.Errorf("idx: dimensions %v need %d bytes, Data has %d", m.Dims, total, len(m.Data))
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err := w.Write(m.Data)
	return err
}
