package ref

// Copy returns dst with its first n elements replaced by src[0:n].
func Copy(dst, src []float32, n int) []float64 {
	need("Copy", "dst", dst, n)
	need("Copy", "src", src, n)
	out := widen(dst)
	for i := 0; i < n; i++ {
		out[i] = float64(src[i])
	}
	return out
}
