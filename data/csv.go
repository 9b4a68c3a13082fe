package data

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AutoMaxClasses is the largest number of distinct integer target values
// that TaskAuto reads as classes rather than as a regression target.
const AutoMaxClasses = 20

// CSVOptions says how ReadCSV turns a table into a Dataset.
type CSVOptions struct {
	// Target names the target column: a header name, or failing that a
	// 0-based column index ("0", "3"). Empty means the last column.
	Target string
	// Task is Classification (the zero value), Regression or TaskAuto.
	Task Task
	// Drop lists columns, by header name, to leave out of the features.
	Drop []string
}

// ReadCSV reads a comma-separated table with a header row from r and
// returns it as a Dataset called name; name also prefixes every error.
// Input compressed with gzip is decompressed, within MaxGzipRatio.
//
// Every feature cell must be a finite number: empty cells, text, NaN and
// Inf are errors that give the line, the column number and its header
// name. So are rows whose number of fields differs from the header's.
// Missing values are not imputed; clean them before loading. Input whose
// first 64 KiB hold a NUL byte, or control bytes in what is not UTF-8, is
// refused as not text before anything else is parsed, and so is a record
// longer than MaxCSVLine bytes.
//
// For classification the target cells must be integers; their distinct
// values, in increasing order, become classes 0..K-1. Labels that are
// already 0..K-1 are therefore kept as they are, while, say, -1/1 become
// 0/1 and 3/5/9 become 0/1/2; in that case ClassNames records the
// original value of each class. For regression the target is read as is.
// With TaskAuto, a target of integers with at most AutoMaxClasses
// distinct values is read as classification and any other as regression.
//
// The table is parsed as it streams in; see the package documentation for
// the memory this takes.
func ReadCSV(r io.Reader, name string, opt CSVOptions) (*Dataset, error) {
	return readCSV(r, -1, name, opt)
}

// readCSV is ReadCSV for an input of size bytes, or of unknown size if
// size < 0.
func readCSV(r io.Reader, size int64, name string, opt CSVOptions) (*Dataset, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", name, fmt.Errorf(format, args...))
	}
	if opt.Task != Classification && opt.Task != Regression && opt.Task != TaskAuto {
		return nil, fail("unknown task %v", opt.Task)
	}
	cr, err := openCSV(r, size, ',')
	if err != nil {
		return nil, fail("%w", err)
	}
	cr.FieldsPerRecord = -1 // ragged rows are reported below, with the header's width
	cr.TrimLeadingSpace = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil, fail("empty input: a header row is required")
	}
	if err != nil {
		return nil, fail("%w", csvError(err))
	}
	header = slices.Clone(header)
	if err := checkHeader(header); err != nil {
		return nil, fail("line 1: %v", err)
	}
	cols, err := planColumns(header, opt)
	if err != nil {
		return nil, fail("%v", err)
	}

	// Cells are parsed as the records stream in, into chunked storage
	// that grows without copying; the only copy is X's, made once at the
	// end.
	var x chunked[float32]
	y := newTargetColumn(opt.Task)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail("%w", csvError(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fail("line %d: %d fields, but the header has %d", line, len(rec), len(header))
		}
		cellErr := func(j int, format string, args ...any) error {
			return fail("line %d, column %d (%q): %s", line, j+1, header[j], fmt.Sprintf(format, args...))
		}
		for _, j := range cols.features {
			v, err := parseCell(rec[j])
			if err != nil {
				return nil, cellErr(j, "%v", err)
			}
			x.add(float32(v))
		}
		v, err := parseCell(rec[cols.target])
		if err != nil {
			return nil, cellErr(cols.target, "%v", err)
		}
		if opt.Task == Classification && !isIntegral(v) {
			return nil, cellErr(cols.target, "class label %s is not an integer (use Task: Regression for a real-valued target)", rec[cols.target])
		}
		y.add(v)
	}
	if y.rows.n == 0 {
		return nil, fail("no data rows after the header")
	}

	d := &Dataset{
		Name:         name,
		X:            x.flatten(),
		N:            y.rows.n,
		Features:     len(cols.features),
		Targets:      1,
		FeatureNames: cols.names,
	}
	d.Task, d.Y, d.Classes, d.ClassNames = y.finish()
	return d, nil
}

// csvColumns says what each column of a table is for.
type csvColumns struct {
	target   int      // the target column
	features []int    // the feature columns, in order
	names    []string // their header names
}

