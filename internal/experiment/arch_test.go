package experiment

import (
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
	"github.com/fastnn/fastnn/nn"
)

// TestSpecStateSize: the state size that a checkpoint's spec is checked
// by, computed without building the model, is the built model's, for every
// kind of layer, on images and on flat rows.
func TestSpecStateSize(t *testing.T) {
	be, err := cpu.New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	mnist, digits := nn.Shape{C: 1, H: 28, W: 28}, nn.Shape{C: 1, H: 8, W: 8}
	preset28, _ := nn.CNNPreset(mnist, 10)
	preset8, _ := nn.CNNPreset(digits, 10)
	for _, c := range []struct {
		spec    string
		in      nn.Shape
		cols    int
		outputs int
	}{
		{preset28, mnist, 784, 10},
		{preset8, digits, 64, 10},
		{"Conv2d(1,8,3,2,1) BatchNorm2d AvgPool2d(3,2,1) Conv2d(6,1) ReLU GlobalAvgPool2d Flatten BatchNorm1d Linear(3)", digits, 64, 3},
		{"Conv2d(3,4,stride=2) MaxPool2d(2,padding=1) LeakyReLU(0.2) Dropout(0.3) Flatten Linear(12,7) Tanh Linear(1)", nn.Shape{C: 3, H: 9, W: 7}, 189, 1},
		{"AdaptiveAvgPool2d(1) Flatten Linear(2)", nn.Shape{C: 5, H: 2, W: 3}, 30, 2},
		{"Linear(32) BatchNorm1d(32) GELU Dropout(0.5) Linear(32,10)", nn.Shape{}, 13, 10},
	} {
		a, err := nn.ParseArch(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		m, err := a.Build(be, c.in, c.cols, c.outputs, nn.NewRNG(1))
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		built := 0 // counted as readArch counts a file's values
		for _, st := range nn.EncodeTensors(be, m.StateDict()) {
			n, _ := st.NumElements()
			built += n
		}
		m.Free()
		if got, err := specStateSize(a, c.in, c.cols); got != built || err != nil {
			t.Errorf("specStateSize(%q) = %d, %v; the built model holds %d", c.spec, got, err, built)
		}
	}
}

// FuzzSpecStateSize: no spec, image shape or width makes the size check
// of a checkpoint panic, and what it accepts stays within its limits.
func FuzzSpecStateSize(f *testing.F) {
	f.Add("Conv2d(1,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2) Flatten Linear(1600,128) ReLU Linear(128,10)", 1, 28, 28)
	f.Add("Conv2d(8,3,stride=2,padding=1) BatchNorm2d AvgPool2d(3,2,1) GlobalAvgPool2d Flatten BatchNorm1d Linear(3)", 3, 9, 7)
	f.Add("Conv2d(1,65536,65536,padding=65536) Flatten Linear(10)", 1, 8, 8)
	f.Add("MaxPool2d(0) Linear(1e300) Conv2d(-1,2,3) Dropout(0.5) LeakyReLU(2)", 0, 0, 0)
	f.Add("Flatten Linear Conv2d", 1, 8, 8)
	f.Fuzz(func(t *testing.T, spec string, c, h, w int) {
		a, err := nn.ParseArch(spec)
		if err != nil {
			return
		}
		in, err := specShape([]int{c, h, w}, c*h*w)
		if err != nil || in.Len() > 1<<20 {
			return
		}
		if n, err := specStateSize(a, in, in.Len()); err == nil && n < 0 {
			t.Fatalf("specStateSize(%q, %v) = %d", spec, in, n)
		}
	})
}
