package experiment

import (
	"fmt"
	"math"
	"strings"
	"testing"

	_ "github.com/fastnn/fastnn/backend/cpu"
)

// TestGPPosterior checks the process against the closed form of a
// two-point case: x = 0 and 1 with y = 1 and 0, length 1, noise s. With
// a = k(0, 1) = exp(-1/2), K = [[1+s, a], [a, 1+s]] has the inverse
// [[1+s, -a], [-a, 1+s]] / det, det = (1+s)^2 - a^2. At x* = 0.5 both
// k(x*, xi) are b = exp(-1/8), so the mean is b (1+s-a) / det, the variance
// 1 - 2 b^2 (1+s-a) / det, and log p(y) = -(1+s)/(2 det) - log(det)/2 - log(2 pi).
func TestGPPosterior(t *testing.T) {
	const s = 0.1
	g, err := fitGP([][]float64{{0}, {1}}, []float64{1, 0}, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	a, b := math.Exp(-0.5), math.Exp(-0.125)
	det := (1+s)*(1+s) - a*a
	wantMean, wantVar := b*(1+s-a)/det, 1-2*b*b*(1+s-a)/det
	wantLogML := -(1+s)/(2*det) - math.Log(det)/2 - math.Log(2*math.Pi)
	mean, variance := g.predict([]float64{0.5})
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"mean", mean, wantMean}, {"variance", variance, wantVar}, {"log marginal likelihood", g.logML, wantLogML}} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s %.15g, want %.15g", c.what, c.got, c.want)
		}
	}
	// Far from the data the prior comes back: mean 0, variance 1.
	if m, v := g.predict([]float64{40}); math.Abs(m) > 1e-12 || math.Abs(v-1) > 1e-12 {
		t.Errorf("far away: mean %g variance %g, want the prior 0 and 1", m, v)
	}
}

// TestExpectedImprovement checks hand values: at mean == best with sd 1 it
// is the normal density at 0, 1/sqrt(2 pi); one sd below the best, it is
// Phi(1) + phi(1); with sd 0 it is the plain improvement.
func TestExpectedImprovement(t *testing.T) {
	for _, c := range []struct{ mean, sd, best, xi, want float64 }{
		{0, 1, 0, 0, 1 / math.Sqrt(2*math.Pi)},
		{0, 1, 1, 0, 0.8413447460685429 + 0.24197072451914337},
		{0, 2, 2, 0, 2 * (0.8413447460685429 + 0.24197072451914337)},
		{-1, 0, 0, 0, 1},
		{1, 0, 0, 0, 0},
	} {
		if got := expectedImprovement(c.mean, c.sd, c.best, c.xi); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("EI(mean %g, sd %g, best %g) = %.15g, want %.15g", c.mean, c.sd, c.best, got, c.want)
		}
	}
}

// proposeAll runs the bayes proposer for trials trials against a synthetic
// objective, without training anything.
func proposeAll(seed uint64, trials int, f func(Trial) float64) []Trial {
	grid := searchGrid(func(t Trial) Trial { return t })
	b := newBayesSearch(grid, nil, trials, randomDraw(seed, func(t Trial) Trial { return t }))
	var done []Trial
	for range trials {
		t := b.next(done)
		t.ValLoss = f(t)
		done = append(done, t)
	}
	return done
}

// bowl is a smooth synthetic validation loss: best at lr 1e-2 (between the
// list's values), batch 32, tanh, layers [64 32], no weight decay.
func bowl(t Trial) float64 {
	v := 0.1 + math.Pow(math.Log10(t.LR)+2, 2) + 0.2*math.Abs(math.Log2(float64(t.Batch)/32)) + 300*t.WD
	if t.Act != "tanh" {
		v += 0.3
	}
	if len(t.Layers) != 2 || t.Layers[0] != 64 {
		v += 0.2
	}
	return v
}

