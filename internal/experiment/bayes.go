package experiment

import (
	"fmt"
	"math"
	"slices"

	"github.com/fastnn/fastnn/nn"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Bayesian optimisation for -search bayes: a Gaussian-process surrogate of
// the validation loss over the grid's points, and the expected improvement
// to choose the next trial. The space is small (a few hundred points), so
// the acquisition is maximised exactly, by scoring every point not yet
// tried. Everything is deterministic for a seed: the first trials are drawn
// as -search random draws them (so the two searches share their start), and
// ties go to the first point in grid order.

// gp is Gaussian-process regression with a squared-exponential kernel of
// unit signal variance, k(a, b) = exp(-|a-b|^2 / (2 length^2)), and
// Gaussian observation noise of variance noise (Rasmussen and Williams,
// Gaussian Processes for Machine Learning, algorithm 2.1).
type gp struct {
	x             [][]float64
	length, noise float64
	chol          mat.Cholesky
	alpha         *mat.VecDense // K^-1 y, with K = k(x, x) + noise*I
	logML         float64       // log marginal likelihood of y
}

func (g *gp) kernel(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Exp(-d / (2 * g.length * g.length))
}

// fitGP conditions the process on observations y at points x.
func fitGP(x [][]float64, y []float64, length, noise float64) (*gp, error) {
	n := len(x)
	g := &gp{x: x, length: length, noise: noise}
	k := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			k.SetSym(i, j, g.kernel(x[i], x[j]))
		}
		k.SetSym(i, i, 1+noise)
	}
	if !g.chol.Factorize(k) {
		return nil, fmt.Errorf("bayes: kernel matrix not positive definite (length %g, noise %g)", length, noise)
	}
	yv := mat.NewVecDense(n, slices.Clone(y))
	g.alpha = mat.NewVecDense(n, nil)
	if err := g.chol.SolveVecTo(g.alpha, yv); err != nil {
		return nil, fmt.Errorf("bayes: %w", err)
	}
	g.logML = -0.5*mat.Dot(yv, g.alpha) - 0.5*g.chol.LogDet() - float64(n)/2*math.Log(2*math.Pi)
	return g, nil
}

// predict returns the posterior mean and variance of the latent function at p.
func (g *gp) predict(p []float64) (mean, variance float64) {
	n := len(g.x)
	ks := mat.NewVecDense(n, nil)
	for i, xi := range g.x {
		ks.SetVec(i, g.kernel(xi, p))
	}
	v := mat.NewVecDense(n, nil)
	if err := g.chol.SolveVecTo(v, ks); err != nil {
		return mat.Dot(ks, g.alpha), 1
	}
	return mat.Dot(ks, g.alpha), math.Max(1-mat.Dot(ks, v), 0)
}

// The kernel's length scale and the noise are chosen among these by the
// largest marginal likelihood (type-II maximum likelihood on a grid, which
// keeps the fit deterministic and free of an optimiser's tolerances).
var (
	gpLengths = []float64{0.1, 0.2, 0.3, 0.5, 0.8, 1.3, 2}
	gpNoises  = []float64{1e-4, 1e-3, 1e-2, 0.1, 0.3}
)

// fitGPML fits the process with the most likely length scale and noise.
func fitGPML(x [][]float64, y []float64) (*gp, error) {
	var best *gp
	var firstErr error
	for _, l := range gpLengths {
		for _, s := range gpNoises {
			g, err := fitGP(x, y, l, s)
			if err != nil {
				firstErr = err
				continue
			}
			if best == nil || g.logML > best.logML {
				best = g
			}
		}
	}
	if best == nil {
		return nil, firstErr
	}
	return best, nil
}

// expectedImprovement is E[max(best - xi - f, 0)] for f ~ N(mean, sd^2):
// the expected amount by which a point beats the best value so far, for a
// minimisation; xi >= 0 favours exploring a little.
func expectedImprovement(mean, sd, best, xi float64) float64 {
	d := best - xi - mean
	if sd <= 0 {
		return math.Max(d, 0)
	}
	z := d / sd
	return d*distuv.UnitNormal.CDF(z) + sd*distuv.UnitNormal.Prob(z)
}

// eiXi is the exploration margin of the expected improvement, in units of
// the observed scores' standard deviation.
const eiXi = 0.01

// bayesInitial is the number of random trials before the surrogate takes
// over: a quarter of the trials, at least 3.
func bayesInitial(trials int) int { return min(trials, max(3, trials/4)) }

// bayesSearch proposes trials. space lists every candidate (the grid with
// the fixed hyperparameters held), enc their coordinates for the kernel.
type bayesSearch struct {
	space   []Trial
	fixed   map[string]bool
	enc     [][]float64
	tried   map[string]bool
	initial int
	draw    func() Trial // a random trial, as -search random draws it
}

func newBayesSearch(space []Trial, fixed map[string]bool, trials int, draw func() Trial) *bayesSearch {
	b := &bayesSearch{space: space, fixed: fixed, tried: map[string]bool{}, initial: bayesInitial(trials), draw: draw}
	for _, t := range space {
		b.enc = append(b.enc, encodeTrial(t, fixed))
	}
	return b
}

