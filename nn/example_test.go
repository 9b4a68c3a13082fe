package nn_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// Train the 2-8-1 network of the tutorials on XOR.
func Example() {
	be, err := cpu.New(backend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rng := nn.NewRNG(1)
	xor := data.XOR(4, 0, rng) // the four corners, labels 0 and 1
	model, err := nn.NewMLP(be, nn.MLPConfig{In: 2, Hidden: []int{8}, Out: 1, Act: backend.Tanh}, rng)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Free()
	acc := fitXOR(be, model, xor, rng)
	fmt.Printf("XOR accuracy %.2f\n", acc)
	// Output: XOR accuracy 1.00
}

// fitXOR trains model on xor with Adam and returns its accuracy there.
func fitXOR(be backend.Backend, model *nn.Sequential, xor *data.Dataset, rng *rand.Rand) float64 {
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.BCEWithLogits{},
		Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 0.05})}
	defer tr.Free()
	if _, err := tr.Fit(context.Background(), xor, nil, nn.TrainConfig{Epochs: 300, BatchSize: 2, RNG: rng}); err != nil {
		log.Fatal(err)
	}
	m, err := tr.Evaluate(xor, 0)
	if err != nil {
		log.Fatal(err)
	}
	return m.Accuracy
}

// scale is a layer of one's own, y = s * x: it implements nn.Layer.
type scale struct {
	s     float32
	be    backend.Backend
	y, dx backend.Buffer // the outputs, grown to the largest batch
	n     int            // their length
}

func (l *scale) Forward(x nn.Tensor, training bool) nn.Tensor {
	return l.times(x, &l.y)
}

// Backward returns dL/dx = s * dL/dy; the layer has no parameters.
func (l *scale) Backward(dy nn.Tensor) nn.Tensor {
	return l.times(dy, &l.dx)
}

// times writes s * x into *out, growing it if x is larger than before.
func (l *scale) times(x nn.Tensor, out *backend.Buffer) nn.Tensor {
	if *out == nil || x.Len() > l.n {
		l.Free()
		l.n = max(l.n, x.Len())
		l.y, l.dx = l.be.Alloc(l.n), l.be.Alloc(l.n)
	}
	l.be.Copy(*out, x.Buf, x.Len())
	l.be.Scale(*out, l.s, x.Len())
	return nn.Tensor{Buf: *out, Rows: x.Rows, Cols: x.Cols}
}

func (l *scale) Params() []*nn.Param    { return nil }
func (l *scale) OutFeatures(in int) int { return in }
func (l *scale) String() string         { return fmt.Sprintf("Scale(%g)", l.s) }

func (l *scale) Free() {
	if l.y != nil {
		l.be.Free(l.y)
		l.be.Free(l.dx)
		l.y, l.dx = nil, nil
	}
}

// A layer of one's own, first in the model: the Trainer takes the input
// width from the data.
func Example_customLayer() {
	be, err := cpu.New(backend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	rng := nn.NewRNG(1)
	xor := data.XOR(4, 0, rng)
	model := nn.NewSequential(be,
		&scale{s: 2, be: be},
		nn.NewLinear(be, 2, 8, nn.DefaultInit(backend.Tanh, 0, rng)),
		nn.NewActivation(be, backend.Tanh, 0),
		nn.NewLinear(be, 8, 1, nn.DefaultInit(backend.Identity, 0, rng)))
	defer model.Free()
	acc := fitXOR(be, model, xor, rng)
	fmt.Println(model)
	fmt.Printf("XOR accuracy %.2f\n", acc)
	// Output:
	// Sequential(
	//   (0): Scale(2)
	//   (1): Linear(in=2, out=8)
	//   (2): Tanh()
	//   (3): Linear(in=8, out=1)
	// )
	// XOR accuracy 1.00
}

// A small convolutional network on the 8 x 8 digits: the data set records
// the shape of its images, and the layers take batches of N x C x H x W,
// as PyTorch's do.
func Example_cnn() {
	be, err := cpu.New(backend.Options{})
	if err != nil {
		log.Fatal(err)
	}
	digits, err := data.Builtin("digits")
	if err != nil {
		log.Fatal(err)
	}
	for i := range digits.X {
		digits.X[i] /= 16 // pixels 0..16 to [0, 1]
	}
	rng := nn.NewRNG(1)
	train, _, test, err := data.Split(digits, rng, 0, 0.2)
	if err != nil {
		log.Fatal(err)
	}
	model := nn.NewSequential(be,
		nn.NewConv2d(be, nn.Conv2dConfig{In: 1, Out: 8, Kernel: 3, Padding: 1}, nn.DefaultInit(backend.ReLU, 0, rng)),
		nn.NewActivation(be, backend.ReLU, 0),
		nn.NewMaxPool2d(be, 2, 0, 0),
		nn.NewFlatten(),
		nn.NewLinear(be, 8*4*4, 10, nn.DefaultInit(backend.Identity, 0, rng)))
	defer model.Free()
	shape, cols := digits.Shape, digits.Features
	for _, l := range model.Layers {
		shape, cols, err = nn.OutShape(l, shape, cols)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-45v -> %v, %d values\n", l, shape, cols)
	}
	tr := &nn.Trainer{Backend: be, Model: model, Loss: nn.CrossEntropy{},
		Opt: nn.NewAdam(be, model.Params(), backend.AdamConfig{LR: 3e-3})}
	defer tr.Free()
	if _, err := tr.Fit(context.Background(), train, nil, nn.TrainConfig{Epochs: 5, BatchSize: 32, RNG: rng}); err != nil {
		log.Fatal(err)
	}
	m, err := tr.Evaluate(test, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("test accuracy above 0.9:", m.Accuracy > 0.9)
	// Output:
	// Conv2d(1, 8, kernel_size=(3, 3), padding=(1, 1)) -> 8x8x8, 512 values
	// ReLU()                                        -> 8x8x8, 512 values
	// MaxPool2d(kernel_size=2, stride=2, padding=0) -> 8x4x4, 128 values
	// Flatten(start_dim=1, end_dim=-1)              -> flat, 128 values
	// Linear(in=128, out=10)                        -> flat, 10 values
	// test accuracy above 0.9: true
}
