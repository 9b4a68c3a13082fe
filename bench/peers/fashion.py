"""Fashion-MNIST for the PyTorch peers: the IDX files of Debian's dataset-fashion-mnist as numpy arrays."""
import gzip, struct
import numpy as np
D = "/usr/share/datasets/fashion-mnist/"
def idx(path):
    with gzip.open(D + path) as f:
        data = f.read()
    ndim = data[3]; dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)
