package data

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxCategories is the most distinct values a text feature column may
// hold to be one-hot encoded by ReadCSV. A column with more is most
// likely an identifier or free text, which is an error that suggests
// leaving it out (CSVOptions.Drop).
const MaxCategories = 32

// MaxFeatures is the most features ReadCSV encodes a table to (numeric
// columns plus the categories of its text columns); it is the widest
// input a model of package nn takes (nn.MaxFeatures).
const MaxFeatures = 1 << 24

// OneHotFactor bounds the one-hot encoded X of a table with text
// columns: at most OneHotFactor values (4 bytes each) per byte of the
// table's text, rows x features <= OneHotFactor x bytes. A 2-byte text
// cell may stand for up to MaxCategories values; a table of such cells
// whose X would pass the bound is refused before X is allocated.
const OneHotFactor = 8

// Missing says what ReadCSV does with a missing cell: an empty one, or
// one reading NA, N/A, null or ? (in any case).
type Missing int

const (
	// MissingError refuses a missing cell, naming its line and column.
	MissingError Missing = iota
	// MissingKeep reads a missing feature cell as NaN (every feature of a
	// text column's one-hot block is then NaN), for the caller to impute
	// (FitImputer). A missing target cell is still an error.
	MissingKeep
	// MissingDropRow leaves out every row with a missing cell in a
	// feature or the target column.
	MissingDropRow
)

// isMissing reports whether a trimmed cell stands for a missing value.
func isMissing(s string) bool {
	return s == "" || s == "?" || strings.EqualFold(s, "NA") || strings.EqualFold(s, "N/A") || strings.EqualFold(s, "null")
}

// Encoding says how the raw columns of a table become a model's
// features: each of Columns, in order, gives one numeric feature, or,
// when it is a text column listed in Categories, one 0/1 feature per
// category, in the order listed (one-hot encoding). A model trained on a
// table records it, so that prediction encodes new rows the same way.
type Encoding struct {
	Columns    []string            `json:"columns"`
	Categories map[string][]string `json:"categories,omitempty"`
}

// FeatureNames names the encoded features: a numeric column by its name,
// a category as column=value.
func (e *Encoding) FeatureNames() []string {
	var names []string
	for _, c := range e.Columns {
		cats, ok := e.Categories[c]
		if !ok {
			names = append(names, c)
			continue
		}
		for _, v := range cats {
			names = append(names, c+"="+v)
		}
	}
	return names
}

// Width is the number of encoded features.
func (e *Encoding) Width() int {
	n := 0
	for _, c := range e.Columns {
		if cats, ok := e.Categories[c]; ok {
			n += len(cats)
		} else {
			n++
		}
	}
	return n
}

// Check verifies that e is well formed: no repeated column or category,
// every categorical column among Columns with 1..MaxCategories values.
func (e *Encoding) Check() error {
	seen := map[string]bool{}
	for _, c := range e.Columns {
		if seen[c] {
			return fmt.Errorf("column %q appears twice in the encoding", c)
		}
		seen[c] = true
	}
	for c, cats := range e.Categories {
		if !seen[c] {
			return fmt.Errorf("categorical column %q is not among the columns %q", c, e.Columns)
		}
		if len(cats) < 1 || len(cats) > MaxCategories {
			return fmt.Errorf("column %q has %d categories, want 1..%d", c, len(cats), MaxCategories)
		}
		s := slices.Clone(cats)
		slices.Sort(s)
		if len(slices.Compact(s)) != len(cats) {
			return fmt.Errorf("column %q repeats a category", c)
		}
	}
	return nil
}

// sepName names a field separator in messages.
func sepName(comma rune) string {
	switch comma {
	case ',':
		return "comma"
	case ';':
		return "semicolon"
	case '\t':
		return "tab"
	}
	return strconv.QuoteRune(comma)
}

// ParseSeparator reads a separator as a user gives it: "," ";" a tab, or
// the words comma, semicolon, tab; "" and "auto" give 0 (detect).
func ParseSeparator(s string) (rune, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return 0, nil
	case ",", "comma":
		return ',', nil
	case ";", "semicolon":
		return ';', nil
	case "\t", "tab", `\t`:
		return '\t', nil
	case "|", "pipe":
		return '|', nil
	}
	return 0, fmt.Errorf("separator %q: want auto, comma, semicolon, tab or pipe", s)
}

