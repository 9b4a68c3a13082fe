"""PyTorch on the GPU, beside the CUDA backend's figures (bench/gpu.sh).

usage:
  torch_gpu.py gemm N                        torch.mm of N x N matrices, fp32 and tf32, CUDA events
  torch_gpu.py mlp DIR EPOCHS HIDDEN BATCH   eager training of 784-HIDDEN-10 on Fashion-MNIST (IDX .gz in DIR), Adam 1e-3
"""
import gzip, os, struct, sys, time
import numpy as np, torch, torch.nn as nn

if not torch.cuda.is_available():
    sys.exit("torch_gpu.py: torch %s sees no CUDA device" % torch.__version__)
dev = torch.device("cuda")

def timed(f, reps=5):
    f(); torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(); f(); stop.record(); stop.synchronize()
    calls = max(1, int(200 / max(start.elapsed_time(stop), 1e-3)))
    best = None
    for _ in range(reps):
        start.record()
        for _ in range(calls):
            f()
        stop.record(); stop.synchronize()
        s = start.elapsed_time(stop) / 1e3 / calls
        best = s if best is None else min(best, s)
    return best

def gemm(n):
    a, b = torch.rand(n, n, device=dev) * 2 - 1, torch.rand(n, n, device=dev) * 2 - 1
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        s = timed(lambda: torch.mm(a, b))
        print(f"torch={torch.__version__} gemm {n}x{n}x{n} {'tf32' if tf32 else 'fp32'} {2 * n**3 / s / 1e9:.1f} GFLOP/s", flush=True)

def idx(d, name):
    with gzip.open(os.path.join(d, name)) as f:
        data = f.read()
    ndim = data[3]; dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)

def mlp(d, epochs, hidden, batch):
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    xtr = torch.tensor(idx(d, "train-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255.0
    ytr = torch.tensor(idx(d, "train-labels-idx1-ubyte.gz"), dtype=torch.long)
    xte = torch.tensor(idx(d, "t10k-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32).to(dev) / 255.0
    yte = torch.tensor(idx(d, "t10k-labels-idx1-ubyte.gz"), dtype=torch.long).to(dev)
    # Batches go from host memory to the GPU each step, as fastnn's do.
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    for ep in range(epochs):
        perm = torch.randperm(n); torch.cuda.synchronize(); t = time.perf_counter()
        for i in range(0, n, batch):
            j = perm[i:i + batch]
            xb, yb = xtr[j].to(dev, non_blocking=True), ytr[j].to(dev, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb), yb); loss.backward(); opt.step()
        torch.cuda.synchronize(); dt = time.perf_counter() - t
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"torch={torch.__version__} gpu={torch.cuda.get_device_name()} hidden={hidden} batch={batch} epoch={ep+1} time={dt:.2f}s samples/s={n/dt:.0f} test_acc={acc:.4f}", flush=True)

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gemm":
        gemm(int(sys.argv[2]))
    elif len(sys.argv) == 6 and sys.argv[1] == "mlp":
        mlp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
