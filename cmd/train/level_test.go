package main

import (
	"strings"
	"testing"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/backend/cpu"
)

// TestLevelChoices checks that every level -h offers is one this build
// has: on a CPU that supports it, it opens.
func TestLevelChoices(t *testing.T) {
	for _, name := range strings.Split(levelChoices(), ", ") {
		l, err := cpu.ParseLevel(name)
		if err != nil {
			t.Fatalf("-h offers %q: %v", name, err)
		}
		if l > cpu.Detected() {
			continue // built, but this CPU cannot run it
		}
		be, err := cpu.New(backend.Options{Threads: 1, Level: name})
		if err != nil {
			t.Fatalf("-h offers %s, which this CPU supports, but: %v", name, err)
		}
		be.Close()
	}
}
