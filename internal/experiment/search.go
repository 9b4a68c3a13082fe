package experiment

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// The search space: the hyperparameters a tutorial tunes by hand.
var (
	searchLRs     = []float64{1e-3, 3e-3, 1e-2, 3e-2}
	searchBatches = []int{16, 32, 64}
	searchLayers  = [][]int{{16}, {64}, {32, 32}, {64, 32}}
	searchActs    = []string{"relu", "tanh", "gelu"}
	searchWDs     = []float64{0, 1e-4, 1e-3}
)

// Trial is one configuration tried by Search and its validation score.
type Trial struct {
	Rank    int      `json:"rank"`
	Trial   int      `json:"trial"` // the order it was tried in, from 1
	LR      float64  `json:"lr"`
	Batch   int      `json:"batch"`
	Layers  []int    `json:"layers"`
	Act     string   `json:"act"`
	WD      float64  `json:"wd"`
	ValLoss float64  `json:"val_loss"` // the best epoch's validation loss: the score, lower is better
	ValAcc  *float64 `json:"val_acc,omitempty"`
	Error   string   `json:"error,omitempty"` // a trial that failed (diverged) ranks last

	result *Result
}

// SearchResult is the best trial's full run and the ranked table.
type SearchResult struct {
	*Result
	Mode   string  `json:"search"`
	Trials []Trial `json:"trials"`
	// Retrained, with c.Save or c.PlotsDir, is the trial number of the
	// best trial, trained again with them; Result is then that run's.
	Retrained int `json:"retrained,omitempty"`
}

// Search tries trials configurations of learning rate, batch, hidden
// layers, activation and weight decay on c's data, scores each on the
// validation split, and returns them ranked. A hyperparameter named in
// fixed ("lr", "batch", "layers", "act", "wd": flags the user gave) keeps
// c's value in every trial; the search varies the others. "grid" walks the product of the
// value lists in a fixed order (the first trials points); "random" draws
// each value from its list with the run's seed, so a search is reproducible;
// "bayes" starts with random's first draws and then picks each trial by the
// expected improvement under a Gaussian process fitted to the scores so far
// (see bayes.go), as reproducible.
// Every trial trains with the same seed, hence the same split and shuffles.
// With c.Save or c.PlotsDir, the best trial is then trained again with
// them (the same seed makes it the same run) and saved and plotted; the
// trials themselves write nothing.
func Search(c Config, mode string, trials int, fixed map[string]bool) (*SearchResult, error) {
	if !isMLP(c.Arch) {
		return nil, fmt.Errorf("-search varies the MLP's -layers and -act; it applies to -arch mlp only")
	}
	if trials < 1 {
		return nil, fmt.Errorf("-trials must be >= 1, got %d", trials)
	}
	p, err := presetFor(c.Data)
	if err != nil {
		return nil, err
	}
	if c.ValFrac == 0 || (c.ValFrac == -1 && p.val == 0) {
		return nil, fmt.Errorf("-search scores trials on a validation split: give -val > 0")
	}
	if c.Load != "" || c.Resume != "" {
		return nil, fmt.Errorf("-search trains many models: it does not combine with -load or -resume")
	}
	// Unwritable outputs are found before the search, not after it.
	if err := checkOutputs(c, 0); err != nil {
		return nil, err
	}
	// hold sets the hyperparameters the user fixed.
	hold := func(t Trial) Trial {
		if fixed["lr"] {
			t.LR = c.LR
		}
		if fixed["batch"] {
			t.Batch = c.Batch
		}
		if fixed["layers"] {
			t.Layers = c.Layers
		}
		if fixed["act"] {
			t.Act = c.Act
		}
		if fixed["wd"] {
			t.WD = c.WD
		}
		return t
	}
	grid := searchGrid(hold)
	var next func(done []Trial) Trial
	n := min(trials, len(grid))
	switch mode {
	case "grid":
		next = func(done []Trial) Trial { return grid[len(done)] }
	case "random":
		// Independent draws, repeats included.
		draw := randomDraw(c.Seed, hold)
		next, n = func([]Trial) Trial { return draw() }, trials
	case "bayes":
		next = newBayesSearch(grid, fixed, trials, randomDraw(c.Seed, hold)).next
	default:
		return nil, fmt.Errorf("-search: want grid, random or bayes, got %q", mode)
	}
	points := make([]Trial, 0, n)
	for i := range n {
		t := next(points)
		t.Trial = i + 1
		tc := c
		tc.LR, tc.Batch, tc.Layers, tc.Act, tc.WD = t.LR, t.Batch, t.Layers, t.Act, t.WD
		tc.Progress, tc.OnEpoch, tc.PlotsDir, tc.Save, tc.Log = nil, nil, "", "", nil
		res, err := Run(context.Background(), tc)
		t.ValLoss = math.Inf(1)
		if err != nil {
			// A trial that diverges ranks last; the search goes on.
			t.Error = err.Error()
			if c.Log != nil {
				c.Log("trial %2d/%d  %s  failed: %v", i+1, n, t, err)
			}
			points = append(points, t)
			continue
		}
		t.result = res
		for _, h := range res.History {
			if h.Val != nil && h.Val.Loss < t.ValLoss {
				t.ValLoss = h.Val.Loss
				if h.Val.Classification {
					acc := h.Val.Accuracy
					t.ValAcc = &acc
				}
			}
		}
		if c.Log != nil {
			c.Log("trial %2d/%d  %s  val_loss %.4f", i+1, n, t, t.ValLoss)
		}
		points = append(points, t)
	}
	sort.SliceStable(points, func(i, j int) bool { return points[i].ValLoss < points[j].ValLoss })
	for i := range points {
		points[i].Rank = i + 1
	}
	if points[0].result == nil {
		return nil, fmt.Errorf("-search: every trial failed; the first: %s", points[0].Error)
	}
	sr := &SearchResult{Result: points[0].result, Mode: mode, Trials: points}
	if c.Save != "" || c.PlotsDir != "" {
		best := points[0]
		tc := c
		tc.LR, tc.Batch, tc.Layers, tc.Act, tc.WD = best.LR, best.Batch, best.Layers, best.Act, best.WD
		tc.Log = nil
		if c.Log != nil {
			c.Log("training trial %d again to save and plot it", best.Trial)
		}
		res, err := Run(context.Background(), tc)
		if err != nil {
			return nil, fmt.Errorf("-search: training the best trial (%d) again: %w", best.Trial, err)
		}
		sr.Result, sr.Retrained = res, best.Trial
	}
	return sr, nil
}

func (t Trial) String() string {
	return fmt.Sprintf("lr %-6g batch %-3d layers %-8s act %-4s wd %g", t.LR, t.Batch, fmt.Sprint(t.Layers), t.Act, t.WD)
}

// searchGrid lists the grid, in the order -search grid walks it, with hold
// applied (the hyperparameters the user fixed) and the duplicates that makes
// left out: the first trials vary what matters most, the learning rate
// fastest, then the layers and the activation.
func searchGrid(hold func(Trial) Trial) []Trial {
	var grid []Trial
	seen := map[string]bool{}
	for _, wd := range searchWDs {
		for _, b := range searchBatches {
			for _, a := range searchActs {
				for _, l := range searchLayers {
					for _, lr := range searchLRs {
						t := hold(Trial{LR: lr, Batch: b, Layers: l, Act: a, WD: wd})
						if key := t.String(); !seen[key] {
							seen[key] = true
							grid = append(grid, t)
						}
					}
				}
			}
		}
	}
	return grid
}
