package data

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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
// Input compressed with gzip is decompressed.
//
// Every feature cell must be a finite number: empty cells, text, NaN and
// Inf are errors that give the line, the column number and its header
// name. So are rows whose number of fields differs from the header's.
// Missing values are not imputed; clean them before loading.
//
// For classification the target cells must be integers; their distinct
// values, in increasing order, become classes 0..K-1. Labels that are
// already 0..K-1 are therefore kept as they are, while, say, -1/1 become
// 0/1 and 3/5/9 become 0/1/2; in that case ClassNames records the
// original value of each class. For regression the target is read as is.
// With TaskAuto, a target of integers with at most AutoMaxClasses
// distinct values is read as classification and any other as regression.
func ReadCSV(r io.Reader, name string, opt CSVOptions) (*Dataset, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	if opt.Task != Classification && opt.Task != Regression && opt.Task != TaskAuto {
		return nil, fail("unknown task %v", opt.Task)
	}

	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1] {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fail("bad gzip stream: %v", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	// Skip the UTF-8 byte-order mark some spreadsheets write; left in, it
	// would become part of the first column's name or break its quoting.
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // ragged rows are reported below, with the header's width
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil, fail("empty input: a header row is required")
	}
	if err != nil {
		return nil, fail("%v", csvError(err))
	}
	header = slices.Clone(header)
	if err := checkHeader(header); err != nil {
		return nil, fail("line 1: %v", err)
	}

	target, err := resolveColumn(header, opt.Target)
	if err != nil {
		return nil, fail("target: %v", err)
	}
	drop := make([]bool, len(header))
	for _, col := range opt.Drop {
		j := slices.Index(header, col)
		if j < 0 {
			return nil, fail("column %q to drop is not in the header %q", col, header)
		}
		if j == target {
			return nil, fail("column %q is the target and cannot be dropped", col)
		}
		drop[j] = true
	}
	var featureCols []int
	var featureNames []string
	for j := range header {
		if j != target && !drop[j] {
			featureCols = append(featureCols, j)
			featureNames = append(featureNames, strings.TrimSpace(header[j]))
		}
	}
	if len(featureCols) == 0 {
		return nil, fail("no feature columns left besides the target %q", header[target])
	}

	var x []float32
	var y []float64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail("%v", csvError(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fail("line %d: %d fields, but the header has %d", line, len(rec), len(header))
		}
		cellErr := func(j int, format string, args ...any) error {
			return fail("line %d, column %d (%q): %s", line, j+1, header[j], fmt.Sprintf(format, args...))
		}
		for _, j := range featureCols {
			v, err := parseCell(rec[j])
			if err != nil {
				return nil, cellErr(j, "%v", err)
			}
			x = append(x, float32(v))
		}
		v, err := parseCell(rec[target])
		if err != nil {
			return nil, cellErr(target, "%v", err)
		}
		if opt.Task == Classification && !isIntegral(v) {
			return nil, cellErr(target, "class label %s is not an integer (use Task: Regression for a real-valued target)", rec[target])
		}
		y = append(y, v)
	}
	if len(y) == 0 {
		return nil, fail("no data rows after the header")
	}

	d := &Dataset{
		Name:         name,
		X:            x,
		N:            len(y),
		Features:     len(featureCols),
		Targets:      1,
		FeatureNames: featureNames,
	}
	task := opt.Task
	if task == TaskAuto {
		task = autoTask(y)
	}
	d.Task = task
	if task == Regression {
		d.Y = make([]float32, len(y))
		for i, v := range y {
			d.Y[i] = float32(v)
		}
		return d, nil
	}
	d.Y, d.Classes, d.ClassNames = remapClasses(y)
	return d, nil
}

// ReadCSVFile reads the CSV file at path (optionally gzip-compressed) as
// ReadCSV does. Errors name the file; the data set is named after the
// file without its directory and .csv/.gz extensions.
func ReadCSVFile(path string, opt CSVOptions) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := ReadCSV(f, path, opt)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, ".gz")
	base = strings.TrimSuffix(base, ".csv")
	d.Name = base
	return d, nil
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
		if !utf8.ValidString(h) || strings.ContainsRune(h, 0) {
			return fmt.Errorf("column %d of the header is not text: this does not look like a CSV file", j+1)
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

// autoTask implements TaskAuto's rule.
func autoTask(y []float64) Task {
	distinct := make(map[float64]struct{})
	for _, v := range y {
		if !isIntegral(v) {
			return Regression
		}
		distinct[v] = struct{}{}
		if len(distinct) > AutoMaxClasses {
			return Regression
		}
	}
	return Classification
}

// remapClasses maps the distinct integer labels in y, in increasing
// order, to 0..K-1. ClassNames is set only when the mapping is not the
// identity, to record the original labels.
func remapClasses(y []float64) (labels []float32, classes int, names []string) {
	index := make(map[float64]int)
	for _, v := range y {
		index[v] = 0
	}
	values := make([]float64, 0, len(index))
	for v := range index {
		values = append(values, v)
	}
	slices.Sort(values)
	identity := true
	for k, v := range values {
		index[v] = k
		if v != float64(k) {
			identity = false
		}
	}
	labels = make([]float32, len(y))
	for i, v := range y {
		labels[i] = float32(index[v])
	}
	if !identity {
		names = make([]string, len(values))
		for k, v := range values {
			names[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return labels, len(values), names
}

// ReadFeaturesCSV reads the named columns, in the order given, from a CSV
// file with a header row (other columns are ignored), for prediction with a
// model trained on those features. Errors name the file, line and column.
func ReadFeaturesCSV(path string, columns []string) (x []float32, n int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.ReuseRecord = true
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
			x = append(x, float32(v))
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("data: %s: no rows", path)
	}
	return x, n, nil
}
