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
	// Drop lists columns to leave out of the features, each by header
	// name or, failing that, by 0-based index.
	Drop []string
	// Comma is the field separator; 0 detects comma, semicolon or tab
	// from the header line (see detectSeparator).
	Comma rune
	// Missing says what a missing cell is: an error (the zero value),
	// NaN for the caller to impute, or a reason to leave the row out.
	Missing Missing
}

// ReadCSV reads a comma-separated table with a header row from r and
// returns it as a Dataset called name; name also prefixes every error.
// Input compressed with gzip is decompressed, within MaxGzipRatio.
//
// The separator is opt.Comma, or, when that is 0, whichever of comma,
// semicolon and tab the header line holds most of.
//
// A feature column is numeric, or, from its first cell that is not a
// number, a text column: its distinct values, at most MaxCategories, are
// one-hot encoded in increasing order (a column "colour" of red and blue
// gives the features colour=blue and colour=red) and recorded in the
// Dataset's Encoding. A text column with more values is an error that
// names it. Numeric cells must be finite: NaN and Inf are errors that
// give the line, the column number and its header name, and so are rows
// whose number of fields differs from the header's. A missing cell
// (empty, NA, N/A, null or ?) is an error too, unless opt.Missing says
// otherwise. Input whose
// first 64 KiB hold a NUL byte, or control bytes in what is not UTF-8, is
// refused as not text before anything else is parsed, and so is a record
// longer than MaxCSVLine bytes.
//
// For classification the target cells must be integers or text; their distinct
// values, in increasing order, become classes 0..K-1. Labels that are
// already 0..K-1 are therefore kept as they are, while, say, -1/1 become
// 0/1 and 3/5/9 become 0/1/2; in that case ClassNames records the
// original value of each class. For regression the target is read as is.
// With TaskAuto, a target of integers with at most AutoMaxClasses
// distinct values is read as classification and any other as regression.
// A target with any text cell is read as classification: its distinct
// values, in increasing order, become the classes, and ClassNames holds
// them (numbers among them by their shortest decimal form).
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
	cr, comma, err := openCSV(r, size, opt.Comma)
	if err != nil {
		return nil, fail("%w", err)
	}

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
	cols, err := planColumns(header, opt, comma)
	if err != nil {
		return nil, fail("%v", err)
	}

	// Cells are parsed as the records stream in, into chunked storage
	// that grows without copying; the only copy is X's, made once at the
	// end. A text column holds category indexes until then.
	var x chunked
	y := newTargetColumn(opt.Task)
	text := make([]*textColumn, len(cols.features))
	row := make([]float32, len(cols.features))
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
			return nil, fail("line %d: %d fields, but the header has %d (fields separated by %s)", line, len(rec), len(header), sepName(comma))
		}
		cellErr := func(j int, format string, args ...any) error {
			return fail("line %d, column %d (%q): %s", line, j+1, header[j], fmt.Sprintf(format, args...))
		}
		if opt.Missing == MissingDropRow && cols.anyMissing(rec) {
			continue
		}
		for p, j := range cols.features {
			cell := decimalComma(strings.TrimSpace(rec[j]), comma)
			if isMissing(cell) {
				if opt.Missing == MissingError {
					return nil, cellErr(j, "missing value %q; impute it (train -impute) or clean the file", cell)
				}
				row[p] = float32(math.NaN())
				continue
			}
			if text[p] == nil {
				v, err := parseCell(cell)
				if err == nil {
					row[p] = float32(v)
					continue
				}
				if looksNumeric(cell) {
					return nil, cellErr(j, "%v", err)
				}
				// The first text cell: a text column, whose numbers so
				// far become categories too.
				text[p] = &textColumn{index: map[string]int{}}
				if !toText(&x, p, len(row), text[p]) {
					return nil, cellErr(j, "%s", tooManyCategories(header[j], cell))
				}
			}
			if err := textCell(cell); err != nil {
				return nil, cellErr(j, "%v", err)
			}
			k, ok := text[p].add(category(cell))
			if !ok {
				return nil, cellErr(j, "%s", tooManyCategories(header[j], cell))
			}
			row[p] = float32(k)
		}
		tcell := decimalComma(strings.TrimSpace(rec[cols.target]), comma)
		if isMissing(tcell) {
			return nil, cellErr(cols.target, "missing target value %q (a missing target cannot be imputed; leave such rows out)", tcell)
		}
		if err := y.add(tcell); err != nil {
			return nil, cellErr(cols.target, "%v", err)
		}
		for _, v := range row {
			x.add(v)
		}
	}
	if y.rows.n == 0 {
		return nil, fail("no data rows after the header")
	}

	enc := &Encoding{Columns: cols.names}
	width := len(cols.features)
	for p, t := range text {
		if t != nil {
			if enc.Categories == nil {
				enc.Categories = map[string][]string{}
			}
			enc.Categories[cols.names[p]], _ = t.sorted()
			width += len(t.values) - 1
		}
	}
	if enc.Categories != nil {
		if err := checkOneHot(width, y.rows.n, cr.InputOffset()); err != nil {
			return nil, fail("%v", err)
		}
	}
	d := &Dataset{
		Name:         name,
		N:            y.rows.n,
		Features:     width,
		Targets:      1,
		FeatureNames: enc.FeatureNames(),
		Encoding:     enc,
	}
	if enc.Categories == nil {
		d.X = x.flatten()
	} else {
		d.X = oneHot(&x, d.N, text, width)
	}
	d.Task, d.Y, d.Classes, d.ClassNames = y.finish()
	return d, nil
}

