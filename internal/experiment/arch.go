package experiment

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// -arch values besides a layer spec (see nn.ParseArch).
const (
	archMLP = "mlp" // the MLP of -layers, -act, -batchnorm, -residual, -dropout (the default)
	archCNN = "cnn" // nn.CNNPreset for the data set's image shape
)

// isMLP tells whether -arch asks for the MLP that the MLP flags describe.
func isMLP(arch string) bool { return arch == "" || arch == archMLP }

// checkArchFlag checks -arch before any data is loaded: a spec must parse.
func checkArchFlag(arch string) error {
	if isMLP(arch) || arch == archCNN {
		return nil
	}
	if len(arch) > maxSpec {
		return fmt.Errorf("-arch: a spec of %d bytes; at most %d", len(arch), maxSpec)
	}
	if _, err := nn.ParseArch(arch); err != nil {
		return fmt.Errorf("-arch: want mlp, cnn or a layer list: %w", err)
	}
	return nil
}

// modelSpec is the layer spec that -arch arch gives for the training split
// d and outputs model outputs, in canonical form (nn.Arch.String).
func modelSpec(arch string, d *data.Dataset, outputs int) (string, error) {
	spec := arch
	if arch == archCNN {
		if !d.Shape.IsImage() {
			return "", fmt.Errorf("-arch cnn needs images; data set %s has flat rows of %d features (use -arch mlp, or a spec of Linear layers)", d.Name, d.Features)
		}
		var err error
		if spec, err = nn.CNNPreset(d.Shape, outputs); err != nil {
			return "", fmt.Errorf("-arch cnn on data set %s: %w", d.Name, err)
		}
	}
	a, err := nn.ParseArch(spec)
	if err != nil {
		return "", fmt.Errorf("-arch: %w", err)
	}
	return a.String(), nil
}

// imageScale is the preprocessing of images for a model given by a spec:
// every pixel divided by the largest absolute pixel value of the training
// split, so that they lie in [0, 1] as torchvision's ToTensor makes them
// (the 8x8 digits, 0..16, become x / 16). It is a Standardizer with mean 0
// and that scale for every feature, so that checkpoints record it as they
// record a standardisation and -load and predict apply the same.
func imageScale(train *data.Dataset) *data.Standardizer {
	scale := float32(0)
	for _, v := range train.X {
		scale = max(scale, float32(math.Abs(float64(v))))
	}
	if !(scale > 0) || math.IsInf(float64(scale), 0) {
		scale = 1
	}
	s := &data.Standardizer{Mean: make([]float32, train.Features), Std: make([]float32, train.Features)}
	for i := range s.Std {
		s.Std[i] = scale
	}
	return s
}

// Limits on a checkpoint's spec, so that a hostile file cannot ask for an
// absurd model: the spec's length, and the values of one sample's
// activations at any layer (the classic MNIST network's widest is 21,632).
const (
	maxSpec       = 1 << 12
	maxActivation = 1 << 22
)

// specShape reads a checkpoint's recorded input shape ([C, H, W], or none
// for flat rows) and checks it against the features.
func specShape(dims []int, features int) (nn.Shape, error) {
	if len(dims) == 0 {
		return nn.Shape{}, nil
	}
	if len(dims) != 3 {
		return nn.Shape{}, fmt.Errorf("input shape %v: want [channels, height, width]", dims)
	}
	for _, d := range dims {
		if d < 1 || d > data.MaxFeatures {
			return nn.Shape{}, fmt.Errorf("input shape %v: each size must be in 1..%d", dims, data.MaxFeatures)
		}
	}
	s := nn.Shape{C: dims[0], H: dims[1], W: dims[2]}
	if n := int64(s.C) * int64(s.H) * int64(s.W); n != int64(features) {
		return nn.Shape{}, fmt.Errorf("input shape %v holds %d values, the model takes %d features", dims, n, features)
	}
	return s, nil
}

