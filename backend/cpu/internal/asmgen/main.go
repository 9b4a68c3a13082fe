// Command asmgen writes the amd64 assembly kernels of package cpu with avo.
// Run through go generate in backend/cpu; the output is committed and CI
// checks that regenerating it changes nothing. One file per kernel family:
// gemm.go and pack.go (AVX2 GEMM), gemm512.go (AVX-512 GEMM), optim.go,
// eltwise.go, exp.go and act.go (the training kernels), eltwise512.go
// and exp512.go (their AVX-512 forms), maxpool.go (2 x 2 max pooling).
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

func main() {
	ConstraintExpr("amd64,!noasm")
	gemmMicroAVX2(false)
	gemmMicroAVX2(true)
	packAAVX2()
	packBAVX2()
	adamAVX2()
	sgdAVX2()
	eltwiseAVX2()
	expAVX2()
	actAVX2()
	gemmMicroAVX512()
	gemmMicroAVX512Edge()
	packAAVX512()
	packBAVX512()
	eltwiseAVX512()
	adamAVX512()
	sgdAVX512()
	xentRowsAVX512()
	badLabelAVX512()
	actAVX512()
	geluBackwardAVX512()
	maxPoolAVX2()
	maxPoolAVX512()
	Generate()
}

// paramAddr is the stack address of the named scalar argument, for
// instructions that read it from memory directly.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// returnAddr is the stack address of result i, for a VEX store (Store
// writes a float32 with the SSE MOVSS).
func returnAddr(i int) Mem {
	b, err := ReturnIndex(i).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}
