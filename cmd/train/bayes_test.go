package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSearchBayes: -search bayes holds the flags given, ranks its trials,
// tries no configuration twice, and the same seed gives the same search;
// bad -search and -trials values exit 2.
func TestSearchBayes(t *testing.T) {
	args := []string{"-data", "circles", "-layers", "8", "-search", "bayes", "-trials", "6", "-epochs", "10", "-threads", "2", "-json"}
	code, stdout, stderr := train(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	trials, _ := result(t, stdout)["trials"].([]any)
	if len(trials) != 6 {
		t.Fatalf("%d trials, want 6", len(trials))
	}
	seen, prev := map[string]bool{}, -1.0
	for _, tr := range trials {
		m := tr.(map[string]any)
		if l := m["layers"].([]any); len(l) != 1 || l[0] != 8.0 {
			t.Errorf("-layers 8 not held fixed: %v", l)
		}
		key := fmt.Sprint(m["lr"], m["batch"], m["act"], m["wd"])
		if seen[key] {
			t.Errorf("%s tried twice", key)
		}
		seen[key] = true
		if loss := m["val_loss"].(float64); loss < prev {
			t.Errorf("trials not ranked by val_loss: %v", trials)
		} else {
			prev = loss
		}
	}
	_, again, _ := train(t, args...)
	a, _ := json.Marshal(trials)
	b, _ := json.Marshal(result(t, again)["trials"])
	if string(a) != string(b) {
		t.Errorf("same seed, different search:\n%s\n%s", a, b)
	}
	for _, bad := range [][]string{{"-search", "bayesian"}, {"-search", "bayes", "-trials", "0"}, {"-search", "bayes", "-trials", "-3"}} {
		if code, _, stderr := train(t, append([]string{"-data", "iris"}, bad...)...); code != 2 || !strings.Contains(stderr, bad[len(bad)-2]) {
			t.Errorf("%v: exit %d, %q", bad, code, stderr)
		}
	}
}
