package nn

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/fastnn/fastnn/backend"
)

// InitScheme names a weight initialisation.
type InitScheme int

const (
	XavierUniform  InitScheme = iota // Glorot: U(-a, a), a = gain*sqrt(6/(in+out))
	XavierNormal                     // Glorot: N(0, gain^2 * 2/(in+out))
	KaimingUniform                   // He: U(-a, a), a = gain*sqrt(3/in)
	KaimingNormal                    // He: N(0, gain^2/in)
)

var initNames = [...]string{"xavier-uniform", "xavier-normal", "kaiming-uniform", "kaiming-normal"}

func (s InitScheme) String() string { return initNames[s] }

// Init draws the weights of one layer. Its zero value, Init{}, is
// DefaultInit for a layer without activation (Glorot uniform, gain 1): a
// Gain of 0 means 1, and a nil RNG means the package's own generator, seeded
// with 0 when the program starts and shared by every such Init, so that two
// layers made with Init{} get different weights and a program gets the same
// ones on every run.
type Init struct {
	Scheme InitScheme
	Gain   float64
	RNG    *rand.Rand
}

// initRNG is the generator of the Inits without one.
var initRNG = struct {
	sync.Mutex
	*rand.Rand
}{Rand: NewRNG(0)}

// DefaultInit picks the initialisation that suits the activation following
// the layer, as the tutorials teach: He (Kaiming) for the ReLU family, whose
// gain sqrt(2/(1+slope^2)) keeps the forward variance through half-zeroed
// units; Glorot (Xavier) with gain 1 for sigmoid, tanh and linear outputs,
// as Keras does.
func DefaultInit(next backend.Activation, slope float32, rng *rand.Rand) Init {
	switch next {
	case backend.ReLU, backend.GELU:
		return Init{KaimingUniform, math.Sqrt2, rng}
	case backend.LeakyReLU:
		return Init{KaimingUniform, math.Sqrt(2 / (1 + float64(slope)*float64(slope))), rng}
	}
	return Init{XavierUniform, 1, rng}
}

// Weights returns out*in weights, row-major [out, in].
func (it Init) Weights(in, out int) []float32 { return it.draw(in, out, in*out) }

// draw returns n weights for a layer with the fan-in and fan-out given
// (PyTorch's: a convolution's are its channels times the kernel's area).
func (it Init) draw(fanIn, fanOut, n int) []float32 {
	if it.RNG == nil {
		initRNG.Lock()
		defer initRNG.Unlock()
		it.RNG = initRNG.Rand
	}
	if it.Gain == 0 {
		it.Gain = 1
	}
	var std float64
	switch it.Scheme {
	case XavierUniform, XavierNormal:
		std = it.Gain * math.Sqrt(2/float64(fanIn+fanOut))
	default:
		std = it.Gain / math.Sqrt(float64(fanIn))
	}
	w := make([]float32, n)
	for i := range w {
		switch it.Scheme {
		case XavierUniform, KaimingUniform:
			bound := math.Sqrt(3) * std
			w[i] = float32((2*it.RNG.Float64() - 1) * bound)
		default:
			w[i] = float32(it.RNG.NormFloat64() * std)
		}
	}
	return w
}
