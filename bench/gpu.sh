#!/bin/bash
# Runs on a GPU machine, from the folder that `make gpu` fills (no Go needed
# there), in one call of at most 8 minutes: the CUDA backend's tests with
# FASTNN_REQUIRE_GPU=1 (a skip is a failure), the conformance suite again
# with FASTNN_CUDA_SYNC=1, GEMM 4096 in FP32 and TF32 beside torch.mm, the
# ops benchmark, and Fashion-MNIST training beside eager PyTorch on the
# same GPU, for docs/BENCHMARKS.md.
#
#   bash gpu.sh [FASHION_DIR]   # FASHION_DIR: the Fashion-MNIST IDX .gz files (default: fashion beside it)
#
# It stops at the first failure, skip or timeout and exits non-zero, naming
# the step; every step's whole output is shown, nothing is filtered.
set -euo pipefail
data=$(realpath -m -- "${1:-$(dirname "$0")/fashion}") # before the cd: a path relative to the caller
cd "$(dirname "$0")"
budget=${GPU_SH_BUDGET:-470} # seconds for the whole run
deadline=$((SECONDS + budget))
step=start
log=$(mktemp)

finish() {
	local rc=$?
	rm -f "$log"
	if [ "$rc" -ne 0 ]; then
		echo "gpu.sh: FAILED (exit $rc) in step: $step" >&2
	else
		echo "gpu.sh: all steps passed in ${SECONDS}s"
	fi
}
trap finish EXIT

die() {
	echo "gpu.sh: $*" >&2
	exit 1
}

# run LIMIT CMD...: runs CMD under the smaller of LIMIT seconds and what is
# left of the budget.
run() {
	local limit=$1 left=$((deadline - SECONDS))
	shift
	[ "$left" -gt 5 ] || die "out of time (budget ${budget}s)"
	[ "$limit" -le "$left" ] || limit=$left
	timeout --kill-after=10 "$limit" "$@"
}

begin() {
	step=$1
	echo
	echo "== $step ($((deadline - SECONDS))s left)"
}

begin "machine"
for f in cuda.test bench torch_gpu.py; do
	[ -e "$f" ] || die "$f is missing here: run \`make gpu\` and copy gpu/ over"
done
[ -f "$data/train-images-idx3-ubyte.gz" ] || die "no Fashion-MNIST IDX files in $data"
command -v nvidia-smi >/dev/null || die "no nvidia-smi: is this a GPU machine?"
run 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
run 60 python3 -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name())'

# The tests that need a GPU, and the ones that need neither a GPU nor the
# emulator (which needs g++, and is run by CI); each must pass, not skip.
tests=(TestConformance TestConvolver TestTF32Gemm TestAllocatorReusesBlocks TestReopen TestDriverSymbols
	TestKernelTableMatchesPTX TestColumnSplit TestSearchOrder TestSearchError TestResolveVersions)
begin "CUDA tests (FASTNN_REQUIRE_GPU=1)"
pattern="^($(IFS='|'; echo "${tests[*]}"))\$"
FASTNN_REQUIRE_GPU=1 run 180 ./cuda.test -test.v -test.count=1 -test.run "$pattern" 2>&1 | tee "$log"
if grep -E -e '--- SKIP' "$log"; then
	die "a test skipped (above); with FASTNN_REQUIRE_GPU=1 that is a failure"
fi
for t in "${tests[@]}"; do
	grep -q -e "^--- PASS: $t " "$log" || die "$t did not pass"
done

begin "conformance with FASTNN_CUDA_SYNC=1 (a fault names its kernel)"
FASTNN_REQUIRE_GPU=1 FASTNN_CUDA_SYNC=1 run 120 ./cuda.test -test.count=1 -test.run '^TestConformance$' 2>&1 | tee "$log"
if grep -E -e '--- SKIP' "$log"; then
	die "the conformance suite skipped"
fi
grep -q -e '^--- PASS: TestConformance ' -e '^PASS$' "$log" || die "TestConformance did not pass"

begin "GEMM 4096, FP32 and TF32"
run 120 ./bench gemm -m 4096 -n 4096 -k 4096 -level none -no-gonum -cuda on -tf32
run 90 python3 torch_gpu.py gemm 4096

begin "ops"
run 120 ./bench ops -level none -cuda on

begin "train: Fashion-MNIST 784-256-10, batch 128, Adam 1e-3, 2 epochs"
run 120 ./bench train -data fashion-mnist -data-dir "$data" -layers 256 -batch 128 -epochs 2 -backend cuda
run 120 python3 torch_gpu.py mlp "$data" 2 256 128
step=end
