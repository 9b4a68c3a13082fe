# Build, test and measure. `make help` lists the targets.
GO ?= go

.PHONY: help build train test test-arm64 test-arm64-run vet generate check-generated kernels gpu fuzz-smoke fuzz bench bench-go compare readme-figures clean

help:
	@echo "make build     build cmd/train and cmd/bench into bin/"
	@echo "make train     train on the embedded digits set"
	@echo "make test      vet, generated-code check, all tests (also -tags cuda and noasm), race detector"
	@echo "make test-arm64  the CPU backend's and nn's tests cross-built for arm64, run under qemu-aarch64-static"
	@echo "make kernels   rebuild kernels/fastnn.ptx from kernels/fastnn.cu (needs nvcc)"
	@echo "make gpu       cross-build the CUDA test and bench binaries into gpu/, for a GPU machine without Go"
	@echo "make bench     GEMM and training throughput (cmd/bench)"
	@echo "make bench-go  go test -bench over the kernels"
	@echo "make fuzz     every fuzz target for FUZZTIME (default 10s)"
	@echo "make compare   cmd/bench beside OpenBLAS and PyTorch in one run, ending with the ratios (needs libopenblas-dev, python3-torch)"
	@echo "make readme-figures  rerun README.md's training tables and print their rows, with the machine and date"

build:
	$(GO) build -o bin/ ./cmd/...

train:
	$(GO) run ./cmd/train

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags cuda ./...
	$(GO) vet -tags noasm ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=linux GOARCH=arm64 $(GO) vet ./...
	GOOS=linux GOARCH=arm64 $(GO) vet -tags noasm ./backend/cpu
	@if echo '#include <cblas.h>' | $(CC) -E - >/dev/null 2>&1; then $(GO) vet -tags openblas ./cmd/bench; \
	else echo "skipping go vet -tags openblas: no cblas.h (apt-get install libopenblas-dev)"; fi

# The assembly is generated with avo and committed; regenerating it must
# reproduce the committed files byte for byte.
generate:
	cd backend/cpu && $(GO) generate .

check-generated: generate
	git diff --exit-code -- backend/cpu/gemm_amd64.s backend/cpu/gemm_amd64_stubs.go

# The PTX is committed; kernels_test.go checks that it was built from the
# current fastnn.cu. nvcc: Debian's nvidia-cuda-toolkit (non-free).
kernels:
	sh kernels/gen.sh

# For a GPU machine that has no Go: static binaries (no cgo) and the
# script that runs them there (bench/gpu.sh).
gpu:
	mkdir -p gpu
	CGO_ENABLED=0 $(GO) test -tags cuda -c -ldflags "-s -w" -o gpu/cuda.test ./backend/cuda
	CGO_ENABLED=0 $(GO) build -tags cuda -ldflags "-s -w" -o gpu/ ./cmd/bench
	cp bench/gpu.sh bench/peers/torch_gpu.py gpu/
	if [ -d /usr/share/datasets/fashion-mnist ]; then mkdir -p gpu/fashion && cp /usr/share/datasets/fashion-mnist/*.gz gpu/fashion/; fi

test: vet check-generated
	$(GO) test ./...
	$(GO) test -tags noasm ./backend/cpu/
	$(MAKE) test-arm64
	$(GO) test -tags cuda ./...
	$(GO) test -race ./backend/... ./nn/... ./data/... ./playground/...
	$(MAKE) fuzz-smoke

# The arm64 build, whose CPU backend runs the neon level, under user-mode
# emulation (Debian's qemu-user-static): the CPU backend's tests (the
# conformance suite at the neon level, micro-kernel guard values,
# thread-count invariance) and nn's gradient checks and training tests, which
# run the default level, neon. The generic level's conformance suite, the
# slowest part under emulation, is left to the native run. About a minute
# of CPU time (the test binaries' builds aside).
QEMU_ARM64 ?= qemu-aarch64-static
test-arm64:
	@if ! command -v $(QEMU_ARM64) >/dev/null; then echo "skipping the arm64 tests: no $(QEMU_ARM64) (apt-get install qemu-user-static)"; exit 0; fi; \
	$(MAKE) test-arm64-run

test-arm64-run:
	mkdir -p bin/arm64
	GOOS=linux GOARCH=arm64 $(GO) test -c -o bin/arm64/cpu.test ./backend/cpu
	GOOS=linux GOARCH=arm64 $(GO) test -c -o bin/arm64/nn.test ./nn
	cd backend/cpu && $(QEMU_ARM64) ../../bin/arm64/cpu.test -test.skip 'TestConformance/generic'
	cd nn && $(QEMU_ARM64) ../bin/arm64/nn.test

# Every fuzz target, briefly (CI); `make fuzz FUZZTIME=5m` for a real run.
# The smoke run counts executions rather than seconds: Go 1.26's coordinator
# can fail a target with a bare "context deadline exceeded" when a duration
# budget ends while a worker is mid-call (go.dev/issue/75804), and a count has
# no deadline to race.
FUZZ_TARGETS = data:FuzzReadIDX data:FuzzReadCSV data:FuzzReadCSVText safetensors:FuzzRead cmd/train:FuzzFlags internal/experiment:FuzzSpecStateSize
FUZZTIME ?= 10s
fuzz-smoke:
	$(MAKE) fuzz FUZZTIME=30000x

fuzz:
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 1 ./$$pkg || exit 1; \
	done

bench: build
	for s in 256 512 1024; do for t in 1 2; do bin/bench gemm -m $$s -n $$s -k $$s -threads $$t; done; done
	bin/bench train -data fashion-mnist -layers 256 -batch 128 -epochs 4

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./backend/cpu/

compare: build
	bash bench/compare.sh

# The rows of README.md's two training tables, rerun and ready to paste; the
# Fashion-MNIST row runs PyTorch beside (python3-torch; `bin/bench readme
# -python ''` leaves it out).
readme-figures: build
	bin/bench readme

clean:
	rm -rf bin gpu
