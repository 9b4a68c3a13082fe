package nn

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"

	"github.com/fastnn/fastnn/backend"
)

// An architecture spec names a model's layers in order, as PyTorch writes
// them, separated by spaces (or commas and semicolons between layers):
//
//	Conv2d(1,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2) Flatten Linear(1600,128) ReLU Linear(128,10)
//
// Names are case-insensitive; arguments are positional as in PyTorch, and
// stride= and padding= may be given by name. Sizes that follow from the
// input may be left out: Conv2d(32,3) is Conv2d(in,32,3) with in the input's
// channels, Linear(128) takes whatever width reaches it, BatchNorm2d and
// BatchNorm1d take their input's channels or features. The layers:
//
//	Linear(in,out) Linear(out)                 fully connected
//	Conv2d(in,out,kernel[,stride[,padding]])   Conv2d(out,kernel,...)
//	MaxPool2d(kernel[,stride[,padding]])      AvgPool2d(kernel[,stride[,padding]])
//	AdaptiveAvgPool2d(1) (or GlobalAvgPool2d)  Flatten
//	BatchNorm1d[(n)] BatchNorm2d[(c)]          Dropout(p)
//	ReLU Tanh Sigmoid GELU Identity LeakyReLU[(slope)]
//
// The last layer's width must be the model's output count (the classes).

// ArchLayer is one layer of a parsed spec: its name as written in the
// canonical spelling, its positional arguments and its named ones.
type ArchLayer struct {
	Name  string
	Args  []float64
	Named map[string]float64
}

// Arch is a parsed architecture spec.
type Arch []ArchLayer

// archLayers lists the known layers: canonical name, the most positional
// arguments and the names that may be given by keyword.
var archLayers = []struct {
	name    string
	maxArgs int
	named   []string
}{
	{"Linear", 2, nil}, {"Conv2d", 5, []string{"stride", "padding"}},
	{"MaxPool2d", 3, []string{"stride", "padding"}}, {"AvgPool2d", 3, []string{"stride", "padding"}},
	{"AdaptiveAvgPool2d", 1, nil}, {"GlobalAvgPool2d", 0, nil}, {"Flatten", 0, nil},
	{"BatchNorm1d", 1, nil}, {"BatchNorm2d", 1, nil}, {"Dropout", 1, nil},
	{"ReLU", 0, nil}, {"Tanh", 0, nil}, {"Sigmoid", 0, nil}, {"GELU", 0, nil}, {"Identity", 0, nil},
	{"LeakyReLU", 1, nil},
}

// ParseArch parses a spec (see the syntax above).
func ParseArch(spec string) (Arch, error) {
	var arch Arch
	rest := strings.TrimSpace(spec)
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if i < 0 {
			i = len(rest)
		}
		word := rest[:i]
		rest = strings.TrimLeft(rest[i:], " \t\n")
		if word == "" {
			return nil, fmt.Errorf("arch %q: expected a layer name at %q", spec, clipSpec(rest))
		}
		l := ArchLayer{Named: map[string]float64{}}
		known := -1
		for k, a := range archLayers {
			if strings.EqualFold(a.name, word) {
				known, l.Name = k, a.name
			}
		}
		if known < 0 {
			return nil, fmt.Errorf("arch %q: unknown layer %q (want one of %s)", spec, word, archNames())
		}
		if strings.HasPrefix(rest, "(") {
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, fmt.Errorf("arch %q: %s( has no closing parenthesis", spec, word)
			}
			if err := l.parseArgs(rest[1:end], archLayers[known].named); err != nil {
				return nil, fmt.Errorf("arch %q: %s: %w", spec, l.Name, err)
			}
			rest = rest[end+1:]
		}
		if max := archLayers[known].maxArgs; len(l.Args) > max {
			return nil, fmt.Errorf("arch %q: %s takes at most %d arguments, got %d", spec, l.Name, max, len(l.Args))
		}
		arch = append(arch, l)
		rest = strings.TrimLeft(rest, " \t\n,;")
	}
	if len(arch) == 0 {
		return nil, fmt.Errorf("arch %q: no layers", spec)
	}
	return arch, nil
}

