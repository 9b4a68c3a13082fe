package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// benchSummarize reads the JSON lines of bench gemm and bench train (ours
// and the peers', as bench/compare.sh prints them) from the named files, or
// standard input, and writes the ratios as Markdown tables: ours against
// OpenBLAS per GEMM shape and thread count, ours against PyTorch for
// training. Lines that are not JSON objects (comments, a peer's progress)
// are skipped.
func benchSummarize(args []string, stdout io.Writer) error {
	var in []io.Reader
	for _, name := range args {
		if name == "-" {
			in = append(in, os.Stdin)
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("summarize: %w", err)
		}
		defer f.Close()
		in = append(in, f)
	}
	if len(in) == 0 {
		in = append(in, os.Stdin)
	}
	var s summary
	for _, r := range in {
		if err := s.read(r); err != nil {
			return fmt.Errorf("summarize: %w", err)
		}
	}
	if len(s.gemm) == 0 && len(s.conv) == 0 && len(s.ops) == 0 && len(s.train) == 0 {
		return fmt.Errorf("summarize: no gemm, conv, ops or train rows in the input")
	}
	s.write(stdout)
	return nil
}

type summary struct {
	gemm  []GemmRow
	conv  []ConvRow
	ops   []OpsRow
	train []TrainRow
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var op struct{ Op string }
		if err := json.Unmarshal([]byte(line), &op); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		switch op.Op {
		case "gemm":
			var g GemmRow
			if err := json.Unmarshal([]byte(line), &g); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			s.gemm = append(s.gemm, g)
		case "conv":
			var c ConvRow
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			s.conv = append(s.conv, c)
		case "ops":
			var o OpsRow
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			s.ops = append(s.ops, o)
		case "train":
			var t TrainRow
			if err := json.Unmarshal([]byte(line), &t); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			if len(t.EpochSamplesPerSec) == 0 && t.SamplesPerSec > 0 {
				t.EpochSamplesPerSec = []float64{t.SamplesPerSec} // a row from before per-epoch figures
			}
			s.train = append(s.train, t)
		}
	}
	return sc.Err()
}

