// Package safetensors reads and writes tensors in the Hugging Face
// safetensors format, the format PyTorch's safetensors.torch.load_file and
// save_file use.
//
// # Format
//
// A file has three parts:
//
//  1. an 8-byte little-endian unsigned integer N, the length of the header;
//  2. N bytes of UTF-8 JSON, the header;
//  3. the data section: the raw bytes of every tensor, back to back.
//
// The header is a JSON object. Every member except "__metadata__" describes
// one tensor:
//
//	{"__metadata__":{"format":"pt"},
//	 "weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}
//
// dtype names the element type (see [DType]), shape lists the dimensions
// (an empty list is a 0-d scalar), and data_offsets is [begin, end): byte
// offsets relative to the start of the data section, end exclusive. Elements
// are stored little-endian in row-major (C) order. The optional
// "__metadata__" member maps strings to strings.
//
// # Reading
//
// [Read] and [ReadFile] accept exactly the files the reference
// implementation accepts, minus a few things it tolerates by accident
// (listed below), and reject everything else with an error that wraps
// [ErrInvalid] and names the problem and, where there is one, the tensor.
// Allocation is bounded by the size of the input: the header length is
// checked against the 100,000,000-byte limit and against the input size
// before the header is allocated, and the whole header is validated before
// the data section is allocated. The rules:
//
//   - the input must hold at least the 8-byte length;
//   - the header length must be at most 100,000,000 bytes and at most the
//     number of bytes that follow it;
//   - the header must be valid UTF-8 and valid JSON (RFC 8259; whitespace,
//     including the space padding writers add, may surround the object), and
//     the top-level value must be an object;
//   - member names must be unique, both tensor names and "__metadata__";
//   - "__metadata__", when present, must be an object whose values are all
//     strings (null is accepted and means no metadata), with unique keys;
//   - every other member must be an object with exactly the fields dtype,
//     shape and data_offsets, each once: dtype a known dtype name, shape an
//     array of non-negative integers, data_offsets an array of exactly two
//     non-negative integers, begin <= end;
//   - the element count (the product of the dimensions) and the byte size
//     (element count times the dtype's bit width, over 8) must not overflow
//     int, and for the sub-byte dtypes the bit count must fill whole bytes;
//   - end - begin must equal that byte size;
//   - taken in order of begin, the tensors must tile the data section
//     exactly: the first starts at 0, each starts where the previous one
//     ends (no overlap, no hole), and the last ends at the end of the input
//     (no trailing bytes, no offsets beyond it);
//   - the input must really be as long as the size given to [Read]; a
//     shorter input is reported as truncated.
//
// Stricter than the reference implementation: a tensor entry with fields
// other than dtype, shape and data_offsets, or with a field spelled twice, is
// rejected (the reference ignores unknown fields); a name or value with a
// lone UTF-16 surrogate escape is rejected (as serde_json does); a duplicate
// tensor name or metadata key is rejected (the reference keeps the last one);
// a shape whose non-zero dimensions multiply past int is rejected even when
// another dimension is 0.
//
// Tensors come back in file order (ascending data_offsets). Their Data
// slices share one buffer holding the data section, each capped at its own
// end so that appending to one cannot overwrite another.
//
// # Writing
//
// [Write] and [WriteFile] write what the reference writer
// (safetensors.torch.save_file, serialize_file in the Rust crate) writes:
//
//   - tensors are laid out in the reference order: by dtype, widest
//     alignment first (in the crate's dtype order U64, I64, F64, C64, F32,
//     U32, I32, BF16, F16, U16, I16, F8_E5M2FNUZ, F8_E4M3FNUZ, F8_E8M0,
//     F8_E4M3, F8_E5M2, I8, U8, F6_E3M2, F6_E2M3, F4, BOOL), then by name
//     (byte-wise); data offsets ascend in that order, so every tensor of a
//     whole-byte dtype starts at a multiple of its element size;
//   - the header is compact JSON (no spaces), "__metadata__" first (only
//     when metadata is non-empty, keys sorted, since the reference's hash
//     map order is unspecified), then the tensors in data order, each as
//     {"dtype":..,"shape":[..],"data_offsets":[begin,end]}; strings are
//     escaped as serde_json escapes them (only ", \ and control characters);
//   - the header is padded with spaces to a multiple of 8 bytes, so the data
//     section starts 8-byte aligned.
//
// Writing validates first and writes nothing when a tensor is malformed:
// names must be unique, valid UTF-8 and not "__metadata__"; dtypes known;
// dimensions non-negative; len(Data) equal to the byte size of the shape;
// metadata valid UTF-8. These errors wrap [ErrInvalid] too.
//
// [WriteFile] is atomic: it writes a temporary file in the destination
// folder, syncs it, and renames it over the destination, so that a reader
// sees either the old file or the complete new one.
package safetensors
