#!/bin/sh
# Runs on a GPU machine, from the folder that `make gpu` fills (no Go needed
# there): the CUDA backend's conformance suite, the GPU benchmarks, and
# PyTorch on the same GPU for the ratios in docs/BENCHMARKS.md.
#
#   sh gpu.sh FASHION_DIR     # FASHION_DIR: the Fashion-MNIST IDX .gz files
set -u
cd "$(dirname "$0")"
data=${1:-fashion}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== conformance"
./cuda.test -test.run 'TestConformance$|TestTF32Gemm|TestAllocatorReusesBlocks' -test.v 2>&1 | grep -E '^(=== RUN|--- |\s+--- FAIL|ok|FAIL|PASS)|cuda_test' | grep -v '=== RUN' | tail -n 60
echo "== gemm"
for n in 1024 4096; do ./bench gemm -m $n -n $n -k $n -level none -no-gonum -cuda on -tf32; done
python3 torch_gpu.py gemm 1024
python3 torch_gpu.py gemm 4096
echo "== ops"
./bench ops -level none -cuda on
echo "== train: Fashion-MNIST 784-256-10, batch 128, Adam 1e-3, 2 epochs"
./bench train -data fashion-mnist -data-dir "$data" -layers 256 -batch 128 -epochs 2 -backend cuda
./bench train -data fashion-mnist -data-dir "$data" -layers 256 -batch 128 -epochs 2 -backend cuda -tf32
python3 torch_gpu.py mlp "$data" 2 256 128