// checkOneHot bounds the one-hot encoding of a table with text columns,
// rows x width, by MaxFeatures and OneHotFactor per byte of its text.
func checkOneHot(width, rows int, text int64) error {
	const hint = "leave out text columns of many short values (-drop), or encode them as numbers"
	if width > MaxFeatures {
		return fmt.Errorf("the text columns one-hot encode to %d features, more than %d; %s", width, MaxFeatures, hint)
	}
	if values := int64(rows) * int64(width); values > OneHotFactor*text {
		return fmt.Errorf("the text columns one-hot encode %d rows to %d features, %d values for %d bytes of text, more than %d a byte; %s",
			rows, width, values, text, OneHotFactor, hint)
	}
	return nil
}

// anyMissing reports whether a record has a missing cell in a column
// that is read.
func (c *csvColumns) anyMissing(rec []string) bool {
	for _, j := range c.features {
		if isMissing(strings.TrimSpace(rec[j])) {
			return true
		}
	}
	return isMissing(strings.TrimSpace(rec[c.target]))
}

// decimalComma reads a cell of a semicolon-separated table, where a
// decimal comma is usual, as a number with a decimal point when it is
// one: "1,5" is 1.5 there.
func decimalComma(cell string, comma rune) string {
	if comma != ';' || strings.Count(cell, ",") != 1 || strings.Contains(cell, ".") {
		return cell
	}
	if c := strings.Replace(cell, ",", ".", 1); looksNumeric(c) {
		return c
	}
	return cell
}

// tooManyCategories explains a text column with more than MaxCategories
// values.
func tooManyCategories(column, cell string) string {
	return fmt.Sprintf("text %q in a column of more than %d distinct values: an ID or free-text column cannot be a feature; leave it out (train -drop %q), or, if it should be numeric, correct the cell",
		clip(cell), MaxCategories, strings.TrimSpace(column))
}

// looksNumeric reports whether s is written as a number, if perhaps one
// that parseCell refuses (NaN, Inf, beyond float32).
func looksNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil || errors.Is(err, strconv.ErrRange)
}

// csvColumns says what each column of a table is for.
type csvColumns struct {
	target   int      // the target column
	features []int    // the feature columns, in order
	names    []string // their header names
}

