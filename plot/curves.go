package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fastnn/fastnn/nn"
)

// series is one curve: a name, a colour and its points.
type series struct {
	name string
	col  color.Color
	dash bool
	mark bool // points only, drawn as rings: a marker, not a curve
	xys  plotter.XYs
}

// LossCurves draws the training loss and, when the history has it, the
// validation loss against the epoch, and writes the picture to path (.png
// or .svg). An empty title gives "Loss".
func LossCurves(h nn.History, title, path string) error {
	return LossCurvesBest(h, 0, title, path)
}

// LossCurvesBest is LossCurves with, when best > 0, the validation loss of
// epoch best ringed and named in the legend as the restored best epoch
// (early stopping).
func LossCurvesBest(h nn.History, best int, title, path string) error {
	if _, err := checkFormat(path); err != nil {
		return err
	}
	if len(h) == 0 {
		return fmt.Errorf("plot: %s: empty history", path)
	}
	train := series{name: "training", col: colBlue}
	val := series{name: "validation", col: colOrange, dash: true}
	mark := series{name: fmt.Sprintf("epoch %d, restored (best)", best), col: colOrange, mark: true}
	for _, e := range h {
		train.add(e.Epoch, e.TrainLoss)
		if e.Val != nil {
			val.add(e.Epoch, e.Val.Loss)
			if e.Epoch == best {
				mark.add(e.Epoch, e.Val.Loss)
			}
		}
	}
	if title == "" {
		title = "Loss"
	}
	return curves(path, title, "loss", false, train, val, mark)
}

// AccuracyCurves draws the training and validation accuracy against the
// epoch and writes the picture to path (.png or .svg). It returns an error
// when no epoch of the history has an accuracy (a regression run). An empty
// title gives "Accuracy".
func AccuracyCurves(h nn.History, title, path string) error {
	if _, err := checkFormat(path); err != nil {
		return err
	}
	train := series{name: "training", col: colBlue}
	val := series{name: "validation", col: colOrange, dash: true}
	for _, e := range h {
		if e.TrainAcc != nil {
			train.add(e.Epoch, *e.TrainAcc)
		}
		if hasAccuracy(e.Val) {
			val.add(e.Epoch, e.Val.Accuracy)
		}
	}
	if len(train.xys) == 0 && len(val.xys) == 0 {
		return fmt.Errorf("plot: %s: the history has no accuracy (not a classification run?)", path)
	}
	if title == "" {
		title = "Accuracy"
	}
	return curves(path, title, "accuracy", true, train, val)
}

// hasAccuracy tells whether validation figures are a classifier's. Metrics
// read back from JSON lose their Classification flag; a non-zero accuracy
// tells then.
func hasAccuracy(m *nn.Metrics) bool {
	return m != nil && (m.Classification || m.Accuracy != 0)
}

// add appends a point, leaving out values that are not finite.
func (s *series) add(epoch int, v float64) {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		s.xys = append(s.xys, plotter.XY{X: float64(epoch), Y: v})
	}
}

// curves draws series against the epoch. With fraction set the y axis ends
// at 1 at most.
func curves(path, title, yLabel string, fraction bool, ss ...series) error {
	p := newPlot(title, "epoch", yLabel)
	p.X.Tick.Marker = intTicks{}
	p.Add(plotter.NewGrid())
	leg := newLegend()
	n := 0
	for _, s := range ss {
		if len(s.xys) == 0 {
			continue
		}
		n++
		if s.mark {
			ring, err := plotter.NewScatter(s.xys)
			if err != nil {
				return fmt.Errorf("plot: %s: %w", path, err)
			}
			ring.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: vg.Points(6), Shape: draw.RingGlyph{}}
			p.Add(ring)
			leg.Add(s.name, ring)
			continue
		}
		line, err := plotter.NewLine(s.xys)
		if err != nil {
			return fmt.Errorf("plot: %s: %w", path, err)
		}
		line.Color = s.col
		line.Width = vg.Points(1.75)
		if s.dash {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if len(s.xys) <= 30 {
			pts, err := plotter.NewScatter(s.xys)
			if err != nil {
				return fmt.Errorf("plot: %s: %w", path, err)
			}
			pts.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			p.Add(pts)
			thumbs = append(thumbs, pts)
		}
		leg.Add(s.name, thumbs...)
	}
	if n == 0 {
		return errors.New("plot: " + path + ": no finite values to draw")
	}
	// A single epoch still gets a visible x range.
	if p.X.Min == p.X.Max {
		p.X.Min, p.X.Max = p.X.Min-1, p.X.Max+1
	}
	padY(p, fraction)
	// Loss falls and accuracy rises: the legend goes where the curves end
	// up furthest from.
	return (&figure{p: p, legend: leg, bottom: fraction, w: curveWidth, h: curveHeight}).save(path)
}

// padY widens the y range so that the curves do not touch the frame and
// the legend has room: 20% of the span on the legend's side (the top for
// loss, the bottom for accuracy), 5% on the other. Accuracy stays within
// [0, 1] plus a little.
func padY(p *plot.Plot, fraction bool) {
	lo, hi := p.Y.Min, p.Y.Max
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(hi)*0.1, 0.01)
	}
	if fraction {
		lo, hi = lo-0.2*span, hi+0.05*span
	} else {
		lo, hi = lo-0.05*span, hi+0.2*span
	}
	if fraction {
		lo, hi = math.Max(lo, -0.02), math.Min(hi, 1.02)
	}
	p.Y.Min, p.Y.Max = lo, hi
}
