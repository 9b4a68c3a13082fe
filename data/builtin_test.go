package data

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinShapes(t *testing.T) {
	cases := []struct {
		name              string
		n, features, k    int
		task              Task
		firstFeature      string
		lastFeature       string
		classNamesPresent bool
	}{
		{"iris", 150, 4, 3, Classification, "sepal_length_cm", "petal_width_cm", true},
		{"digits", 1797, 64, 10, Classification, "p0", "p63", true},
		{"breast-cancer", 569, 30, 2, Classification, "mean_radius", "worst_fractal_dimension", true},
		{"wine", 178, 13, 3, Classification, "alcohol", "proline", true},
		{"diabetes", 442, 10, 0, Regression, "age", "s6", false},
		{"boston", 506, 12, 0, Regression, "CRIM", "LSTAT", false},
	}
	if got, want := BuiltinNames(), []string{"boston", "breast-cancer", "diabetes", "digits", "iris", "wine"}; !slices.Equal(got, want) {
		t.Fatalf("BuiltinNames() = %v, want %v", got, want)
	}
	for _, c := range cases {
		d, err := Builtin(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != c.name || d.N != c.n || d.Features != c.features || d.Classes != c.k || d.Task != c.task || d.Targets != 1 {
			t.Errorf("%s: got %s %d x %d, %d classes, %v; want %d x %d, %d classes, %v",
				c.name, d.Name, d.N, d.Features, d.Classes, d.Task, c.n, c.features, c.k, c.task)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if d.FeatureNames[0] != c.firstFeature || d.FeatureNames[d.Features-1] != c.lastFeature {
			t.Errorf("%s: features %q ... %q", c.name, d.FeatureNames[0], d.FeatureNames[d.Features-1])
		}
		if (d.ClassNames != nil) != c.classNamesPresent {
			t.Errorf("%s: class names %v", c.name, d.ClassNames)
		}
		if d.Task == Classification {
			for k, n := range counts(d) {
				if n == 0 {
					t.Errorf("%s: class %d has no rows", c.name, k)
				}
			}
		}
	}
}

func TestBuiltinBostonDropsB(t *testing.T) {
	d, err := Builtin("boston")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(d.FeatureNames, "B") {
		t.Fatalf("boston features include B: %v", d.FeatureNames)
	}
	// The first row of the table: LSTAT 4.98, MEDV 24.
	if d.X[d.Features-1] != 4.98 || d.Y[0] != 24 {
		t.Fatalf("first row ends %v, target %v", d.X[d.Features-1], d.Y[0])
	}
}

func TestBuiltinFreshCopies(t *testing.T) {
	a, _ := Builtin("iris")
	a.X[0] = -1
	a.ClassNames[0] = "changed"
	b, _ := Builtin("iris")
	if b.X[0] == -1 || b.ClassNames[0] != "setosa" {
		t.Fatal("Builtin returned data shared with an earlier call")
	}
	if c, err := Builtin("Breast_Cancer"); err != nil || c.Name != "breast-cancer" {
		t.Fatalf("Builtin(\"Breast_Cancer\") = %v, %v", c, err)
	}
}

func TestBuiltinUnknown(t *testing.T) {
	_, err := Builtin("titanic")
	if err == nil {
		t.Fatal("no error for an unknown name")
	}
	for _, name := range BuiltinNames() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}

// TestBuiltinChecksums checks the embedded files against the SHA-256 of
// the source CSVs recorded in builtin.go and builtin/README.md, so a
// rebuilt or edited file cannot slip in unnoticed.
func TestBuiltinChecksums(t *testing.T) {
	for name, spec := range builtins {
		f, err := builtinFS.Open("builtin/" + spec.file)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, zr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != spec.sha256 {
			t.Errorf("%s: decompressed SHA-256 %s, want %s", name, got, spec.sha256)
		}
	}
}