// planColumns finds the target and feature columns of header as opt
// asks.
func planColumns(header []string, opt CSVOptions, comma rune) (csvColumns, error) {
	var cols csvColumns
	target, err := resolveColumn(header, opt.Target)
	if err != nil {
		return cols, fmt.Errorf("target: %v", err)
	}
	cols.target = target
	drop := make([]bool, len(header))
	for _, col := range opt.Drop {
		j, err := resolveColumn(header, col)
		if err != nil || col == "" {
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
	// checkHeader lets blank names repeat; a feature's may not, as a
	// model finds its columns by name.
	count := make(map[string]int, len(header))
	for _, h := range header {
		count[strings.TrimSpace(h)]++
	}
	for f, j := range cols.features {
		if name := cols.names[f]; count[name] > 1 {
			k := slices.IndexFunc(header, func(h string) bool { return strings.TrimSpace(h) == name })
			if k == j {
				k = j + 1 + slices.IndexFunc(header[j+1:], func(h string) bool { return strings.TrimSpace(h) == name })
			}
			return cols, fmt.Errorf("columns %d and %d of the header are both named %q: a feature column needs a name of its own, as a model finds its columns by name (name them, or -drop the feature by its index)",
				min(j, k)+1, max(j, k)+1, name)
		}
	}
	if len(cols.features) == 0 {
		if len(header) == 1 {
			return cols, fmt.Errorf("the header %q is one column when split at each %s: if the fields are separated by something else, say so (train -sep)", clip(header[0]), sepName(comma))
		}
		return cols, fmt.Errorf("no feature columns left besides the target %q", header[target])
	}
	return cols, nil
}

// repeated finds the first name of names that an earlier one repeats:
// names[i] == names[j] with i < j.
func repeated(names []string) (i, j int, ok bool) {
	first := make(map[string]int, len(names))
	for j, n := range names {
		if i, seen := first[n]; seen {
			return i, j, true
		}
		first[n] = j
	}
	return 0, 0, false
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
// whose fields are separated by comma, or, if comma is 0, by the separator
// detected in the header line, which it returns. It decompresses gzip input within
// MaxGzipRatio, skips a UTF-8 byte-order mark, refuses input whose first
// textCheckLen bytes are not text (checkText), and makes any record longer
// than MaxCSVLine bytes an error. The reader reuses its records.
func openCSV(r io.Reader, size int64, comma rune) (*csv.Reader, rune, error) {
	src, _, err := gunzipIfCompressed(bufio.NewReaderSize(r, textCheckLen), size)
	if err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(src, textCheckLen)
	// Skip the UTF-8 byte-order mark some spreadsheets write; left in, it
	// would become part of the first column's name or break its quoting.
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	block, err := br.Peek(textCheckLen)
	if err != nil && err != io.EOF {
		return nil, 0, err
	}
	if err := checkText(block); err != nil {
		return nil, 0, err
	}
	if comma == 0 {
		comma = detectSeparator(block)
	}
	cr := csv.NewReader(&recordLimiter{r: br, max: limits.csvLine, line: 1, start: 1})
	cr.Comma = comma
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // ragged rows are reported by the callers, with the header's width
	cr.TrimLeadingSpace = comma != '\t'
	return cr, comma, nil
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
type chunked struct {
	chunks [][]float32
	n      int // values in all
}

const chunkMax = 1 << 16

func (c *chunked) add(v float32) {
	k := len(c.chunks)
	if k == 0 || len(c.chunks[k-1]) == cap(c.chunks[k-1]) {
		size := chunkMax
		if k < 8 {
			size = 256 << k
		}
		c.chunks = append(c.chunks, make([]float32, 0, size))
		k++
	}
	c.chunks[k-1] = append(c.chunks[k-1], v)
	c.n++
}

// all yields the values in the order added.
func (c *chunked) all() iter.Seq[float32] {
	return func(yield func(float32) bool) {
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
func (c *chunked) flatten() []float32 {
	out := make([]float32, 0, c.n)
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
// otherwise it stores the values. From its first text cell, a class
// target keeps its labels as text (names).
type targetColumn struct {
	rows   chunked
	first  map[float64]int // label -> index of first appearance; nil when storing values or text
	labels []float64       // the distinct labels in order of first appearance
	auto   bool            // TaskAuto: the target may still turn out a regression target
	class  bool            // Classification: labels must be integers or text
	named  map[string]int  // text label -> index of first appearance; nil until a text cell
	names  []string        // the distinct text labels in order of first appearance
}

func newTargetColumn(task Task) *targetColumn {
	t := &targetColumn{auto: task == TaskAuto, class: task == Classification}
	if task != Regression {
		t.first = make(map[float64]int)
	}
	return t
}

// maxClassLabels is the most distinct class labels a target may have:
// their indexes are stored as float32, exact up to 2^24.
const maxClassLabels = 1 << 24

// add appends one row's target, a trimmed cell that is not missing.
func (t *targetColumn) add(cell string) error {
	if t.named != nil {
		return t.addText(cell)
	}
	v, err := parseCell(cell)
	if err != nil {
		if looksNumeric(cell) {
			return err
		}
		if t.first == nil {
			return fmt.Errorf("text %q in a numeric target column: a regression target must be all numbers (text labels are classes)", clip(cell))
		}
		t.toText()
		return t.addText(cell)
	}
	if t.class && !isIntegral(v) {
		return fmt.Errorf("class label %s is not an integer (use Task: Regression for a real-valued target)", clip(cell))
	}
	if t.first != nil {
		_, seen := t.first[v]
		if t.auto && (!isIntegral(v) || !seen && len(t.labels) == AutoMaxClasses) {
			t.storeValues()
		} else {
			k, ok := firstIndex(t.first, &t.labels, v, maxClassLabels)
			if !ok {
				return fmt.Errorf("more than %d distinct class labels (use Task: Regression for a real-valued target)", maxClassLabels)
			}
			t.rows.add(float32(k))
			return nil
		}
	}
	t.rows.add(float32(v))
	return nil
}

// toText turns the numeric labels seen so far into text labels, keeping
// their indexes, once a text label appears.
func (t *targetColumn) toText() {
	t.named = make(map[string]int, len(t.labels))
	for _, v := range t.labels {
		name := labelName(v)
		t.named[name] = len(t.names)
		t.names = append(t.names, name)
	}
	t.first, t.labels = nil, nil
}

// labelName is the class name of a numeric label: its shortest form,
// so that 1, 1.0 and 1e0 are one class.
func labelName(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// addText appends a label to a column of text labels. A cell that is a
// number is named as toText names the numbers seen before the first text
// label, wherever it comes.
func (t *targetColumn) addText(cell string) error {
	if err := textCell(cell); err != nil {
		return err
	}
	if v, err := parseCell(cell); err == nil {
		cell = labelName(v)
	}
	k, ok := firstIndex(t.named, &t.names, cell, maxClassLabels)
	if !ok {
		return fmt.Errorf("more than %d distinct class labels", maxClassLabels)
	}
	t.rows.add(float32(k))
	return nil
}

// firstIndex returns key's index in *list, the keys in order of first
// appearance, with index mapping each to its position; a new key is
// appended. ok is false, and nothing changes, for a new key when *list
// already holds limit keys.
func firstIndex[K comparable](index map[K]int, list *[]K, key K, limit int) (k int, ok bool) {
	if k, seen := index[key]; seen {
		return k, true
	}
	if len(*list) == limit {
		return 0, false
	}
	index[key] = len(*list)
	*list = append(*list, key)
	return len(*list) - 1, true
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
// only when they are not 0..K-1 already. Text labels are always named.
func (t *targetColumn) finish() (task Task, y []float32, classes int, names []string) {
	if t.named != nil {
		tc := textColumn{index: t.named, values: t.names}
		sorted, pos := tc.sorted()
		y = make([]float32, 0, t.rows.n)
		for k := range t.rows.all() {
			y = append(y, float32(pos[int(k)]))
		}
		return Classification, y, len(sorted), sorted
	}
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

// ReadFeaturesCSV reads the named numeric columns, in the order given,
// from a CSV file with a header row (other columns are ignored), for
// prediction with a model trained on those features. It is ReadFeatures
// of the file with an Encoding of those columns and no text columns.
func ReadFeaturesCSV(path string, columns []string) (x []float32, n int, err error) {
	return ReadFeaturesFile(path, Encoding{Columns: columns}, FeatureOptions{})
}

// ReadFeaturesFile is ReadFeatures of the file at path, which may be
// gzip-compressed; errors name the file.
func ReadFeaturesFile(path string, enc Encoding, opt FeatureOptions) (x []float32, n int, err error) {
	f, size, err := openFile(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	return readFeatures(f, size, path, enc, opt)
}