// planColumns finds the target and feature columns of header as opt
// asks.
func planColumns(header []string, opt CSVOptions) (csvColumns, error) {
	var cols csvColumns
	target, err := resolveColumn(header, opt.Target)
	if err != nil {
		return cols, fmt.Errorf("target: %v", err)
	}
	cols.target = target
	drop := make([]bool, len(header))
	for _, col := range opt.Drop {
		j := slices.Index(header, col)
		if j < 0 {
			return cols, fmt.Errorf("column %q to drop is not in the header %q", col, header)
		}
		if j == target {
			return cols, fmt.Errorf("column %q is the target and cannot be dropped", col)
		}
		drop[j] = true
	}
	for j := range header {
		if j != target && !drop[j] {
			cols.features = append(cols.features, j)
			cols.names = append(cols.names, strings.TrimSpace(header[j]))
		}
	}
	if len(cols.features) == 0 {
		return cols, fmt.Errorf("no feature columns left besides the target %q", header[target])
	}
	return cols, nil
}

// ReadCSVFile reads the CSV file at path (optionally gzip-compressed) as
// ReadCSV does. Errors name the file; the data set is named after the
// file without its directory and .csv/.gz extensions.
func ReadCSVFile(path string, opt CSVOptions) (*Dataset, error) {
	f, size, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := readCSV(f, size, path, opt)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, ".gz")
	base = strings.TrimSuffix(base, ".csv")
	d.Name = base
	return d, nil
}

// textCheckLen is how much of a CSV input is checked to be text before
// it is parsed.
const textCheckLen = 64 << 10

// openCSV prepares r, of size bytes (-1 if unknown), for reading records
// whose fields are separated by comma. It decompresses gzip input within
// MaxGzipRatio, skips a UTF-8 byte-order mark, refuses input whose first
// textCheckLen bytes are not text (checkText), and makes any record longer
// than MaxCSVLine bytes an error. The reader reuses its records.
func openCSV(r io.Reader, size int64, comma rune) (*csv.Reader, error) {
	src, _, err := gunzipIfCompressed(bufio.NewReaderSize(r, textCheckLen), size)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(src, textCheckLen)
	// Skip the UTF-8 byte-order mark some spreadsheets write; left in, it
	// would become part of the first column's name or break its quoting.
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	block, err := br.Peek(textCheckLen)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err := checkText(block); err != nil {
		return nil, err
	}
	cr := csv.NewReader(&recordLimiter{r: br, max: limits.csvLine, line: 1, start: 1})
	cr.Comma = comma
	cr.ReuseRecord = true
	return cr, nil
}

// checkText refuses a first block of input that is not text: one that
// holds a NUL byte (binary files, sparse files of zeros, UTF-16 text), or
// that is not valid UTF-8 and holds control bytes other than white space.
// Text in another 8-bit encoding, such as Latin-1, passes: its non-ASCII
// bytes can only be in names and text cells, which are checked where
// they are read. block may end inside a UTF-8 sequence.
func checkText(block []byte) error {
	if i := bytes.IndexByte(block, 0); i >= 0 {
		hint := "this does not look like a CSV file"
		if bytes.HasPrefix(block, []byte{0xFF, 0xFE}) || bytes.HasPrefix(block, []byte{0xFE, 0xFF}) {
			hint = "the file is UTF-16 text: save it as UTF-8"
		}
		line, col := textPos(block, i)
		return fmt.Errorf("not text: a NUL byte at line %d, byte %d: %s", line, col, hint)
	}
	if validUTF8Prefix(block) {
		return nil
	}
	for i, c := range block {
		if (c < 0x20 && !strings.ContainsRune("\t\n\v\f\r\x1a", rune(c))) || c == 0x7F {
			line, col := textPos(block, i)
			return fmt.Errorf("not text: control byte 0x%02X at line %d, byte %d, in input that is not UTF-8: this does not look like a CSV file", c, line, col)
		}
	}
	return nil
}

// validUTF8Prefix reports whether b is valid UTF-8 but for an incomplete
// sequence at its end.
func validUTF8Prefix(b []byte) bool {
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		if utf8.RuneStart(b[len(b)-k]) {
			if !utf8.FullRune(b[len(b)-k:]) {
				b = b[:len(b)-k]
			}
			break
		}
	}
	return utf8.Valid(b)
}

// textPos gives the 1-based line and byte in line of offset i of text.
func textPos(text []byte, i int) (line, col int) {
	line = 1 + bytes.Count(text[:i], []byte{'\n'})
	return line, i - bytes.LastIndexByte(text[:i], '\n')
}

