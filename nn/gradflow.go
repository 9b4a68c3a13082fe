package nn

import (
	"fmt"
	"io"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// Thresholds of the gradient-flow picture: a layer whose gradient norm falls
// below VanishingBelow is flagged vanishing, above ExplodingAbove exploding.
const (
	VanishingBelow = 1e-3
	ExplodingAbove = 1e3
)

// LayerFlow is one layer's gradient-flow figures for one epoch.
type LayerFlow struct {
	Layer      string  `json:"layer"`          // PyTorch name of the weight, e.g. "2.weight"
	Kind       string  `json:"kind,omitempty"` // the layer it belongs to, e.g. "Linear 4→16", "Conv2d 1→32 3x3"
	GradNorm   float64 `json:"grad_norm"`      // root mean square over the epoch's steps of ||dL/dW||
	WeightNorm float64 `json:"weight_norm"`    // ||W|| at the end of the epoch
	UpdateRate float64 `json:"update_rate"`    // ||ΔW|| / ||W|| of the epoch's last step
	Flag       string  `json:"flag"`           // "vanishing", "exploding" or ""
}

// FlagFor classifies a gradient norm.
func FlagFor(gradNorm float64) string {
	switch {
	case gradNorm < VanishingBelow:
		return "vanishing"
	case gradNorm > ExplodingAbove:
		return "exploding"
	}
	return ""
}

// gradFlow measures the weights of a model during an epoch. Sums of squares
// stay on the backend and are read once at the end of the epoch.
type gradFlow struct {
	be      backend.Backend
	names   []string
	kinds   []string
	weights []*Param
	gradSq  []backend.Buffer // per weight: sum over steps of ||grad||^2
	before  []backend.Buffer // per weight: a copy taken before the last step
	scalar  backend.Buffer
	steps   int
}

func newGradFlow(be backend.Backend, m Layer) *gradFlow {
	f := &gradFlow{be: be, scalar: be.Alloc(1)}
	f.names, f.weights = namedWeights(m)
	for i, p := range f.weights {
		f.kinds = append(f.kinds, weightKind(m, f.names[i], p))
		f.gradSq = append(f.gradSq, be.Alloc(1))
		f.before = append(f.before, be.Alloc(p.Len()))
	}
	return f
}

// weightKind names the layer a weight tensor belongs to, from its shape
// (see NamedWeights): a Linear with its widths, a Conv2d with its channels
// and kernel, and the Residual block around it if there is one.
func weightKind(m Layer, name string, p *Param) string {
	var kind string
	switch len(p.Shape) {
	case 2:
		kind = fmt.Sprintf("Linear %d→%d", p.Shape[1], p.Shape[0])
	case 4:
		kind = fmt.Sprintf("Conv2d %d→%d %dx%d", p.Shape[1], p.Shape[0], p.Shape[2], p.Shape[3])
	default:
		kind = fmt.Sprintf("weight %v", p.Shape)
	}
	s, ok := m.(*Sequential)
	if !ok {
		return kind
	}
	var i int
	if _, err := fmt.Sscanf(name, "%d.", &i); err == nil && i >= 0 && i < len(s.Layers) {
		if _, ok := s.Layers[i].(*Residual); ok {
			kind += " in Residual"
		}
	}
	return kind
}

// startEpoch clears the accumulated sums.
func (f *gradFlow) startEpoch() {
	for _, b := range f.gradSq {
		f.be.Fill(b, 0, 1)
	}
	f.steps = 0
}

// afterBackward adds this step's squared gradient norms.
func (f *gradFlow) afterBackward(lastStep bool) {
	for i, w := range f.weights {
		f.be.SumSquares(w.Grad, w.Len(), f.gradSq[i])
		if lastStep {
			f.be.Copy(f.before[i], w.Value, w.Len())
		}
	}
	f.steps++
}

// endEpoch reads the figures, after the last step's update.
func (f *gradFlow) endEpoch() []LayerFlow {
	out := make([]LayerFlow, len(f.weights))
	for i, w := range f.weights {
		n := w.Len()
		gradSq := f.read(f.gradSq[i])
		oldSq := f.sumSquares(f.before[i], n)
		f.be.Axpy(-1, w.Value, f.before[i], n) // before = W_old - W_new
		deltaSq := f.sumSquares(f.before[i], n)
		g := math.Sqrt(gradSq / float64(max(f.steps, 1)))
		out[i] = LayerFlow{Layer: f.names[i], Kind: f.kinds[i], GradNorm: g, WeightNorm: math.Sqrt(f.sumSquares(w.Value, n)),
			UpdateRate: math.Sqrt(deltaSq) / math.Max(math.Sqrt(oldSq), 1e-30), Flag: FlagFor(g)}
	}
	return out
}

func (f *gradFlow) sumSquares(b backend.Buffer, n int) float64 {
	f.be.Fill(f.scalar, 0, 1)
	f.be.SumSquares(b, n, f.scalar)
	return f.read(f.scalar)
}

func (f *gradFlow) read(b backend.Buffer) float64 {
	v := make([]float32, 1)
	f.be.Download(v, b)
	return float64(v[0])
}

func (f *gradFlow) free() {
	for i := range f.weights {
		f.be.Free(f.gradSq[i])
		f.be.Free(f.before[i])
	}
	f.be.Free(f.scalar)
}

// WriteGradFlowTable prints one epoch's gradient flow, output layer first
// (the order in which the gradient travels), as the tutorials draw it.
func WriteGradFlowTable(w io.Writer, epoch int, flows []LayerFlow) {
	fmt.Fprintf(w, "gradient flow, epoch %d (vanishing < %g, exploding > %g)\n", epoch, VanishingBelow, ExplodingAbove)
	fmt.Fprintf(w, "  %-10s %12s %12s %12s  %s\n", "layer", "grad norm", "weight norm", "update/w", "")
	for i := len(flows) - 1; i >= 0; i-- {
		l := flows[i]
		fmt.Fprintf(w, "  %-10s %12.4g %12.4g %12.4g  %s\n", l.Layer, l.GradNorm, l.WeightNorm, l.UpdateRate, l.Flag)
	}
}
