package nn

import (
	"encoding/json"
	"fmt"
	"math"
)

// Scheduler changes the learning rate between epochs, as PyTorch's
// lr_scheduler classes do when scheduler.step() is called once per epoch.
type Scheduler interface {
	// Next is called after epoch (1-based) with the epoch's monitored loss
	// (validation loss, or training loss without a validation set) and the
	// current rate; it returns the rate for the next epoch.
	Next(epoch int, loss float64, lr float32) float32
	String() string
}

// StepLR multiplies the rate by Gamma every StepSize epochs.
type StepLR struct {
	StepSize int
	Gamma    float32
}

func (s *StepLR) Next(epoch int, _ float64, lr float32) float32 {
	if s.StepSize > 0 && epoch%s.StepSize == 0 {
		return lr * s.Gamma
	}
	return lr
}

func (s *StepLR) String() string {
	return fmt.Sprintf("StepLR(step_size=%d, gamma=%g)", s.StepSize, s.Gamma)
}

// ReduceLROnPlateau multiplies the rate by Factor (not below MinLR) when the
// loss has not improved by more than a relative Threshold for Patience
// epochs, as PyTorch's ReduceLROnPlateau in "min" mode with "rel" threshold.
type ReduceLROnPlateau struct {
	Factor    float32
	Patience  int
	MinLR     float32
	Threshold float64 // default 1e-4

	best    float64
	bad     int
	started bool
}

func (s *ReduceLROnPlateau) Next(epoch int, loss float64, lr float32) float32 {
	th := s.Threshold
	if th == 0 {
		th = 1e-4
	}
	if !s.started || loss < s.best*(1-th) {
		s.best, s.bad, s.started = loss, 0, true
		return lr
	}
	s.bad++
	if s.bad <= s.Patience {
		return lr
	}
	s.bad = 0
	return max(lr*s.Factor, s.MinLR)
}

// plateauState is the plateau's memory as a checkpoint stores it.
type plateauState struct {
	Best    float64 `json:"best"`
	Bad     int     `json:"bad"`
	Started bool    `json:"started"`
}

// MarshalState and UnmarshalState save and restore the plateau's memory
// (best loss, epochs without improvement) for resuming.
func (s *ReduceLROnPlateau) MarshalState() ([]byte, error) {
	return json.Marshal(plateauState{s.best, s.bad, s.started})
}

func (s *ReduceLROnPlateau) UnmarshalState(b []byte) error {
	var v plateauState
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.best, s.bad, s.started = v.Best, v.Bad, v.Started
	return nil
}

func (s *ReduceLROnPlateau) String() string {
	return fmt.Sprintf("ReduceLROnPlateau(factor=%g, patience=%d, min_lr=%g)", s.Factor, s.Patience, s.MinLR)
}

// CosineWarmup raises the rate linearly from BaseLR/Warmup to BaseLR over
// the first Warmup epochs, then anneals it along a half cosine towards MinLR,
// which it would reach after epoch Epochs (as PyTorch's CosineAnnealingLR
// with T_max = Epochs - Warmup).
type CosineWarmup struct {
	BaseLR, MinLR  float32
	Warmup, Epochs int
}

func (s *CosineWarmup) Next(epoch int, _ float64, _ float32) float32 {
	return s.At(epoch + 1)
}

// At is the rate used during epoch (1-based).
func (s *CosineWarmup) At(epoch int) float32 {
	if epoch <= s.Warmup {
		return s.BaseLR * float32(epoch) / float32(s.Warmup)
	}
	span := s.Epochs - s.Warmup
	if span <= 0 {
		return s.BaseLR
	}
	// Epoch Warmup+1 runs at BaseLR; the last epoch one step short of MinLR
	// (which it would reach after Epochs), so that no epoch trains at 0.
	t := math.Min(1, float64(epoch-s.Warmup-1)/float64(span))
	return s.MinLR + float32(0.5*(1+math.Cos(math.Pi*t)))*(s.BaseLR-s.MinLR)
}

func (s *CosineWarmup) String() string {
	return fmt.Sprintf("CosineWarmup(base_lr=%g, min_lr=%g, warmup=%d, epochs=%d)", s.BaseLR, s.MinLR, s.Warmup, s.Epochs)
}
