package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMNIST returns the four files of a tiny MNIST-like set (5 training
// and 3 test images of 28x28), keyed by file name without .gz. Pixel
// values encode image and position so loads can be checked.
func fakeMNIST(t testing.TB) map[string][]byte {
	t.Helper()
	images := func(n int) []byte {
		m := &IDX{Dims: []int{n, 28, 28}, Data: make([]uint8, n*28*28)}
		for i := range m.Data {
			m.Data[i] = uint8((i/784)*50 + i%7)
		}
		return encodeIDX(t, m, false)
	}
	labels := func(l ...uint8) []byte {
		return encodeIDX(t, &IDX{Dims: []int{len(l)}, Data: l}, false)
	}
	return map[string][]byte{
		"train-images-idx3-ubyte": images(5),
		"train-labels-idx1-ubyte": labels(0, 1, 2, 9, 4),
		"t10k-images-idx3-ubyte":  images(3),
		"t10k-labels-idx1-ubyte":  labels(7, 8, 9),
	}
}

// writeFiles writes files into dir, gzip-compressed with a .gz suffix if
// zip is set.
func writeFiles(t testing.TB, dir string, files map[string][]byte, zip bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if zip {
			name, b = name+".gz", gzipBytes(t, b)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadIDXPair(t *testing.T) {
	dir := t.TempDir()
	files := fakeMNIST(t)
	writeFiles(t, dir, files, true)
	d, err := LoadIDXPair(filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 5 || d.Features != 784 || d.Classes != 10 || d.Task != Classification {
		t.Fatalf("shape N=%d Features=%d Classes=%d", d.N, d.Features, d.Classes)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// Image 3, pixel 5 is 3*50 + 5 = 155.
	if got, want := d.X[3*784+5], float32(155)/255; got != want {
		t.Errorf("pixel = %v, want %v", got, want)
	}
	if d.Y[3] != 9 {
		t.Errorf("label 3 = %v, want 9", d.Y[3])
	}

	// Mismatched counts: 5 training images against 3 test labels.
	writeFiles(t, dir, files, false)
	_, err = LoadIDXPair(filepath.Join(dir, "train-images-idx3-ubyte"), filepath.Join(dir, "t10k-labels-idx1-ubyte"))
	if err == nil || !strings.Contains(err.Error(), "5 images") || !strings.Contains(err.Error(), "3 labels") {
		t.Errorf("mismatched pair: error %v, want one giving both counts", err)
	}
	// Images and labels swapped.
	_, err = LoadIDXPair(filepath.Join(dir, "train-labels-idx1-ubyte"), filepath.Join(dir, "train-images-idx3-ubyte"))
	if err == nil || !strings.Contains(err.Error(), "want 3") {
		t.Errorf("swapped pair: error %v, want a dimension error", err)
	}
}

func TestLoadMNISTFromDataDir(t *testing.T) {
	root := t.TempDir()
	// DataDir/<name> layout, mixing raw and compressed files.
	files := fakeMNIST(t)
	dir := filepath.Join(root, "mnist")
	writeFiles(t, dir, map[string][]byte{"train-images-idx3-ubyte": files["train-images-idx3-ubyte"]}, false)
	delete(files, "train-images-idx3-ubyte")
	writeFiles(t, dir, files, true)

	opt := MNISTOptions{DataDir: root, CacheDir: t.TempDir()}
	train, test, err := LoadMNIST("mnist", opt)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 5 || test.N != 3 || train.Name != "mnist-train" || test.Name != "mnist-test" {
		t.Fatalf("got %s with %d rows and %s with %d", train.Name, train.N, test.Name, test.N)
	}
	if train.Classes != 10 || test.Classes != 10 || len(train.ClassNames) != 10 {
		t.Fatalf("classes %d/%d, names %v", train.Classes, test.Classes, train.ClassNames)
	}

	if _, _, err := LoadMNIST("cifar", opt); err == nil || !strings.Contains(err.Error(), "fashion-mnist") {
		t.Errorf("unknown set: error %v, want one listing the known sets", err)
	}
}

func TestLoadMNISTMissingWithoutDownload(t *testing.T) {
	cache := t.TempDir()
	_, _, err := LoadMNIST("mnist", MNISTOptions{DataDir: t.TempDir(), CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), "Download") {
		t.Fatalf("error %v, want not found with a hint to download", err)
	}
}

// serveFiles starts a local server for the .gz versions of files and
// points the named set's checksums at sums, with no system directories to
// search, so the download path runs even where the real files are
// installed. It restores the table when the test ends.
func serveFiles(t *testing.T, set string, served map[string][]byte, sums map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := served[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	old := mnistSets[set]
	t.Cleanup(func() { mnistSets[set] = old })
	patched := old
	patched.baseURL = "http://unreachable.invalid/" // must be overridden by BaseURL
	patched.sha256 = sums
	patched.systemDirs = nil
	mnistSets[set] = patched
	return srv
}

func TestLoadMNISTDownload(t *testing.T) {
	served := map[string][]byte{}
	sums := map[string]string{}
	for name, b := range fakeMNIST(t) {
		z := gzipBytes(t, b)
		sum := sha256.Sum256(z)
		served[name+".gz"] = z
		sums[name+".gz"] = hex.EncodeToString(sum[:])
	}
	srv := serveFiles(t, "mnist", served, sums)
	cache := t.TempDir()
	var progress bytes.Buffer
	opt := MNISTOptions{DataDir: t.TempDir(), CacheDir: cache, Download: true, BaseURL: srv.URL, Client: srv.Client(), Progress: &progress}
	train, test, err := LoadMNIST("mnist", opt)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 5 || test.N != 3 {
		t.Fatalf("downloaded set has %d and %d rows, want 5 and 3", train.N, test.N)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "mnist"))
	if len(entries) != 4 {
		t.Fatalf("cache holds %d entries, want the 4 files: %v", len(entries), entries)
	}
	if !strings.Contains(progress.String(), "SHA-256 verified") {
		t.Errorf("progress output %q", progress.String())
	}

	// A second load finds the cached files and makes no request.
	srv.Close()
	if _, _, err := LoadMNIST("mnist", opt); err != nil {
		t.Fatalf("loading from the cache: %v", err)
	}
}

func TestLoadMNISTCorruptDownloadLeavesNothing(t *testing.T) {
	served := map[string][]byte{}
	sums := map[string]string{}
	for name, b := range fakeMNIST(t) {
		z := gzipBytes(t, b)
		sum := sha256.Sum256(z)
		sums[name+".gz"] = hex.EncodeToString(sum[:])
		// The server sends every file with one byte changed.
		z[len(z)/2] ^= 0xff
		served[name+".gz"] = z
	}
	srv := serveFiles(t, "fashion-mnist", served, sums)
	cache := t.TempDir()
	_, _, err := LoadMNIST("fashion-mnist", MNISTOptions{
		DataDir: t.TempDir(), CacheDir: cache, Download: true, BaseURL: srv.URL, Client: srv.Client(),
	})
	if err == nil || !strings.Contains(err.Error(), "SHA-256 mismatch") {
		t.Fatalf("error %v, want a SHA-256 mismatch", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "fashion-mnist"))
	if len(entries) != 0 {
		t.Fatalf("a failed download left %v in the cache", entries)
	}
}

func TestLoadMNISTDownloadErrors(t *testing.T) {
	files := fakeMNIST(t)
	served := map[string][]byte{}
	sums := map[string]string{}
	for name, b := range files {
		z := gzipBytes(t, b)
		sum := sha256.Sum256(z)
		sums[name+".gz"] = hex.EncodeToString(sum[:])
		if name != "t10k-labels-idx1-ubyte" { // this one is missing: 404
			served[name+".gz"] = z
		}
	}
	srv := serveFiles(t, "mnist", served, sums)
	cache := t.TempDir()
	opt := MNISTOptions{CacheDir: cache, Download: true, BaseURL: srv.URL, Client: srv.Client()}
	if _, _, err := LoadMNIST("mnist", opt); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("error %v, want a 404 error", err)
	}
	for _, e := range mustReadDir(t, filepath.Join(cache, "mnist")) {
		if strings.Contains(e, ".part") {
			t.Errorf("temporary file %s left behind", e)
		}
	}

	// A set without a verified checksum for a file refuses to download it.
	delete(sums, "t10k-labels-idx1-ubyte.gz")
	if _, _, err := LoadMNIST("mnist", opt); err == nil || !strings.Contains(err.Error(), "no verified SHA-256") {
		t.Fatalf("error %v, want a missing-checksum error", err)
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestFashionMNISTInstalled reads the real Fashion-MNIST files that
// Debian's dataset-fashion-mnist package installs, when they are there.
func TestFashionMNISTInstalled(t *testing.T) {
	if _, err := os.Stat(debianFashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST is not installed in %s (Debian package dataset-fashion-mnist): %v", debianFashionMNISTDir, err)
	}
	if testing.Short() {
		t.Skip("reading 70000 real images is skipped in -short mode")
	}
	train, test, err := LoadMNIST("fashion-mnist", MNISTOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d *Dataset
		n int
	}{{train, 60000}, {test, 10000}} {
		if c.d.N != c.n || c.d.Features != 784 || c.d.Classes != 10 {
			t.Errorf("%s: %d x %d with %d classes, want %d x 784 with 10", c.d.Name, c.d.N, c.d.Features, c.d.Classes, c.n)
		}
		if err := c.d.Validate(); err != nil {
			t.Error(err)
		}
		perClass := counts(c.d)
		for k, n := range perClass {
			if n != c.n/10 { // Fashion-MNIST is exactly balanced
				t.Errorf("%s: class %d has %d images, want %d", c.d.Name, k, n, c.n/10)
			}
		}
		var lo, hi float32 = 1, 0
		for _, v := range c.d.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("%s: pixels span [%v, %v], want [0, 1]", c.d.Name, lo, hi)
		}
	}
	if train.ClassNames[9] != "Ankle boot" {
		t.Errorf("class 9 is %q, want Ankle boot", train.ClassNames[9])
	}
}
