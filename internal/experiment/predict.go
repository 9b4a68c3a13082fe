package experiment

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
	"github.com/fastnn/fastnn/nn"
)

// PredictConfig describes `train predict`.
type PredictConfig struct {
	Load    string    // checkpoint written by train -save
	Data    string    // CSV with the model's feature columns, "-" for Stdin, a built-in set name, or mnist / fashion-mnist (their test images)
	Sep     string    // CSV field separator ("" or "auto": detected from the header)
	Stdin   io.Reader // read when Data is "-"
	Backend string
	Threads int
}

// Predict loads a checkpoint and writes one CSV line per sample of the
// data: the predicted class (by name where the model records class names)
// and its probability for classifiers, the predicted value (in the data's
// units) for regression. CSV rows are encoded as the training table was:
// text columns one-hot with the training categories (an unseen one is an
// error), missing cells filled as -impute filled them (without -impute
// they are an error).
func Predict(c PredictConfig, w io.Writer) error {
	f, arch, st, err := readArch(c.Load)
	if err != nil {
		return err
	}
	var x []float32
	var n int
	switch {
	case c.Data == "":
		return fmt.Errorf("predict: -data: give a CSV file with the columns %v, or - for standard input", arch.Columns)
	case c.Data == "-" || isCSVPath(c.Data):
		if len(arch.Columns) != arch.Features {
			return fmt.Errorf("predict: %s does not record its feature names; predict on a built-in set instead", c.Load)
		}
		enc := data.Encoding{Columns: arch.Columns}
		if arch.Encoding != nil {
			enc = *arch.Encoding
		}
		comma, err := data.ParseSeparator(c.Sep)
		if err != nil {
			return fmt.Errorf("predict: -sep: %w", err)
		}
		opt := data.FeatureOptions{Comma: comma, Missing: st.Impute != nil}
		if c.Data == "-" {
			if c.Stdin == nil {
				return fmt.Errorf("predict: -data -: no standard input")
			}
			x, n, err = data.ReadFeatures(c.Stdin, "standard input", enc, opt)
		} else {
			x, n, err = data.ReadFeaturesFile(c.Data, enc, opt)
		}
		if err != nil {
			return err
		}
		if st.Impute != nil {
			(&data.Imputer{Values: st.Impute}).Apply(x, n)
		}
	case c.Data == "mnist" || c.Data == "fashion-mnist":
		// The IDX sets' test images, found as train finds them (no download).
		_, test, err := data.LoadMNIST(c.Data, data.MNISTOptions{})
		if err != nil {
			return err
		}
		x, n = test.X, test.N
	default:
		d, err := data.Builtin(c.Data)
		if err != nil {
			return err
		}
		x, n = d.X, d.N
	}
	if len(x) != n*arch.Features {
		return fmt.Errorf("predict: %s has %d features, the model takes %d", c.Data, len(x)/max(n, 1), arch.Features)
	}
	if st.FeatureMean != nil {
		(&data.Standardizer{Mean: st.FeatureMean, Std: st.FeatureStd}).Apply(x, n)
	}

	be, _, err := backend.Open(c.Backend, backend.Options{Threads: c.Threads})
	if err != nil {
		return err
	}
	defer be.Close()
	model, loss, err := buildModel(be, arch, nn.NewRNG(0))
	if err != nil {
		return err
	}
	defer model.Free()
	if err := nn.DecodeTensors(be, f, model.StateDict()); err != nil {
		return fmt.Errorf("%s: %w", c.Load, err)
	}
	in, err := specShape(arch.InputShape, arch.Features) // checked by readArch
	if err != nil {
		return err
	}
	tr := &nn.Trainer{Backend: be, Model: model, Loss: loss, InputShape: in}
	out, err := tr.Predict(x, n)
	if err != nil {
		return err
	}
	k := arch.Outputs
	if arch.Task == "regression" {
		fmt.Fprintln(w, "row,prediction")
		for i := 0; i < n; i++ {
			v := float64(out[i*k])
			if st.TargetStd != nil {
				v = v*float64(st.TargetStd[0]) + float64(st.TargetMean[0])
			}
			fmt.Fprintf(w, "%d,%.6g\n", i, v)
		}
		return nil
	}
	// A class name may hold the separator or quotes: the csv package
	// quotes it.
	cw := csv.NewWriter(w)
	cw.Write([]string{"row", "class", "probability"})
	for i := 0; i < n; i++ {
		class, p := classify(out[i*k : (i+1)*k])
		name := fmt.Sprint(class)
		if class < len(arch.ClassNames) {
			name = arch.ClassNames[class]
		}
		cw.Write([]string{fmt.Sprint(i), name, fmt.Sprintf("%.4f", p)})
	}
	cw.Flush()
	return cw.Error()
}

// classify turns one sample's logits into a class and its probability: a
// sigmoid for one binary logit, a softmax otherwise.
func classify(logits []float32) (int, float64) {
	for _, v := range logits {
		if v != v || math.IsInf(float64(v), 0) {
			return 0, math.NaN() // a diverged model: no honest answer
		}
	}
	if len(logits) == 1 {
		p := 1 / (1 + math.Exp(-float64(logits[0])))
		if p > 0.5 {
			return 1, p
		}
		return 0, 1 - p
	}
	best, sum := 0, 0.0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	for _, v := range logits {
		sum += math.Exp(float64(v - logits[best]))
	}
	return best, 1 / sum
}
