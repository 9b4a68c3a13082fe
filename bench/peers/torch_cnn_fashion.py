"""Anchor: PyTorch CPU training of the classic MNIST CNN (PyTorch's example network, `train -arch cnn`) on
Fashion-MNIST (IDX files from Debian's dataset-fashion-mnist), Adam 1e-3, pixels / 255. Prints per-epoch wall
time, samples/s and test accuracy, one line an epoch, then one JSON line with the fields of `bench train -json`
(epoch_samples_per_sec, warm_samples_per_sec: the median of epochs 2 onward, test_acc, epoch_test_acc), which
`bench summarize` reads. usage: torch_cnn_fashion.py THREADS EPOCHS BATCH [SAMPLES]
SAMPLES, when given, trains on the first SAMPLES training images only (a shorter run; samples/s is per sample)."""
import json, statistics, sys, time
import torch, torch.nn as nn
from fashion import idx
threads, epochs, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
samples = int(sys.argv[4]) if len(sys.argv) > 4 else None
torch.set_num_threads(threads); torch.manual_seed(0)
xtr = torch.tensor(idx("train-images-idx3-ubyte.gz")[:samples].reshape(-1, 1, 28, 28), dtype=torch.float32) / 255.0
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:samples], dtype=torch.long)
xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz").reshape(-1, 1, 28, 28), dtype=torch.float32) / 255.0
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = nn.CrossEntropyLoss()
n = xtr.shape[0]
per_epoch, accs, total = [], [], 0.0
for ep in range(epochs):
    model.train(); perm = torch.randperm(n); t = time.perf_counter()
    for i in range(0, n, batch):
        idxs = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xtr[idxs]), ytr[idxs]); loss.backward(); opt.step()
    dt = time.perf_counter() - t
    model.eval()
    with torch.no_grad():
        acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(yte), 1000)) / len(yte)
    per_epoch.append(n / dt); accs.append(acc); total += dt
    print(f"torch={torch.__version__} threads={threads} cnn batch={batch} samples={n} epoch={ep+1} time={dt:.2f}s samples/s={n/dt:.0f} test_acc={acc:.4f} loss={loss.item():.4f}", flush=True)
print(json.dumps({"op": "train", "backend": f"pytorch {torch.__version__}", "data": "fashion-mnist", "arch": "cnn",
                  "layers": [], "batch": batch, "epochs": epochs, "threads": threads,
                  "params": sum(p.numel() for p in model.parameters()),
                  "samples_per_sec": n * epochs / total, "test_acc": accs[-1],
                  "epoch_samples_per_sec": per_epoch, "epoch_test_acc": accs,
                  **({"warm_samples_per_sec": statistics.median(per_epoch[1:])} if epochs > 1 else {})}), flush=True)
