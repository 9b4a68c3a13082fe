// Package nn builds and trains neural networks on any backend.Backend.
//
// Data flows as Tensors: a row-major rows x cols matrix in a buffer owned by
// the backend, one sample per row. Every layer has an explicit Forward and
// Backward; Backward accumulates parameter gradients into Param.Grad (call
// ZeroGrad between steps) and returns the gradient with respect to the
// layer's input. nn imports no backend package: the caller opens a backend
// (backend.Open) and passes it in, so the same model code runs on the CPU
// and on a GPU.
//
// Layers keep their outputs in buffers they own and reuse from step to step;
// a Tensor returned by Forward stays valid until the next Forward of that
// layer, and a layer keeps a reference to its input until Backward.
//
// A model is any Layer: a Sequential of layers (Sequentials nest), or a type
// of one's own; the Trainer takes the input width from the data. Optional
// interfaces (Container, InputSizer, BatchStatistics, MaskCounter) tell the
// Trainer and the checkpoint code about per-layer behaviour, so that a
// user's layer can have it too. See the examples.
//
// Parameter names and shapes follow PyTorch: Linear's weight is [out, in]
// and its bias [out], so y = x W^T + b.
package nn
