#!/usr/bin/env bash
# Measures cmd/bench beside OpenBLAS and PyTorch in one run on this machine:
# GEMM, the bandwidth-bound kernels, convolutions, MLP training (784-256-10
# and 784-16-16-10) and CNN training.
# Needs: bin/bench (make build), libopenblas-dev, python3-torch,
# dataset-fashion-mnist. Usage: bash bench/compare.sh [epochs]
# TORCH_THREADS (default "1 N", N the CPUs) lists PyTorch's thread counts.
#
# Training runs for several epochs (default 4) and is compared by the median
# of epochs 2 onward: a process's first epoch is its slowest, PyTorch's most
# of all. The raw JSON lines go to stdout as they come; the run ends with
# the ratios as Markdown tables (bin/bench summarize reads the lines back).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-4}
torch_threads=${TORCH_THREADS:-1 $(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# OpenBLAS picks its kernels by OPENBLAS_CORETYPE; use AVX-512 (SkylakeX)
# where the CPU has it, else AVX2 (Haswell).
if grep -qw avx512f /proc/cpuinfo; then core=SkylakeX; else core=Haswell; fi
gcc -O2 -o "$work/ob" bench/peers/openblas_sgemm.c -lopenblas -lm
go build -tags openblas -o "$work/bench" ./cmd/bench
export OPENBLAS_CORETYPE=$core
header="$(date -u '+%Y-%m-%d %H:%M UTC'), $(bin/bench machine), OpenBLAS core $core"

measure() {
  echo "# $header"
  # Every GEMM row (ours at every level, gonum, OpenBLAS through cgo) is
  # timed the same way by cmd/bench: best of 5 batches of about 0.2 s.
  # openblas_sgemm.c checks OpenBLAS's result against float64 and times
  # single calls, for reference.
  echo "# gemm: ours (every level), gonum and OpenBLAS, square"
  for n in 256 512 1024; do
    for t in 1 2; do
      "$work/bench" gemm -m $n -n $n -k $n -threads $t -json
      echo "# openblas_sgemm.c, $t thread(s): $(OPENBLAS_NUM_THREADS=$t "$work/ob" $n 7)"
    done
  done
  echo "# MLP shapes (forward, dW, dX of 784-256 at batch 128)"
  for t in 1 2; do
    "$work/bench" gemm -m 128 -n 256 -k 784 -threads $t -json
    "$work/bench" gemm -m 256 -n 784 -k 128 -threads $t -json
    "$work/bench" gemm -m 128 -n 784 -k 256 -threads $t -json
  done

  echo "# bandwidth-bound kernels of a training step (softmax cross-entropy: rows of 16 classes), 1 thread, every level"
  "$work/bench" ops -n 1048576 -threads 1 -reps 9 -json

  echo "# convolutions: the cnn preset's layers at batch 64, ours (every level) and PyTorch's (oneDNN), median GFLOP/s"
  for t in 1 $(nproc); do
    "$work/bench" conv -threads "$t" -json
    /usr/bin/python3 bench/peers/torch_conv.py -json "$t" $("$work/bench" conv -shapes)
  done
  # One thread again on the thread's CPU clock, which waiting for a
  # processor on a busy machine does not inflate.
  "$work/bench" conv -threads 1 -clock thread -json
  /usr/bin/python3 bench/peers/torch_conv.py -json -clock thread 1 $("$work/bench" conv -shapes)

  echo "# training: Fashion-MNIST 784-256-10, batch 128, Adam 1e-3, $epochs epoch(s), compared by the median of epochs 2 onward"
  # PyTorch runs with one thread and with one per CPU (ours uses every CPU):
  # the better of the two is the peer's figure. Every run of this net is
  # made twice, in turns, and each counts by its better median: a shared
  # machine's two CPUs run a two-thread process at speeds that differ by a
  # quarter from one minute to the next.
  for round in 1 2; do
    echo "# round $round"
    bin/bench train -data fashion-mnist -layers 256 -batch 128 -epochs "$epochs" -json
    if grep -qw avx512f /proc/cpuinfo; then
      # The avx512 level against the avx2 level on the same machine, same run.
      bin/bench train -data fashion-mnist -layers 256 -batch 128 -epochs "$epochs" -level avx2 -json
    fi
    for t in $torch_threads; do /usr/bin/python3 bench/peers/torch_mlp_fashion.py "$t" "$epochs" 256 128; done
  done
  echo "# the small net 784-16-16-10 at batch 64"
  bin/bench train -data fashion-mnist -layers 16,16 -batch 64 -epochs "$epochs" -json
  for t in $torch_threads; do /usr/bin/python3 bench/peers/torch_mlp_fashion.py "$t" "$epochs" 16,16 64; done
  echo "# CNN training: PyTorch's MNIST example network (train -arch cnn) on Fashion-MNIST, batch 64, Adam 1e-3, pixels / 255, $epochs epoch(s)"
  bin/bench train -data fashion-mnist -arch cnn -batch 64 -epochs "$epochs" -json
  for t in $torch_threads; do /usr/bin/python3 bench/peers/torch_cnn_fashion.py "$t" "$epochs" 64; done
}
measure | tee "$work/lines"

echo
echo "$header"
echo
bin/bench summarize "$work/lines"
