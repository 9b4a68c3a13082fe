package playground

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/data"
)

// Config is what a page asks of a playground session; see API.md.
type Config struct {
	Dataset     string  `json:"dataset"`
	Noise       float64 `json:"noise"`
	Samples     int     `json:"samples"`
	Test        float64 `json:"test"`
	Hidden      []int   `json:"hidden"`
	Act         string  `json:"act"`
	LR          float64 `json:"lr"`
	Batch       int     `json:"batch"`
	Residual    bool    `json:"residual"`
	WeightScale float64 `json:"weightScale"`
	Seed        uint64  `json:"seed"`
}

// Limits on what one request may ask for, so that no request can exhaust
// the server.
const (
	maxLayers  = 6
	maxNeurons = 8
	minSamples = 50
	maxSamples = 1000
)

// datasets maps the page's names to generators of binary 2-D sets.
var datasets = map[string]func(n int, noise float64, rng *rand.Rand) *data.Dataset{
	"xor":     data.XOR,
	"circles": data.Circles,
	"moons":   data.Moons,
	"gauss":   func(n int, noise float64, rng *rand.Rand) *data.Dataset { return data.Blobs(n, 2, 1+10*noise, rng) },
	"spiral":  func(n int, noise float64, rng *rand.Rand) *data.Dataset { return data.Spiral(n, 2, noise, rng) },
}

// normalize fills defaults and checks every field against its range.
func (c *Config) normalize() error {
	if c.Dataset == "" {
		c.Dataset = "circles"
	}
	if _, ok := datasets[c.Dataset]; !ok {
		return fmt.Errorf("unknown dataset %q (want xor, circles, gauss, spiral or moons)", c.Dataset)
	}
	if c.Samples == 0 {
		c.Samples = 400
	}
	if c.Test == 0 {
		c.Test = 0.5
	}
	if c.Act == "" {
		c.Act = "tanh"
	}
	if c.LR == 0 {
		c.LR = 0.03
	}
	if c.Batch == 0 {
		c.Batch = 10
	}
	if c.WeightScale == 0 {
		c.WeightScale = 1
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Hidden == nil {
		c.Hidden = []int{4, 2}
	}
	switch {
	case !(c.Noise >= 0 && c.Noise <= 0.5):
		return fmt.Errorf("noise %v: want 0..0.5", c.Noise)
	case c.Samples < minSamples || c.Samples > maxSamples:
		return fmt.Errorf("samples %d: want %d..%d", c.Samples, minSamples, maxSamples)
	case !(c.Test >= 0.1 && c.Test <= 0.9):
		return fmt.Errorf("test fraction %v: want 0.1..0.9", c.Test)
	case len(c.Hidden) > maxLayers:
		return fmt.Errorf("%d hidden layers: want at most %d", len(c.Hidden), maxLayers)
	case !(c.LR >= 1e-5 && c.LR <= 10):
		return fmt.Errorf("learning rate %v: want 1e-5..10", c.LR)
	case c.Batch < 1 || c.Batch > 100:
		return fmt.Errorf("batch %d: want 1..100", c.Batch)
	case !(c.WeightScale >= 0.05 && c.WeightScale <= 20):
		return fmt.Errorf("weight scale %v: want 0.05..20", c.WeightScale)
	}
	for i, h := range c.Hidden {
		if h < 1 || h > maxNeurons {
			return fmt.Errorf("hidden layer %d has %d neurons: want 1..%d", i+1, h, maxNeurons)
		}
	}
	if _, err := backend.ParseActivation(c.Act); err != nil {
		return err
	}
	if math.IsNaN(c.LR) {
		return fmt.Errorf("learning rate is not a number")
	}
	return nil
}
