package data

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// LoadIDXPair reads an MNIST-style pair of IDX files: imagesPath holds an
// N x rows x cols array of pixels and labelsPath an array of N labels.
// Either file may be gzip-compressed. The two must agree on N.
//
// Pixels are scaled to [0, 1] by dividing by 255, as torchvision's
// ToTensor does, and flattened row by row into rows*cols features. The
// data set has 10 classes, or max label + 1 if a label is 10 or more (as
// in EMNIST-style sets), so that the train and test halves of a set agree
// even if one half lacks a class.
func LoadIDXPair(imagesPath, labelsPath string) (*Dataset, error) {
	images, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(images.Dims) != 3 {
		return nil, fmt.Errorf("%s: images have dimensions %v, want 3 (count x rows x cols)", imagesPath, images.Dims)
	}
	labels, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("%s: labels have dimensions %v, want 1 (count)", labelsPath, labels.Dims)
	}
	n := images.Dims[0]
	if labels.Dims[0] != n {
		return nil, fmt.Errorf("%s holds %d images but %s holds %d labels", imagesPath, n, labelsPath, labels.Dims[0])
	}
	features := images.Dims[1] * images.Dims[2]
	d := &Dataset{
		Name:     strings.TrimSuffix(filepath.Base(imagesPath), ".gz"),
		X:        make([]float32, n*features),
		Y:        make([]float32, n),
		N:        n,
		Features: features,
		Shape:    Shape{C: 1, H: images.Dims[1], W: images.Dims[2]},
		Targets:  1,
		Classes:  10,
		Task:     Classification,
	}
	for i, p := range images.Data {
		d.X[i] = float32(p) / 255
	}
	for i, l := range labels.Data {
		d.Y[i] = float32(l)
		d.Classes = max(d.Classes, int(l)+1)
	}
	return d, nil
}

// MNISTOptions says where LoadMNIST looks for the files and whether it
// may download them.
type MNISTOptions struct {
	// DataDir, if set, is searched first, then DataDir/<name>.
	DataDir string
	// CacheDir is searched last, as CacheDir/<name>, and is where
	// downloads are saved. The default is the user cache directory
	// (os.UserCacheDir) joined with "fastnn".
	CacheDir string
	// Download lets LoadMNIST fetch missing files from the set's public
	// mirror into CacheDir/<name>, verifying each file's SHA-256.
	Download bool
	// BaseURL replaces the mirror's URL; each file is fetched from
	// BaseURL + file name + ".gz". For tests and private mirrors.
	BaseURL string
	// Client makes the download requests; nil means a client with a
	// 30-minute overall timeout.
	Client *http.Client
	// Progress, if not nil, receives one line per downloaded file.
	Progress io.Writer
}

// debianFashionMNISTDir is where Debian's dataset-fashion-mnist package
// installs the four Fashion-MNIST files.
const debianFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// mnistFiles are the four files of an MNIST-like set, without the .gz
// suffix, in the order train images, train labels, test images, test
// labels.
var mnistFiles = [4]string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// mnistSet describes where a set's .gz files can be downloaded and what
// their SHA-256 sums must be. A file with no entry in sha256 cannot be
// downloaded: a wrong checksum would be worse than none.
type mnistSet struct {
	baseURL    string
	systemDirs []string          // read-only directories a distribution may install the files in
	sha256     map[string]string // file name (with .gz) -> hex SHA-256
	classNames []string
}

// mnistSets is a variable rather than a constant table only so that tests
// can point a set at a local server with their own checksums.
//
// The SHA-256 sums are those of the .gz files as served by the mirrors.
// MNIST: the TensorFlow Datasets checksum list (url_checksums/mnist.txt),
// which agrees with torchvision-ruby's table for the same files; the
// sizes match those on the original MNIST page (9912422, 28881, 1648877
// and 4542 bytes). Fashion-MNIST: TensorFlow Datasets
// (url_checksums/fashion_mnist.txt), which agrees with the files Debian
// installs: Debian's copies are the same deflate streams with the gzip
// file-name field and time stamp dropped, and restoring them reproduces
// these sums.
var mnistSets = map[string]mnistSet{
	"mnist": {
		baseURL: "https://ossci-datasets.s3.amazonaws.com/mnist/",
		sha256: map[string]string{
			"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
			"train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
			"t10k-images-idx3-ubyte.gz":  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
			"t10k-labels-idx1-ubyte.gz":  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
		},
		classNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
	},
	"fashion-mnist": {
		baseURL:    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
		systemDirs: []string{debianFashionMNISTDir},
		sha256: map[string]string{
			"train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
			"train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
			"t10k-images-idx3-ubyte.gz":  "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
			"t10k-labels-idx1-ubyte.gz":  "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
		},
		classNames: []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
			"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
	},
}

// maxDownloadBytes bounds one downloaded file; the largest real one is
// about 26 MB.
const maxDownloadBytes = 64 << 20