func clipSpec(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

func archNames() string {
	var names []string
	for _, a := range archLayers {
		names = append(names, a.name)
	}
	return strings.Join(names, ", ")
}

func (l *ArchLayer) parseArgs(list string, named []string) error {
	if strings.TrimSpace(list) == "" {
		return nil
	}
	for _, arg := range strings.Split(list, ",") {
		key, val, isNamed := strings.Cut(arg, "=")
		if !isNamed {
			val = key
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return fmt.Errorf("argument %q is not a number", strings.TrimSpace(val))
		}
		if !isNamed {
			if len(l.Named) > 0 {
				return fmt.Errorf("positional argument %q after a named one", strings.TrimSpace(arg))
			}
			l.Args = append(l.Args, v)
			continue
		}
		key = strings.TrimSpace(key)
		ok := false
		for _, n := range named {
			ok = ok || n == key
		}
		if !ok {
			return fmt.Errorf("unknown argument %q", key)
		}
		l.Named[key] = v
	}
	return nil
}

// String writes the spec back in canonical form.
func (a Arch) String() string {
	parts := make([]string, len(a))
	for i, l := range a {
		var args []string
		for _, v := range l.Args {
			args = append(args, strconv.FormatFloat(v, 'g', -1, 64))
		}
		for _, k := range []string{"stride", "padding"} {
			if v, ok := l.Named[k]; ok {
				args = append(args, k+"="+strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		parts[i] = l.Name
		if len(args) > 0 {
			parts[i] += "(" + strings.Join(args, ",") + ")"
		}
	}
	return strings.Join(parts, " ")
}

// CNNPreset is the spec of the classic convolutional network for images of
// shape in and the given number of classes: for 1 x 28 x 28 exactly
// PyTorch's MNIST example,
//
//	Conv2d(1,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2) Flatten Linear(1600,128) ReLU Linear(128,10)
//
// and for images too small for it (the 8 x 8 digits) the same layers with
// padding 1, so that each convolution keeps the image's size.
func CNNPreset(in Shape, classes int) (string, error) {
	if !in.IsImage() {
		return "", fmt.Errorf("the cnn architecture takes images; this data set has flat rows")
	}
	for _, pad := range []int{0, 1} {
		h, w := in.H, in.W
		for range 2 {
			h, w = (h+2*pad-2)/2, (w+2*pad-2)/2 // conv 3, then pool 2
		}
		if h >= 1 && w >= 1 {
			conv := func(cin, cout int) string {
				if pad == 0 {
					return fmt.Sprintf("Conv2d(%d,%d,3)", cin, cout)
				}
				return fmt.Sprintf("Conv2d(%d,%d,3,padding=%d)", cin, cout, pad)
			}
			return fmt.Sprintf("%s ReLU MaxPool2d(2) %s ReLU MaxPool2d(2) Flatten Linear(%d,128) ReLU Linear(128,%d)",
				conv(in.C, 32), conv(32, 64), 64*h*w, classes), nil
		}
	}
	return "", fmt.Errorf("%s images are too small for the cnn architecture (two 3x3 convolutions and two 2x2 pools)", in)
}

// Build makes the model for inputs of shape in (zero for flat rows) and
// cols values and checks that it ends with outputs values. Weights are
// drawn by DefaultInit for the activation after each layer.
func (a Arch) Build(be backend.Backend, in Shape, cols, outputs int, rng *rand.Rand) (*Sequential, error) {
	var layers []Layer
	fail := func(i int, format string, args ...any) (*Sequential, error) {
		for _, l := range layers {
			l.Free()
		}
		return nil, fmt.Errorf("layer %d, %s: %s", i, a[i].Name, fmt.Sprintf(format, args...))
	}
	shape := in
	for i, l := range a {
		arg := l.arg
		if needsConvolutions[l.Name] && !HasConvolutions(be) {
			return fail(i, "backend %s has no convolutions (backend.Convolver)", be.Name())
		}
		var layer Layer
		switch l.Name {
		case "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d":
			sizes := intArgs(l.Args)
			if sizes == nil {
				return fail(i, "sizes must be whole numbers from 1 to %d", MaxWidth)
			}
			layer, shape = a.sized(be, i, sizes, shape, cols, a.initFor(i, rng))
			if layer == nil {
				return fail(i, "%s", a.sizeError(i, sizes, shape, cols))
			}
		case "MaxPool2d", "AvgPool2d":
			k, ok1 := whole(arg(0, 0), 1)
			s, ok2 := whole(l.named("stride", arg(1, float64(k))), 1)
			p, ok3 := whole(l.named("padding", arg(2, 0)), 0)
			if !ok1 || !ok2 || !ok3 || 2*p > k {
				return fail(i, "want kernel and stride from 1, padding from 0 to half the kernel")
			}
			if l.Name == "MaxPool2d" {
				layer = NewMaxPool2d(be, k, s, p)
			} else {
				layer = NewAvgPool2d(be, k, s, p)
			}
		case "AdaptiveAvgPool2d", "GlobalAvgPool2d":
			if len(l.Args) == 1 && l.Args[0] != 1 {
				return fail(i, "only output size 1 (global average pooling) is supported")
			}
			layer = NewGlobalAvgPool2d(be)
		case "Flatten":
			layer = NewFlatten()
		case "Dropout":
			p := arg(0, 0.5)
			if !(p >= 0 && p < 1) {
				return fail(i, "p = %v, want a probability in [0, 1)", p)
			}
			layer = NewDropout(be, float32(p), rng)
		default:
			act, err := backend.ParseActivation(strings.ToLower(l.Name))
			if err != nil {
				return fail(i, "%v", err)
			}
			slope := arg(0, 0.01)
			if !(slope >= 0) || slope > 1e6 {
				return fail(i, "slope %v, want a number >= 0", slope)
			}
			layer = NewActivation(be, act, float32(slope))
		}
		layers = append(layers, layer)
		var err error
		if shape, cols, err = OutShape(layer, shape, cols); err != nil {
			return fail(i, "%v", err)
		}
		if cols > MaxFeatures { // padding or sizes far too large: refuse before any step allocates
			return fail(i, "its output has %d values per sample, more than the %d supported", cols, MaxFeatures)
		}
	}
	if cols != outputs {
		return fail(len(a)-1, "the model ends with %d outputs, the data need %d", cols, outputs)
	}
	return NewSequential(be, layers...), nil
}

// needsConvolutions lists the layers that run on backend.Convolver.
var needsConvolutions = map[string]bool{"Conv2d": true, "BatchNorm2d": true, "MaxPool2d": true,
	"AvgPool2d": true, "AdaptiveAvgPool2d": true, "GlobalAvgPool2d": true}

// arg is positional argument j, or def when it is not given.
func (l ArchLayer) arg(j int, def float64) float64 {
	if j < len(l.Args) {
		return l.Args[j]
	}
	return def
}

func (l ArchLayer) named(key string, def float64) float64 {
	if v, ok := l.Named[key]; ok {
		return v
	}
	return def
}

// whole is v as an int when it is a whole number in [lo, MaxWidth].
func whole(v float64, lo int) (int, bool) {
	if v != float64(int(v)) || int(v) < lo || int(v) > MaxWidth {
		return 0, false
	}
	return int(v), true
}

// intArgs converts positional arguments to ints (nil if one is not whole).
func intArgs(args []float64) []int {
	out := make([]int, len(args))
	for i, v := range args {
		n, ok := whole(v, 0)
		if !ok {
			return nil
		}
		out[i] = n
	}
	return out
}

// sized builds the layers with sizes (Linear, Conv2d, BatchNorm), filling
// in those that the input gives; nil if the sizes do not fit.
func (a Arch) sized(be backend.Backend, i int, sizes []int, in Shape, cols int, init Init) (Layer, Shape) {
	l := a[i]
	switch l.Name {
	case "Linear":
		if len(sizes) == 1 {
			sizes = []int{cols, sizes[0]}
		}
		if len(sizes) != 2 || sizes[0] != cols || sizes[1] < 1 || in.IsImage() {
			return nil, in
		}
		return NewLinear(be, sizes[0], sizes[1], init), in
	case "Conv2d":
		if len(sizes) == 2 {
			sizes = append([]int{in.C}, sizes...) // Conv2d(out, kernel)
		}
		if len(sizes) < 3 || !in.IsImage() || sizes[0] != in.C || sizes[1] < 1 || sizes[2] < 1 {
			return nil, in
		}
		cfg := Conv2dConfig{In: sizes[0], Out: sizes[1], Kernel: sizes[2], Stride: 1}
		if len(sizes) > 3 {
			cfg.Stride = sizes[3]
		}
		if len(sizes) > 4 {
			cfg.Padding = sizes[4]
		}
		s, ok1 := whole(l.named("stride", float64(cfg.Stride)), 1)
		p, ok2 := whole(l.named("padding", float64(cfg.Padding)), 0)
		if !ok1 || !ok2 {
			return nil, in
		}
		cfg.Stride, cfg.Padding = s, p
		return NewConv2d(be, cfg, init), in
	case "BatchNorm1d":
		if in.IsImage() || (len(sizes) == 1 && sizes[0] != cols) {
			return nil, in
		}
		return NewBatchNorm(be, cols), in
	case "BatchNorm2d":
		if !in.IsImage() || (len(sizes) == 1 && sizes[0] != in.C) {
			return nil, in
		}
		return NewBatchNorm2d(be, in.C), in
	}
	return nil, in
}

// sizeError says why sized refused layer i.
func (a Arch) sizeError(i int, sizes []int, in Shape, cols int) string {
	where := fmt.Sprintf("flat rows of %d features", cols)
	if in.IsImage() {
		where = fmt.Sprintf("%s images", in)
	}
	switch a[i].Name {
	case "Conv2d":
		return fmt.Sprintf("arguments %v do not fit %s (want Conv2d(in,out,kernel[,stride[,padding]]) on images, in = their channels)", sizes, where)
	case "Linear":
		return fmt.Sprintf("arguments %v do not fit %s (want Linear(in,out) or Linear(out), in = the features reaching it: put a Flatten after images)", sizes, where)
	}
	return fmt.Sprintf("arguments %v do not fit %s", sizes, where)
}

// initFor is the initialisation of layer i's weights: DefaultInit for the
// activation that follows it before the next weighted layer (none: Glorot).
func (a Arch) initFor(i int, rng *rand.Rand) Init {
	for _, l := range a[i+1:] {
		switch l.Name {
		case "Linear", "Conv2d":
			return DefaultInit(backend.Identity, 0, rng)
		case "ReLU", "GELU", "Tanh", "Sigmoid", "Identity":
			act, _ := backend.ParseActivation(strings.ToLower(l.Name))
			return DefaultInit(act, 0, rng)
		case "LeakyReLU":
			return DefaultInit(backend.LeakyReLU, float32(l.arg(0, 0.01)), rng)
		}
	}
	return DefaultInit(backend.Identity, 0, rng)
}
