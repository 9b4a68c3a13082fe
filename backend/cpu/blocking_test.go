package cpu

import "testing"

func TestBlockSizes(t *testing.T) {
	cases := []struct {
		name               string
		mr, nr, l1, l2, l3 int
		mc, kc, nc         int
	}{
		{"reference machine", 6, 16, 32 << 10, 512 << 10, 32 << 20, 144, 256, 4096},
		{"unknown caches", 6, 16, 0, 0, 0, 144, 256, 4096},
		{"48K L1, 2M L2", 6, 16, 48 << 10, 2 << 20, 32 << 20, 384, 384, 2720},
		{"tiny caches clamp", 6, 16, 4 << 10, 16 << 10, 64 << 10, 24, 64, 256},
		{"huge caches clamp", 6, 16, 1 << 20, 64 << 20, 1 << 30, 1020, 512, 8192},
		{"avx512 tile, unknown caches", 12, 32, 0, 0, 0, 288, 128, 8192},
		{"avx512 tile, Zen 5 (48K L1, 1M L2)", 12, 32, 48 << 10, 1 << 20, 32 << 20, 384, 192, 5440},
	}
	for _, c := range cases {
		mc, kc, nc := blockSizes(c.mr, c.nr, c.l1, c.l2, c.l3)
		if mc != c.mc || kc != c.kc || nc != c.nc {
			t.Errorf("%s: blockSizes = mc %d, kc %d, nc %d; want %d, %d, %d", c.name, mc, kc, nc, c.mc, c.kc, c.nc)
		}
		if mc%c.mr != 0 || nc%c.nr != 0 || kc%8 != 0 {
			t.Errorf("%s: mc %d, kc %d, nc %d not multiples of mr, 8, nr", c.name, mc, kc, nc)
		}
	}
}
