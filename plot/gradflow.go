package plot

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fastnn/fastnn/nn"
)

// maxFlowLines is the most epochs GradFlow draws one line each for; with
// more it draws the first, middle and last.
const maxFlowLines = 6

// Zone colours of the gradient-flow chart.
var (
	zoneVanishing = rgb(0xdbe8f5) // pale blue
	zoneNormal    = rgb(0xe6f4e1) // pale green
	zoneExploding = rgb(0xfbdcd9) // pale red
)

// flowColours are the epochs' line colours (Tableau 10 less green and red,
// which the zones use).
var flowColours = []color.Color{colBlue, colOrange, colPurple, colBrown, colPink, colGrey}

// GradFlow draws the gradient-flow chart of a run trained with
// nn.TrainConfig.GradFlow and writes it to path (.png or .svg): the layers
// along the x axis from input to output, labelled by their LayerFlow.Layer
// name, and each layer's gradient norm on a log-scale y axis, one line per
// epoch, or the first, middle and last epoch when more than 6 epochs have
// figures. The y axis is coloured by zone: vanishing below nn.VanishingBelow
// (blue), normal (green) and exploding above nn.ExplodingAbove (red), with
// dashed lines at both thresholds. It returns an error when no epoch has
// gradient-flow figures. An empty title gives "Gradient flow".
func GradFlow(h nn.History, title, path string) error {
	f, err := gradFlowFigure(h, title, path)
	if err != nil {
		return err
	}
	return f.save(path)
}

func gradFlowFigure(h nn.History, title, path string) (*figure, error) {
	if _, err := checkFormat(path); err != nil {
		return nil, err
	}
	epochs := flowEpochs(h)
	if len(epochs) == 0 {
		return nil, fmt.Errorf("plot: %s: the history has no gradient flow (train with TrainConfig.GradFlow)", path)
	}

	// Layer names, from the epoch with the most layers.
	var names []string
	for _, e := range epochs {
		if len(e.GradFlow) > len(names) {
			names = names[:0]
			for _, l := range e.GradFlow {
				name := l.Layer
				if l.Kind != "" {
					name += "\n" + l.Kind
				}
				names = append(names, name)
			}
		}
	}

	// The y axis holds log10 of the norms (gonum's LogScale misplaces the
	// axis label). Its range: whole decades covering the data and both
	// thresholds, with a decade to spare on each side.
	lo, hi := nn.VanishingBelow, nn.ExplodingAbove
	for _, e := range epochs {
		for _, l := range e.GradFlow {
			if g := l.GradNorm; g > 0 && !math.IsInf(g, 0) {
				lo, hi = math.Min(lo, g), math.Max(hi, g)
			}
		}
	}
	lo = math.Floor(math.Log10(lo)) - 1
	hi = math.Ceil(math.Log10(hi)) + 1
	vanishing, exploding := math.Log10(nn.VanishingBelow), math.Log10(nn.ExplodingAbove)

	if title == "" {
		title = "Gradient flow"
	}
	p := newPlot(title, "layer (input to output)", "gradient norm (log scale)")
	p.Y.Tick.Marker = logTicks{}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	p.Y.Min, p.Y.Max = lo, hi

	p.Add(
		&band{lo: lo, hi: vanishing, col: zoneVanishing},
		&band{lo: vanishing, hi: exploding, col: zoneNormal},
		&band{lo: exploding, hi: hi, col: zoneExploding},
	)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xd8}
	grid.Horizontal.Color = color.Gray{Y: 0xd8}
	p.Add(grid)
	dash := []vg.Length{vg.Points(6), vg.Points(3)}
	p.Add(
		&hline{y: vanishing, sty: draw.LineStyle{Color: rgb(0x3d6fa8), Width: vg.Points(1.25), Dashes: dash}},
		&hline{y: exploding, sty: draw.LineStyle{Color: rgb(0xc0392b), Width: vg.Points(1.25), Dashes: dash}},
		&zoneLabel{y: exploding, above: true, text: fmt.Sprintf("exploding > %s", decadeText(nn.ExplodingAbove)), col: rgb(0xa93226)},
		&zoneLabel{y: vanishing, above: true, text: "normal", col: rgb(0x2e7d32)},
		&zoneLabel{y: vanishing, above: false, text: fmt.Sprintf("vanishing < %s", decadeText(nn.VanishingBelow)), col: rgb(0x2c5d8f)},
	)

	leg := newLegend()
	for i, e := range epochs {
		xys := make(plotter.XYs, len(e.GradFlow))
		for j, l := range e.GradFlow {
			y := math.Log10(l.GradNorm)
			switch {
			case math.IsNaN(y) || y > hi:
				y = hi // a NaN gradient has exploded
			case y < lo:
				y = lo // zero: drawn on the floor
			}
			xys[j] = plotter.XY{X: float64(j), Y: y}
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: %s: %w", path, err)
		}
		col := flowColours[i%len(flowColours)]
		line.Color, line.Width = col, vg.Points(1.75)
		pts.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.75), Shape: draw.CircleGlyph{}}
		p.Add(line, pts)
		leg.Add(fmt.Sprintf("epoch %d", e.Epoch), line, pts)
	}
	w := curveWidth
	if extra := len(names) - 10; extra > 0 {
		w += vg.Length(extra) * 0.4 * vg.Inch
	}
	return &figure{p: p, legend: leg, w: w, h: curveHeight}, nil
}

// flowEpochs picks the epochs GradFlow draws: all that have figures, or the
// first, middle and last of them when there are more than maxFlowLines.
func flowEpochs(h nn.History) []nn.EpochStats {
	var epochs []nn.EpochStats
	for _, e := range h {
		if len(e.GradFlow) > 0 {
			epochs = append(epochs, e)
		}
	}
	if len(epochs) > maxFlowLines {
		epochs = []nn.EpochStats{epochs[0], epochs[(len(epochs)-1)/2], epochs[len(epochs)-1]}
	}
	return epochs
}

// decadeText writes a threshold: 1e-3 as "1e-3", 1000 as "1e3".
func decadeText(v float64) string {
	k := math.Log10(v)
	if k == math.Trunc(k) {
		return fmt.Sprintf("1e%d", int(k))
	}
	return fmt.Sprintf("%g", v)
}

// band fills the data area between two y values.
type band struct {
	lo, hi float64
	col    color.Color
}

func (b *band) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	r := vg.Rectangle{
		Min: vg.Point{X: c.Min.X, Y: max(trY(b.lo), c.Min.Y)},
		Max: vg.Point{X: c.Max.X, Y: min(trY(b.hi), c.Max.Y)},
	}
	if r.Max.Y <= r.Min.Y {
		return
	}
	c.SetColor(b.col)
	c.Fill(r.Path())
}

// hline draws a horizontal line across the data area.
type hline struct {
	y   float64
	sty draw.LineStyle
}

func (l *hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(l.y)
	if !c.ContainsY(y) {
		return
	}
	c.StrokeLine2(l.sty, c.Min.X, y, c.Max.X, y)
}

// zoneLabel names a zone at the left edge of the data area, just above or
// below the line at y.
type zoneLabel struct {
	y     float64
	above bool
	text  string
	col   color.Color
}

func (z *zoneLabel) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	sty := text.Style{Color: z.col, Font: sans(vg.Points(8.5)), Handler: p.TextHandler, XAlign: draw.XLeft}
	pad := vg.Points(3)
	pt := vg.Point{X: c.Min.X + pad, Y: trY(z.y) + pad}
	if !z.above {
		sty.YAlign = draw.YTop
		pt.Y = trY(z.y) - pad
	}
	c.FillText(sty, pt, z.text)
}
