package data

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestXORTruthTable(t *testing.T) {
	d := XOR(4, 0, rand.New(rand.NewPCG(1, 1)))
	wantX := []float32{0, 0, 0, 1, 1, 0, 1, 1}
	wantY := []float32{0, 1, 1, 0}
	if !slices.Equal(d.X, wantX) || !slices.Equal(d.Y, wantY) {
		t.Fatalf("XOR(4, 0) = %v -> %v, want %v -> %v", d.X, d.Y, wantX, wantY)
	}
	if d.Classes != 2 || d.Features != 2 || d.Task != Classification {
		t.Fatalf("XOR metadata %+v", d)
	}
}

func TestXORQuadrants(t *testing.T) {
	d := XOR(400, 0, rand.New(rand.NewPCG(2, 2)))
	for i := range d.N {
		x, y := d.X[2*i], d.X[2*i+1]
		if x == 0 || y == 0 || math.Abs(float64(x)) > 1 || math.Abs(float64(y)) > 1 {
			t.Fatalf("point %d (%v, %v) is on an axis or outside [-1, 1]^2", i, x, y)
		}
		want := float32(0)
		if (x > 0) != (y > 0) {
			want = 1
		}
		if d.Y[i] != want {
			t.Fatalf("point %d (%v, %v) has label %v, want %v", i, x, y, d.Y[i], want)
		}
	}
}

// generators runs every synthetic generator with one seed.
func generators(seed uint64, noise float64) map[string]*Dataset {
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
	return map[string]*Dataset{
		"xor":     XOR(201, noise, rng()),
		"circles": Circles(201, noise, rng()),
		"moons":   Moons(201, noise, rng()),
		"spiral":  Spiral(201, 3, noise, rng()),
		"blobs":   Blobs(201, 4, noise, rng()),
	}
}

func TestSyntheticDeterministicAndBalanced(t *testing.T) {
	a, b, c := generators(1, 0.1), generators(1, 0.1), generators(2, 0.1)
	for name, d := range a {
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if d.N != 201 || d.Features != 2 || d.Targets != 1 || d.Task != Classification {
			t.Errorf("%s: %d x %d, task %v", name, d.N, d.Features, d.Task)
		}
		if !slices.Equal(d.X, b[name].X) || !slices.Equal(d.Y, b[name].Y) {
			t.Errorf("%s: the same seed gave different data", name)
		}
		if slices.Equal(d.X, c[name].X) {
			t.Errorf("%s: different seeds gave the same points", name)
		}
		perClass := counts(d)
		lo, hi := slices.Min(perClass), slices.Max(perClass)
		if hi-lo > 1 {
			t.Errorf("%s: class counts %v are not balanced", name, perClass)
		}
	}
}

func TestSyntheticGeometry(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	radius := func(d *Dataset, i int) float64 {
		return math.Hypot(float64(d.X[2*i]), float64(d.X[2*i+1]))
	}
	circles := Circles(100, 0, rng)
	for i := range circles.N {
		want := 1.0
		if circles.Y[i] == 1 {
			want = 0.5
		}
		if math.Abs(radius(circles, i)-want) > 1e-6 {
			t.Fatalf("circles point %d of class %v has radius %v", i, circles.Y[i], radius(circles, i))
		}
	}
	moons := Moons(100, 0, rng)
	for i := range moons.N {
		x, y := float64(moons.X[2*i]), float64(moons.X[2*i+1])
		cx, cy := 0.0, 0.0
		if moons.Y[i] == 1 {
			cx, cy = 1, 0.5
		}
		if r := math.Hypot(x-cx, y-cy); math.Abs(r-1) > 1e-6 {
			t.Fatalf("moons point %d is %v from its moon's centre, want 1", i, r)
		}
	}
	spiral := Spiral(300, 3, 0, rng)
	for i := range spiral.N {
		if r := radius(spiral, i); r > 1+1e-6 {
			t.Fatalf("spiral point %d at radius %v > 1", i, r)
		}
	}
	// Blobs with noise 0 puts every point of a class on its centre.
	blobs := Blobs(40, 4, 0, rng)
	for i := 4; i < blobs.N; i++ {
		if blobs.X[2*i] != blobs.X[2*(i%4)] || blobs.X[2*i+1] != blobs.X[2*(i%4)+1] {
			t.Fatalf("blob point %d is not on its centre", i)
		}
	}
	if empty := Moons(0, 0, rng); empty.N != 0 || empty.Validate() != nil {
		t.Fatalf("Moons(0): %+v", empty)
	}
}

func TestSyntheticPanicsOnBadArguments(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for name, f := range map[string]func(){
		"negative n":     func() { XOR(-1, 0, rng) },
		"negative noise": func() { Moons(10, -1, rng) },
		"NaN noise":      func() { Circles(10, math.NaN(), rng) },
		"no classes":     func() { Spiral(10, 0, 0, rng) },
		"no centres":     func() { Blobs(10, 0, 0, rng) },
		"nil rng":        func() { Circles(10, 0, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
