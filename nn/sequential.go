package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
)

// Sequential chains layers, like PyTorch's nn.Sequential.
type Sequential struct {
	Layers []Layer // fixed once the model is built
	be     backend.Backend
	params []*Param // Params, gathered on first use
}

// NewSequential chains layers. Its Backward returns dL/d(input), so that a
// Sequential can sit anywhere in another model; the Trainer switches that
// product off in the model's first layer, where nobody uses it.
func NewSequential(be backend.Backend, layers ...Layer) *Sequential {
	return &Sequential{Layers: layers, be: be}
}

// SetInputGrad chooses whether Backward returns dL/d(input) (true, the
// default) or skips that product in the first layer, looking inside nested
// Sequentials, and returns an empty Tensor (false).
func (s *Sequential) SetInputGrad(need bool) { s.skipInputGrad(!need) }

func (s *Sequential) skipInputGrad(skip bool) {
	if len(s.Layers) > 0 {
		if l, ok := s.Layers[0].(inputGradSkipper); ok {
			l.skipInputGrad(skip)
		}
	}
}

// MLPConfig describes a multilayer perceptron.
type MLPConfig struct {
	In     int                // input features
	Hidden []int              // hidden layer widths
	Out    int                // outputs (classes, or 1 for a binary logit or a regression target)
	Act    backend.Activation // activation after every hidden layer
	Slope  float32            // LeakyReLU slope
	// Residual wraps each hidden layer whose width equals the previous
	// one's in a skip connection: x + act(Linear(x)).
	Residual bool
	// BatchNorm puts a BatchNorm1d between each hidden Linear and its
	// activation; Dropout > 0 puts a Dropout after each activation.
	BatchNorm bool
	Dropout   float32
}

// Limits of an MLP, the same for training and for loading a checkpoint.
const (
	MaxHidden   = 64               // hidden layers
	MaxWidth    = 1 << 16          // units of a hidden layer
	MaxFeatures = data.MaxFeatures // inputs, and outputs: the widest table data encodes
)

// CheckHidden checks hidden layer widths against MaxHidden and MaxWidth.
func CheckHidden(hidden []int) error {
	if len(hidden) > MaxHidden {
		return fmt.Errorf("%d hidden layers: at most %d are supported", len(hidden), MaxHidden)
	}
	for i, h := range hidden {
		if h < 1 || h > MaxWidth {
			return fmt.Errorf("width %d of hidden layer %d is out of range 1..%d", h, i+1, MaxWidth)
		}
	}
	return nil
}

// Validate checks every field of cfg against the limits above, so that
// NewMLP never attempts an absurd allocation.
func (cfg MLPConfig) Validate() error {
	if !(cfg.Dropout >= 0 && cfg.Dropout < 1) {
		return fmt.Errorf("nn: dropout %v: want a probability in [0, 1)", cfg.Dropout)
	}
	if cfg.In < 1 || cfg.In > MaxFeatures || cfg.Out < 1 || cfg.Out > MaxFeatures {
		return fmt.Errorf("nn: MLP needs input and output sizes in 1..%d, got %d and %d", MaxFeatures, cfg.In, cfg.Out)
	}
	if !(cfg.Slope >= 0) || math.IsInf(float64(cfg.Slope), 0) {
		return fmt.Errorf("nn: LeakyReLU slope %v: want a finite number >= 0", cfg.Slope)
	}
	if err := CheckHidden(cfg.Hidden); err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	return nil
}

// StateSize is the number of values in the state dict (see
// Sequential.StateDict) of the MLP that NewMLP builds from cfg, computed
// without building it: a checkpoint's claimed architecture is checked
// against the tensors the file holds before any memory is allocated. cfg
// must be valid.
func (cfg MLPConfig) StateSize() int {
	n, in := 0, cfg.In
	for _, h := range cfg.Hidden {
		n += in*h + h // Linear weight and bias
		if cfg.BatchNorm {
			n += 4*h + 1 // weight, bias, running mean and variance, num_batches_tracked
		}
		in = h
	}
	return n + in*cfg.Out + cfg.Out
}

// NewMLP builds Linear, Act, Linear, Act, ..., Linear, with each Linear's
// weights drawn by DefaultInit for the activation that follows it. The output
// layer has no activation: the losses take logits.
func NewMLP(be backend.Backend, cfg MLPConfig, rng *rand.Rand) (*Sequential, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var layers []Layer
	in := cfg.In
	for i, h := range cfg.Hidden {
		block := []Layer{NewLinear(be, in, h, DefaultInit(cfg.Act, cfg.Slope, rng))}
		if cfg.BatchNorm {
			block = append(block, NewBatchNorm(be, h))
		}
		block = append(block, NewActivation(be, cfg.Act, cfg.Slope))
		if cfg.Dropout > 0 {
			block = append(block, NewDropout(be, cfg.Dropout, rng))
		}
		if cfg.Residual && in == h && i > 0 { // the input layer changes width: no skip around it
			layers = append(layers, NewResidual(be, NewSequential(be, block...)))
		} else {
			layers = append(layers, block...)
		}
		in = h
	}
	layers = append(layers, NewLinear(be, in, cfg.Out, DefaultInit(backend.Identity, 0, rng)))
	return NewSequential(be, layers...), nil
}

