package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The generators' shared conventions (seeding, balanced labels, noise,
// panics on bad arguments) are described in the package documentation,
// under "Synthetic sets".

// XOR returns the exclusive-or problem. With n <= 4 the points are the
// corners of the unit square, in the order (0,0)->0, (0,1)->1, (1,0)->1,
// (1,1)->0, plus noise; XOR(4, 0, rng) is exactly the classic truth
// table. With n > 4 the points are spread uniformly over the four
// quadrants of [-1, 1]^2 around the origin, keeping a margin of 0.05 from
// the axes (as the playground pads its quadrants), and the label is 1
// when x and y have opposite signs: the quadrant layout of the same truth
// table, with negative coordinates standing for 0.
func XOR(n int, noise float64, rng *rand.Rand) *Dataset {
	d := newSynthetic("xor", n, 2, noise, rng)
	const margin = 0.05
	for i := range n {
		q := i % 4
		a, b := float64(q>>1), float64(q&1) // the corner's bits: q = 0b(a b)
		label := float32(int(a) ^ int(b))
		var x, y float64
		if n <= 4 {
			x, y = a, b
		} else {
			x = margin + (1-margin)*rng.Float64()
			y = margin + (1-margin)*rng.Float64()
			if a == 0 {
				x = -x
			}
			if b == 0 {
				y = -y
			}
		}
		d.setPoint(i, x, y, label, noise, rng)
	}
	return d
}

// Circles returns two concentric circles, as scikit-learn's make_circles
// with factor 0.5: class 0 on the circle of radius 1, class 1 on the
// circle of radius 0.5, at angles drawn uniformly from [0, 2π).
func Circles(n int, noise float64, rng *rand.Rand) *Dataset {
	d := newSynthetic("circles", n, 2, noise, rng)
	for i := range n {
		r := 1.0
		if i%2 == 1 {
			r = 0.5
		}
		t := 2 * math.Pi * rng.Float64()
		d.setPoint(i, r*math.Cos(t), r*math.Sin(t), float32(i%2), noise, rng)
	}
	return d
}

// Moons returns two interleaving half circles, as scikit-learn's
// make_moons: class 0 at (cos t, sin t) and class 1 at (1 - cos t,
// 0.5 - sin t), with t drawn uniformly from [0, π].
func Moons(n int, noise float64, rng *rand.Rand) *Dataset {
	d := newSynthetic("moons", n, 2, noise, rng)
	for i := range n {
		t := math.Pi * rng.Float64()
		x, y := math.Cos(t), math.Sin(t)
		if i%2 == 1 {
			x, y = 1-x, 0.5-y
		}
		d.setPoint(i, x, y, float32(i%2), noise, rng)
	}
	return d
}

// Spiral returns interleaved spiral arms, one per class, as in the
// CS231n and playground spiral problems: a point of class k at radius r, drawn
// uniformly from [0, 1], sits at angle 4r + 2πk/classes, so each arm
// turns through 4 radians and the arms are evenly spaced.
func Spiral(n, classes int, noise float64, rng *rand.Rand) *Dataset {
	if classes < 1 {
		panic(fmt.Sprintf("data: Spiral with %d classes, want >= 1", classes))
	}
	d := newSynthetic("spiral", n, classes, noise, rng)
	for i := range n {
		k := i % classes
		r := rng.Float64()
		t := 4*r + 2*math.Pi*float64(k)/float64(classes)
		d.setPoint(i, r*math.Sin(t), r*math.Cos(t), float32(k), noise, rng)
	}
	return d
}

// Blobs returns isotropic Gaussian clusters, as scikit-learn's make_blobs:
// the centres are drawn uniformly from the box [-10, 10]^2 and noise is
// the clusters' standard deviation (make_blobs's cluster_std, 1 by
// default there). Class k is the cluster around centre k.
func Blobs(n, centers int, noise float64, rng *rand.Rand) *Dataset {
	if centers < 1 {
		panic(fmt.Sprintf("data: Blobs with %d centers, want >= 1", centers))
	}
	d := newSynthetic("blobs", n, centers, noise, rng)
	cx := make([]float64, centers)
	cy := make([]float64, centers)
	for k := range centers {
		cx[k] = -10 + 20*rng.Float64()
		cy[k] = -10 + 20*rng.Float64()
	}
	for i := range n {
		k := i % centers
		d.setPoint(i, cx[k], cy[k], float32(k), noise, rng)
	}
	return d
}

// newSynthetic checks the common arguments and allocates an n-row 2-D
// classification data set.
func newSynthetic(name string, n, classes int, noise float64, rng *rand.Rand) *Dataset {
	if n < 0 {
		panic(fmt.Sprintf("data: %s with n = %d, want >= 0", name, n))
	}
	if noise < 0 || math.IsNaN(noise) || math.IsInf(noise, 0) {
		panic(fmt.Sprintf("data: %s with noise %v, want a finite value >= 0", name, noise))
	}
	if rng == nil {
		panic(fmt.Sprintf("data: %s with a nil rng", name))
	}
	return &Dataset{
		Name:         name,
		X:            make([]float32, 2*n),
		Y:            make([]float32, n),
		N:            n,
		Features:     2,
		Targets:      1,
		Classes:      classes,
		Task:         Classification,
		FeatureNames: []string{"x", "y"},
	}
}

// setPoint stores row i as the clean point (x, y) plus noise, with its
// label. No random numbers are drawn when noise is 0, so that noiseless
// sets do not depend on how many normals the generator would consume.
func (d *Dataset) setPoint(i int, x, y float64, label float32, noise float64, rng *rand.Rand) {
	if noise > 0 {
		x += noise * rng.NormFloat64()
		y += noise * rng.NormFloat64()
	}
	d.X[2*i] = float32(x)
	d.X[2*i+1] = float32(y)
	d.Y[i] = label
}
