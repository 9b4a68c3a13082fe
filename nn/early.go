package nn

import (
	"math"

	"github.com/fastnn/fastnn/backend"
)

// EarlyStopping keeps a copy of the model's state (parameters and layer
// state such as BatchNorm's running statistics) at the best epoch so far.
type EarlyStopping struct {
	be        backend.Backend
	state     []NamedTensor
	saved     []backend.Buffer // float tensors
	savedInt  []int64          // int64 scalars
	best      float64
	bestEpoch int
}

// NewEarlyStopping makes the memory for early stopping on model m.
func NewEarlyStopping(be backend.Backend, m Layer) *EarlyStopping {
	e := &EarlyStopping{be: be, state: layerState(m), best: math.Inf(1)}
	for _, t := range e.state {
		var b backend.Buffer
		if t.Int == nil {
			b = be.Alloc(t.len())
		}
		e.saved = append(e.saved, b)
	}
	e.savedInt = make([]int64, len(e.state))
	return e
}

// stop records the epoch's loss and reports whether patience has run out.
// The first epoch is always kept, so that a run whose loss is never finite
// still restores real weights; a NaN loss never counts as an improvement.
func (e *EarlyStopping) stop(epoch int, loss float64, patience int) bool {
	better := loss < e.best || (math.IsNaN(e.best) && !math.IsNaN(loss))
	if better || e.bestEpoch == 0 {
		e.best, e.bestEpoch = loss, epoch
		for i, t := range e.state {
			if t.Int != nil {
				e.savedInt[i] = *t.Int
			} else {
				e.be.Copy(e.saved[i], t.Buf, t.len())
			}
		}
		return false
	}
	return epoch-e.bestEpoch >= patience
}

// restore puts back the best epoch's state and returns that epoch (0, and
// nothing restored, before the first epoch ended).
func (e *EarlyStopping) restore() int {
	if e.bestEpoch == 0 {
		return 0
	}
	for i, t := range e.state {
		if t.Int != nil {
			*t.Int = e.savedInt[i]
		} else {
			e.be.Copy(t.Buf, e.saved[i], t.len())
		}
	}
	return e.bestEpoch
}

// Best is the best monitored loss so far and its epoch (0 before any).
func (e *EarlyStopping) Best() (loss float64, epoch int) { return e.best, e.bestEpoch }

// SetBest restores Best when resuming; the best state's tensors are restored
// through Tensors.
func (e *EarlyStopping) SetBest(loss float64, epoch int) { e.best, e.bestEpoch = loss, epoch }

// Tensors lists the best epoch's copy of the model state under
// "early.<state dict name>", for checkpoints.
func (e *EarlyStopping) Tensors() []NamedTensor {
	out := make([]NamedTensor, len(e.state))
	for i, t := range e.state {
		out[i] = NamedTensor{Name: "early." + t.Name, Shape: t.Shape, Buf: e.saved[i]}
		if t.Int != nil {
			out[i].Buf, out[i].Int = nil, &e.savedInt[i]
		}
	}
	return out
}

// Free releases the saved copy.
func (e *EarlyStopping) Free() {
	for _, b := range e.saved {
		if b != nil {
			e.be.Free(b)
		}
	}
}
