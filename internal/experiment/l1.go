package experiment

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/fastnn/fastnn/nn"
)

// validL1 tells whether an -l1 value is usable: finite and >= 0.
func validL1(l1 float64) bool { return l1 >= 0 && !math.IsInf(l1, 0) }

// checkResumeL1 refuses to resume a run with another -l1 than it was
// trained with: the objective would change in the middle of the run. A
// checkpoint written before -l1 existed has none, which means 0.
func checkResumeL1(path string, l1, lr float64) error {
	f, err := nn.ReadChecked(path)
	if err != nil {
		return fmt.Errorf("-resume: %w", err)
	}
	var training struct {
		L1 float64  `json:"l1"`
		LR *float64 `json:"lr"`
	}
	if raw, ok := f.Metadata[metaTraining]; ok {
		if err := json.Unmarshal([]byte(raw), &training); err != nil {
			return fmt.Errorf("-resume: %s: bad %s metadata: %w", path, metaTraining, err)
		}
	}
	if !validL1(training.L1) {
		return fmt.Errorf("-resume: %s: bad l1 %v in %s", path, training.L1, metaTraining)
	}
	if training.L1 != l1 {
		return fmt.Errorf("-resume: %s was trained with -l1 %g, not %g; give the same -l1", path, training.L1, l1)
	}
	// The learning rate carries on from the checkpoint (with its
	// schedule's cuts); another -lr would be silently ignored.
	if training.LR != nil && *training.LR != lr {
		return fmt.Errorf("-resume: %s was trained with -lr %g, not %g; give the same -lr (the run continues at the rate it had reached)", path, *training.LR, lr)
	}
	return nil
}