// specStateSize is the number of values in the state dict of the model
// that spec builds for inputs of shape in and cols values (see
// nn.Arch.Build), computed without building it, so that a checkpoint's
// spec is checked against the tensors its file holds before any memory is
// allocated. It refuses a layer whose per-sample output exceeds
// maxActivation values; sizes it cannot work out are left to Build's
// errors.
func specStateSize(spec nn.Arch, in nn.Shape, cols int) (int, error) {
	values := 0
	for i, l := range spec {
		arg := func(j int, def float64) float64 {
			if j < len(l.Args) {
				return l.Args[j]
			}
			return def
		}
		named := func(key string, def float64) float64 {
			if v, ok := l.Named[key]; ok {
				return v
			}
			return def
		}
		size := func(v float64) (int, error) {
			if v != math.Trunc(v) || v < 0 || v > nn.MaxWidth {
				return 0, fmt.Errorf("layer %d, %s: size %v is not a whole number in 0..%d", i, l.Name, v, nn.MaxWidth)
			}
			return int(v), nil
		}
		var sizes []int // of the layers whose arguments are sizes
		switch l.Name {
		case "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d":
			for _, v := range append(append([]float64{}, l.Args...), named("stride", 1), named("padding", 0)) {
				n, err := size(v)
				if err != nil {
					return 0, err
				}
				sizes = append(sizes, n)
			}
		}
		switch l.Name {
		case "Linear":
			if len(l.Args) == 0 || in.IsImage() {
				return 0, fmt.Errorf("layer %d, Linear: want Linear(in,out) or Linear(out) on flat rows", i)
			}
			out := sizes[len(l.Args)-1]
			values += cols*out + out
			cols = out
		case "Conv2d":
			args := sizes[:len(l.Args)]
			if len(args) == 2 {
				args = append([]int{in.C}, args...)
			}
			if len(args) < 3 || !in.IsImage() || args[0] != in.C {
				return 0, fmt.Errorf("layer %d, Conv2d: arguments %v do not fit %s", i, args, in)
			}
			s := backend.ConvShape{N: 1, C: in.C, H: in.H, W: in.W, K: args[1], KH: args[2], KW: args[2], StrideH: 1}
			if len(args) > 3 {
				s.StrideH = args[3]
			}
			if len(args) > 4 {
				s.PadH = args[4]
			}
			st, _ := size(named("stride", float64(s.StrideH)))
			pad, _ := size(named("padding", float64(s.PadH)))
			s.StrideH, s.StrideW, s.PadH, s.PadW = st, st, pad, pad
			if err := s.Valid(); err != nil {
				return 0, fmt.Errorf("layer %d, Conv2d: %v", i, err)
			}
			if w := float64(s.K) * float64(s.C) * float64(s.KH) * float64(s.KW); w > maxActivation*nn.MaxWidth {
				return 0, fmt.Errorf("layer %d, Conv2d: %g weights", i, w)
			}
			values += s.WeightLen() + s.K
			in = nn.Shape{C: s.K, H: s.OutH(), W: s.OutW()}
		case "MaxPool2d", "AvgPool2d":
			k, _ := size(arg(0, 0))
			st, _ := size(named("stride", arg(1, float64(k))))
			pad, _ := size(named("padding", arg(2, 0)))
			s := backend.PoolShape{N: 1, C: in.C, H: in.H, W: in.W, KH: k, KW: k, StrideH: st, StrideW: st, PadH: pad, PadW: pad}
			if !in.IsImage() {
				return 0, fmt.Errorf("layer %d, %s: takes images, gets flat rows", i, l.Name)
			}
			if err := s.Valid(); err != nil {
				return 0, fmt.Errorf("layer %d, %s: %v", i, l.Name, err)
			}
			in = nn.Shape{C: in.C, H: s.OutH(), W: s.OutW()}
		case "AdaptiveAvgPool2d", "GlobalAvgPool2d":
			if !in.IsImage() {
				return 0, fmt.Errorf("layer %d, %s: takes images, gets flat rows", i, l.Name)
			}
			in = nn.Shape{C: in.C, H: 1, W: 1}
		case "Flatten":
			in = nn.Shape{}
		case "BatchNorm1d":
			values += 4*cols + 1 // weight, bias, running mean and variance, num_batches_tracked
		case "BatchNorm2d":
			values += 4*in.C + 1
		}
		if in.IsImage() {
			cols = in.Len()
		}
		if cols > maxActivation {
			return 0, fmt.Errorf("layer %d, %s: %d values per sample; at most %d", i, l.Name, cols, maxActivation)
		}
	}
	return values, nil
}
