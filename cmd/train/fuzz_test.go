package main

import (
	"io"
	"strings"
	"testing"

	"github.com/fastnn/fastnn/internal/experiment"
)

// FuzzFlags: no command line makes flag parsing or validation panic.
func FuzzFlags(f *testing.F) {
	for _, s := range []string{
		"-data iris -layers 32,16 -batchnorm -dropout 0.1 -opt adamw -wd 0.01 -sched plateau -clip 1 -patience 10 -epochs 200",
		"-layers -5", "-lr nan", "-batch -3", "-layers 0", "-layers 1,,2", "-dropout 1", "-sched cosine -warmup 500 -epochs 10",
		"-search random -trials 0", "-momentum 2 -opt sgd", "-samples 99999999999999999999", "-noise -inf", "-gamma 1e309",
		"-data ../x.csv -target 7 -task regression", "-threads -1", "-slope 0",
		"-arch cnn -layers 8", "-arch Conv2d(1,8,3) -act tanh", "-arch Linear(", "-arch cnn -search bayes",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cfg, _, err := parseFlags(strings.Fields(line), io.Discard)
		if err != nil {
			return
		}
		_ = experiment.Validate(cfg)
	})
}
