package plot

import (
	"bufio"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// DPI is the resolution of PNG pictures.
const DPI = 96

// Picture sizes, in inches: 6 x 4 for the curves and the gradient flow,
// 6 x 5 for the decision boundary (its legend sits on the right of a
// roughly square plot).
const (
	curveWidth     = 6 * vg.Inch
	curveHeight    = 4 * vg.Inch
	boundaryWidth  = 6 * vg.Inch
	boundaryHeight = 5 * vg.Inch
)

// Colours shared by the pictures (Tableau 10, as matplotlib's defaults).
var (
	colBlue   = rgb(0x1f77b4)
	colOrange = rgb(0xff7f0e)
	colGreen  = rgb(0x2ca02c)
	colRed    = rgb(0xd62728)
	colPurple = rgb(0x9467bd)
	colBrown  = rgb(0x8c564b)
	colPink   = rgb(0xe377c2)
	colGrey   = rgb(0x7f7f7f)
	colOlive  = rgb(0xbcbd22)
	colCyan   = rgb(0x17becf)
)

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// figure is a plot with an optional legend that is drawn on a white box
// inside the data area, or on the right of the plot.
type figure struct {
	p       *plot.Plot
	legend  *plot.Legend
	outside bool // on the right of the plot, not inside it
	bottom  bool // inside, at the bottom right rather than the top right
	w, h    vg.Length
}

// sansFont is the typeface of every text: Liberation Sans, which reads
// better than gonum's default serif at small sizes.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// sans is the text font at a size.
func sans(size vg.Length) font.Font { return font.From(sansFont, size) }

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(vg.Points(13))
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(vg.Points(11))
		a.Tick.Label.Font = sans(vg.Points(9.5))
	}
	return p
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = sans(vg.Points(9.5))
	l.ThumbnailWidth = vg.Points(22)
	l.Top = true
	return &l
}

// legendMargin is the gap between a legend's box and what surrounds it.
const legendMargin vg.Length = 6 // points

// legendSize is the size of the legend's box, padding included.
func legendSize(l *plot.Legend) (w, h vg.Length) {
	r := l.Rectangle(draw.Canvas{})
	s := r.Size()
	return s.X + 2*legendMargin, s.Y + 2*legendMargin
}

// plotCanvas is the part of the canvas the plot itself is drawn in.
func (f *figure) plotCanvas(c draw.Canvas) draw.Canvas {
	if f.legend != nil && f.outside {
		w, _ := legendSize(f.legend)
		return draw.Crop(c, 0, -(w + legendMargin), 0, 0)
	}
	return c
}

// dataCanvas is where the data are drawn: the plot canvas less title and
// axes.
func (f *figure) dataCanvas(c draw.Canvas) draw.Canvas {
	return f.p.DataCanvas(f.plotCanvas(c))
}

func (f *figure) draw(c draw.Canvas) {
	pc := f.plotCanvas(c)
	f.p.Draw(pc)
	if f.legend == nil {
		return
	}
	w, h := legendSize(f.legend)
	var box vg.Rectangle
	if f.outside {
		dc := f.p.DataCanvas(pc)
		box.Min = vg.Point{X: c.Max.X - w, Y: dc.Max.Y - h}
		box.Max = vg.Point{X: c.Max.X, Y: dc.Max.Y}
	} else {
		dc := f.p.DataCanvas(pc)
		box.Max = vg.Point{X: dc.Max.X - legendMargin, Y: dc.Max.Y - legendMargin}
		if f.bottom {
			box.Max.Y = dc.Min.Y + legendMargin + h
		}
		box.Min = vg.Point{X: box.Max.X - w, Y: box.Max.Y - h}
	}
	c.SetColor(color.NRGBA{R: 255, G: 255, B: 255, A: 220})
	c.Fill(box.Path())
	c.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 0xb0}, Width: vg.Points(0.5)})
	c.Stroke(box.Path())
	inner := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: box.Min.X + legendMargin, Y: box.Min.Y + legendMargin},
		Max: vg.Point{X: box.Max.X - legendMargin, Y: box.Max.Y - legendMargin},
	}}
	f.legend.Draw(inner)
}

// checkFormat returns the picture format named by path's extension.
func checkFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("plot: %s: unknown picture format %q, want .png or .svg", path, ext)
	}
}

// save draws the figure and writes it to path in the format its extension
// names.
func (f *figure) save(path string) error {
	format, err := checkFormat(path)
	if err != nil {
		return err
	}
	var cw vg.CanvasWriterTo
	if format == "svg" {
		cw = vgsvg.New(f.w, f.h)
	} else {
		cw = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(DPI))}
	}
	f.draw(draw.New(cw))
	return writeAtomic(path, func(w io.Writer) error {
		_, err := cw.WriteTo(w)
		return err
	})
}

// writeAtomic writes a file through a temporary file in the same folder that
// is renamed over path once complete.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("plot: %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// intTicks marks whole numbers only (epochs), at a step of 1, 2 or 5
// times a power of ten that gives at most 10 labels.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for i := 0; (hi-lo)/step > 10; i++ {
		step = []float64{2, 5, 10}[i%3] * math.Pow10(i/3)
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ticks
}

// logTicks marks an axis that holds log10 of the values: a labelled tick
// at every power of ten (every other one, or fewer, when there are more
// than 10), and unlabelled ticks at 2..9 times each when all are labelled.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo-1e-9)), int(math.Floor(hi+1e-9))
	step := 1
	for (last-first)/step > 10 {
		step++
	}
	var ticks []plot.Tick
	for k := int(math.Floor(lo)); k <= last; k++ {
		if k >= first {
			t := plot.Tick{Value: float64(k)}
			if (k-first)%step == 0 {
				t.Label = decadeLabel(k)
			}
			ticks = append(ticks, t)
		}
		for i := 2; i < 10 && step == 1; i++ {
			if v := float64(k) + math.Log10(float64(i)); v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

func decadeLabel(k int) string {
	if k >= -2 && k <= 3 {
		return strconv.FormatFloat(math.Pow10(k), 'f', -1, 64)
	}
	return "1e" + strconv.Itoa(k)
}