// recordLimiter fails once a CSV record runs longer than max bytes, so
// that input without line breaks costs no more than about max bytes to
// refuse. It follows quotes as encoding/csv does, so a line break inside
// a quoted field does not end the record.
type recordLimiter struct {
	r      io.Reader
	max    int64
	run    int64 // bytes of the current record so far
	quoted bool  // inside a quoted field
	line   int   // the line being read, from 1
	start  int   // the line the current record started on
	err    error // the limit's error, once hit
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		switch c {
		case '"':
			l.quoted = !l.quoted
		case '\n':
			l.line++
			if !l.quoted {
				l.run, l.start = 0, l.line
				continue
			}
		}
		if l.run++; l.run > l.max {
			l.err = fmt.Errorf("line %d: a record longer than %d bytes: this does not look like a CSV table", l.start, l.max)
			return i, l.err
		}
	}
	return n, err
}

// chunked collects values in chunks that are never moved, so that it
// grows without copying what it holds (append's growth would copy, and
// briefly hold, up to 2.25 times its contents). The chunks grow from 256
// values to chunkMax.
type chunked[T float32 | float64] struct {
	chunks [][]T
	n      int // values in all
}

const chunkMax = 1 << 16

func (c *chunked[T]) add(v T) {
	k := len(c.chunks)
	if k == 0 || len(c.chunks[k-1]) == cap(c.chunks[k-1]) {
		size := chunkMax
		if k < 8 {
			size = 256 << k
		}
		c.chunks = append(c.chunks, make([]T, 0, size))
		k++
	}
	c.chunks[k-1] = append(c.chunks[k-1], v)
	c.n++
}

// all yields the values in the order added.
func (c *chunked[T]) all() iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, chunk := range c.chunks {
			for _, v := range chunk {
				if !yield(v) {
					return
				}
			}
		}
	}
}

// flatten returns the values in one slice of exactly their number.
func (c *chunked[T]) flatten() []T {
	out := make([]T, 0, c.n)
	for _, chunk := range c.chunks {
		out = append(out, chunk...)
	}
	return out
}

// csvError shortens encoding/csv's errors, which already carry the line
// and column, and adds a hint for the common binary-input case.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d, byte %d: %v (malformed quoting, or not a CSV text file)", pe.Line, pe.Column, pe.Err)
	}
	return err
}

// checkHeader rejects headers that are binary junk, duplicate a name, or
// look like a data row (a file without a header would otherwise lose its
// first example and get numbers as column names).
func checkHeader(header []string) error {
	allNumeric := true
	seen := make(map[string]bool, len(header))
	for j, h := range header {
		if strings.ContainsRune(h, 0) {
			return fmt.Errorf("column %d of the header is not text: this does not look like a CSV file", j+1)
		}
		if !utf8.ValidString(h) {
			return fmt.Errorf("column %d of the header is not UTF-8 text: the file looks Latin-1 or Windows-1252 encoded; convert it to UTF-8, for example with iconv -f latin1 -t utf-8", j+1)
		}
		h = strings.TrimSpace(h)
		if h != "" && seen[h] {
			return fmt.Errorf("column name %q appears twice in the header", h)
		}
		seen[h] = true
		if _, err := strconv.ParseFloat(h, 64); err != nil {
			allNumeric = false
		}
	}
	if allNumeric {
		return errors.New("the header is all numbers; a header row naming the columns is required")
	}
	return nil
}

// resolveColumn finds the column that spec names: "" is the last column,
// a header name takes precedence, and otherwise spec must be a 0-based
// index.
func resolveColumn(header []string, spec string) (int, error) {
	if spec == "" {
		return len(header) - 1, nil
	}
	for j, h := range header {
		if strings.TrimSpace(h) == spec {
			return j, nil
		}
	}
	j, err := strconv.Atoi(spec)
	if err != nil {
		return 0, fmt.Errorf("no column named %q in the header %q", spec, header)
	}
	if j < 0 || j >= len(header) {
		return 0, fmt.Errorf("column index %d out of range: the header has %d columns", j, len(header))
	}
	return j, nil
}

// parseCell parses one numeric cell, rejecting what a float32 feature
// cannot hold.
func parseCell(cell string) (float64, error) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return 0, errors.New("empty cell; missing values are not supported")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return 0, fmt.Errorf("cannot parse %q as a number", s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("non-finite value %q", s)
	}
	if math.Abs(v) > math.MaxFloat32 {
		return 0, fmt.Errorf("value %q is outside the float32 range", s)
	}
	return v, nil
}

