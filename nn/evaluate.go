package nn

import (
	"encoding/json"
	"fmt"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
)

// Metrics are a model's figures on one data set.
type Metrics struct {
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"acc"` // classification
	MSE      float64 `json:"mse"` // regression, in the model's target units
	MAE      float64 `json:"mae"`
	// Classification tells which of the figures above apply; JSON carries
	// only those.
	Classification bool `json:"-"`
}

// MarshalJSON writes loss and acc for classification, loss, mse and mae
// for regression.
func (m Metrics) MarshalJSON() ([]byte, error) {
	if m.Classification {
		return json.Marshal(struct {
			Loss float64 `json:"loss"`
			Acc  float64 `json:"acc"`
		}{m.Loss, m.Accuracy})
	}
	return json.Marshal(struct {
		Loss float64 `json:"loss"`
		MSE  float64 `json:"mse"`
		MAE  float64 `json:"mae"`
	}{m.Loss, m.MSE, m.MAE})
}

// Evaluate runs the model in inference mode over d, batch samples at a time
// (0: 1024), and returns its loss and accuracy (classification) or MSE and
// MAE (regression).
func (t *Trainer) Evaluate(d *data.Dataset, batch int) (Metrics, error) {
	if err := t.check(d); err != nil {
		return Metrics{}, err
	}
	if d.N == 0 {
		return Metrics{}, fmt.Errorf("nn: evaluate: data set %q is empty", d.Name)
	}
	if batch <= 0 {
		batch = 1024
	}
	be, io := t.Backend, &t.io
	for _, s := range []backend.Buffer{io.lossSum, io.correct, io.mseSum, io.maeSum} {
		be.Fill(s, 0, 1)
	}
	idx := make([]int, 0, batch)
	for lo := 0; lo < d.N; lo += batch {
		idx = idx[:0]
		for i := lo; i < min(lo+batch, d.N); i++ {
			idx = append(idx, i)
		}
		x, y := t.upload(d, idx)
		out := t.Model.Forward(x, false)
		grad := io.grad.get(be, out.Len()) // the losses' gradients are not used here
		t.Loss.Compute(be, out, y, grad, io.lossSum)
		if d.Task == data.Classification {
			be.CountCorrect(out.Buf, y, io.correct, out.Rows, out.Cols)
		} else {
			be.MSE(out.Buf, y, grad, io.mseSum, out.Rows, out.Cols)
			be.MAE(out.Buf, y, grad, io.maeSum, out.Rows, out.Cols)
		}
	}
	n := float64(d.N)
	m := Metrics{Loss: t.read(io.lossSum) / n, Classification: d.Task == data.Classification}
	if d.Task == data.Classification {
		m.Accuracy = t.read(io.correct) / n
	} else {
		m.MSE, m.MAE = t.read(io.mseSum)/n, t.read(io.maeSum)/n
	}
	return m, nil
}

// Predict runs the model in inference mode on n samples (x is n x features,
// row-major, on the host) and returns the n x outputs raw outputs (logits
// for classifiers) on the host.
func (t *Trainer) Predict(x []float32, n int) ([]float32, error) {
	in, ok := inFeatures(t.Model)
	if !ok && n > 0 { // the model takes any width: the data's
		in = len(x) / n
	}
	if n < 0 || len(x) != n*in {
		return nil, fmt.Errorf("nn: predict: %d values for %d samples of %d features", len(x), n, in)
	}
	if err := checkWidth(t.Model, t.InputShape, in); err != nil {
		return nil, fmt.Errorf("nn: predict: the input %w", err)
	}
	_, outs, _ := OutShape(t.Model, t.InputShape, in)
	be := t.Backend
	out := make([]float32, n*outs)
	const batch = 1024
	var staging workspace
	defer staging.free(be)
	for lo := 0; lo < n; lo += batch {
		rows := min(batch, n-lo)
		xb := staging.get(be, rows*in)
		be.Upload(xb, x[lo*in:(lo+rows)*in])
		y := t.Model.Forward(Tensor{Buf: xb, Rows: rows, Cols: in, Shape: t.InputShape}, false)
		be.Download(out[lo*outs:(lo+rows)*outs], y.Buf)
	}
	return out, nil
}
