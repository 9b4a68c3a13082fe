package plot

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// testHistory is a made-up classification run of n epochs with validation
// figures and, when flow is set, gradient flow over four layers.
func testHistory(n int, flow bool) nn.History {
	h := make(nn.History, n)
	for i := range h {
		t := float64(i)
		e := nn.EpochStats{
			Epoch:         i + 1,
			TrainLoss:     1.2*math.Exp(-t/4) + 0.05,
			TrainAcc:      ptr(0.98 - 0.5*math.Exp(-t/3)),
			Val:           &nn.Metrics{Loss: 1.3*math.Exp(-t/4) + 0.1 + 0.004*t, Accuracy: 0.95 - 0.5*math.Exp(-t/3), Classification: true},
			Seconds:       0.25,
			SamplesPerSec: 4000,
			LR:            0.01,
		}
		if flow {
			for j, name := range []string{"0.weight", "2.weight", "4.weight", "6.weight"} {
				g := 0.5 * math.Pow(0.05, float64(3-j)) * math.Exp(-t/6)
				e.GradFlow = append(e.GradFlow, nn.LayerFlow{Layer: name, GradNorm: g, WeightNorm: 3, UpdateRate: 1e-3, Flag: nn.FlagFor(g)})
			}
		}
		h[i] = e
	}
	return h
}

func ptr(v float64) *float64 { return &v }

// regressionHistory has no accuracy and no gradient flow.
func regressionHistory() nn.History {
	return nn.History{
		{Epoch: 1, TrainLoss: 2, Val: &nn.Metrics{Loss: 2.5, MSE: 2.5, MAE: 1.2}, LR: 0.001},
		{Epoch: 2, TrainLoss: 1, Val: &nn.Metrics{Loss: 1.5, MSE: 1.5, MAE: 0.9}, LR: 0.001},
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func checkPNG(t *testing.T, path string, w, h vg.Length) image.Image {
	t.Helper()
	img := decodePNG(t, path)
	want := image.Pt(int(w/vg.Inch*DPI+0.5), int(h/vg.Inch*DPI+0.5))
	if got := img.Bounds().Size(); got != want {
		t.Errorf("%s: size %v, want %v", path, got, want)
	}
	return img
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") {
		t.Errorf("%s does not start as an SVG: %.40q", path, s)
	}
	if !strings.HasSuffix(s, "</svg>") {
		t.Errorf("%s does not end as an SVG: %q", path, s[max(0, len(s)-40):])
	}
}

// noTempFiles checks that no temporary file was left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestCurves(t *testing.T) {
	dir := t.TempDir()
	h := testHistory(12, false)
	for _, name := range []string{"loss.png", "LOSS.PNG", "loss.svg"} {
		path := filepath.Join(dir, name)
		if err := LossCurves(h, "", path); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(strings.ToLower(name), ".png") {
			checkPNG(t, path, curveWidth, curveHeight)
		} else {
			checkSVG(t, path)
		}
	}
	for _, name := range []string{"acc.png", "acc.svg"} {
		path := filepath.Join(dir, name)
		if err := AccuracyCurves(h, "digits accuracy", path); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".png") {
			checkPNG(t, path, curveWidth, curveHeight)
		} else {
			checkSVG(t, path)
		}
	}
	// A regression run: loss only, without accuracy.
	reg := regressionHistory()
	if err := LossCurves(reg, "regression", filepath.Join(dir, "reg.png")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "reg-acc.png")
	err := AccuracyCurves(reg, "", path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("AccuracyCurves without accuracy: error %v, want one naming %s", err, path)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("AccuracyCurves without accuracy left a file: %v", err)
	}
	// One epoch, no validation.
	one := nn.History{{Epoch: 1, TrainLoss: 0.7, TrainAcc: ptr(0.6)}}
	if err := LossCurves(one, "", filepath.Join(dir, "one.png")); err != nil {
		t.Fatal(err)
	}
	if err := AccuracyCurves(one, "", filepath.Join(dir, "one-acc.png")); err != nil {
		t.Fatal(err)
	}
	if err := LossCurves(nil, "", filepath.Join(dir, "empty.png")); err == nil {
		t.Error("LossCurves of an empty history: no error")
	}
	noTempFiles(t, dir)
}

