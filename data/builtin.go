package data

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"strings"
)

// The embedded tables are gzip-compressed copies of the CSV files listed
// in builtin/README.md. To rebuild them from the source CSVs:
//
//go:generate go run ./internal/gen -src=${FASTNN_DATASETS} -dst=builtin

//go:embed builtin/*.csv.gz
var builtinFS embed.FS

// builtinSpec describes how one embedded table becomes a Dataset.
type builtinSpec struct {
	file       string // in builtin/
	task       Task
	drop       []string
	classNames []string
	shape      Shape  // of one image, for a set of images
	sha256     string // of the uncompressed CSV, checked by the tests
}

var builtins = map[string]builtinSpec{
	"boston": {
		file: "boston_house_prices.csv.gz",
		task: Regression,
		// B is 1000(Bk - 0.63)^2, Bk the proportion of Black residents by
		// town: a feature that encodes race, which no model should be
		// fed by default.
		drop:   []string{"B"},
		sha256: "6eb46e3763e23e85609fb319175fa05d6c82c66036c184f116730a5e52e53fed",
	},
	"breast-cancer": {
		file:       "breast_cancer.csv.gz",
		task:       Classification,
		classNames: []string{"malignant", "benign"},
		sha256:     "3a43b0f0f79b844962a9c06d1da3dd81b5cec789aa17530d259bd75a41469ad3",
	},
	"diabetes": {
		file:   "diabetes.csv.gz",
		task:   Regression,
		sha256: "10c6789416fa4f03865ededbf0cd472a8761d534eb9db9ca6c9c3c0747877297",
	},
	"digits": {
		file:       "digits.csv.gz",
		task:       Classification,
		classNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		shape:      Shape{C: 1, H: 8, W: 8},
		sha256:     "4a95dc7a26f5f7ae99959cd46bf9d4c11fb082ffed0b9f8f68043de44069eae5",
	},
	"iris": {
		file:       "iris.csv.gz",
		task:       Classification,
		classNames: []string{"setosa", "versicolor", "virginica"},
		sha256:     "888d7c1669c6b5deadf0815717a8661c9fb7bd1decd28a87a97da928d433844a",
	},
	"wine": {
		file:       "wine.csv.gz",
		task:       Classification,
		classNames: []string{"class_0", "class_1", "class_2"},
		sha256:     "09afdf7b1225a6550bbdc20404baef7d9b4d9db88a6713049feed7c1482bd834",
	},
}

// BuiltinNames returns the names Builtin accepts, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for name := range builtins {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Builtin returns a fresh copy of one of the small real data sets
// embedded in the package, so examples and tests need no files or
// network. The caller may modify it. The sets, their shapes after loading,
// and their tasks are:
//
//	"iris"           150 x 4,   3 classes
//	"digits"         1797 x 64, 10 classes (8x8 images, pixel values 0-16)
//	"breast-cancer"  569 x 30,  2 classes (0 malignant, 1 benign)
//	"wine"           178 x 13,  3 classes
//	"diabetes"       442 x 10,  regression (disease progression after one year)
//	"boston"         506 x 12,  regression (median home value, $1000s)
//
// Features are in their original units; standardize them (see
// FitStandardizer) before training. The Boston housing set is returned
// without its B column, which encodes the proportion of Black residents
// by town; read the CSV with ReadCSV to study that column deliberately.
// Sources and licences are listed in builtin/README.md.
func Builtin(name string) (*Dataset, error) {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	spec, ok := builtins[key]
	if !ok {
		return nil, fmt.Errorf("data: unknown built-in data set %q (have %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	raw, err := builtinFS.ReadFile("builtin/" + spec.file)
	if err != nil {
		return nil, fmt.Errorf("data: built-in %s: %w", key, err)
	}
	d, err := ReadCSV(bytes.NewReader(raw), "builtin/"+spec.file, CSVOptions{Task: spec.task, Drop: spec.drop})
	if err != nil {
		return nil, fmt.Errorf("data: built-in %s: %w", key, err)
	}
	d.Name = key
	if spec.shape.IsImage() {
		if spec.shape.Len() != d.Features {
			return nil, fmt.Errorf("data: built-in %s has %d features, want %s images", key, d.Features, spec.shape)
		}
		d.Shape = spec.shape
	}
	if spec.classNames != nil {
		if len(spec.classNames) != d.Classes {
			return nil, fmt.Errorf("data: built-in %s has %d classes, want %d", key, d.Classes, len(spec.classNames))
		}
		d.ClassNames = slices.Clone(spec.classNames)
	}
	return d, nil
}
