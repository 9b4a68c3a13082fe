package nn

import (
	"fmt"

	"github.com/fastnn/fastnn/backend"
)

// Optimizer updates parameters from their accumulated gradients. An
// optimizer that holds backend memory (momentum, moments) also has a
// Free() method, which Trainer.Free calls.
type Optimizer interface {
	Step()
	LR() float32
	SetLR(lr float32)
	String() string
}

// freeAll releases bufs and empties the slice.
func freeAll(be backend.Backend, bufs *[]backend.Buffer) {
	for _, b := range *bufs {
		be.Free(b)
	}
	*bufs = nil
}

// SGD is stochastic gradient descent with optional momentum (heavy-ball or
// Nesterov) and L2 weight decay, as PyTorch's torch.optim.SGD.
type SGD struct {
	cfg      backend.SGDConfig
	be       backend.Backend
	params   []*Param
	velocity []backend.Buffer
	steps    int
}

// NewSGD makes an SGD optimizer over params.
func NewSGD(be backend.Backend, params []*Param, cfg backend.SGDConfig) *SGD {
	o := &SGD{cfg: cfg, be: be, params: params}
	if cfg.Momentum != 0 {
		for _, p := range params {
			o.velocity = append(o.velocity, be.Alloc(p.Len()))
		}
	}
	return o
}

func (o *SGD) Step() {
	o.steps++
	for i, p := range o.params {
		var v backend.Buffer
		if o.velocity != nil {
			v = o.velocity[i]
		}
		o.be.SGDStep(p.Value, p.Grad, v, p.Len(), o.cfg)
	}
}

// Free releases the momentum buffers; the optimizer is not used after.
func (o *SGD) Free() { freeAll(o.be, &o.velocity) }

func (o *SGD) LR() float32      { return o.cfg.LR }
func (o *SGD) SetLR(lr float32) { o.cfg.LR = lr }
func (o *SGD) String() string {
	return fmt.Sprintf("SGD(lr=%g, momentum=%g, nesterov=%v, weight_decay=%g)", o.cfg.LR, o.cfg.Momentum, o.cfg.Nesterov, o.cfg.WeightDecay)
}

// Adam is Adam (L2 weight decay coupled into the gradient) or, with
// cfg.Decoupled, AdamW, as torch.optim.Adam and AdamW. Zero values of
// Beta1, Beta2 and Eps take PyTorch's defaults 0.9, 0.999 and 1e-8.
type Adam struct {
	cfg    backend.AdamConfig
	be     backend.Backend
	params []*Param
	m, v   []backend.Buffer
}

// NewAdam makes an Adam or AdamW optimizer over params.
func NewAdam(be backend.Backend, params []*Param, cfg backend.AdamConfig) *Adam {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	cfg.Step = 0
	o := &Adam{cfg: cfg, be: be, params: params}
	for _, p := range params {
		o.m = append(o.m, be.Alloc(p.Len()))
		o.v = append(o.v, be.Alloc(p.Len()))
	}
	return o
}

func (o *Adam) Step() {
	o.cfg.Step++
	for i, p := range o.params {
		o.be.AdamStep(p.Value, p.Grad, o.m[i], o.v[i], p.Len(), o.cfg)
	}
}

// Free releases the moment buffers; the optimizer is not used after.
func (o *Adam) Free() {
	freeAll(o.be, &o.m)
	freeAll(o.be, &o.v)
}

func (o *Adam) LR() float32      { return o.cfg.LR }
func (o *Adam) SetLR(lr float32) { o.cfg.LR = lr }
func (o *Adam) String() string {
	name := "Adam"
	if o.cfg.Decoupled {
		name = "AdamW"
	}
	return fmt.Sprintf("%s(lr=%g, betas=(%g, %g), eps=%g, weight_decay=%g)", name, o.cfg.LR, o.cfg.Beta1, o.cfg.Beta2, o.cfg.Eps, o.cfg.WeightDecay)
}
