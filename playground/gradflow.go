package playground

import (
	"context"
	"errors"
	"net/http"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/nn"
)

// gradflow trains a fresh network of the requested depth for one epoch with
// the engine's gradient-flow diagnostics and returns them per layer.
func (s *Server) gradflow(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Act         string  `json:"act"`
		Depth       int     `json:"depth"`
		Width       int     `json:"width"`
		WeightScale float64 `json:"weightScale"`
		Residual    bool    `json:"residual"`
		Dataset     string  `json:"dataset"`
	}
	if err := s.decode(w, r, &req); err != nil {
		answer(w, err)
		return
	}
	if req.Width == 0 {
		req.Width = 8
	}
	if req.Depth < 1 || req.Depth > 12 || req.Width < 1 || req.Width > 16 {
		fail(w, http.StatusBadRequest, "depth %d, width %d: want depth 1..12 and width 1..16", req.Depth, req.Width)
		return
	}
	hidden := make([]int, req.Depth)
	for i := range hidden {
		hidden[i] = req.Width
	}
	cfg := Config{Dataset: req.Dataset, Act: req.Act, WeightScale: req.WeightScale, Residual: req.Residual, Hidden: []int{}}
	if err := cfg.normalize(); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	cfg.Hidden = hidden // deeper and wider than the playground's limits, checked above
	be := s.opts.Backend
	rng := nn.NewRNG(cfg.Seed)
	d := datasets[cfg.Dataset](cfg.Samples, cfg.Noise, rng)
	m, err := buildNet(be, cfg.Hidden, cfg.Act, cfg.Residual, cfg.WeightScale, cfg.Seed)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	defer m.Free()
	tr := &nn.Trainer{Backend: be, Model: m, Loss: nn.BCEWithLogits{}, Opt: nn.NewSGD(be, m.Params(), backend.SGDConfig{LR: 0.01})}
	defer tr.Free()
	hist, err := tr.Fit(context.Background(), d, nil, nn.TrainConfig{Epochs: 1, BatchSize: 32, RNG: rng, GradFlow: true})
	if err != nil {
		// A diverging network is an answer too: report what the engine saw.
		var nf *nn.NonFiniteError
		if errors.As(err, &nf) {
			fail(w, http.StatusUnprocessableEntity, "the gradients exploded past float32's range (NaN or infinity at step %d, first in %s): lower the weight scale", nf.Step, nf.Layer)
			return
		}
		fail(w, http.StatusUnprocessableEntity, "%v", err)
		return
	}
	type layer struct {
		Layer      string  `json:"layer"`
		GradNorm   float64 `json:"gradNorm"`
		WeightNorm float64 `json:"weightNorm"`
		UpdateRate float64 `json:"updateRate"`
		Flag       string  `json:"flag"`
	}
	var out []layer
	for _, f := range hist[0].GradFlow {
		out = append(out, layer{f.Layer, finite(f.GradNorm), finite(f.WeightNorm), finite(f.UpdateRate), f.Flag})
	}
	writeJSON(w, http.StatusOK, map[string]any{"layers": out, "vanishingBelow": nn.VanishingBelow, "explodingAbove": nn.ExplodingAbove})
}
