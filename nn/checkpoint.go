package nn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/fastnn/fastnn/backend"
	"github.com/fastnn/fastnn/safetensors"
)

// NamedTensor is one entry of a state dict: a float32 tensor in a backend
// buffer, or (Int != nil) an int64 scalar kept on the host, such as
// BatchNorm's num_batches_tracked.
type NamedTensor struct {
	Name  string
	Shape []int
	Buf   backend.Buffer
	Int   *int64
}

func (t NamedTensor) len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// stateful layers have tensors that are saved but not trained.
type stateful interface {
	State() []NamedTensor
}

// StateDict lists the model's tensors under PyTorch's nn.Sequential
// state_dict names: every parameter ("0.weight", "0.bias", ...) and every
// layer state ("1.running_mean", ...), in layer order.
func (s *Sequential) StateDict() []NamedTensor {
	var out []NamedTensor
	for i, l := range s.Layers {
		for _, t := range layerState(l) {
			t.Name = fmt.Sprintf("%d.%s", i, t.Name)
			out = append(out, t)
		}
	}
	return out
}

// layerState is a layer's parameters and state with names within it.
func layerState(l Layer) []NamedTensor {
	if c, ok := l.(interface{ StateDict() []NamedTensor }); ok {
		return c.StateDict()
	}
	var out []NamedTensor
	names, params := namedParams(l)
	for i, p := range params {
		out = append(out, NamedTensor{Name: names[i], Shape: p.Shape, Buf: p.Value})
	}
	if st, ok := l.(stateful); ok {
		out = append(out, st.State()...)
	}
	return out
}

// StateDict of a Residual prefixes its block's entries with "block.".
func (r *Residual) StateDict() []NamedTensor {
	ts := layerState(r.Block)
	for i := range ts {
		ts[i].Name = "block." + ts[i].Name
	}
	return ts
}

// EncodeTensors downloads named tensors into safetensors form.
func EncodeTensors(be backend.Backend, ts []NamedTensor) []safetensors.Tensor {
	out := make([]safetensors.Tensor, 0, len(ts))
	for _, t := range ts {
		if t.Int != nil {
			out = append(out, safetensors.I64(t.Name, t.Shape, []int64{*t.Int}))
			continue
		}
		v := make([]float32, t.len())
		be.Download(v, t.Buf)
		out = append(out, safetensors.F32(t.Name, t.Shape, v))
	}
	return out
}

// DecodeTensors uploads the tensors of f into ts, matching by name. Every
// tensor of ts must be in f with the same shape, and f may hold no other
// tensor: a checkpoint of another architecture is an error, not a partial
// load.
func DecodeTensors(be backend.Backend, f *safetensors.File, ts []NamedTensor) error {
	want := map[string]bool{}
	for _, t := range ts {
		want[t.Name] = true
		st, ok := f.Get(t.Name)
		if !ok {
			return fmt.Errorf("checkpoint has no tensor %q (is it of another architecture?)", t.Name)
		}
		if !slices.Equal(st.Shape, t.Shape) {
			return fmt.Errorf("checkpoint tensor %q has shape %v, the model needs %v", t.Name, st.Shape, t.Shape)
		}
		if t.Int != nil {
			v, err := st.Int64s()
			if err != nil || len(v) != 1 {
				return fmt.Errorf("checkpoint tensor %q: want one int64: %v", t.Name, err)
			}
			*t.Int = v[0]
			continue
		}
		v, err := st.Float32s()
		if err != nil {
			return fmt.Errorf("checkpoint tensor %q: %w", t.Name, err)
		}
		be.Upload(t.Buf, v)
	}
	for _, st := range f.Tensors {
		if !want[st.Name] {
			return fmt.Errorf("checkpoint has a tensor %q the model does not (is it of another architecture?)", st.Name)
		}
	}
	return nil
}

// ChecksumKey is the metadata entry that holds the SHA-256 of a file's
// tensors and metadata (see Checksum), so that silent corruption of the
// weights or of the description beside them is caught on load.
const ChecksumKey = "fastnn.checksum"