func (s *Sequential) Forward(x Tensor, training bool) Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x, training)
	}
	return x
}

func (s *Sequential) Backward(dy Tensor) Tensor {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// Params lists every parameter, in layer order. The list is gathered once:
// training steps call it and allocate nothing.
func (s *Sequential) Params() []*Param {
	if s.params == nil {
		for _, l := range s.Layers {
			s.params = append(s.params, l.Params()...)
		}
	}
	return s.params
}

// NamedParams maps PyTorch state_dict names ("0.weight", "0.bias",
// "2.weight", ...) to parameters, in layer order.
func (s *Sequential) NamedParams() (names []string, params []*Param) {
	for i, l := range s.Layers {
		ns, ps := namedParams(l)
		for j := range ns {
			names = append(names, fmt.Sprintf("%d.%s", i, ns[j]))
		}
		params = append(params, ps...)
	}
	return names, params
}

// NamedWeights lists the weight tensors of two or more dimensions (the
// weights of Linear and Conv2d layers, not biases nor BatchNorm's scale and
// shift) with their state_dict names, in layer order: the tensors that
// gradient flow and L1 regularisation look at, as PyTorch users select
// them (the parameters named "weight" with dim() > 1).
func (s *Sequential) NamedWeights() (names []string, weights []*Param) {
	return namedWeights(s)
}

// namedWeights is NamedWeights for any layer.
func namedWeights(l Layer) (names []string, weights []*Param) {
	allNames, params := namedParams(l)
	for i, p := range params {
		if p.Name == "weight" && len(p.Shape) >= 2 {
			names, weights = append(names, allNames[i]), append(weights, p)
		}
	}
	return names, weights
}

// namedParams returns a layer's parameters with their names within it:
// nested names for containers, the plain Param names otherwise.
func namedParams(l Layer) ([]string, []*Param) {
	if c, ok := l.(interface{ NamedParams() ([]string, []*Param) }); ok {
		return c.NamedParams()
	}
	var names []string
	for _, p := range l.Params() {
		names = append(names, p.Name)
	}
	return names, l.Params()
}

// ParamCount is the number of trainable scalars.
func (s *Sequential) ParamCount() int {
	n := 0
	for _, p := range s.Params() {
		n += p.Len()
	}
	return n
}

// ZeroGrad clears every gradient; Backward accumulates into them.
func (s *Sequential) ZeroGrad() {
	for _, p := range s.Params() {
		s.be.Fill(p.Grad, 0, p.Len())
	}
}

// InFeatures is the number of input features of the first layer, when it
// has a fixed one (see InputSizer); false for a model whose input width
// comes from the data.
func (s *Sequential) InFeatures() (int, bool) {
	if len(s.Layers) == 0 {
		return 0, false
	}
	return inFeatures(s.Layers[0])
}

// inFeatures is l's fixed input width, if it has one.
func inFeatures(l Layer) (int, bool) {
	if f, ok := l.(InputSizer); ok {
		return f.InFeatures()
	}
	return 0, false
}

// Children are the layers.
func (s *Sequential) Children() []Layer { return s.Layers }

func (s *Sequential) OutFeatures(in int) int {
	for _, l := range s.Layers {
		in = l.OutFeatures(in)
	}
	return in
}

func (s *Sequential) String() string {
	var b strings.Builder
	b.WriteString("Sequential(\n")
	for i, l := range s.Layers {
		fmt.Fprintf(&b, "  (%d): %s\n", i, l)
	}
	b.WriteString(")")
	return b.String()
}

func (s *Sequential) Free() {
	for _, l := range s.Layers {
		l.Free()
	}
}

// usesBatchStatistics reports whether any layer of l, nested ones
// included, computes statistics over the batch (see BatchStatistics).
func usesBatchStatistics(l Layer) bool {
	found := false
	Walk(l, func(l Layer) {
		if b, ok := l.(BatchStatistics); ok && b.UsesBatchStatistics() {
			found = true
		}
	})
	return found
}

// MaskCounters lists the layers with a mask counter (Dropout, or a user's
// layer that implements MaskCounter) in forward order, nested ones
// included, so that a checkpoint can save and restore the counters.
func (s *Sequential) MaskCounters() []MaskCounter {
	var out []MaskCounter
	Walk(s, func(l Layer) {
		if c, ok := l.(MaskCounter); ok {
			out = append(out, c)
		}
	})
	return out
}
