package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Bounds on what reading an input may cost. They are what keeps a small
// hostile file from taking gigabytes of memory; see the package
// documentation for the memory each reader needs within them.
const (
	// MaxGzipRatio bounds how far gzip-compressed input may expand: c
	// compressed bytes may yield at most MaxGzipRatio*c + GzipAllowance
	// bytes. Real data compresses far less (MNIST and Fashion-MNIST about
	// 2 times, the built-in CSV tables 2.6 to 5, a sparse one-hot table
	// about 65), while deflate reaches about 1030 on a run of one byte,
	// which is what a decompression bomb is made of. Input beyond the
	// bound is refused with an error wrapping ErrGzipExpansion; a genuine
	// file that compresses better can be decompressed first (gunzip) and
	// read raw, where no such bound applies.
	MaxGzipRatio = 200
	// GzipAllowance is what any gzip stream may expand to whatever its
	// ratio, so that small files are never refused.
	GzipAllowance = 16 << 20
	// MaxCSVLine is the longest CSV record read, in bytes (a record is
	// one line, or more where a quoted field holds line breaks). It is
	// room for about 100,000 numeric columns; the record being parsed
	// costs a small multiple of its length in memory.
	MaxCSVLine = 1 << 20
)

// limits are the bounds in force. They are the constants above; tests
// lower them to exercise each bound with small inputs.
var limits = struct {
	gzipRatio, gzipAllowance, csvLine int64
}{MaxGzipRatio, GzipAllowance, MaxCSVLine}

// ErrGzipExpansion is wrapped by the error returned when gzip input
// expands beyond MaxGzipRatio times its compressed size (plus
// GzipAllowance).
var ErrGzipExpansion = errors.New("gzip data expands too far")

// gzipMagic opens every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// maxGzipOutput is the most that size compressed bytes may expand to.
func maxGzipOutput(size int64) int64 {
	return limits.gzipAllowance + limits.gzipRatio*size
}

// gunzipIfCompressed returns what br holds, decompressed if it starts
// with the gzip signature, and whether it did. size is the length of the
// whole input if known in advance (a file's size), or -1. The
// decompressed stream fails with ErrGzipExpansion once it exceeds
// maxGzipOutput of the input's size, or, while that is unknown, of the
// compressed bytes consumed so far; so reading a bomb stops after at most
// that many bytes, whatever the stream would still deliver.
func gunzipIfCompressed(br *bufio.Reader, size int64) (io.Reader, bool, error) {
	head, _ := br.Peek(2)
	if len(head) < 2 || head[0] != gzipMagic[0] || head[1] != gzipMagic[1] {
		return br, false, nil
	}
	in := &countingReader{r: br}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return nil, true, fmt.Errorf("bad gzip stream: %w", err)
	}
	return &boundedGunzip{zr: zr, in: in, size: size}, true, nil
}

// countingReader counts the bytes read through it. It is an
// io.ByteReader so that the gzip reader reads no further ahead than it
// decodes, and the count is what it has consumed.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// boundedGunzip is a gzip reader that stops at maxGzipOutput.
type boundedGunzip struct {
	zr   *gzip.Reader
	in   *countingReader
	size int64 // the compressed input's length, or -1 if unknown
	out  int64 // bytes delivered
	err  error // the expansion error, once hit
}

func (g *boundedGunzip) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.zr.Read(p)
	g.out += int64(n)
	limit := maxGzipOutput(max(g.size, g.in.n))
	if g.out > limit {
		// The limit only grows, so it was at least the bytes delivered
		// before this call, and n stays non-negative.
		n -= int(g.out - limit)
		g.out = limit
		g.err = expansionError("more than", limit, max(g.size, g.in.n))
		return n, g.err
	}
	return n, err
}

// expansionError says that in compressed bytes expand to (what) out
// bytes, beyond the limit.
func expansionError(what string, out, in int64) error {
	return fmt.Errorf("%w: %s %d bytes from %d compressed bytes (%s), as in a decompression bomb; if the file is genuine, decompress it first (gunzip) and read it raw",
		ErrGzipExpansion, what, out, in, gzipLimitText())
}

// gzipLimitText states the bound for error messages.
func gzipLimitText() string {
	a := limits.gzipAllowance
	allowance := fmt.Sprintf("%d bytes", a)
	if a%(1<<20) == 0 {
		allowance = fmt.Sprintf("%d MiB", a>>20)
	} else if a%(1<<10) == 0 {
		allowance = fmt.Sprintf("%d KiB", a>>10)
	}
	return fmt.Sprintf("the limit is %d times the compressed size plus %s", limits.gzipRatio, allowance)
}

// openFile opens path for reading and returns its size, or -1 if it is
// not a regular file (a pipe, a device). A gzip file whose trailer states
// an uncompressed size beyond maxGzipOutput is refused at once, rather
// than after decompressing up to the limit; the trailer holds the size of
// the last member modulo 2^32, which is at most the true size, so this
// refuses nothing that reading would accept.
func openFile(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	var head [2]byte
	var tail [4]byte
	if size >= 18 && readFullAt(f, head[:], 0) && readFullAt(f, tail[:], size-4) &&
		head[0] == gzipMagic[0] && head[1] == gzipMagic[1] {
		if stated := int64(binary.LittleEndian.Uint32(tail[:])); stated > maxGzipOutput(size) {
			f.Close()
			return nil, 0, fmt.Errorf("%s: %w", path, expansionError("its trailer states", stated, size))
		}
	}
	return f, size, nil
}

// readFullAt reports whether len(b) bytes could be read into b at offset
// off of f.
func readFullAt(f *os.File, b []byte, off int64) bool {
	n, _ := f.ReadAt(b, off)
	return n == len(b)
}
