package safetensors

// DType is the element type of a tensor, spelled as in the header.
type DType string

// The dtypes of the format, in the reference implementation's order
// (increasing alignment; the writer lays tensors out in the reverse order).
const (
	Bool           DType = "BOOL"
	Float4         DType = "F4"      // MX FP4 (E2M1), two elements per byte
	Float6E2M3     DType = "F6_E2M3" // MX FP6, 6 bits per element
	Float6E3M2     DType = "F6_E3M2" // MX FP6, 6 bits per element
	Uint8          DType = "U8"
	Int8           DType = "I8"
	Float8E5M2     DType = "F8_E5M2"
	Float8E4M3     DType = "F8_E4M3"
	Float8E8M0     DType = "F8_E8M0"
	Float8E4M3FNUZ DType = "F8_E4M3FNUZ"
	Float8E5M2FNUZ DType = "F8_E5M2FNUZ"
	Int16          DType = "I16"
	Uint16         DType = "U16"
	Float16        DType = "F16"
	BFloat16       DType = "BF16"
	Int32          DType = "I32"
	Uint32         DType = "U32"
	Float32        DType = "F32"
	Complex64      DType = "C64" // two float32s, real then imaginary
	Float64        DType = "F64"
	Int64          DType = "I64"
	Uint64         DType = "U64"
)

// dtypeOrder lists every dtype in the reference implementation's enum order,
// which is the order its writer sorts by (descending).
var dtypeOrder = [...]struct {
	d    DType
	bits int
}{
	{Bool, 8},
	{Float4, 4},
	{Float6E2M3, 6},
	{Float6E3M2, 6},
	{Uint8, 8},
	{Int8, 8},
	{Float8E5M2, 8},
	{Float8E4M3, 8},
	{Float8E8M0, 8},
	{Float8E4M3FNUZ, 8},
	{Float8E5M2FNUZ, 8},
	{Int16, 16},
	{Uint16, 16},
	{Float16, 16},
	{BFloat16, 16},
	{Int32, 32},
	{Uint32, 32},
	{Float32, 32},
	{Complex64, 64},
	{Float64, 64},
	{Int64, 64},
	{Uint64, 64},
}

// info returns the rank of d in dtypeOrder and its bit width, or ok false
// for an unknown dtype.
func (d DType) info() (rank, bits int, ok bool) {
	for i, e := range dtypeOrder {
		if e.d == d {
			return i, e.bits, true
		}
	}
	return 0, 0, false
}

// Bits returns the width of one element in bits, or 0 if d is not a dtype of
// the format.
func (d DType) Bits() int {
	_, bits, _ := d.info()
	return bits
}

// Known reports whether d is a dtype of the format.
func (d DType) Known() bool {
	_, _, ok := d.info()
	return ok
}
