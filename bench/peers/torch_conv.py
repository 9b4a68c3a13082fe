"""Peer of `bench conv`: PyTorch's convolutions (oneDNN on the CPU) on the shapes that `bench conv -shapes` prints,
timed as cmd/bench times ours (two warm-up calls, then the median of REPS batches of about 0.1 s): F.conv2d with bias
(forward), torch.nn.grad.conv2d_input (backward_data) and conv2d_weight plus the bias gradient (backward_filter).
Prints the same table as `bench conv`, or with -json the same JSON lines. -clock thread times with the CPU clock of the
thread (time.thread_time; THREADS 1 only), as `bench conv -clock thread` does, for a busy machine.
usage: torch_conv.py [-json] [-reps R] [-clock wall|thread] THREADS SHAPE...   SHAPE is name:N,C,H,W,K,KH,KW,stride,pad"""
import json, statistics, sys, time
import torch, torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

args, as_json, reps, clock = sys.argv[1:], False, 7, "wall"
while args and args[0].startswith("-"):
    if args[0] == "-json":
        as_json, args = True, args[1:]
    elif args[0] == "-reps" and len(args) > 1:
        reps, args = int(args[1]), args[2:]
    elif args[0] == "-clock" and len(args) > 1 and args[1] in ("wall", "thread"):
        clock, args = args[1], args[2:]
    else:
        sys.exit(__doc__)
if len(args) < 2 or (clock == "thread" and args[0] != "1"):
    sys.exit(__doc__)
threads = int(args[0])
now = time.thread_time if clock == "thread" else time.perf_counter
torch.set_num_threads(threads); torch.manual_seed(0)

def median_seconds(f):
    f(); t = now(); f(); once = now() - t
    calls, per = max(1, int(0.1 / max(once, 1e-6))), []
    for _ in range(reps):
        t = now()
        for _ in range(calls):
            f()
        per.append((now() - t) / calls)
    return sorted(per)[reps // 2]

with torch.no_grad():
    for arg in args[1:]:
        name, dims = arg.split(":")
        n, c, h, w, k, kh, kw, stride, pad = (int(v) for v in dims.split(","))
        x, wt, b = torch.randn(n, c, h, w), torch.randn(k, c, kh, kw), torch.randn(k)
        y = F.conv2d(x, wt, b, stride, pad)
        dy = torch.randn_like(y)
        oh, ow = y.shape[2], y.shape[3]
        flops = 2 * n * k * c * kh * kw * oh * ow
        passes = [
            ("forward", lambda: F.conv2d(x, wt, b, stride, pad)),
            ("backward_data", lambda: conv2d_input(x.shape, wt, dy, stride, pad)),
            ("backward_filter", lambda: (conv2d_weight(x, wt.shape, dy, stride, pad), dy.sum((0, 2, 3)))),
        ]
        for pas, f in passes:
            sec = median_seconds(f)
            row = {"op": "conv", "backend": f"pytorch {torch.__version__}", "level": "onednn", "shape": name,
                   "pass": pas, "n": n, "c": c, "h": h, "w": w, "k": k, "kh": kh, "kw": kw, "threads": threads, "clock": clock,
                   "ms": sec * 1e3, "gflops": flops / sec / 1e9}
            if as_json:
                print(json.dumps(row), flush=True)
            else:
                print(f"conv {name:<5} {n:3d}x{c:2d}x{h:2d}x{w:2d} k{k:2d}x{kh}x{kw}  {pas:<15} pytorch {'onednn':<8} "
                      f"{threads} threads  {sec*1e3:8.3f} ms  {flops/sec/1e9:7.1f} GFLOP/s{'  (thread clock)' if clock == 'thread' else ''}", flush=True)
