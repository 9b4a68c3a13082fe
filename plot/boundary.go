package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fastnn/fastnn/data"
)

// gridSize is the number of cells of the decision-boundary grid along each
// axis: the model is asked for gridSize^2 predictions.
const gridSize = 200

// boundaryMargin is the share of the data's extent added on each side of
// the grid.
const boundaryMargin = 0.1

// shadeMax is how far the background goes from white towards a class's
// colour at full confidence, so that the points stay visible on it.
const shadeMax = 0.55

// classColours are the classes' colours: the playground's orange and blue
// for the first two, then the rest of Tableau 10.
var classColours = []color.NRGBA{rgb(0xf59322), rgb(0x0877bd), colGreen, colRed, colPurple,
	colBrown, colPink, colGrey, colOlive, colCyan}

func classColour(k int) color.NRGBA { return classColours[k%len(classColours)] }

// DecisionBoundary draws the decision regions of a model over the plane of
// a 2-feature classification data set, as the TensorFlow playground does,
// and writes the picture to path (.png or .svg).
//
// The plane is covered by a grid spanning the data plus a 10% margin on
// every side. predict is called once with the grid's n points (an n x 2
// row-major slice) and returns n x outputs raw outputs (logits), as
// nn.Trainer.Predict does. With outputs == 1 the output is a binary logit:
// the cell is coloured as class 1 when it is > 0, shaded by its sigmoid
// (white where the model is undecided). With outputs > 1 the outputs are
// class scores: the cell takes the colour of the highest and is shaded by
// its softmax probability. The data set's points are drawn on top,
// coloured by their true class. An empty title gives the data set's name
// followed by "decision boundary".
func DecisionBoundary(d *data.Dataset, predict func(x []float32, n int) ([]float32, error), outputs int, title, path string) error {
	f, err := boundaryFigure(d, predict, outputs, title, path)
	if err != nil {
		return err
	}
	return f.save(path)
}

// boundaryFigure builds DecisionBoundary's figure.
func boundaryFigure(d *data.Dataset, predict func(x []float32, n int) ([]float32, error), outputs int, title, path string) (*figure, error) {
	if _, err := checkFormat(path); err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*figure, error) {
		return nil, fmt.Errorf("plot: %s: decision boundary: %s", path, fmt.Sprintf(format, args...))
	}
	switch {
	case d == nil:
		return fail("nil data set")
	case predict == nil:
		return fail("nil predict function")
	case d.Features != 2:
		return fail("data set %q has %d features, want 2", d.Name, d.Features)
	case d.Task != data.Classification:
		return fail("data set %q is a %v, want classification", d.Name, d.Task)
	case d.N == 0:
		return fail("data set %q has no points", d.Name)
	case outputs < 1:
		return fail("%d outputs, want >= 1", outputs)
	case outputs == 1 && d.Classes > 2:
		return fail("a single binary logit for %d classes", d.Classes)
	case outputs > 1 && outputs < d.Classes:
		return fail("%d outputs for %d classes", outputs, d.Classes)
	}
	if err := d.Validate(); err != nil {
		return fail("%v", err)
	}

	// The grid's extent.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i := range d.N {
		x, y := float64(d.X[2*i]), float64(d.X[2*i+1])
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
	}
	xmin, xmax = widen(xmin, xmax)
	ymin, ymax = widen(ymin, ymax)

	// One prediction per cell, at its centre; row 0 is the top of the
	// picture.
	n := gridSize * gridSize
	dx, dy := (xmax-xmin)/gridSize, (ymax-ymin)/gridSize
	grid := make([]float32, 2*n)
	for r := range gridSize {
		for c := range gridSize {
			i := r*gridSize + c
			grid[2*i] = float32(xmin + (float64(c)+0.5)*dx)
			grid[2*i+1] = float32(ymax - (float64(r)+0.5)*dy)
		}
	}
	out, err := predict(grid, n)
	if err != nil {
		return nil, fmt.Errorf("plot: %s: decision boundary: predict: %w", path, err)
	}
	if len(out) != n*outputs {
		return fail("predict returned %d values for %d points of %d outputs", len(out), n, outputs)
	}
	img := image.NewNRGBA(image.Rect(0, 0, gridSize, gridSize))
	for i := range n {
		img.SetNRGBA(i%gridSize, i/gridSize, cellColour(out[i*outputs:(i+1)*outputs]))
	}

	if title == "" {
		title = "decision boundary"
		if d.Name != "" {
			title = d.Name + " " + title
		}
	}
	xl, yl := "x0", "x1"
	if len(d.FeatureNames) == 2 {
		xl, yl = d.FeatureNames[0], d.FeatureNames[1]
	}
	p := newPlot(title, xl, yl)
	p.Add(plotter.NewImage(img, xmin, ymin, xmax, ymax))

	// The points, one scatter per class so that the legend names them.
	byClass := make([]plotter.XYs, d.Classes)
	for i := range d.N {
		k := int(d.Y[i])
		byClass[k] = append(byClass[k], plotter.XY{X: float64(d.X[2*i]), Y: float64(d.X[2*i+1])})
	}
	radius := vg.Points(3)
	switch {
	case d.N > 3000:
		radius = vg.Points(1.75)
	case d.N > 600:
		radius = vg.Points(2.25)
	}
	leg := newLegend()
	leg.ThumbnailWidth = vg.Points(10)
	leg.Left = true // beside the plot: the marker, then the name
	for k, xys := range byClass {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: %s: %w", path, err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: classColour(k), Radius: radius, Shape: outlinedCircle{}}
		if len(xys) > 0 {
			p.Add(s)
		}
		name := fmt.Sprintf("class %d", k)
		if len(d.ClassNames) == d.Classes {
			name = d.ClassNames[k]
		}
		leg.Add(name, &legendGlyph{s.GlyphStyle})
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	return &figure{p: p, legend: leg, outside: true, w: boundaryWidth, h: boundaryHeight}, nil
}

