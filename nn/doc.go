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
// Parameter names and shapes follow PyTorch: Linear's weight is [out, in]
// and its bias [out], so y = x W^T + b.
package nn
