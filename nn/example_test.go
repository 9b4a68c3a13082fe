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
