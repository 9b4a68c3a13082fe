package ref

import (
	"fmt"
	"math"

	"github.com/fastnn/fastnn/backend"
)

// AddBias returns x[i,j] + bias[j] for the rows x cols matrix x.
func AddBias(x, bias []float32, rows, cols int) []float64 {
	dims("AddBias", rows, cols)
	need("AddBias", "x", x, rows*cols)
	need("AddBias", "bias", bias, cols)
	out := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[i*cols+j] = float64(x[i*cols+j]) + float64(bias[j])
		}
	}
	return out
}

// BiasActivate returns both results of the fused operation: z, the
// pre-activation z[i,j] + bias[j], and y = f(z).
func BiasActivate(act backend.Activation, slope float64, z, bias []float32, rows, cols int) (zOut, y []float64) {
	zOut = AddBias(z, bias, rows, cols)
	y = make([]float64, len(zOut))
	for i, v := range zOut {
		y[i] = Apply(act, slope, v)
	}
	return zOut, y
}

// geluC is sqrt(2/pi), the constant of GELU's tanh form.
var geluC = math.Sqrt(2 / math.Pi)

// Sigmoid returns 1/(1+exp(-x)), computed without overflow for any x.
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Apply returns f(x) for one value. slope is used by LeakyReLU alone.
func Apply(act backend.Activation, slope, x float64) float64 {
	switch act {
	case backend.Identity:
		return x
	case backend.ReLU:
		if x > 0 {
			return x
		}
		return 0
	case backend.LeakyReLU:
		if x > 0 {
			return x
		}
		return slope * x
	case backend.Sigmoid:
		return Sigmoid(x)
	case backend.Tanh:
		return math.Tanh(x)
	case backend.GELU:
		return 0.5 * x * (1 + math.Tanh(geluC*(x+0.044715*x*x*x)))
	}
	panic(fmt.Sprintf("ref: unknown activation %v", act))
}

// Derivative returns f'(x) for one value. At the kink of ReLU and LeakyReLU
// (x == 0) it follows PyTorch: the derivative is that of the x <= 0 side,
// 0 for ReLU and slope for LeakyReLU.
func Derivative(act backend.Activation, slope, x float64) float64 {
	switch act {
	case backend.Identity:
		return 1
	case backend.ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case backend.LeakyReLU:
		if x > 0 {
			return 1
		}
		return slope
	case backend.Sigmoid:
		s := Sigmoid(x)
		return s * (1 - s)
	case backend.Tanh:
		t := math.Tanh(x)
		return 1 - t*t
	case backend.GELU:
		t := math.Tanh(geluC * (x + 0.044715*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*geluC*(1+3*0.044715*x*x)
	}
	panic(fmt.Sprintf("ref: unknown activation %v", act))
}

// Activate returns f(x[i]) for every element of x.
func Activate(act backend.Activation, slope float64, x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = Apply(act, slope, float64(v))
	}
	return out
}

// ActivateBackward returns dy[i] * f'(x[i]) for every element of x.
func ActivateBackward(act backend.Activation, slope float64, x, dy []float32) []float64 {
	need("ActivateBackward", "dy", dy, len(x))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(dy[i]) * Derivative(act, slope, float64(v))
	}
	return out
}

// Softmax returns softmax(x[i,:]) for each row of the rows x cols matrix x,
// computed as exp(x - max) / sum exp(x - max), which cannot overflow.
func Softmax(x []float32, rows, cols int) []float64 {
	dims("Softmax", rows, cols)
	need("Softmax", "x", x, rows*cols)
	out := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		sum := 0.0
		for j, v := range row {
			e := math.Exp(float64(v) - mx)
			out[i*cols+j] = e
			sum += e
		}
		for j := range row {
			out[i*cols+j] /= sum
		}
	}
	return out
}

// Add returns a[i] + b[i] for i < len(a).
func Add(a, b []float32) []float64 {
	need("Add", "b", b, len(a))
	out := make([]float64, len(a))
	for i := range a {
		out[i] = float64(a[i]) + float64(b[i])
	}
	return out
}

// Mul returns a[i] * b[i] for i < len(a).
func Mul(a, b []float32) []float64 {
	need("Mul", "b", b, len(a))
	out := make([]float64, len(a))
	for i := range a {
		out[i] = float64(a[i]) * float64(b[i])
	}
	return out
}

// Scale returns alpha * x[i].
func Scale(x []float32, alpha float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = alpha * float64(v)
	}
	return out
}

// Axpy returns y[i] + alpha*x[i] for i < len(y).
func Axpy(alpha float64, x, y []float32) []float64 {
	need("Axpy", "x", x, len(y))
	out := make([]float64, len(y))
	for i := range y {
		out[i] = float64(y[i]) + alpha*float64(x[i])
	}
	return out
}

// Fill returns n copies of v.
func Fill(n int, v float64) []float64 {
	dims("Fill", n)
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
