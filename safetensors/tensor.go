package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// ErrInvalid is wrapped by every error that reports a malformed file or a
// malformed tensor given to the writer; test for it with errors.Is.
var ErrInvalid = errors.New("safetensors: invalid data")

// invalidf returns an error wrapping ErrInvalid with a formatted description.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Tensor is one named tensor: its dtype, its shape (nil or empty for a 0-d
// scalar) and its elements as little-endian row-major bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is the content of a safetensors file.
type File struct {
	// Tensors in file order: ascending data offsets.
	Tensors []Tensor
	// Metadata is the "__metadata__" map, nil when the file has none.
	Metadata map[string]string

	index map[string]int // name -> position in Tensors, built by Read
}

// Get returns the tensor with the given name.
func (f *File) Get(name string) (Tensor, bool) {
	if f == nil {
		return Tensor{}, false
	}
	if i, ok := f.index[name]; ok && i < len(f.Tensors) && f.Tensors[i].Name == name {
		return f.Tensors[i], true
	}
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// byteSize returns the number of data bytes a tensor of dtype d and the given
// shape occupies. Its errors describe the problem without naming the tensor.
func byteSize(d DType, shape []int) (int, error) {
	_, width, ok := d.info()
	if !ok {
		return 0, fmt.Errorf("unknown dtype %q", string(d))
	}
	n := uint64(1)
	zero := false
	for i, dim := range shape {
		if dim < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape[%d]", dim, i)
		}
		if dim == 0 {
			zero = true
			continue
		}
		hi, lo := bits.Mul64(n, uint64(dim))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %v: element count overflows int", shape)
		}
		n = lo
	}
	hi, nbits := bits.Mul64(n, uint64(width))
	if hi != 0 || nbits/8 > math.MaxInt {
		return 0, fmt.Errorf("shape %v: byte size of %s data overflows int", shape, d)
	}
	if zero {
		return 0, nil
	}
	if nbits%8 != 0 {
		return 0, fmt.Errorf("shape %v: %d elements of %s (%d bits each) do not fill whole bytes", shape, n, d, width)
	}
	return int(nbits / 8), nil
}

// cloneShape copies shape so that a Tensor never aliases its caller's slice.
func cloneShape(shape []int) []int {
	return append([]int{}, shape...)
}

// F32 returns a float32 tensor with v encoded little-endian. The shape is
// copied; a mismatch between shape and len(v) is reported by Write.
func F32(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: Float32, Shape: cloneShape(shape), Data: b}
}

// F64 returns a float64 tensor with v encoded little-endian.
func F64(name string, shape []int, v []float64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: Float64, Shape: cloneShape(shape), Data: b}
}

// I64 returns an int64 tensor with v encoded little-endian. A 0-d scalar has
// an empty shape and one value, as BatchNorm's num_batches_tracked.
func I64(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: Int64, Shape: cloneShape(shape), Data: b}
}

// I32 returns an int32 tensor with v encoded little-endian.
func I32(name string, shape []int, v []int32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: Int32, Shape: cloneShape(shape), Data: b}
}

// U8 returns a uint8 tensor holding a copy of v.
func U8(name string, shape []int, v []uint8) Tensor {
	return Tensor{Name: name, DType: Uint8, Shape: cloneShape(shape), Data: append([]byte{}, v...)}
}

// NumElements returns the product of the shape (1 for a 0-d scalar).
func (t Tensor) NumElements() (int, error) {
	if _, err := byteSize(t.DType, t.Shape); err != nil {
		return 0, invalidf("tensor %q: %v", t.Name, err)
	}
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n, nil
}

// check verifies that t's data length matches its dtype and shape.
func (t Tensor) check() error {
	size, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return invalidf("tensor %q: %v", t.Name, err)
	}
	if len(t.Data) != size {
		return invalidf("tensor %q: shape %v of %s needs %d bytes of data, have %d", t.Name, t.Shape, t.DType, size, len(t.Data))
	}
	return nil
}

// Float32s decodes the elements as float32s. F32 is decoded exactly; F16 and
// BF16 are widened exactly; F64 is rounded to the nearest float32. Other
// dtypes, and data whose length does not match the shape, are errors.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	b := t.Data
	switch t.DType {
	case Float32:
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case Float64:
		out := make([]float32, len(b)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		return out, nil
	case Float16:
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case BFloat16:
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
		return out, nil
	}
	return nil, fmt.Errorf("safetensors: tensor %q: cannot decode dtype %s as float32", t.Name, t.DType)
}

// Int64s decodes the elements as int64s. I64, I32, I16, I8, U32, U16, U8 and
// BOOL are converted exactly; other dtypes are errors.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	b := t.Data
	le := binary.LittleEndian
	var out []int64
	switch t.DType {
	case Int64:
		out = make([]int64, len(b)/8)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
	case Int32:
		out = make([]int64, len(b)/4)
		for i := range out {
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case Uint32:
		out = make([]int64, len(b)/4)
		for i := range out {
			out[i] = int64(le.Uint32(b[4*i:]))
		}
	case Int16:
		out = make([]int64, len(b)/2)
		for i := range out {
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case Uint16:
		out = make([]int64, len(b)/2)
		for i := range out {
			out[i] = int64(le.Uint16(b[2*i:]))
		}
	case Int8:
		out = make([]int64, len(b))
		for i := range out {
			out[i] = int64(int8(b[i]))
		}
	case Uint8, Bool:
		out = make([]int64, len(b))
		for i := range out {
			out[i] = int64(b[i])
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot decode dtype %s as int64", t.Name, t.DType)
	}
	return out, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0:
		// Zero or subnormal: mant * 2^-24, exact in float32.
		f := float32(mant) / (1 << 24)
		return math.Float32frombits(math.Float32bits(f) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