func TestUnknownExtension(t *testing.T) {
	dir := t.TempDir()
	h := testHistory(3, true)
	d := data.Circles(50, 0, rand.New(rand.NewPCG(1, 2)))
	for _, name := range []string{"x.jpg", "x.pdf", "x", "x.png.txt"} {
		path := filepath.Join(dir, name)
		errs := []error{
			LossCurves(h, "", path),
			AccuracyCurves(h, "", path),
			GradFlow(h, "", path),
			DecisionBoundary(d, signX0, 1, "", path),
		}
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("%s, call %d: error %v, want one naming the file", name, i, err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("files written for unknown extensions: %v", entries)
	}
}

func TestWriteErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "loss.png")
	err := LossCurves(testHistory(3, false), "", path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming %s", err, path)
	}
}

// signX0 is a binary logit that says class 1 right of x0 = 0.
func signX0(x []float32, n int) ([]float32, error) {
	out := make([]float32, n)
	for i := range n {
		out[i] = 4 * x[2*i]
	}
	return out, nil
}

// nearestCentre scores each of k centres by minus the distance to it.
func nearestCentre(cx, cy []float32) func(x []float32, n int) ([]float32, error) {
	return func(x []float32, n int) ([]float32, error) {
		k := len(cx)
		out := make([]float32, n*k)
		for i := range n {
			for j := range k {
				dx, dy := x[2*i]-cx[j], x[2*i+1]-cy[j]
				out[i*k+j] = -float32(math.Sqrt(float64(dx*dx + dy*dy)))
			}
		}
		return out, nil
	}
}

// pixelAt maps a data point of the boundary figure to its PNG pixel.
func pixelAt(t *testing.T, f *figure, x, y float64) image.Point {
	t.Helper()
	c := draw.New(vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(DPI)))
	dc := f.dataCanvas(c)
	trX, trY := f.p.Transforms(&dc)
	px := trX(x).Dots(DPI)
	py := (f.h - trY(y)).Dots(DPI)
	return image.Pt(int(px), int(py))
}

func TestDecisionBoundary(t *testing.T) {
	dir := t.TempDir()
	d := data.Circles(400, 0, rand.New(rand.NewPCG(1, 2)))
	path := filepath.Join(dir, "boundary.png")
	if err := DecisionBoundary(d, signX0, 1, "", path); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, path, boundaryWidth, boundaryHeight)

	// Between the circles (radius 0.75) there are no points: left of
	// x0 = 0 is class 0's colour, right of it class 1's.
	f, err := boundaryFigure(d, signX0, 1, "", path)
	if err != nil {
		t.Fatal(err)
	}
	left, right := pixelAt(t, f, -0.75, 0), pixelAt(t, f, 0.75, 0)
	for _, pt := range []image.Point{left, right} {
		if !pt.In(img.Bounds()) {
			t.Fatalf("pixel %v outside the picture %v", pt, img.Bounds())
		}
	}
	lc := color.NRGBAModel.Convert(img.At(left.X, left.Y)).(color.NRGBA)
	rc := color.NRGBAModel.Convert(img.At(right.X, right.Y)).(color.NRGBA)
	if lc == rc {
		t.Fatalf("left %v and right %v of x0 = 0 have the same colour %v", left, right, lc)
	}
	// Class 0 is orange (red > blue), class 1 blue.
	if !(lc.R > lc.B && rc.B > rc.R) {
		t.Errorf("left colour %v should be orange-ish, right %v blue-ish", lc, rc)
	}
	white := color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	if lc == white || rc == white {
		t.Errorf("background not shaded: left %v, right %v", lc, rc)
	}

	// SVG, and several classes with ClassNames.
	if err := DecisionBoundary(d, signX0, 1, "circles", filepath.Join(dir, "boundary.svg")); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, filepath.Join(dir, "boundary.svg"))
	b := data.Blobs(300, 3, 1, rand.New(rand.NewPCG(3, 4)))
	b.ClassNames = []string{"a", "b", "c"}
	var cx, cy [3]float32
	var cn [3]float32
	for i := range b.N {
		k := int(b.Y[i])
		cx[k] += b.X[2*i]
		cy[k] += b.X[2*i+1]
		cn[k]++
	}
	for k := range 3 {
		cx[k] /= cn[k]
		cy[k] /= cn[k]
	}
	path = filepath.Join(dir, "blobs.png")
	if err := DecisionBoundary(b, nearestCentre(cx[:], cy[:]), 3, "blobs", path); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, boundaryWidth, boundaryHeight)
	noTempFiles(t, dir)
}

func TestDecisionBoundaryErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.png")
	rng := rand.New(rand.NewPCG(1, 2))
	circles := data.Circles(40, 0, rng)
	threeD := &data.Dataset{Name: "3d", X: make([]float32, 12), Y: make([]float32, 4), N: 4, Features: 3, Targets: 1, Classes: 2}
	reg := &data.Dataset{Name: "reg", X: make([]float32, 8), Y: make([]float32, 4), N: 4, Features: 2, Targets: 1, Task: data.Regression}
	bad := func(x []float32, n int) ([]float32, error) { return make([]float32, n+1), nil }
	cases := []struct {
		name    string
		d       *data.Dataset
		predict func([]float32, int) ([]float32, error)
		outputs int
		want    string
	}{
		{"3 features", threeD, signX0, 1, "3 features"},
		{"regression", reg, signX0, 1, "regression"},
		{"nil", nil, signX0, 1, "nil"},
		{"no outputs", circles, signX0, 0, "outputs"},
		{"too few outputs", data.Spiral(30, 3, 0, rng), signX0, 1, "3 classes"},
		{"wrong length", circles, bad, 1, "returned"},
	}
	for _, c := range cases {
		err := DecisionBoundary(c.d, c.predict, c.outputs, "", path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, path, c.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed DecisionBoundary left a file: %v", err)
	}
}

func TestGradFlow(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{3, 20} {
		h := testHistory(n, true)
		path := filepath.Join(dir, "flow.png")
		if err := GradFlow(h, "", path); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, path, curveWidth, curveHeight)
		epochs := flowEpochs(h)
		want := []int{1, 2, 3}
		if n == 20 {
			want = []int{1, 10, 20}
		}
		var got []int
		for _, e := range epochs {
			got = append(got, e.Epoch)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d epochs: lines for epochs %v, want %v", n, got, want)
		}
	}
	// The y axis reaches below the vanishing and above the exploding
	// threshold.
	f, err := gradFlowFigure(testHistory(3, true), "", "flow.svg")
	if err != nil {
		t.Fatal(err)
	}
	if f.p.Y.Min >= math.Log10(nn.VanishingBelow) || f.p.Y.Max <= math.Log10(nn.ExplodingAbove) {
		t.Errorf("y axis [%g, %g] does not span both thresholds", f.p.Y.Min, f.p.Y.Max)
	}
	if err := GradFlow(testHistory(3, true), "flow", filepath.Join(dir, "flow.svg")); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, filepath.Join(dir, "flow.svg"))
	// A zero and a NaN gradient are drawn on the floor and the ceiling.
	h := testHistory(2, true)
	h[1].GradFlow[0].GradNorm = 0
	h[1].GradFlow[1].GradNorm = math.NaN()
	if err := GradFlow(h, "", filepath.Join(dir, "odd.png")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "none.png")
	err = GradFlow(testHistory(3, false), "", path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("GradFlow without figures: error %v, want one naming %s", err, path)
	}
	noTempFiles(t, dir)
}

func TestWriteHistoryCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.csv")
	h := testHistory(5, false)
	if err := WriteHistoryCSV(h, path); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, path)
	want := "epoch,train_loss,train_acc,val_loss,val_acc,val_mse,val_mae,lr,seconds,samples_per_sec"
	if got := strings.Join(rows[0], ","); got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	if len(rows) != 1+len(h) {
		t.Fatalf("%d rows, want %d", len(rows), 1+len(h))
	}
	r := rows[3]
	if r[0] != "3" || r[1] != num(h[2].TrainLoss) || r[2] != num(*h[2].TrainAcc) || r[3] != num(h[2].Val.Loss) ||
		r[4] != num(h[2].Val.Accuracy) || r[5] != "" || r[6] != "" || r[7] != "0.01" || r[8] != "0.25" || r[9] != "4000" {
		t.Errorf("row 3: %q", r)
	}

	// Regression: no accuracy columns, but MSE and MAE; an epoch without
	// evaluation has empty validation columns.
	reg := regressionHistory()
	reg = append(reg, nn.EpochStats{Epoch: 3, TrainLoss: 0.5, LR: 0.001})
	if err := WriteHistoryCSV(reg, path); err != nil {
		t.Fatal(err)
	}
	rows = readCSV(t, path)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	if r := rows[1]; r[2] != "" || r[4] != "" || r[5] != "2.5" || r[6] != "1.2" || r[7] != "0.001" {
		t.Errorf("regression row 1: %q", r)
	}
	if r := rows[3]; r[3] != "" || r[5] != "" {
		t.Errorf("row without validation: %q", r)
	}

	// An empty history is a header.
	if err := WriteHistoryCSV(nil, path); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, path); len(rows) != 1 {
		t.Errorf("empty history: %d rows, want 1", len(rows))
	}
	bad := filepath.Join(dir, "missing", "h.csv")
	if err := WriteHistoryCSV(h, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v, want one naming %s", err, bad)
	}
	noTempFiles(t, dir)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestWriteHistoryJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.json")
	h := testHistory(4, true)
	if err := WriteHistoryJSON(h, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back nn.History
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(h) || back[3].TrainLoss != h[3].TrainLoss || back[3].Val.Accuracy != h[3].Val.Accuracy ||
		len(back[3].GradFlow) != 4 || back[3].GradFlow[2].Layer != "4.weight" {
		t.Errorf("read back %+v", back)
	}
	if !strings.Contains(string(b), `"train_loss"`) {
		t.Errorf("no train_loss field in %.200s", b)
	}
	if err := WriteHistoryJSON(nil, path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("empty history written as %q, want []", b)
	}
	h[0].TrainLoss = math.NaN()
	if err := WriteHistoryJSON(h, path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("NaN loss: error %v, want one naming %s", err, path)
	}
	noTempFiles(t, dir)
}

// TestRender writes the pictures to the folder in $FASTNN_PLOT_DIR, to look
// at them.
func TestRender(t *testing.T) {
	dir := os.Getenv("FASTNN_PLOT_DIR")
	if dir == "" {
		t.Skip("set FASTNN_PLOT_DIR to write the pictures")
	}
	h := testHistory(20, true)
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, ext := range []string{".png", ".svg"} {
		check(LossCurves(h, "digits: loss", filepath.Join(dir, "loss"+ext)))
		check(AccuracyCurves(h, "digits: accuracy", filepath.Join(dir, "accuracy"+ext)))
		check(GradFlow(h, "", filepath.Join(dir, "gradflow"+ext)))
		check(GradFlow(testHistory(4, true), "", filepath.Join(dir, "gradflow4"+ext)))
		d := data.Circles(1000, 0.05, rand.New(rand.NewPCG(1, 2)))
		check(DecisionBoundary(d, func(x []float32, n int) ([]float32, error) {
			out := make([]float32, n)
			for i := range n {
				r := math.Hypot(float64(x[2*i]), float64(x[2*i+1]))
				out[i] = float32(8 * (0.75 - r))
			}
			return out, nil
		}, 1, "", filepath.Join(dir, "boundary"+ext)))
		b := data.Spiral(600, 3, 0.05, rand.New(rand.NewPCG(3, 4)))
		check(DecisionBoundary(b, nearestCentre([]float32{0.5, -0.5, 0}, []float32{0.3, 0.3, -0.5}), 3, "spiral (nearest centre)", filepath.Join(dir, "spiral"+ext)))
	}
}

// TestLossCurvesBest: the restored best epoch is ringed and named in the
// legend; without one, nothing is.
func TestLossCurvesBest(t *testing.T) {
	dir := t.TempDir()
	h := testHistory(12, false)
	for _, best := range []int{0, 7} {
		path := filepath.Join(dir, fmt.Sprintf("loss%d.svg", best))
		if err := LossCurvesBest(h, best, "", path); err != nil {
			t.Fatal(err)
		}
		checkSVG(t, path)
		b, _ := os.ReadFile(path)
		if got := strings.Contains(string(b), "restored (best)"); got != (best > 0) {
			t.Errorf("best epoch %d: legend names a restored epoch: %v", best, got)
		}
		if best > 0 && !strings.Contains(string(b), "epoch 7, restored") {
			t.Errorf("the legend does not name epoch 7")
		}
	}
}