func (s *summary) write(w io.Writer) {
	first := true
	section := func(present bool, write func()) {
		if !present {
			return
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		write()
	}
	section(len(s.gemm) > 0, func() { writeGemmTable(w, s.gemm) })
	section(len(s.conv) > 0, func() { writeConvTable(w, s.conv) })
	section(len(s.ops) > 0, func() { writeOpsTable(w, s.ops) })
	section(len(s.train) > 0, func() { writeTrainTables(w, s.train) })
}

// writeOpsTable writes the bandwidth-bound kernels of `bench ops`: a row
// per kernel, size and thread count, a column per level (the best of
// repeated rows), and each SIMD level's ratio to the one below it where
// both ran (avx512 / avx2, avx2 / generic).
func writeOpsTable(w io.Writer, rows []OpsRow) {
	type key struct {
		kernel     string
		n, threads int
	}
	var keys []key
	var levels []string
	best := map[key]map[string]float64{}
	for _, r := range rows {
		k := key{r.Kernel, r.N, r.Threads}
		if best[k] == nil {
			keys = append(keys, k)
			best[k] = map[string]float64{}
		}
		if !slices.Contains(levels, r.Level) {
			levels = append(levels, r.Level)
		}
		best[k][r.Level] = max(best[k][r.Level], r.GBps)
	}
	var ratios [][2]string // {level, the level below it}
	for _, pair := range [][2]string{{"avx2", "generic"}, {"avx512", "avx2"}} {
		if slices.Contains(levels, pair[0]) && slices.Contains(levels, pair[1]) {
			ratios = append(ratios, pair)
		}
	}
	fmt.Fprintln(w, "### Bandwidth-bound kernels, GB/s (best of the repetitions)")
	fmt.Fprintln(w)
	head := append([]string{"kernel", "elements", "threads"}, levels...)
	for _, p := range ratios {
		head = append(head, p[0]+" / "+p[1])
	}
	writeRow(w, head)
	writeSep(w, len(head))
	for _, k := range keys {
		threads := "-"
		if k.threads > 0 {
			threads = strconv.Itoa(k.threads)
		}
		cells := []string{k.kernel, strconv.Itoa(k.n), threads}
		for _, l := range levels {
			cells = append(cells, figure(best[k][l], "%.1f"))
		}
		for _, p := range ratios {
			cells = append(cells, ratio(best[k][p[0]], best[k][p[1]]))
		}
		writeRow(w, cells)
	}
}

// gemmColumn is one column of the GEMM table: a CPU level of ours, a GPU
// mode, or a peer (gonum, OpenBLAS), whatever levels the rows have.
type gemmColumn struct {
	backend, level string
}

func (c gemmColumn) key(r GemmRow) bool {
	if c.backend == "cpu" || c.backend == "cuda" {
		return r.Backend == c.backend && r.Level == c.level
	}
	return r.Backend == c.backend
}

func writeGemmTable(w io.Writer, rows []GemmRow) {
	type shape struct{ m, n, k, threads int }
	var shapes []shape
	var cols []gemmColumn
	peerLevels := map[string][]string{} // OpenBLAS's core names, as run
	for _, r := range rows {
		if sh := (shape{r.M, r.N, r.K, r.Threads}); !slices.Contains(shapes, sh) {
			shapes = append(shapes, sh)
		}
		c := gemmColumn{r.Backend, r.Level}
		if c.backend != "cpu" && c.backend != "cuda" {
			c.level = ""
			if !slices.Contains(peerLevels[r.Backend], r.Level) {
				peerLevels[r.Backend] = append(peerLevels[r.Backend], r.Level)
			}
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	// Ours first (CPU levels lowest first, as bench prints them), then the
	// GPU, then gonum, then OpenBLAS.
	rank := func(c gemmColumn) int {
		return map[string]int{"cpu": 0, "cuda": 1, "gonum": 2, "openblas": 3}[c.backend]
	}
	slices.SortStableFunc(cols, func(a, b gemmColumn) int { return rank(a) - rank(b) })
	// Ratios to OpenBLAS for every SIMD level (generic too, if it is the only one).
	var ratioLevels []string
	for _, c := range cols {
		if c.backend == "cpu" && c.level != "generic" {
			ratioLevels = append(ratioLevels, c.level)
		}
	}
	if len(ratioLevels) == 0 && slices.Contains(cols, gemmColumn{"cpu", "generic"}) {
		ratioLevels = []string{"generic"}
	}
	_, haveOpenBLAS := peerLevels["openblas"]
	if !haveOpenBLAS {
		ratioLevels = nil
	}

	fmt.Fprintln(w, "### SGEMM, C = A*B, GFLOP/s (best of the repetitions)")
	fmt.Fprintln(w)
	head := []string{"m x n x k", "threads"}
	for _, c := range cols {
		head = append(head, columnName(c, peerLevels))
	}
	for _, l := range ratioLevels {
		head = append(head, l+" / OpenBLAS")
	}
	writeRow(w, head)
	writeSep(w, len(head))
	for _, sh := range shapes {
		best := map[gemmColumn]float64{}
		for _, r := range rows {
			if (shape{r.M, r.N, r.K, r.Threads}) != sh {
				continue
			}
			for _, c := range cols {
				if c.key(r) && r.GFLOPS > best[c] {
					best[c] = r.GFLOPS
				}
			}
		}
		threads := strconv.Itoa(sh.threads)
		if sh.threads == 0 {
			threads = "GPU"
		}
		cells := []string{fmt.Sprintf("%d x %d x %d", sh.m, sh.n, sh.k), threads}
		for _, c := range cols {
			cells = append(cells, figure(best[c], "%.1f"))
		}
		ob := best[gemmColumn{"openblas", ""}]
		for _, l := range ratioLevels {
			cells = append(cells, ratio(best[gemmColumn{"cpu", l}], ob))
		}
		writeRow(w, cells)
	}
}

func columnName(c gemmColumn, peerLevels map[string][]string) string {
	switch c.backend {
	case "cpu":
		return c.level
	case "cuda":
		return "cuda " + c.level
	case "openblas":
		return "OpenBLAS (" + strings.Join(peerLevels["openblas"], ", ") + ")"
	}
	return c.backend
}

// writeTrainTables writes each run's samples/s per epoch with the median of
// epochs 2 onward, then ours against the better PyTorch run per model.
func writeTrainTables(w io.Writer, rows []TrainRow) {
	type model struct {
		data, layers string // layers: the hidden widths, or the -arch of a model given by one
		batch        int
	}
	var models []model
	byModel := map[model][]TrainRow{}
	epochs := 0
	for _, r := range rows {
		m := model{r.Data, joinInts(r.Layers), r.Batch}
		if r.Arch != "" {
			m.layers = r.Arch
		}
		if _, ok := byModel[m]; !ok {
			models = append(models, m)
		}
		byModel[m] = append(byModel[m], r)
		epochs = max(epochs, len(r.EpochSamplesPerSec))
	}
	// warm is the figure a run is compared by: the median of epochs 2
	// onward, or with one epoch that cold epoch, marked.
	warm := func(r TrainRow) (float64, bool) {
		if v, ok := warmMedian(r.EpochSamplesPerSec); ok {
			return v, true
		}
		return r.EpochSamplesPerSec[0], false
	}
	cold := func(ok bool) string {
		if ok {
			return ""
		}
		return ", epoch 1 only"
	}
	name := func(r TrainRow) string {
		if r.Backend == "pytorch" || strings.HasPrefix(r.Backend, "pytorch ") {
			return fmt.Sprintf("%s, %d thread%s", r.Backend, r.Threads, plural(r.Threads))
		}
		return "fastnn " + r.Backend
	}
	isPeer := func(r TrainRow) bool { return strings.HasPrefix(r.Backend, "pytorch") }

	fmt.Fprintln(w, "### Training, samples/s per epoch")
	fmt.Fprintln(w)
	head := []string{"data", "hidden", "batch", "run"}
	for e := 1; e <= epochs; e++ {
		head = append(head, fmt.Sprintf("epoch %d", e))
	}
	head = append(head, "median of epochs 2+", "test acc")
	writeRow(w, head)
	writeSep(w, len(head))
	for _, m := range models {
		for _, r := range byModel[m] {
			cells := []string{m.data, m.layers, strconv.Itoa(m.batch), name(r)}
			for e := range epochs {
				if e < len(r.EpochSamplesPerSec) {
					cells = append(cells, thousands(r.EpochSamplesPerSec[e]))
				} else {
					cells = append(cells, "-")
				}
			}
			v, ok := warm(r)
			ws := thousands(v)
			if !ok {
				ws += " (epoch 1 only)"
			}
			cells = append(cells, ws, fmt.Sprintf("%.4f", r.TestAcc))
			writeRow(w, cells)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Training, fastnn / PyTorch (medians of epochs 2 onward; PyTorch's better thread count)")
	fmt.Fprintln(w)
	writeRow(w, []string{"data", "hidden", "batch", "fastnn", "PyTorch", "fastnn / PyTorch"})
	writeSep(w, 6)
	for _, m := range models {
		var ours, peer *TrainRow
		var oursV, peerV float64
		for i, r := range byModel[m] {
			v, _ := warm(r)
			if isPeer(r) {
				if peer == nil || v > peerV {
					peer, peerV = &byModel[m][i], v
				}
			} else if ours == nil || v > oursV {
				ours, oursV = &byModel[m][i], v
			}
		}
		cells := []string{m.data, m.layers, strconv.Itoa(m.batch), "", "", ""}
		if ours != nil {
			_, ok := warm(*ours)
			cells[3] = fmt.Sprintf("%s (%s%s)", thousands(oursV), ours.Backend, cold(ok))
		}
		if peer != nil {
			_, ok := warm(*peer)
			cells[4] = fmt.Sprintf("%s (%d thread%s%s)", thousands(peerV), peer.Threads, plural(peer.Threads), cold(ok))
		}
		cells[5] = ratio(oursV, peerV)
		if ours == nil || peer == nil {
			cells[5] = "-"
		}
		writeRow(w, cells)
	}
	var own []ownRuns
	for _, m := range models {
		o := ownRuns{key: []string{m.data, m.layers, strconv.Itoa(m.batch)}}
		for _, r := range byModel[m] {
			if isPeer(r) {
				continue
			}
			v, ok := warm(r)
			name := r.Backend + cold(ok)
			if i := slices.Index(o.names, name); i >= 0 {
				o.best[i] = max(o.best[i], v)
			} else {
				o.names, o.best = append(o.names, name), append(o.best, v)
			}
		}
		own = append(own, o)
	}
	writeLevelTable(w, own)
}

// ownRuns are our distinct runs of one model (key: data, hidden, batch),
// each with the best figure of its repeated rows; a run of one epoch is
// named as such (", epoch 1 only"), as the other tables mark it.
type ownRuns struct {
	key   []string
	names []string
	best  []float64
}

// writeLevelTable compares our own runs of a model with each other where
// there are two or more (the avx512 level against the avx2 level on one
// machine): the fastest against the next.
func writeLevelTable(w io.Writer, own []ownRuns) {
	header := false
	for _, o := range own {
		if len(o.names) < 2 {
			continue
		}
		if !header {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "### Training, fastnn against itself (best of each run's repeated rows, medians of epochs 2 onward)")
			fmt.Fprintln(w)
			writeRow(w, []string{"data", "hidden", "batch", "faster", "next", "faster / next"})
			writeSep(w, 6)
			header = true
		}
		order := make([]int, len(o.names))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(o.best[b], o.best[a]) })
		f, n := order[0], order[1]
		writeRow(w, append(slices.Clone(o.key),
			fmt.Sprintf("%s (%s)", thousands(o.best[f]), o.names[f]),
			fmt.Sprintf("%s (%s)", thousands(o.best[n]), o.names[n]),
			ratio(o.best[f], o.best[n])))
	}
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// writeSep writes the line under a table's head, as README.md has it.
func writeSep(w io.Writer, columns int) {
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", columns))
}

// figure formats a measured value, "-" where there is none.
func figure(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// thousands writes a rounded count with comma separators: 116,204.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