// LoadMNIST loads the train and test halves of "mnist" or
// "fashion-mnist" from the four standard IDX files
// (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), each raw or with a .gz
// suffix.
//
// It uses the first directory that holds all four, searching in order
// opt.DataDir, opt.DataDir/<name>, for Fashion-MNIST
// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist
// package), then opt.CacheDir/<name>. If none does and opt.Download is
// set, the missing .gz files are downloaded into opt.CacheDir/<name>;
// each is checked against a built-in SHA-256 sum and only then renamed
// into place, so an interrupted or corrupt download leaves no file
// behind.
//
// Pixels are scaled to [0, 1]; see LoadIDXPair. The data sets are named
// "<name>-train" and "<name>-test" and carry the class names.
func LoadMNIST(name string, opt MNISTOptions) (train, test *Dataset, err error) {
	set, ok := mnistSets[name]
	if !ok {
		return nil, nil, fmt.Errorf("data: unknown MNIST-like set %q (want \"mnist\" or \"fashion-mnist\")", name)
	}
	var dirs []string
	if opt.DataDir != "" {
		dirs = append(dirs, opt.DataDir, filepath.Join(opt.DataDir, name))
	}
	dirs = append(dirs, set.systemDirs...)
	cacheDir, cacheErr := mnistCacheDir(opt.CacheDir, name)
	if cacheErr == nil {
		dirs = append(dirs, cacheDir)
	}

	var paths [4]string
	found := false
	for _, dir := range dirs {
		if p, ok := findAll(dir); ok {
			paths, found = p, true
			break
		}
	}
	if !found {
		if !opt.Download {
			return nil, nil, fmt.Errorf("data: %s files not found in %s, and downloading is off (train -download)",
				name, strings.Join(dirs, ", "))
		}
		if cacheErr != nil {
			return nil, nil, fmt.Errorf("data: cannot download %s: %w", name, cacheErr)
		}
		if err := downloadMissing(name, set, cacheDir, opt); err != nil {
			return nil, nil, err
		}
		p, ok := findAll(cacheDir)
		if !ok {
			return nil, nil, fmt.Errorf("data: %s files still missing from %s after download", name, cacheDir)
		}
		paths = p
	}

	train, err = LoadIDXPair(paths[0], paths[1])
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadIDXPair(paths[2], paths[3])
	if err != nil {
		return nil, nil, err
	}
	if train.Features != test.Features {
		return nil, nil, fmt.Errorf("data: %s: train images have %d pixels but test images %d (%s, %s)",
			name, train.Features, test.Features, paths[0], paths[2])
	}
	classes := max(train.Classes, test.Classes)
	for _, d := range []*Dataset{train, test} {
		d.Classes = classes
		if classes == len(set.classNames) {
			d.ClassNames = slices.Clone(set.classNames)
		}
	}
	train.Name, test.Name = name+"-train", name+"-test"
	return train, test, nil
}

func mnistCacheDir(dir, name string) (string, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory: %w", err)
		}
		dir = filepath.Join(base, "fastnn")
	}
	return filepath.Join(dir, name), nil
}

// findAll returns the paths of the four files in dir, preferring an
// uncompressed file to its .gz twin, and whether all four exist.
func findAll(dir string) (paths [4]string, ok bool) {
	for i, f := range mnistFiles {
		p, found := findFile(dir, f)
		if !found {
			return paths, false
		}
		paths[i] = p
	}
	return paths, true
}

func findFile(dir, name string) (string, bool) {
	for _, candidate := range []string{name, name + ".gz"} {
		p := filepath.Join(dir, candidate)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// downloadMissing fetches into dir every file of the set that dir lacks.
func downloadMissing(name string, set mnistSet, dir string, opt MNISTOptions) error {
	base := set.baseURL
	if opt.BaseURL != "" {
		base = opt.BaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data: cannot download %s: %w", name, err)
	}
	for _, f := range mnistFiles {
		if _, ok := findFile(dir, f); ok {
			continue
		}
		file := f + ".gz"
		sum := set.sha256[file]
		if sum == "" {
			return fmt.Errorf("data: cannot download %s: no verified SHA-256 for %s", name, file)
		}
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "downloading %s\n", base+file)
		}
		n, err := downloadVerified(client, base+file, filepath.Join(dir, file), sum)
		if err != nil {
			return fmt.Errorf("data: downloading %s: %w", name, err)
		}
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "saved %s (%d bytes, SHA-256 verified)\n", filepath.Join(dir, file), n)
		}
	}
	return nil
}

// downloadVerified fetches url into dest only if the body's SHA-256 is
// wantHex. The body is written to a temporary file in dest's directory,
// synced and then renamed over dest, so dest either does not exist or
// holds the complete, verified file, even after a crash; on any failure
// the temporary file is removed.
func downloadVerified(client *http.Client, url, dest, wantHex string) (n int64, err error) {
	want, err := hex.DecodeString(wantHex)
	if err != nil || len(want) != sha256.Size {
		return 0, fmt.Errorf("bad SHA-256 %q in the checksum table for %s", wantHex, url)
	}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}

	dir := filepath.Dir(dest)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".*.part")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, maxDownloadBytes+1))
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", url, err)
	}
	if n > maxDownloadBytes {
		return n, fmt.Errorf("GET %s: body exceeds %d bytes", url, maxDownloadBytes)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return n, fmt.Errorf("GET %s: SHA-256 mismatch: got %x, want %s (%d bytes received); nothing was saved",
			url, got, wantHex, n)
	}
	if err = tmp.Sync(); err != nil {
		return n, err
	}
	if err = tmp.Close(); err != nil {
		return n, err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return n, err
	}
	if err = os.Rename(tmp.Name(), dest); err != nil {
		return n, err
	}
	syncDir(dir)
	return n, nil
}

// syncDir makes a rename in dir durable where the platform allows it.
// Failure only weakens crash safety, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