// TestBayesDeterministic: the same seed proposes the same trials, another
// seed others; no point is proposed twice; the first trials are -search
// random's; and on a smooth objective the search finds the optimum in far
// fewer trials than the grid has points.
func TestBayesDeterministic(t *testing.T) {
	const trials = 20
	a, b, c := proposeAll(7, trials, bowl), proposeAll(7, trials, bowl), proposeAll(8, trials, bowl)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different trials:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("seeds 7 and 8 proposed the same trials")
	}
	seen := map[string]bool{}
	for _, tr := range a {
		if seen[tr.String()] {
			t.Errorf("%s proposed twice", tr)
		}
		seen[tr.String()] = true
	}
	// The first trials are -search random's draws, repeats skipped.
	draw, drawn := randomDraw(7, func(t Trial) Trial { return t }), map[string]bool{}
	for i := range bayesInitial(trials) {
		r := draw()
		for drawn[r.String()] {
			r = draw()
		}
		drawn[r.String()] = true
		if r.String() != a[i].String() {
			t.Errorf("trial %d: %s, -search random's is %s", i+1, a[i], r)
		}
	}
	// On a smooth objective the surrogate pays: over ten seeds the best
	// value found is lower on average than random search's.
	var bayesMean, randomMean float64
	for seed := range uint64(10) {
		best := math.Inf(1)
		for _, tr := range proposeAll(seed, trials, bowl) {
			best = math.Min(best, tr.ValLoss)
		}
		bayesMean += best / 10
		draw, best := randomDraw(seed, func(t Trial) Trial { return t }), math.Inf(1)
		for range trials {
			best = math.Min(best, bowl(draw()))
		}
		randomMean += best / 10
	}
	t.Logf("bowl, %d trials, mean best over 10 seeds: bayes %.3f, random %.3f (optimum 0.1)", trials, bayesMean, randomMean)
	if !(bayesMean < randomMean-0.05) {
		t.Errorf("bayes found %.3f on average, random %.3f", bayesMean, randomMean)
	}
}

// TestBayesBeatsRandom is the comparison the README's table comes from:
// -search bayes against -search random with the same seeds and number of
// trials, each search's best validation loss, per data set. Bayes must have
// the lower mean on at least two sets. It trains 2 x sets x seeds x trials
// small models (about a minute on one core); -short skips it.
//
//	go test ./internal/experiment -run BayesBeatsRandom -v
func TestBayesBeatsRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("trains hundreds of small models")
	}
	const trials, epochs = 12, 20
	sets := []string{"iris", "wine", "breast-cancer", "circles"}
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	var table strings.Builder
	fmt.Fprintf(&table, "| set | search |")
	for _, s := range seeds {
		fmt.Fprintf(&table, " seed %d |", s)
	}
	fmt.Fprintf(&table, " mean |\n|---|---|%s---|\n", strings.Repeat("---|", len(seeds)))
	wins := 0
	for _, set := range sets {
		means := map[string]float64{}
		for _, mode := range []string{"random", "bayes"} {
			fmt.Fprintf(&table, "| %s | %s |", set, mode)
			for _, seed := range seeds {
				c := Config{Data: set, Epochs: epochs, Seed: seed, WD: -1, Noise: -1, Batch: -1, ValFrac: -1, TestFrac: -1,
					Slope: 0.01, Backend: "cpu", Threads: 1}
				res, err := Search(c, mode, trials, map[string]bool{})
				if err != nil {
					t.Fatalf("%s %s seed %d: %v", set, mode, seed, err)
				}
				best := res.Trials[0].ValLoss
				means[mode] += best / float64(len(seeds))
				fmt.Fprintf(&table, " %.4f |", best)
			}
			fmt.Fprintf(&table, " **%.4f** |\n", means[mode])
		}
		if means["bayes"] < means["random"] {
			wins++
		}
	}
	t.Logf("best validation loss after %d trials of %d epochs (lower is better):\n%s", trials, epochs, table.String())
	if wins < 2 {
		t.Errorf("bayes has the lower mean on %d of %d sets, want at least 2", wins, len(sets))
	}
}