func isIntegral(v float64) bool {
	return v == math.Trunc(v) && math.Abs(v) < 1<<53
}

// targetColumn collects the target column as it streams in, 4 bytes a
// row. While the target may be a class label (always for Classification;
// for TaskAuto until a value is not an integer or the AutoMaxClasses+1st
// distinct value appears) it keeps each distinct label once and stores,
// for each row, the index of its label in order of first appearance;
// otherwise it stores the values.
type targetColumn struct {
	rows   chunked[float32]
	first  map[float64]int // label -> index of first appearance; nil when storing values
	labels []float64       // the distinct labels in order of first appearance
	auto   bool            // TaskAuto: the target may still turn out a regression target
}

func newTargetColumn(task Task) *targetColumn {
	t := &targetColumn{auto: task == TaskAuto}
	if task != Regression {
		t.first = make(map[float64]int)
	}
	return t
}

// add appends one row's target. For Classification v must be an integer.
func (t *targetColumn) add(v float64) {
	if t.first != nil {
		k, seen := t.first[v]
		if t.auto && (!isIntegral(v) || !seen && len(t.labels) == AutoMaxClasses) {
			t.storeValues()
		} else {
			if !seen {
				k = len(t.labels)
				t.first[v] = k
				t.labels = append(t.labels, v)
			}
			t.rows.add(float32(k))
			return
		}
	}
	t.rows.add(float32(v))
}

// storeValues replaces the label indexes stored so far by the labels'
// values, once a TaskAuto target has turned out a regression target.
func (t *targetColumn) storeValues() {
	for _, chunk := range t.rows.chunks {
		for i, k := range chunk {
			chunk[i] = float32(t.labels[int(k)])
		}
	}
	t.first, t.labels = nil, nil
}

// finish returns the target's task, with TaskAuto resolved, and its
// values. A classification target's distinct labels, in increasing order,
// become classes 0..K-1; names records the original labels, and is set
// only when they are not 0..K-1 already.
func (t *targetColumn) finish() (task Task, y []float32, classes int, names []string) {
	if t.first == nil {
		return Regression, t.rows.flatten(), 0, nil
	}
	byLabel := make([]int, len(t.labels)) // indexes of first appearance, by increasing label
	for k := range byLabel {
		byLabel[k] = k
	}
	slices.SortFunc(byLabel, func(a, b int) int { return cmp.Compare(t.labels[a], t.labels[b]) })
	class := make([]float32, len(t.labels)) // by index of first appearance
	identity := true
	for c, k := range byLabel {
		class[k] = float32(c)
		identity = identity && t.labels[k] == float64(c)
	}
	if !identity {
		names = make([]string, len(byLabel))
		for c, k := range byLabel {
			names[c] = strconv.FormatFloat(t.labels[k], 'f', -1, 64)
		}
	}
	y = make([]float32, 0, t.rows.n)
	for k := range t.rows.all() {
		y = append(y, class[int(k)])
	}
	return Classification, y, len(t.labels), names
}

// ReadFeaturesCSV reads the named columns, in the order given, from a CSV
// file with a header row (other columns are ignored), for prediction with a
// model trained on those features. Errors name the file, line and column.
// The file may be gzip-compressed, and is held to the same bounds as in
// ReadCSV.
func ReadFeaturesCSV(path string, columns []string) (x []float32, n int, err error) {
	f, size, err := openFile(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, err := openCSV(f, size, ',')
	if err != nil {
		return nil, 0, fmt.Errorf("data: %s: %w", path, err)
	}
	header, err := r.Read()
	if err != nil {
		return nil, 0, fmt.Errorf("data: %s: reading the header: %w", path, err)
	}
	at := map[string]int{}
	for i, h := range header {
		at[strings.TrimSpace(h)] = i
	}
	idx := make([]int, len(columns))
	for j, c := range columns {
		i, ok := at[c]
		if !ok {
			return nil, 0, fmt.Errorf("data: %s: no column %q (the model was trained on %v)", path, c, columns)
		}
		idx[j] = i
	}
	var values chunked[float32]
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("data: %s: %w", path, err)
		}
		for j, i := range idx {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, fmt.Errorf("data: %s: line %d, column %q: %q is not a finite number", path, line, columns[j], rec[i])
			}
			values.add(float32(v))
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("data: %s: no rows", path)
	}
	return values.flatten(), n, nil
}
