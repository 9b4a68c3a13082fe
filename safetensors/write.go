package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

// prepare validates the tensors and metadata and returns the padded header
// and the tensors in the order their data follows it.
func prepare(tensors []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	type sortKey struct {
		rank int
		t    Tensor
	}
	keys := make([]sortKey, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if t.Name == metadataKey {
			return nil, nil, invalidf("tensor name %q is reserved for the metadata", t.Name)
		}
		if !utf8.ValidString(t.Name) {
			return nil, nil, invalidf("tensor name %q is not valid UTF-8", t.Name)
		}
		if seen[t.Name] {
			return nil, nil, invalidf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			return nil, nil, err
		}
		rank, _, _ := t.DType.info()
		keys[i] = sortKey{rank, t}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, invalidf("metadata entry %q: %q is not valid UTF-8", k, v)
		}
	}
	// The reference order: descending dtype rank, then name.
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].rank != keys[j].rank {
			return keys[i].rank > keys[j].rank
		}
		return keys[i].t.Name < keys[j].t.Name
	})

	h := []byte{'{'}
	if len(metadata) > 0 {
		mk := make([]string, 0, len(metadata))
		for k := range metadata {
			mk = append(mk, k)
		}
		sort.Strings(mk)
		h = appendString(h, metadataKey)
		h = append(h, ':', '{')
		for i, k := range mk {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendString(h, k)
			h = append(h, ':')
			h = appendString(h, metadata[k])
		}
		h = append(h, '}')
	}
	ordered := make([]Tensor, len(keys))
	var offset uint64
	for i, k := range keys {
		t := k.t
		ordered[i] = t
		if i > 0 || len(metadata) > 0 {
			h = append(h, ',')
		}
		h = appendString(h, t.Name)
		h = append(h, `:{"dtype":`...)
		h = appendString(h, string(t.DType))
		h = append(h, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendUint(h, offset, 10)
		h = append(h, ',')
		offset += uint64(len(t.Data))
		h = strconv.AppendUint(h, offset, 10)
		h = append(h, ']', '}')
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > maxHeaderSize {
		return nil, nil, invalidf("header of %d bytes is larger than the limit of %d bytes", len(h), maxHeaderSize)
	}
	return h, ordered, nil
}

// appendString appends s as a JSON string, escaped as serde_json escapes it:
// the quote, the backslash and control characters, nothing else.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// Write writes the tensors and metadata to w in the safetensors format, laid
// out as the reference writer lays them out (see the package documentation).
// Everything is validated before the first byte is written; invalid input
// gives an error wrapping ErrInvalid. Empty or nil metadata writes no
// "__metadata__" member.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	h, ordered, err := prepare(tensors, metadata)
	if err != nil {
		return err
	}
	return emit(w, h, ordered)
}

// emit writes a prepared header and the tensors' data.
func emit(w io.Writer, h []byte, ordered []Tensor) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(h)))
	bw.Write(lenBuf[:])
	bw.Write(h)
	for _, t := range ordered {
		bw.Write(t.Data)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

// wrapFileWriter, when set (by tests), wraps the temporary file's writer.
var wrapFileWriter func(io.Writer) io.Writer

// WriteFile writes the tensors and metadata to the file at path, atomically:
// it validates everything, writes a temporary file in the same folder, syncs
// it to disk, closes it and renames it over path, then syncs the folder. On
// any error before the rename the file at path is untouched and the
// temporary file is removed; an error syncing the folder after the rename is
// reported although path already holds the new content. A file that existed
// keeps its permission bits; a new one gets 0666 less the umask, as with
// os.Create. If path is a symbolic link, the link itself is replaced.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	h, ordered, err := prepare(tensors, metadata)
	if err != nil {
		return &pathError{path, err}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var keepPerm fs.FileMode
	keep := false
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		keepPerm, keep = fi.Mode().Perm(), true
	}
	removeStaleTemps(dir, base)
	f, tmp, err := createTemp(dir, base)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	closed, renamed := false, false
	defer func() {
		if err != nil && !renamed {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if keep {
		if err = f.Chmod(keepPerm); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
	}
	var w io.Writer = f
	if wrapFileWriter != nil {
		w = wrapFileWriter(w)
	}
	if err = emit(w, h, ordered); err != nil {
		return &pathError{path, err}
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	renamed = true
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("safetensors: %s written, but syncing its folder failed: %w", path, serr)
	}
	return nil
}

// createTemp creates a new hidden file next to the destination, with the
// same default permissions as os.Create.
func createTemp(dir, base string) (*os.File, string, error) {
	for i := 0; ; i++ {
		name := filepath.Join(dir, "."+base+".tmp"+strconv.FormatUint(rand.Uint64()%1e12, 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, fs.ErrExist) || i >= 100 {
			return nil, "", err
		}
	}
}

// removeStaleTemps removes the temporary files that earlier writes of the
// same path left when their process was killed before the rename: the
// regular files named as createTemp names them for base. Two processes
// writing one path at once are not supported: one may remove the other's
// temporary file, whose write then fails. Errors are ignored: a file that
// cannot be removed costs space, not correctness.
func removeStaleTemps(dir, base string) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		digits, ok := strings.CutPrefix(de.Name(), "."+base+".tmp")
		if ok && digits != "" && strings.Trim(digits, "0123456789") == "" && de.Type().IsRegular() {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}

// syncDir flushes the folder entry of a rename to disk where the platform
// supports it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil // the file system cannot sync folders
	}
	return err
}