// legacyChecksumKey held, in files written before the checksum covered the
// metadata, the SHA-256 of the tensors alone. Such files still load; their
// metadata is unchecked.
const legacyChecksumKey = "fastnn.sha256"

// Checksum is the hex SHA-256 over every tensor's name, dtype, shape and
// data, in name order, then over every metadata entry except the checksums
// themselves, in key order, each key and value preceded by its length. With
// no metadata it is the checksum of the tensors alone, as in legacy files.
func Checksum(ts []safetensors.Tensor, meta map[string]string) string {
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b safetensors.Tensor) int { return strings.Compare(a.Name, b.Name) })
	h := sha256.New()
	for _, t := range sorted {
		fmt.Fprintf(h, "%s\x00%s\x00%v\x00", t.Name, t.DType, t.Shape)
		h.Write(t.Data)
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if k != ChecksumKey && k != legacyChecksumKey {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(meta[k]), meta[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// WriteChecked writes tensors to path atomically with meta and the checksum
// of both in the metadata.
func WriteChecked(path string, ts []safetensors.Tensor, meta map[string]string) error {
	m := maps.Clone(meta)
	if m == nil {
		m = map[string]string{}
	}
	delete(m, legacyChecksumKey)
	m[ChecksumKey] = Checksum(ts, m)
	return safetensors.WriteFile(path, ts, m)
}

// ReadChecked reads a safetensors file and, when its metadata carries a
// checksum, verifies it: over the tensors and metadata, or over the tensors
// alone for a legacy file.
func ReadChecked(path string) (*safetensors.File, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta := f.Metadata
	want, ok := meta[ChecksumKey]
	if !ok {
		want, ok = meta[legacyChecksumKey]
		meta = nil
	}
	if !ok {
		return f, nil
	}
	if got := Checksum(f.Tensors, meta); got != want {
		return nil, fmt.Errorf("%s: checksum mismatch: the data or metadata is corrupted (sha256 %s, recorded %s)", path, got, want)
	}
	return f, nil
}

// SaveModel writes the model's state dict to path as a safetensors file
// that PyTorch's load_file reads into the same nn.Sequential, with meta and
// a checksum of the data as its __metadata__. The write is atomic: a
// failure leaves any earlier file at path intact.
func SaveModel(be backend.Backend, m *Sequential, path string, meta map[string]string) error {
	return WriteChecked(path, EncodeTensors(be, m.StateDict()), meta)
}

// LoadModel reads a file written by SaveModel into a model of the same
// architecture and returns the file's metadata.
func LoadModel(be backend.Backend, m *Sequential, path string) (map[string]string, error) {
	f, err := ReadChecked(path)
	if err != nil {
		return nil, err
	}
	if err := DecodeTensors(be, f, m.StateDict()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Metadata, nil
}

// OptimizerState is implemented by optimizers whose state can be saved for
// resuming: their per-parameter buffers under PyTorch's optimizer
// state_dict names ("state.0.exp_avg", ...) and their step count.
type OptimizerState interface {
	StateDict() []NamedTensor
	Steps() int
	SetSteps(int)
}

func (o *Adam) StateDict() []NamedTensor {
	var out []NamedTensor
	for i, p := range o.params {
		out = append(out,
			NamedTensor{Name: "state." + strconv.Itoa(i) + ".exp_avg", Shape: p.Shape, Buf: o.m[i]},
			NamedTensor{Name: "state." + strconv.Itoa(i) + ".exp_avg_sq", Shape: p.Shape, Buf: o.v[i]})
	}
	return out
}

func (o *Adam) Steps() int     { return o.cfg.Step }
func (o *Adam) SetSteps(n int) { o.cfg.Step = n }

func (o *SGD) StateDict() []NamedTensor {
	var out []NamedTensor
	for i, v := range o.velocity {
		p := o.params[i]
		out = append(out, NamedTensor{Name: "state." + strconv.Itoa(i) + ".momentum_buffer", Shape: p.Shape, Buf: v})
	}
	return out
}

func (o *SGD) Steps() int     { return o.steps }
func (o *SGD) SetSteps(n int) { o.steps = n }
