package plot

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/fastnn/fastnn/nn"
)

// csvHeader is the first line of WriteHistoryCSV's file.
var csvHeader = []string{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_mse", "val_mae",
	"lr", "seconds", "samples_per_sec"}

// WriteHistoryCSV writes the history as CSV, one row per epoch under the
// header epoch,train_loss,train_acc,val_loss,val_acc,val_mse,val_mae,lr,
// seconds,samples_per_sec. Figures the run does not have are left empty:
// the accuracies of a regression, MSE and MAE of a classifier, the
// validation columns of an epoch without validation figures.
func WriteHistoryCSV(h nn.History, path string) error {
	// Validation columns: accuracy for a classifier, MSE and MAE for a
	// regression.
	var valAcc, valReg bool
	for _, e := range h {
		if v := e.Val; v != nil {
			valAcc = valAcc || hasAccuracy(v)
			valReg = valReg || (!v.Classification && (v.MSE != 0 || v.MAE != 0))
		}
	}
	return writeAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
		row := make([]string, len(csvHeader))
		for _, e := range h {
			clear(row)
			row[0] = strconv.Itoa(e.Epoch)
			row[1] = num(e.TrainLoss)
			if e.TrainAcc != nil {
				row[2] = num(*e.TrainAcc)
			}
			if v := e.Val; v != nil {
				row[3] = num(v.Loss)
				if valAcc && (v.Classification || !valReg) {
					row[4] = num(v.Accuracy)
				}
				if valReg && !v.Classification {
					row[5], row[6] = num(v.MSE), num(v.MAE)
				}
			}
			row[7] = strconv.FormatFloat(float64(e.LR), 'g', -1, 32)
			row[8] = num(e.Seconds)
			row[9] = num(e.SamplesPerSec)
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// WriteHistoryJSON writes the history as an indented JSON array of
// nn.EpochStats, as encoding/json writes them (the field names of their
// json tags, grad_flow included when recorded). JSON has no NaN or infinity: a history holding one is an
// error.
func WriteHistoryJSON(h nn.History, path string) error {
	if h == nil {
		h = nn.History{}
	}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	b = append(b, '\n')
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
