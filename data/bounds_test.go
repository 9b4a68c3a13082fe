package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The bounds of input.go, each tested with a hostile input generated here
// (small on disk) and with the memory it may cost. Where the default
// bounds would need tens of megabytes of input, the test lowers them.

// repeatReader yields pattern over and over, n bytes in all, and counts
// the bytes read, so a test can show how far a reader got.
type repeatReader struct {
	pattern []byte
	n, read int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.read)
	for i := range k {
		p[i] = r.pattern[(r.read+i)%int64(len(r.pattern))]
	}
	r.read += k
	return int(k), nil
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// setLimits lowers the bounds for one test.
func setLimits(t *testing.T, gzipRatio, gzipAllowance, csvLine int64) {
	old := limits
	limits.gzipRatio, limits.gzipAllowance, limits.csvLine = gzipRatio, gzipAllowance, csvLine
	t.Cleanup(func() { limits = old })
}

// gzipOf compresses what r yields.
func gzipOf(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if _, err := io.Copy(zw, r); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// wantError checks that err is non-nil and mentions every part of want.
func wantError(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}

func TestCSVRefusesBinaryFromItsFirstBlock(t *testing.T) {
	// A gigabyte of NUL bytes, as a sparse file reads: refused after the
	// first block, for a few kilobytes of memory.
	nul := &repeatReader{pattern: []byte{0}, n: 1 << 30}
	var err error
	n := allocated(func() { _, err = ReadCSV(nul, "sparse.csv", CSVOptions{}) })
	wantError(t, "NUL bytes", err, "sparse.csv: ", "not text", "NUL byte at line 1, byte 1")
	if nul.read > 2*textCheckLen {
		t.Errorf("read %d bytes of NULs before refusing them, want at most %d", nul.read, 2*textCheckLen)
	}
	if n > 1<<20 {
		t.Errorf("refusing NUL bytes allocated %d bytes, want < 1 MiB", n)
	}

	// The same, gzip-compressed.
	z := gzipOf(t, &repeatReader{pattern: []byte{0}, n: 4 << 20})
	_, err = ReadCSV(bytes.NewReader(z), "sparse.csv.gz", CSVOptions{})
	wantError(t, "gzip NUL bytes", err, "not text")

	cases := []struct{ name, input, want string }{
		{"UTF-16", "\xff\xfea\x00,\x00y\x00\n\x001\x00,\x000\x00\n\x00", "UTF-16"},
		{"NUL in a later line", "a,y\n1,0\n2\x00,1\n", "NUL byte at line 3, byte 2"},
		{"control bytes, not UTF-8", "a,y\n1,0\n\x03\x9c\x01,1\n", "control byte 0x03 at line 3, byte 1"},
	}
	for _, c := range cases {
		_, err := ReadCSV(strings.NewReader(c.input), "in.csv", CSVOptions{})
		wantError(t, c.name, err, "not text", c.want)
	}
}

func TestCSVLatin1(t *testing.T) {
	// Latin-1 text is not refused as binary: a name in it gets a hint,
	// and a text column that is dropped is never read.
	_, err := ReadCSV(strings.NewReader("temp\xe9rature,y\n1,0\n2,1\n"), "fr.csv", CSVOptions{})
	wantError(t, "Latin-1 header", err, "line 1: column 1 of the header is not UTF-8", "Latin-1", "iconv")
	d, err := ReadCSV(strings.NewReader("name,x,y\nJos\xe9,1,0\nAna,2,1\n"), "names.csv", CSVOptions{Drop: []string{"name"}})
	if err != nil || d.N != 2 || d.Features != 1 {
		t.Fatalf("Latin-1 in a dropped column: %v, %+v", err, d)
	}
}

func TestCSVRecordLimit(t *testing.T) {
	// Eight megabytes without a line break, under the default limit:
	// refused after MaxCSVLine bytes.
	long := &repeatReader{pattern: []byte("a"), n: 8 << 20}
	var err error
	n := allocated(func() { _, err = ReadCSV(long, "long.csv", CSVOptions{}) })
	wantError(t, "no line break", err, fmt.Sprintf("long.csv: line 1: a record longer than %d bytes", MaxCSVLine))
	if slack := int64(2 * textCheckLen); long.read > MaxCSVLine+slack {
		t.Errorf("read %d bytes of one record, want at most %d", long.read, MaxCSVLine+slack)
	}
	if n > 8*MaxCSVLine {
		t.Errorf("refusing a long record allocated %d bytes, want < %d", n, 8*MaxCSVLine)
	}

	setLimits(t, MaxGzipRatio, GzipAllowance, 16)
	// Records of exactly the limit pass (the line break is not counted);
	// one byte more is refused, naming the line the record starts on.
	if _, err := ReadCSV(strings.NewReader("a,y\n00000000000001,0\n00000000000002,1\n"), "edge.csv", CSVOptions{}); err != nil {
		t.Fatalf("records of the limit's length: %v", err)
	}
	_, err = ReadCSV(strings.NewReader("a,y\n00000000000001,0\n000000000000002,1\n"), "edge.csv", CSVOptions{})
	wantError(t, "one byte over", err, "line 3: a record longer than 16 bytes")
	// A quoted field's line breaks do not end its record.
	_, err = ReadCSV(strings.NewReader("a,y\n1,0\n\"x\nx\nx\nx\nx\nx\nx\nx\nx\nx\",1\n"), "quoted.csv", CSVOptions{})
	wantError(t, "quoted line breaks", err, "line 3: a record longer than 16 bytes")
}

func TestCSVGzipExpansion(t *testing.T) {
	setLimits(t, 10, 64<<10, MaxCSVLine)
	rows := func(n int64) io.Reader {
		return io.MultiReader(strings.NewReader("a,b,y\n"), &repeatReader{pattern: []byte("0,0,1\n1,1,0\n"), n: n})
	}
	bomb := gzipOf(t, rows(4<<20)) // about 700 times smaller than its text

	// A stream of unknown size: stopped once the output passes 64 KiB
	// plus 10 times the compressed bytes consumed.
	var err error
	n := allocated(func() { _, err = ReadCSV(bytes.NewReader(bomb), "bomb.csv.gz", CSVOptions{}) })
	if !errors.Is(err, ErrGzipExpansion) {
		t.Fatalf("stream: error %v, want ErrGzipExpansion", err)
	}
	wantError(t, "stream", err, "bomb.csv.gz: ", "more than", "10 times the compressed size")
	if n > 2<<20 {
		t.Errorf("refusing a gzip bomb allocated %d bytes, want < 2 MiB", n)
	}

	// A file whose trailer states its true size: refused before any of it
	// is decompressed.
	dir := t.TempDir()
	path := filepath.Join(dir, "bomb.csv.gz")
	if err := os.WriteFile(path, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	n = allocated(func() { _, err = ReadCSVFile(path, CSVOptions{}) })
	if !errors.Is(err, ErrGzipExpansion) {
		t.Fatalf("file: error %v, want ErrGzipExpansion", err)
	}
	wantError(t, "file", err, path, fmt.Sprintf("its trailer states %d bytes", 4<<20+6))
	if n > 256<<10 {
		t.Errorf("refusing a gzip bomb by its trailer allocated %d bytes, want < 256 KiB", n)
	}

	// A forged trailer that claims a small size: the stream bound still
	// holds, at 64 KiB plus 10 times the file's size.
	forged := bytes.Clone(bomb)
	copy(forged[len(forged)-4:], []byte{1, 0, 0, 0})
	if err := os.WriteFile(path, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadCSVFile(path, CSVOptions{})
	if !errors.Is(err, ErrGzipExpansion) {
		t.Fatalf("forged trailer: error %v, want ErrGzipExpansion", err)
	}
	wantError(t, "forged trailer", err, fmt.Sprintf("more than %d bytes from %d compressed bytes", 64<<10+10*len(forged), len(forged)))

	// ReadFeaturesCSV, for prediction, is held to the same bounds.
	if err := os.WriteFile(path, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadFeaturesCSV(path, []string{"a"})
	if !errors.Is(err, ErrGzipExpansion) {
		t.Errorf("ReadFeaturesCSV: error %v, want ErrGzipExpansion", err)
	}

	// Within the bound, gzip input reads as before.
	var small bytes.Buffer
	small.WriteString("a,b,y\n")
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		fmt.Fprintf(&small, "%d,%.3f,%d\n", r.IntN(100), r.Float64(), r.IntN(2))
	}
	d, err := ReadCSV(bytes.NewReader(gzipOf(t, bytes.NewReader(small.Bytes()))), "ok.csv.gz", CSVOptions{})
	if err != nil || d.N != 20000 {
		t.Fatalf("gzip input within the bound: %v", err)
	}
}

func TestIDXGzipClaimCheckedBeforeReading(t *testing.T) {
	// Under the default bounds: a gzip file whose header claims 1.3
	// million 28x28 images but that holds a few bytes is refused before
	// any data is read or allocated.
	path := filepath.Join(t.TempDir(), "train-images-idx3-ubyte.gz")
	if err := os.WriteFile(path, gzipBytes(t, append(header(0x08, 1300000, 28, 28), make([]byte, 100)...)), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	n := allocated(func() { _, err = ReadIDXFile(path) })
	if !errors.Is(err, ErrGzipExpansion) {
		t.Fatalf("error %v, want ErrGzipExpansion", err)
	}
	wantError(t, "claim", err, path, "dimensions [1300000 28 28] need 1019200000 bytes")
	if n > 256<<10 {
		t.Errorf("refusing the claim allocated %d bytes, want < 256 KiB", n)
	}
}

func TestIDXGzipExpansion(t *testing.T) {
	setLimits(t, 10, 64<<10, MaxCSVLine)
	// A header that claims 1000 x 1000 bytes, and the zeros to fill it:
	// a valid IDX file, but 1000 times smaller compressed.
	zeros := io.MultiReader(bytes.NewReader(header(0x08, 1000, 1000)), &repeatReader{pattern: []byte{0}, n: 1000 * 1000})
	bomb := gzipOf(t, zeros)

	var err error
	n := allocated(func() { _, err = ReadIDX(bytes.NewReader(bomb)) })
	if !errors.Is(err, ErrGzipExpansion) {
		t.Fatalf("stream: error %v, want ErrGzipExpansion", err)
	}
	if n > 512<<10 {
		t.Errorf("refusing an IDX gzip bomb allocated %d bytes, want < 512 KiB", n)
	}

	path := filepath.Join(t.TempDir(), "bomb-idx1-ubyte.gz")
	if err := os.WriteFile(path, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadIDXFile(path)
	if !errors.Is(err, ErrGzipExpansion) {
		t.Fatalf("file: error %v, want ErrGzipExpansion", err)
	}
	wantError(t, "file", err, path, "its trailer states")
}

// csvTable is a table of rows rows: cols feature columns c0, c1, ... of
// cells cell(i, j), and a target y of the labels i % classes.
func csvTable(rows, cols int, cell func(i, j int) string, classes int) []byte {
	var b bytes.Buffer
	for j := range cols {
		fmt.Fprintf(&b, "c%d,", j)
	}
	b.WriteString("y\n")
	for i := range rows {
		for j := range cols {
			b.WriteString(cell(i, j) + ",")
		}
		fmt.Fprintf(&b, "%d\n", i%classes)
	}
	return b.Bytes()
}

func TestCSVMemoryBound(t *testing.T) {
	// Parsing a valid table allocates twice its parsed data (the chunks
	// and the one copy into X, Y), plus the text of each record once, as
	// encoding/csv makes it a string: not the 1.25x growth steps of an
	// appended slice.
	const rows, features = 100000, 8
	text := bytes.NewBuffer(csvTable(rows, features, func(i, j int) string { return fmt.Sprint((i + j) % 10) }, 3))
	var d *Dataset
	var err error
	n := allocated(func() { d, err = ReadCSV(bytes.NewReader(text.Bytes()), "wide.csv", CSVOptions{}) })
	if err != nil || d.N != rows {
		t.Fatalf("%v", err)
	}
	parsed := uint64(4 * rows * (features + 1))
	if limit := 2*parsed + uint64(text.Len()) + 1<<20; n > limit {
		t.Errorf("parsing %d bytes of text into %d bytes allocated %d bytes, want at most %d", text.Len(), parsed, n, limit)
	}
	t.Logf("text %d bytes, parsed %d bytes, allocated %d bytes", text.Len(), parsed, n)
}

// TestCSVOneHotBound: a table of 1-letter text cells, each standing for
// MaxCategories one-hot values, is refused before its X (64 times the
// text's size) is allocated; a table of short codes beside numbers, within
// OneHotFactor values a byte, is read.
func TestCSVOneHotBound(t *testing.T) {
	const letters = "abcdfghijklmnopqrstuvwxyzBCDFGHJ" // MaxCategories of them, none read as a number or missing
	const rows, cols = 20000, 16
	hostile := csvTable(rows, cols, func(i, j int) string { return letters[(i+j)%len(letters) : (i+j)%len(letters)+1] }, 2)
	var err error
	n := allocated(func() { _, err = ReadCSV(bytes.NewReader(hostile), "hostile.csv", CSVOptions{}) })
	wantError(t, "hostile", err, "hostile.csv", "one-hot", fmt.Sprintf("%d features", cols*MaxCategories))
	x := uint64(4 * rows * cols * MaxCategories)
	// Parsing makes short-lived garbage per text cell (strconv's error for
	// a cell that is not a number): about half of X's size, more under the
	// race detector. Allocating X would take all of it on top of that.
	if limit := x; n >= limit {
		t.Errorf("refusing %d bytes of text (an X of %d bytes) allocated %d bytes, want at most %d", len(hostile), x, n, limit)
	}
	t.Logf("hostile: text %d bytes, X would be %d bytes, allocated %d bytes", len(hostile), x, n)

	codes := csvTable(rows, 2, func(i, j int) string {
		if j == 0 {
			return fmt.Sprint(i % 7)
		}
		return letters[i%len(letters):i%len(letters)+1] + "X"
	}, 2)
	var d *Dataset
	n = allocated(func() { d, err = ReadCSV(bytes.NewReader(codes), "codes.csv", CSVOptions{}) })
	if err != nil || d.Features != 1+MaxCategories {
		t.Fatalf("codes: %v", err)
	}
	if limit := uint64((4*OneHotFactor + 4) * len(codes)); n > limit {
		t.Errorf("reading %d bytes of text allocated %d bytes, want at most %d", len(codes), n, limit)
	}
}

func TestCSVTargetColumn(t *testing.T) {
	// The target is stored as label indexes in order of first appearance
	// while it may be a class label, and turned into values when TaskAuto
	// finds it is not.
	cases := []struct {
		name, input string
		task        Task
		wantTask    Task
		wantY       []float32
		wantNames   []string
	}{
		{"labels out of order", "a,y\n1,5\n2,-1\n3,5\n4,2\n", Classification, Classification, []float32{2, 0, 2, 1}, []string{"-1", "2", "5"}},
		{"auto classes", "a,y\n1,5\n2,-1\n3,5\n", TaskAuto, Classification, []float32{1, 0, 1}, []string{"-1", "5"}},
		{"auto, a fraction late", "a,y\n1,5\n2,-1\n3,5\n4,2.5\n", TaskAuto, Regression, []float32{5, -1, 5, 2.5}, nil},
		{"regression", "a,y\n1,5\n2,0.25\n", Regression, Regression, []float32{5, 0.25}, nil},
	}
	var many strings.Builder
	var manyY []float32
	many.WriteString("a,y\n")
	for i := range AutoMaxClasses + 5 {
		v := 100 + 3*(i%(AutoMaxClasses+1)) // the 21st distinct value, one too many, comes at row 21
		fmt.Fprintf(&many, "1,%d\n", v)
		manyY = append(manyY, float32(v))
	}
	cases = append(cases, struct {
		name, input string
		task        Task
		wantTask    Task
		wantY       []float32
		wantNames   []string
	}{"auto, too many classes", many.String(), TaskAuto, Regression, manyY, nil})
	for _, c := range cases {
		d, err := ReadCSV(strings.NewReader(c.input), c.name, CSVOptions{Task: c.task})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.Task != c.wantTask || !slices.Equal(d.Y, c.wantY) || !slices.Equal(d.ClassNames, c.wantNames) {
			t.Errorf("%s: task %v, Y %v, names %q; want %v, %v, %q", c.name, d.Task, d.Y, d.ClassNames, c.wantTask, c.wantY, c.wantNames)
		}
	}
}