// widen adds the margin to an extent, or a unit one around a single value.
func widen(lo, hi float64) (float64, float64) {
	m := (hi - lo) * boundaryMargin
	if m == 0 {
		m = math.Max(math.Abs(lo)*boundaryMargin, 1)
	}
	return lo - m, hi + m
}

// cellColour shades a grid cell from the model's outputs there.
func cellColour(z []float32) color.NRGBA {
	if len(z) == 1 {
		v := float64(z[0])
		if math.IsNaN(v) {
			return color.NRGBA{R: 0xc0, G: 0xc0, B: 0xc0, A: 255}
		}
		p := 1 / (1 + math.Exp(-v))
		k := 0
		if v > 0 {
			k = 1
		}
		return tint(classColour(k), math.Abs(2*p-1))
	}
	best, zmax := 0, math.Inf(-1)
	for k, v := range z {
		if float64(v) > zmax {
			best, zmax = k, float64(v)
		}
	}
	if math.IsNaN(zmax) || math.IsInf(zmax, 0) {
		return color.NRGBA{R: 0xc0, G: 0xc0, B: 0xc0, A: 255}
	}
	var sum float64
	for _, v := range z {
		if !math.IsNaN(float64(v)) {
			sum += math.Exp(float64(v) - zmax)
		}
	}
	conf := 1 / sum // softmax probability of the best class
	chance := 1 / float64(len(z))
	return tint(classColour(best), (conf-chance)/(1-chance))
}

// tint mixes white with c, strength 0 giving white and 1 shadeMax of c.
func tint(c color.NRGBA, strength float64) color.NRGBA {
	a := shadeMax * math.Min(math.Max(strength, 0), 1)
	mix := func(v uint8) uint8 { return uint8(math.Round(255 - a*(255-float64(v)))) }
	return color.NRGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: 255}
}

// outlinedCircle is a filled circle with a thin white rim, as the
// playground draws its points.
type outlinedCircle struct{}

func (outlinedCircle) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.SetColor(sty.Color)
	c.Fill(p)
	c.SetLineStyle(draw.LineStyle{Color: color.White, Width: vg.Points(0.6)})
	c.Stroke(p)
}

// legendGlyph is a legend thumbnail of one glyph at the thumbnail's centre.
type legendGlyph struct{ sty draw.GlyphStyle }

func (g *legendGlyph) Thumbnail(c *draw.Canvas) {
	sty := g.sty
	sty.Radius = vg.Points(3.5)
	c.DrawGlyph(sty, c.Center())
}

var _ plot.Thumbnailer = (*legendGlyph)(nil)
