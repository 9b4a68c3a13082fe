// Package backend defines the Backend interface through which nn runs every
// numerical kernel, and the registry that backends join by name.
//
// Data layout: every matrix is float32, row-major and densely packed
// (element (i, j) of a rows x cols matrix is at i*cols + j; there are no
// leading-dimension strides). Buffers are opaque handles owned by the backend
// that allocated them: nn never touches their memory, so a GPU backend keeps
// everything on the device.
//
// Panics and errors: programmer errors (a shape mismatch, a buffer too
// short, a buffer of another backend, a negative size) panic with a message
// naming the operation; the checks the backends share are in checks.go, and
// the conformance suite's Panics check holds every backend to this.
// Conditions outside the program's control (no GPU, a missing driver, an
// unsupported CPU level) are errors returned by the backend's Factory when
// it is opened.
//
// Backends register in their package's init; importing a backend package
// for its side effect (import _ ".../backend/cpu") makes it available to
// Open. Open("auto") picks the highest-priority backend that opens here.
//
// Subpackages: ref is the plain-Go float64 reference of every operation;
// conformance is the test suite every backend runs against it; cpu and cuda
// are the backends.
package backend