// next proposes the next trial after done, which holds the scored trials so
// far in order.
func (b *bayesSearch) next(done []Trial) Trial {
	if len(done) < b.initial {
		// Random draws as -search random makes them, skipping repeats.
		for range 1000 {
			if t := b.draw(); !b.tried[t.String()] {
				b.tried[t.String()] = true
				return t
			}
		}
	}
	var x [][]float64
	var y []float64
	worst := math.Inf(-1)
	for _, t := range done {
		if !math.IsInf(t.ValLoss, 1) && !math.IsNaN(t.ValLoss) {
			worst = math.Max(worst, score(t.ValLoss))
		}
	}
	for _, t := range done {
		v := score(t.ValLoss)
		if math.IsInf(t.ValLoss, 1) || math.IsNaN(t.ValLoss) {
			v = worst // a failed trial counts as the worst seen
		}
		if math.IsInf(v, 0) {
			continue // nothing has succeeded yet
		}
		x, y = append(x, encodeTrial(t, b.fixed)), append(y, v)
	}
	first := -1
	for i, t := range b.space {
		if !b.tried[t.String()] {
			first = i
			break
		}
	}
	if first < 0 {
		return b.space[0] // cannot happen: Search runs at most len(space) trials
	}
	pick := first
	if g, mean, sd := standardizedGP(x, y); g != nil {
		best, bestEI := math.Inf(1), math.Inf(-1)
		for _, v := range y {
			best = math.Min(best, (v-mean)/sd)
		}
		for i, t := range b.space {
			if b.tried[t.String()] {
				continue
			}
			m, v := g.predict(b.enc[i])
			if ei := expectedImprovement(m, math.Sqrt(v), best, eiXi); ei > bestEI {
				pick, bestEI = i, ei
			}
		}
	}
	b.tried[b.space[pick].String()] = true
	return b.space[pick]
}

// standardizedGP fits the process to y scaled to mean 0 and variance 1, and
// returns the scaling; nil without at least two observations.
func standardizedGP(x [][]float64, y []float64) (*gp, float64, float64) {
	if len(y) < 2 {
		return nil, 0, 1
	}
	mean, sd := 0.0, 0.0
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	for _, v := range y {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd / float64(len(y)))
	if sd == 0 {
		sd = 1
	}
	z := make([]float64, len(y))
	for i, v := range y {
		z[i] = (v - mean) / sd
	}
	g, err := fitGPML(x, z)
	if err != nil {
		return nil, 0, 1
	}
	return g, mean, sd
}

// score is what the surrogate models: the log of the validation loss, whose
// spread over a search is more even than the loss's own.
func score(valLoss float64) float64 { return math.Log(math.Max(valLoss, 1e-12)) }

// encodeTrial maps a trial to the kernel's coordinates, each about [0, 1]:
// the learning rate, batch size and weight decay on log scales over their
// lists' ranges (weight decay offset by a tenth of its smallest non-zero
// value, so that 0 has a place), the layers and the activation one-hot
// scaled by 1/sqrt(2), so that two categories are at distance 1. A
// hyperparameter named in fixed is left out (it is the same everywhere).
func encodeTrial(t Trial, fixed map[string]bool) []float64 {
	var out []float64
	logScale := func(v, lo, hi float64) float64 { return math.Log(v/lo) / math.Log(hi/lo) }
	if !fixed["lr"] {
		out = append(out, logScale(t.LR, searchLRs[0], searchLRs[len(searchLRs)-1]))
	}
	if !fixed["batch"] {
		out = append(out, logScale(float64(t.Batch), float64(searchBatches[0]), float64(searchBatches[len(searchBatches)-1])))
	}
	if !fixed["wd"] {
		off := searchWDs[1] / 10
		out = append(out, logScale(t.WD+off, searchWDs[0]+off, searchWDs[len(searchWDs)-1]+off))
	}
	oneHot := func(i, n int) {
		for j := range n {
			if j == i {
				out = append(out, math.Sqrt(0.5))
			} else {
				out = append(out, 0)
			}
		}
	}
	if !fixed["layers"] {
		oneHot(slices.IndexFunc(searchLayers, func(l []int) bool { return slices.Equal(l, t.Layers) }), len(searchLayers))
	}
	if !fixed["act"] {
		oneHot(slices.Index(searchActs, t.Act), len(searchActs))
	}
	return out
}

// randomDraw returns -search random's generator of trials for a seed; hold
// sets the fixed hyperparameters.
func randomDraw(seed uint64, hold func(Trial) Trial) func() Trial {
	rng := nn.NewRNG(seed ^ 0x5ea7c4)
	return func() Trial {
		return hold(Trial{
			LR:     searchLRs[rng.IntN(len(searchLRs))],
			Batch:  searchBatches[rng.IntN(len(searchBatches))],
			Layers: searchLayers[rng.IntN(len(searchLayers))],
			Act:    searchActs[rng.IntN(len(searchActs))],
			WD:     searchWDs[rng.IntN(len(searchWDs))],
		})
	}
}