// detectSeparator picks the field separator of a table from its header
// line, the start of block: whichever of comma, semicolon and tab occurs
// most often outside quotes (comma on a tie, or when none does).
func detectSeparator(block []byte) rune {
	if i := bytes.IndexByte(block, '\n'); i >= 0 {
		block = block[:i]
	}
	counts := map[byte]int{}
	quoted := false
	for _, c := range block {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

// textColumn collects the categories of a text feature column as the
// rows stream in: each row stores the index of its value in order of
// first appearance.
type textColumn struct {
	index  map[string]int
	values []string
}

// add returns the index of value, adding it if new; ok is false once the
// column would exceed MaxCategories.
func (t *textColumn) add(value string) (k int, ok bool) {
	return firstIndex(t.index, &t.values, value, MaxCategories)
}

// sorted returns the categories in increasing order and, for each index
// of first appearance, its position in that order.
func (t *textColumn) sorted() (values []string, pos []int) {
	values = slices.Clone(t.values)
	slices.Sort(values)
	pos = make([]int, len(t.values))
	for k, v := range t.values {
		pos[k], _ = slices.BinarySearch(values, v)
	}
	return values, pos
}

// category is the name of a cell of a text column: the cell, or, for a
// number, its shortest float32 form, so that 1.50 and 1.5 are the same
// category in training and in prediction.
func category(cell string) string {
	if v, err := strconv.ParseFloat(cell, 64); err == nil {
		return strconv.FormatFloat(float64(float32(v)), 'g', -1, 32)
	}
	return cell
}

// textCell checks a text cell: it must be UTF-8, and is quoted short in
// messages.
func textCell(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("text %q is not UTF-8: the file looks Latin-1 or Windows-1252 encoded; convert it to UTF-8, for example with iconv -f latin1 -t utf-8", clip(s))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// oneHot expands the raw n x len(cols) row-major matrix x, whose text
// columns hold category indexes in order of first appearance (or NaN for
// a missing cell), into the encoded features.
func oneHot(x *chunked, n int, text []*textColumn, width int) []float32 {
	pos := make([][]int, len(text))
	for j, t := range text {
		if t != nil {
			_, pos[j] = t.sorted()
		}
	}
	out := make([]float32, 0, n*width)
	j := 0
	for v := range x.all() {
		if t := text[j]; t != nil {
			out = appendOneHot(out, len(t.values), v, pos[j])
		} else {
			out = append(out, v)
		}
		if j++; j == len(text) {
			j = 0
		}
	}
	return out
}

// appendOneHot appends the one-hot block of width values for category
// index k (in order of first appearance, mapped to its sorted position by
// pos), or a block of NaN when k is NaN (a missing cell).
func appendOneHot(out []float32, width int, k float32, pos []int) []float32 {
	start := len(out)
	fill := float32(0)
	if math.IsNaN(float64(k)) {
		fill = k
	}
	for range width {
		out = append(out, fill)
	}
	if fill == 0 {
		out[start+pos[int(k)]] = 1
	}
	return out
}

// toText turns feature column p of the rows stored so far (stride values
// a row) from numbers into categories, once a text cell shows it is a
// text column: each number becomes the category of its shortest decimal
// form. ok is false if that makes more than MaxCategories.
func toText(x *chunked, p, stride int, t *textColumn) (ok bool) {
	i := 0
	for _, chunk := range x.chunks {
		for k := range chunk {
			if i%stride == p && !math.IsNaN(float64(chunk[k])) {
				c, ok := t.add(strconv.FormatFloat(float64(chunk[k]), 'g', -1, 32))
				if !ok {
					return false
				}
				chunk[k] = float32(c)
			}
			i++
		}
	}
	return true
}

// FeatureOptions says how ReadFeatures reads rows for prediction.
type FeatureOptions struct {
	// Comma is the field separator; 0 detects it from the header.
	Comma rune
	// Missing, when true, reads a missing cell as NaN (a text column's
	// whole one-hot block), for the caller to impute; otherwise it is an
	// error.
	Missing bool
}

// ReadFeatures reads, from a CSV table with a header row, the columns
// that enc names (other columns are ignored) and encodes them as enc
// says, for prediction with a model trained on that encoding. A category
// the model was not trained on is an error naming it and the known ones.
// The input is held to the same bounds as in ReadCSV; errors name the
// input (name), line and column.
func ReadFeatures(r io.Reader, name string, enc Encoding, opt FeatureOptions) (x []float32, n int, err error) {
	return readFeatures(r, -1, name, enc, opt)
}

// readFeatures is ReadFeatures for an input of size bytes, or of unknown
// size if size < 0.
func readFeatures(r io.Reader, size int64, name string, enc Encoding, opt FeatureOptions) (x []float32, n int, err error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("data: %s: %w", name, fmt.Errorf(format, args...))
	}
	cr, comma, err := openCSV(r, size, opt.Comma)
	if err != nil {
		return nil, 0, fail("%w", err)
	}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, 0, fail("empty input: a header row is required")
	}
	if err != nil {
		return nil, 0, fail("reading the header: %w", csvError(err))
	}
	if err := checkHeader(header); err != nil {
		return nil, 0, fail("line 1: %v", err)
	}
	if i, j, ok := repeated(enc.Columns); ok {
		return nil, 0, fail("the model's columns %d and %d are both named %q: it cannot say which column of the data is which", i+1, j+1, enc.Columns[i])
	}
	at := map[string]int{}     // the first column of each name (blank names may repeat)
	twice := map[string]bool{} // the names that more than one column has
	for i, h := range header {
		if _, ok := at[strings.TrimSpace(h)]; ok {
			twice[strings.TrimSpace(h)] = true
		} else {
			at[strings.TrimSpace(h)] = i
		}
	}
	idx := make([]int, len(enc.Columns))
	for j, c := range enc.Columns {
		i, ok := at[c]
		if twice[c] {
			return nil, 0, fail("the header names more than one column %q: the model cannot say which it was trained on", c)
		}
		if !ok {
			hint := ""
			if len(header) == 1 {
				hint = fmt.Sprintf(" (the header is one column when split at each %s: give the separator)", sepName(comma))
			}
			return nil, 0, fail("no column %q (the model was trained on %q)%s", c, enc.Columns, hint)
		}
		idx[j] = i
	}
	lookup := make([]map[string]int, len(enc.Columns))
	for j, c := range enc.Columns {
		if cats, ok := enc.Categories[c]; ok {
			lookup[j] = map[string]int{}
			for k, v := range cats {
				lookup[j][v] = k
			}
		}
	}
	nan := float32(math.NaN())
	var values chunked
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fail("%w", csvError(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, 0, fail("line %d: %d fields, but the header has %d (fields separated by %s)", line, len(rec), len(header), sepName(comma))
		}
		for j, i := range idx {
			cell := decimalComma(strings.TrimSpace(rec[i]), comma)
			cellErr := func(format string, args ...any) error {
				return fail("line %d, column %q: %s", line, enc.Columns[j], fmt.Sprintf(format, args...))
			}
			if isMissing(cell) && !opt.Missing {
				return nil, 0, cellErr("missing value %q, and the model was trained without imputation", cell)
			}
			if cats := lookup[j]; cats != nil {
				k, ok := cats[category(cell)]
				switch {
				case isMissing(cell):
					k = -1
				case !ok:
					if err := textCell(cell); err != nil {
						return nil, 0, cellErr("%v", err)
					}
					return nil, 0, cellErr("category %q was not seen in training (the model knows %q)", clip(cell), enc.Categories[enc.Columns[j]])
				}
				for c := range len(cats) {
					switch {
					case k < 0:
						values.add(nan)
					case c == k:
						values.add(1)
					default:
						values.add(0)
					}
				}
				continue
			}
			if isMissing(cell) {
				values.add(nan)
				continue
			}
			v, err := parseCell(cell)
			if err != nil {
				return nil, 0, cellErr("%v", err)
			}
			values.add(float32(v))
		}
		n++
	}
	if n == 0 {
		return nil, 0, fail("no rows")
	}
	return values.flatten(), n, nil
}
