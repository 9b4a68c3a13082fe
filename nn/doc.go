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
// A batch of images is a Tensor with a Shape (C x H x W per sample), held
// as PyTorch holds it, N x C x H x W. Conv2d, MaxPool2d, AvgPool2d, global
// average pooling, Flatten and BatchNorm2d take such batches and run on
// backends that implement backend.Convolver; ShapeMapper carries the shape
// from layer to layer, and OutShape names the first layer that cannot take
// what reaches it. ParseArch reads a model written as PyTorch's layer list.
//
// Parameter names and shapes follow PyTorch: Linear's weight is [out, in]
// and its bias [out], so y = x W^T + b; Conv2d's is [out, in, kh, kw]. A
// Sequential's state dict has nn.Sequential's names ("0.weight",
// "1.running_mean", ...), so that PyTorch loads a saved model with
// load_state_dict(strict=True).
package nn
