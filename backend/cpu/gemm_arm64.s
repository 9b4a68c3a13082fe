//go:build arm64 && !noasm

#include "textflag.h"

// Go's arm64 assembler has no by-element FMLA or FMUL and no float vector
// FMUL, FADD, FMAX (it has VFMLA and VFMLS in the vector form only), so those
// instructions are written as WORDs by the macros below. Registers are
// numbered 0..31 (V0..V31); lanes of a .S4 arrangement 0..3. Every macro's
// encoding was checked against an assembler's (llvm-mc -triple=aarch64
// -show-encoding) and against the disassembly of go tool objdump.

// FMLA Vd.4S, Vn.4S, Vm.S[i]: Vd += Vn * (lane i of Vm).
#define FMLA_ELEM(d, n, m, i) WORD $(0x4F801000 | (((i)&1)<<21) | (((i)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d))

// FMUL Vd.4S, Vn.4S, Vm.S[i]: Vd = Vn * (lane i of Vm).
#define FMUL_ELEM(d, n, m, i) WORD $(0x4F809000 | (((i)&1)<<21) | (((i)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d))

// gemmMicroNEON computes the 8x12 tile C = alpha*A*B + beta*C from a packed
// 8 x k sliver of A (column p at a[8p:]) and a packed k x 12 sliver of B
// (row p at b[12p:]); C has row stride ldc elements and is not read when
// beta == 0. In Go:
//
//	var acc [8][12]float32
//	for p := 0; p < k; p++ {
//		for r := 0; r < 8; r++ {
//			for j := 0; j < 12; j++ {
//				acc[r][j] += a[8*p+r] * b[12*p+j] // fused: one rounding
//			}
//		}
//	}
//	for r := 0; r < 8; r++ {
//		for j := 0; j < 12; j++ {
//			if beta == 0 {
//				c[r*ldc+j] = alpha * acc[r][j]
//			} else {
//				c[r*ldc+j] = beta*c[r*ldc+j] + alpha*acc[r][j] // fused
//			}
//		}
//	}
//
// Registers: V0, V1 hold the 8 elements of A's column p; V2, V3, V4 the 12
// elements of B's row p; V8..V31 the accumulators, row r of the tile in
// V(8+3r), V(9+3r), V(10+3r). Each step of k is 2 loads and 24 FMLAs, each
// FMLA multiplying a whole B vector by one lane of A (the by-element form),
// so A needs no broadcast: 192 flops in 28 instructions.
//
// func gemmMicroNEON(k int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32)
TEXT ·gemmMicroNEON(SB), NOSPLIT, $0-48
	MOVD k+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD c+24(FP), R3
	MOVD ldc+32(FP), R4
	LSL  $2, R4         // row stride in bytes

	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	CBZ  R0, store

loop:
	VLD1.P 32(R1), [V0.S4, V1.S4]
	VLD1.P 48(R2), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(8, 2, 0, 0) // FMLA V8.4S, V2.4S, V0.S[0]
	FMLA_ELEM(9, 3, 0, 0) // FMLA V9.4S, V3.4S, V0.S[0]
	FMLA_ELEM(10, 4, 0, 0) // FMLA V10.4S, V4.4S, V0.S[0]
	FMLA_ELEM(11, 2, 0, 1) // FMLA V11.4S, V2.4S, V0.S[1]
	FMLA_ELEM(12, 3, 0, 1) // FMLA V12.4S, V3.4S, V0.S[1]
	FMLA_ELEM(13, 4, 0, 1) // FMLA V13.4S, V4.4S, V0.S[1]
	FMLA_ELEM(14, 2, 0, 2) // FMLA V14.4S, V2.4S, V0.S[2]
	FMLA_ELEM(15, 3, 0, 2) // FMLA V15.4S, V3.4S, V0.S[2]
	FMLA_ELEM(16, 4, 0, 2) // FMLA V16.4S, V4.4S, V0.S[2]
	FMLA_ELEM(17, 2, 0, 3) // FMLA V17.4S, V2.4S, V0.S[3]
	FMLA_ELEM(18, 3, 0, 3) // FMLA V18.4S, V3.4S, V0.S[3]
	FMLA_ELEM(19, 4, 0, 3) // FMLA V19.4S, V4.4S, V0.S[3]
	FMLA_ELEM(20, 2, 1, 0) // FMLA V20.4S, V2.4S, V1.S[0]
	FMLA_ELEM(21, 3, 1, 0) // FMLA V21.4S, V3.4S, V1.S[0]
	FMLA_ELEM(22, 4, 1, 0) // FMLA V22.4S, V4.4S, V1.S[0]
	FMLA_ELEM(23, 2, 1, 1) // FMLA V23.4S, V2.4S, V1.S[1]
	FMLA_ELEM(24, 3, 1, 1) // FMLA V24.4S, V3.4S, V1.S[1]
	FMLA_ELEM(25, 4, 1, 1) // FMLA V25.4S, V4.4S, V1.S[1]
	FMLA_ELEM(26, 2, 1, 2) // FMLA V26.4S, V2.4S, V1.S[2]
	FMLA_ELEM(27, 3, 1, 2) // FMLA V27.4S, V3.4S, V1.S[2]
	FMLA_ELEM(28, 4, 1, 2) // FMLA V28.4S, V4.4S, V1.S[2]
	FMLA_ELEM(29, 2, 1, 3) // FMLA V29.4S, V2.4S, V1.S[3]
	FMLA_ELEM(30, 3, 1, 3) // FMLA V30.4S, V3.4S, V1.S[3]
	FMLA_ELEM(31, 4, 1, 3) // FMLA V31.4S, V4.4S, V1.S[3]
	SUBS $1, R0
	BNE  loop

store:
	FMOVS alpha+40(FP), F5 // V5.S[0] = alpha
	FMOVS beta+44(FP), F6  // V6.S[0] = beta
	FMUL_ELEM(8, 8, 5, 0) // FMUL V8.4S, V8.4S, V5.S[0] (alpha)
	FMUL_ELEM(9, 9, 5, 0) // FMUL V9.4S, V9.4S, V5.S[0] (alpha)
	FMUL_ELEM(10, 10, 5, 0) // FMUL V10.4S, V10.4S, V5.S[0] (alpha)
	FMUL_ELEM(11, 11, 5, 0) // FMUL V11.4S, V11.4S, V5.S[0] (alpha)
	FMUL_ELEM(12, 12, 5, 0) // FMUL V12.4S, V12.4S, V5.S[0] (alpha)
	FMUL_ELEM(13, 13, 5, 0) // FMUL V13.4S, V13.4S, V5.S[0] (alpha)
	FMUL_ELEM(14, 14, 5, 0) // FMUL V14.4S, V14.4S, V5.S[0] (alpha)
	FMUL_ELEM(15, 15, 5, 0) // FMUL V15.4S, V15.4S, V5.S[0] (alpha)
	FMUL_ELEM(16, 16, 5, 0) // FMUL V16.4S, V16.4S, V5.S[0] (alpha)
	FMUL_ELEM(17, 17, 5, 0) // FMUL V17.4S, V17.4S, V5.S[0] (alpha)
	FMUL_ELEM(18, 18, 5, 0) // FMUL V18.4S, V18.4S, V5.S[0] (alpha)
	FMUL_ELEM(19, 19, 5, 0) // FMUL V19.4S, V19.4S, V5.S[0] (alpha)
	FMUL_ELEM(20, 20, 5, 0) // FMUL V20.4S, V20.4S, V5.S[0] (alpha)
	FMUL_ELEM(21, 21, 5, 0) // FMUL V21.4S, V21.4S, V5.S[0] (alpha)
	FMUL_ELEM(22, 22, 5, 0) // FMUL V22.4S, V22.4S, V5.S[0] (alpha)
	FMUL_ELEM(23, 23, 5, 0) // FMUL V23.4S, V23.4S, V5.S[0] (alpha)
	FMUL_ELEM(24, 24, 5, 0) // FMUL V24.4S, V24.4S, V5.S[0] (alpha)
	FMUL_ELEM(25, 25, 5, 0) // FMUL V25.4S, V25.4S, V5.S[0] (alpha)
	FMUL_ELEM(26, 26, 5, 0) // FMUL V26.4S, V26.4S, V5.S[0] (alpha)
	FMUL_ELEM(27, 27, 5, 0) // FMUL V27.4S, V27.4S, V5.S[0] (alpha)
	FMUL_ELEM(28, 28, 5, 0) // FMUL V28.4S, V28.4S, V5.S[0] (alpha)
	FMUL_ELEM(29, 29, 5, 0) // FMUL V29.4S, V29.4S, V5.S[0] (alpha)
	FMUL_ELEM(30, 30, 5, 0) // FMUL V30.4S, V30.4S, V5.S[0] (alpha)
	FMUL_ELEM(31, 31, 5, 0) // FMUL V31.4S, V31.4S, V5.S[0] (alpha)
	FCMPS $(0.0), F6
	BEQ   overwrite

	// C = beta*C + alpha*acc, a row at a time.
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(8, 2, 6, 0) // FMLA V8.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(9, 3, 6, 0) // FMLA V9.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(10, 4, 6, 0) // FMLA V10.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V8.S4, V9.S4, V10.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(11, 2, 6, 0) // FMLA V11.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(12, 3, 6, 0) // FMLA V12.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(13, 4, 6, 0) // FMLA V13.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V11.S4, V12.S4, V13.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(14, 2, 6, 0) // FMLA V14.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(15, 3, 6, 0) // FMLA V15.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(16, 4, 6, 0) // FMLA V16.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V14.S4, V15.S4, V16.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(17, 2, 6, 0) // FMLA V17.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(18, 3, 6, 0) // FMLA V18.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(19, 4, 6, 0) // FMLA V19.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V17.S4, V18.S4, V19.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(20, 2, 6, 0) // FMLA V20.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(21, 3, 6, 0) // FMLA V21.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(22, 4, 6, 0) // FMLA V22.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V20.S4, V21.S4, V22.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(23, 2, 6, 0) // FMLA V23.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(24, 3, 6, 0) // FMLA V24.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(25, 4, 6, 0) // FMLA V25.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V23.S4, V24.S4, V25.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(26, 2, 6, 0) // FMLA V26.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(27, 3, 6, 0) // FMLA V27.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(28, 4, 6, 0) // FMLA V28.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V26.S4, V27.S4, V28.S4], (R3)(R4)
	VLD1 (R3), [V2.S4, V3.S4, V4.S4]
	FMLA_ELEM(29, 2, 6, 0) // FMLA V29.4S, V2.4S, V6.S[0] (beta)
	FMLA_ELEM(30, 3, 6, 0) // FMLA V30.4S, V3.4S, V6.S[0] (beta)
	FMLA_ELEM(31, 4, 6, 0) // FMLA V31.4S, V4.4S, V6.S[0] (beta)
	VST1.P [V29.S4, V30.S4, V31.S4], (R3)(R4)
	RET

// C = alpha*acc, without reading C.
overwrite:
	VST1.P [V8.S4, V9.S4, V10.S4], (R3)(R4)
	VST1.P [V11.S4, V12.S4, V13.S4], (R3)(R4)
	VST1.P [V14.S4, V15.S4, V16.S4], (R3)(R4)
	VST1.P [V17.S4, V18.S4, V19.S4], (R3)(R4)
	VST1.P [V20.S4, V21.S4, V22.S4], (R3)(R4)
	VST1.P [V23.S4, V24.S4, V25.S4], (R3)(R4)
	VST1.P [V26.S4, V27.S4, V28.S4], (R3)(R4)
	VST1.P [V29.S4, V30.S4, V31.S4], (R3)(R4)
	RET

// The elementwise kernels below run on n floats, n a multiple of 4 and
// greater than 0; their Go wrappers (kernels_arm64.go) run the generic loop
// on the rest.

// FADD Vd.4S, Vn.4S, Vm.4S: Vd = Vn + Vm.
#define FADD_4S(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))

// FMAX Vd.4S, Vn.4S, Vm.4S: Vd = max(Vn, Vm), NaN if either is NaN.
#define FMAX_4S(d, n, m) WORD $(0x4E20F400 | ((m)<<16) | ((n)<<5) | (d))

// FCMGT Vd.4S, Vn.4S, #0.0: each lane of Vd all ones where Vn > 0, else 0.
#define FCMGTZ_4S(d, n) WORD $(0x4EA0C800 | ((n)<<5) | (d))

// FCVTL Vd.2D, Vn.2S and FCVTL2 Vd.2D, Vn.4S: lanes 0, 1 (FCVTL) or 2, 3
// (FCVTL2) of Vn widened to float64.
#define FCVTL_2D(d, n) WORD $(0x0E617800 | ((n)<<5) | (d))
#define FCVTL2_2D(d, n) WORD $(0x4E617800 | ((n)<<5) | (d))

// FADD Vd.2D, Vn.2D, Vm.2D: Vd = Vn + Vm in float64.
#define FADD_2D(d, n, m) WORD $(0x4E60D400 | ((m)<<16) | ((n)<<5) | (d))

// func addNEON(n int, x *float32, y *float32)
// y[i] += x[i]
TEXT ·addNEON(SB), NOSPLIT, $0-24
	MOVD n+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R2

addLoop:
	VLD1.P 16(R1), [V0.S4]
	VLD1   (R2), [V1.S4]
	FADD_4S(1, 1, 0)       // FADD V1.4S, V1.4S, V0.4S
	VST1.P [V1.S4], 16(R2)
	SUBS   $4, R0
	BNE    addLoop
	RET

// func reluNEON(n int, x *float32, y *float32)
// y[i] = max(x[i], 0)
TEXT ·reluNEON(SB), NOSPLIT, $0-24
	MOVD n+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R2
	VEOR V2.B16, V2.B16, V2.B16

reluLoop:
	VLD1.P 16(R1), [V0.S4]
	FMAX_4S(0, 0, 2)       // FMAX V0.4S, V0.4S, V2.4S
	VST1.P [V0.S4], 16(R2)
	SUBS   $4, R0
	BNE    reluLoop
	RET

// func reluBackwardNEON(n int, x *float32, dy *float32, dx *float32)
// dx[i] = dy[i] if x[i] > 0, else 0
TEXT ·reluBackwardNEON(SB), NOSPLIT, $0-32
	MOVD n+0(FP), R0
	MOVD x+8(FP), R1
	MOVD dy+16(FP), R2
	MOVD dx+24(FP), R3

reluBackwardLoop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V1.S4]
	FCMGTZ_4S(0, 0)        // FCMGT V0.4S, V0.4S, #0.0
	VAND   V0.B16, V1.B16, V1.B16
	VST1.P [V1.S4], 16(R3)
	SUBS   $4, R0
	BNE    reluBackwardLoop
	RET

// func addF64NEON(n int, x *float32, acc *float64)
// acc[i] += float64(x[i])
TEXT ·addF64NEON(SB), NOSPLIT, $0-24
	MOVD n+0(FP), R0
	MOVD x+8(FP), R1
	MOVD acc+16(FP), R2

addF64Loop:
	VLD1.P 16(R1), [V0.S4]
	VLD1   (R2), [V1.D2, V2.D2]
	FCVTL_2D(3, 0)         // FCVTL V3.2D, V0.2S
	FCVTL2_2D(4, 0)        // FCVTL2 V4.2D, V0.4S
	FADD_2D(1, 1, 3)       // FADD V1.2D, V1.2D, V3.2D
	FADD_2D(2, 2, 4)       // FADD V2.2D, V2.2D, V4.2D
	VST1.P [V1.D2, V2.D2], 32(R2)
	SUBS   $4, R0
	BNE    addF64Loop
	RET

// func sgdNEON(n int, param *float32, grad *float32, v *float32, c *sgdConsts)
// The SGD update of sgdGeneric, in its three forms (c.momentum == 0,
// c.nesterov, plain momentum), each multiply-add fused:
//
//	g := grad[i] + wd*param[i]
//	if mu != 0 {
//		v[i] = mu*v[i] + g
//		g = v[i], or with nesterov g += mu*v[i]
//	}
//	param[i] -= lr * g
TEXT ·sgdNEON(SB), NOSPLIT, $0-40
	MOVD    n+0(FP), R0
	MOVD    param+8(FP), R1
	MOVD    grad+16(FP), R2
	MOVD    v+24(FP), R3
	MOVD    c+32(FP), R4
	VLD1R   (R4), [V20.S4] // lr
	ADD     $4, R4, R5
	VLD1R   (R5), [V21.S4] // momentum
	ADD     $8, R4, R5
	VLD1R   (R5), [V22.S4] // weight decay
	FMOVS   4(R4), F23
	FCMPS   $(0.0), F23
	BEQ     sgdPlain
	MOVBU   12(R4), R6     // nesterov
	CBNZ    R6, sgdNesterov

sgdMomentum:
	VLD1   (R1), [V0.S4]       // p
	VLD1.P 16(R2), [V1.S4]     // g
	VLD1   (R3), [V2.S4]       // v
	VFMLA  V22.S4, V0.S4, V1.S4 // g += wd*p
	VFMLA  V21.S4, V2.S4, V1.S4 // g += mu*v: the new v
	VST1.P [V1.S4], 16(R3)
	VFMLS  V20.S4, V1.S4, V0.S4 // p -= lr*v
	VST1.P [V0.S4], 16(R1)
	SUBS   $4, R0
	BNE    sgdMomentum
	RET

sgdNesterov:
	VLD1   (R1), [V0.S4]        // p
	VLD1.P 16(R2), [V1.S4]      // g
	VLD1   (R3), [V2.S4]        // v
	VFMLA  V22.S4, V0.S4, V1.S4 // g += wd*p
	VORR   V1.B16, V1.B16, V3.B16
	VFMLA  V21.S4, V2.S4, V3.S4 // v' = g + mu*v
	VST1.P [V3.S4], 16(R3)
	VFMLA  V21.S4, V3.S4, V1.S4 // g += mu*v'
	VFMLS  V20.S4, V1.S4, V0.S4 // p -= lr*g
	VST1.P [V0.S4], 16(R1)
	SUBS   $4, R0
	BNE    sgdNesterov
	RET

sgdPlain:
	VLD1   (R1), [V0.S4]        // p
	VLD1.P 16(R2), [V1.S4]      // g
	VFMLA  V22.S4, V0.S4, V1.S4 // g += wd*p
	VFMLS  V20.S4, V1.S4, V0.S4 // p -= lr*g
	VST1.P [V0.S4], 16(R1)
	SUBS   $4, R0
	BNE    sgdPlain
	RET

// FMUL, FSUB and FDIV Vd.4S, Vn.4S, Vm.4S: Vd = Vn * Vm, Vn - Vm, Vn / Vm.
#define FMUL_4S(d, n, m) WORD $(0x6E20DC00 | ((m)<<16) | ((n)<<5) | (d))
#define FSUB_4S(d, n, m) WORD $(0x4EA0D400 | ((m)<<16) | ((n)<<5) | (d))
#define FDIV_4S(d, n, m) WORD $(0x6E20FC00 | ((m)<<16) | ((n)<<5) | (d))

// FSQRT Vd.4S, Vn.4S: Vd = sqrt(Vn), correctly rounded.
#define FSQRT_4S(d, n) WORD $(0x6EA1F800 | ((n)<<5) | (d))

// func adamNEON(n int, param *float32, grad *float32, m *float32, v *float32, c *adamConsts)
// The Adam/AdamW update of adamGeneric:
//
//	p := param[i] * decay
//	g := grad[i] + coupled*p                  // fused
//	m[i] = beta1*m[i] + oneMinusBeta1*g        // fused: the second product exact
//	v[i] = beta2*v[i] + oneMinusBeta2*g*g      // fused likewise
//	param[i] = p - stepSize*m[i]/(sqrt(v[i])*invSqrtBC2 + eps)
//
// The constants, broadcast: V16 beta1, V17 oneMinusBeta1, V18 beta2, V19
// oneMinusBeta2, V20 stepSize, V21 invSqrtBC2, V22 eps, V23 decay, V24
// coupled (adamConsts' order).
TEXT ·adamNEON(SB), NOSPLIT, $0-48
	MOVD    n+0(FP), R0
	MOVD    param+8(FP), R1
	MOVD    grad+16(FP), R2
	MOVD    m+24(FP), R3
	MOVD    v+32(FP), R4
	MOVD    c+40(FP), R5
	VLD1R.P 4(R5), [V16.S4]
	VLD1R.P 4(R5), [V17.S4]
	VLD1R.P 4(R5), [V18.S4]
	VLD1R.P 4(R5), [V19.S4]
	VLD1R.P 4(R5), [V20.S4]
	VLD1R.P 4(R5), [V21.S4]
	VLD1R.P 4(R5), [V22.S4]
	VLD1R.P 4(R5), [V23.S4]
	VLD1R   (R5), [V24.S4]

adamLoop:
	VLD1   (R1), [V0.S4]         // param
	VLD1.P 16(R2), [V1.S4]       // grad
	VLD1   (R3), [V2.S4]         // m
	VLD1   (R4), [V3.S4]         // v
	FMUL_4S(0, 0, 23)            // FMUL V0.4S, V0.4S, V23.4S: p = param*decay
	VFMLA  V24.S4, V0.S4, V1.S4  // g += coupled*p
	FMUL_4S(4, 1, 17)            // FMUL V4.4S, V1.4S, V17.4S: oneMinusBeta1*g
	VFMLA  V16.S4, V2.S4, V4.S4  // m' = beta1*m + oneMinusBeta1*g
	FMUL_4S(5, 1, 19)            // FMUL V5.4S, V1.4S, V19.4S: oneMinusBeta2*g
	FMUL_4S(5, 5, 1)             // FMUL V5.4S, V5.4S, V1.4S: oneMinusBeta2*g*g
	VFMLA  V18.S4, V3.S4, V5.S4  // v' = beta2*v + oneMinusBeta2*g*g
	VST1.P [V4.S4], 16(R3)
	VST1.P [V5.S4], 16(R4)
	FSQRT_4S(6, 5)               // FSQRT V6.4S, V5.4S
	VORR   V22.B16, V22.B16, V7.B16
	VFMLA  V21.S4, V6.S4, V7.S4  // denom = sqrt(v')*invSqrtBC2 + eps
	FMUL_4S(4, 4, 20)            // FMUL V4.4S, V4.4S, V20.4S: stepSize*m'
	FDIV_4S(4, 4, 7)             // FDIV V4.4S, V4.4S, V7.4S: stepSize*m'/denom
	FSUB_4S(0, 0, 4)             // FSUB V0.4S, V0.4S, V4.4S
	VST1.P [V0.S4], 16(R1)
	SUBS   $4, R0
	BNE    adamLoop
	RET

// The float32 exp, the same algorithm and constants as the avx2 level's
// (internal/asmgen emitExp: Cephes expf's split of ln 2 and polynomial,
// within 2 ulp where e^x is a normal float32):
//
//	xc := min(max(x, lo), hi)         // NaN stays NaN
//	n := round(xc * log2e)            // to nearest, ties to even
//	r := xc - n*ln2Hi - n*ln2Lo       // fused; n*ln2Hi is exact
//	y := ((((p0*r+p1)*r+p2)*r+p3)*r+p4)*r + p5
//	y = 1 + (y*r*r + r)
//	y = y * 2^n                       // n added to y's exponent
//	y = 0 where x < min, +Inf where x > hi
//
// EXP_V0_V1 sets V1 = e^V0, with the constants of neonexp in V16..V30
// (LOAD_EXP_CONSTS) and V2..V4 as scratch; V0 is not changed.

// FMIN Vd.4S, Vn.4S, Vm.4S: Vd = min(Vn, Vm), NaN if either is NaN.
#define FMIN_4S(d, n, m) WORD $(0x4EA0F400 | ((m)<<16) | ((n)<<5) | (d))

// FRINTN Vd.4S, Vn.4S: round to integral, to nearest with ties to even.
#define FRINTN_4S(d, n) WORD $(0x4E218800 | ((n)<<5) | (d))

// FCVTZS Vd.4S, Vn.4S: to int32, toward zero (exact on integral values).
#define FCVTZS_4S(d, n) WORD $(0x4EA1B800 | ((n)<<5) | (d))

// FCMGT Vd.4S, Vn.4S, Vm.4S: lanes all ones where Vn > Vm (false for NaN).
#define FCMGT_4S(d, n, m) WORD $(0x6EA0E400 | ((m)<<16) | ((n)<<5) | (d))

// BIC Vd.16B, Vn.16B, Vm.16B: Vd = Vn &^ Vm.
#define BIC_16B(d, n, m) WORD $(0x4E601C00 | ((m)<<16) | ((n)<<5) | (d))

// BIT Vd.16B, Vn.16B, Vm.16B: Vd = Vn where Vm's bits are set, else Vd.
#define BIT_16B(d, n, m) WORD $(0x6EA01C00 | ((m)<<16) | ((n)<<5) | (d))

// SSHR Vd.4S, Vn.4S, #31: each lane all ones where Vn's sign bit is set.
#define SSHR31_4S(d, n) WORD $(0x4F210400 | ((n)<<5) | (d))

// FADDP Vd.4S, Vn.4S, Vm.4S (pairwise sums of Vn then Vm) and FADDP Sd,
// Vn.2S (lane 0 + lane 1).
#define FADDP_4S(d, n, m) WORD $(0x6E20D400 | ((m)<<16) | ((n)<<5) | (d))
#define FADDP_S(d, n) WORD $(0x7E30D800 | ((n)<<5) | (d))

DATA neonexp<>+0(SB)/4, $0x42b17217  // V16: hi, the greatest float32 below ln(MaxFloat32)
DATA neonexp<>+4(SB)/4, $0xc2b00000  // V17: lo, -88
DATA neonexp<>+8(SB)/4, $0xc2aeac4f  // V18: min, the least x with a normal e^x
DATA neonexp<>+12(SB)/4, $0x7f800000 // V19: +Inf
DATA neonexp<>+16(SB)/4, $0x3fb8aa3b // V20: log2(e)
DATA neonexp<>+20(SB)/4, $0x3f318000 // V21: ln2Hi 0.693359375
DATA neonexp<>+24(SB)/4, $0xb95e8083 // V22: ln2Lo -2.12194440e-4
DATA neonexp<>+28(SB)/4, $0x39506967 // V23: p0 1.9875691500e-4
DATA neonexp<>+32(SB)/4, $0x3ab743ce // V24: p1 1.3981999507e-3
DATA neonexp<>+36(SB)/4, $0x3c088908 // V25: p2 8.3334519073e-3
DATA neonexp<>+40(SB)/4, $0x3d2aa9c1 // V26: p3 4.1665795894e-2
DATA neonexp<>+44(SB)/4, $0x3e2aaaaa // V27: p4 1.6666665459e-1
DATA neonexp<>+48(SB)/4, $0x3f000000 // V28: p5 5.0000001201e-1
DATA neonexp<>+52(SB)/4, $0x3f800000 // V29: 1
DATA neonexp<>+56(SB)/4, $0x80000000 // V30: the sign bit
GLOBL neonexp<>(SB), RODATA|NOPTR, $60

#define LOAD_EXP_CONSTS \
	MOVD    $neonexp<>(SB), R5 \
	VLD1R.P 4(R5), [V16.S4] \
	VLD1R.P 4(R5), [V17.S4] \
	VLD1R.P 4(R5), [V18.S4] \
	VLD1R.P 4(R5), [V19.S4] \
	VLD1R.P 4(R5), [V20.S4] \
	VLD1R.P 4(R5), [V21.S4] \
	VLD1R.P 4(R5), [V22.S4] \
	VLD1R.P 4(R5), [V23.S4] \
	VLD1R.P 4(R5), [V24.S4] \
	VLD1R.P 4(R5), [V25.S4] \
	VLD1R.P 4(R5), [V26.S4] \
	VLD1R.P 4(R5), [V27.S4] \
	VLD1R.P 4(R5), [V28.S4] \
	VLD1R.P 4(R5), [V29.S4] \
	VLD1R   (R5), [V30.S4]

#define EXP_V0_V1 \
	FMIN_4S(2, 0, 16) \
	FMAX_4S(2, 2, 17) \
	FMUL_4S(3, 2, 20) \
	FRINTN_4S(3, 3) \
	VFMLS   V21.S4, V3.S4, V2.S4 \
	VFMLS   V22.S4, V3.S4, V2.S4 \
	VORR    V24.B16, V24.B16, V1.B16 \
	VFMLA   V23.S4, V2.S4, V1.S4 \
	VORR    V25.B16, V25.B16, V4.B16 \
	VFMLA   V1.S4, V2.S4, V4.S4 \
	VORR    V26.B16, V26.B16, V1.B16 \
	VFMLA   V4.S4, V2.S4, V1.S4 \
	VORR    V27.B16, V27.B16, V4.B16 \
	VFMLA   V1.S4, V2.S4, V4.S4 \
	VORR    V28.B16, V28.B16, V1.B16 \
	VFMLA   V4.S4, V2.S4, V1.S4 \
	FMUL_4S(4, 2, 2) \
	VFMLA   V1.S4, V4.S4, V2.S4 \
	FADD_4S(1, 2, 29) \
	FCVTZS_4S(3, 3) \
	VSHL    $23, V3.S4, V3.S4 \
	VADD    V3.S4, V1.S4, V1.S4 \
	FCMGT_4S(4, 18, 0) \
	BIC_16B(1, 1, 4) \
	FCMGT_4S(4, 0, 16) \
	BIT_16B(1, 19, 4)

// func softmaxExpNEON(n int, x *float32, y *float32, m float32) (s float32)
// y[i] = e^(x[i]-m); s is the sum of the y[i], added in 4 lanes, then the
// lanes pairwise.
TEXT ·softmaxExpNEON(SB), NOSPLIT, $0-36
	MOVD  n+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  y+16(FP), R2
	FMOVS m+24(FP), F7
	VDUP  V7.S[0], V7.S4
	LOAD_EXP_CONSTS
	VEOR  V8.B16, V8.B16, V8.B16

softmaxExpLoop:
	VLD1.P 16(R1), [V0.S4]
	FSUB_4S(0, 0, 7)         // FSUB V0.4S, V0.4S, V7.4S: x - m
	EXP_V0_V1
	FADD_4S(8, 8, 1)         // FADD V8.4S, V8.4S, V1.4S: the lane sums
	VST1.P [V1.S4], 16(R2)
	SUBS   $4, R0
	BNE    softmaxExpLoop
	FADDP_4S(8, 8, 8)        // FADDP V8.4S, V8.4S, V8.4S
	FADDP_S(8, 8)            // FADDP S8, V8.2S
	FMOVS  F8, s+32(FP)
	RET

// SIGMOID_V10_V12 sets V12 = 1/(1+e^-V10) without overflow: with
// e = e^-|x|, 1/(1+e) for x >= 0 and e/(1+e) for x < 0 (the sign bit
// chooses, so -0 gives 1/2 too). It uses V0..V4 and V11; V10 is not
// changed. The lines, in order:
//
//	V0 = V10 | sign                   // -|x|
//	EXP_V0_V1                         // e
//	SSHR V11.4S, V10.4S, #31          // all ones where x's sign is set
//	V12 = 1; BIT V12, V1, V11         // the numerator: e where x < 0, else 1
//	FADD V1 = V1 + 1; FDIV V12 = V12 / V1
#define SIGMOID_V10_V12 \
	VORR V30.B16, V10.B16, V0.B16 \
	EXP_V0_V1 \
	SSHR31_4S(11, 10) \
	VORR V29.B16, V29.B16, V12.B16 \
	BIT_16B(12, 1, 11) \
	FADD_4S(1, 1, 29) \
	FDIV_4S(12, 12, 1)

// The constants of GELU and tanh. t0..t4 are the odd polynomial of Cephes
// tanhf for |x| < 0.625: tanh(x) = x + x^3*T(x^2), to about 1 ulp.
DATA neonact<>+0(SB)/4, $0x3fcc422a  // gelu1: 2*sqrt(2/pi)
DATA neonact<>+4(SB)/4, $0x3d922279  // gelu3: 2*sqrt(2/pi)*0.044715
DATA neonact<>+8(SB)/4, $0xbbbaf0ea  // t4 -5.70498872745e-3
DATA neonact<>+12(SB)/4, $0x3ca9134e // t3 2.06390887954e-2
DATA neonact<>+16(SB)/4, $0xbd5c1e2d // t2 -5.37397155531e-2
DATA neonact<>+20(SB)/4, $0x3e088393 // t1 1.33314422036e-1
DATA neonact<>+24(SB)/4, $0xbeaaaa99 // t0 -3.33332819422e-1
DATA neonact<>+28(SB)/4, $0x3f200000 // 0.625
DATA neonact<>+32(SB)/4, $0x40000000 // 2
DATA neonact<>+36(SB)/4, $0x3e5b33b6 // gelu3x3: 3*2*sqrt(2/pi)*0.044715
DATA neonact<>+40(SB)/4, $0x4cbebc20 // 1e8, the cap on x^2 in GELU's backward pass
GLOBL neonact<>(SB), RODATA|NOPTR, $44

// func sigmoidNEON(n int, x *float32, y *float32)
// y[i] = 1/(1+e^-x[i])
TEXT ·sigmoidNEON(SB), NOSPLIT, $0-24
	MOVD n+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R2
	LOAD_EXP_CONSTS

sigmoidLoop:
	VLD1.P 16(R1), [V10.S4]
	SIGMOID_V10_V12
	VST1.P [V12.S4], 16(R2)
	SUBS   $4, R0
	BNE    sigmoidLoop
	RET

// func geluNEON(n int, x *float32, y *float32)
// y[i] = GELU(x[i]) in its tanh form, as x*sigmoid(z) with
// z = x*(gelu1 + gelu3*x^2): 0.5x(1+tanh(sqrt(2/pi)(x + 0.044715x^3)))
// without its cancellation for x < 0.
TEXT ·geluNEON(SB), NOSPLIT, $0-24
	MOVD  n+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  y+16(FP), R2
	LOAD_EXP_CONSTS
	MOVD  $neonact<>(SB), R5
	VLD1R.P 4(R5), [V5.S4] // gelu1
	VLD1R (R5), [V6.S4]    // gelu3

geluLoop:
	VLD1.P 16(R1), [V13.S4]
	FMUL_4S(14, 13, 13)     // FMUL V14.4S, V13.4S, V13.4S: x^2
	VORR   V5.B16, V5.B16, V10.B16
	VFMLA  V6.S4, V14.S4, V10.S4 // gelu1 + gelu3*x^2
	FMUL_4S(10, 10, 13)     // FMUL V10.4S, V10.4S, V13.4S: z
	SIGMOID_V10_V12
	FMUL_4S(12, 12, 13)     // FMUL V12.4S, V12.4S, V13.4S: x*sigmoid(z)
	VST1.P [V12.S4], 16(R2)
	SUBS   $4, R0
	BNE    geluLoop
	RET

// func tanhNEON(n int, x *float32, y *float32)
// y[i] = tanh(x[i]): with a = |x|, the polynomial a + a^3*T(a^2) for
// a < 0.625 and 1 - 2/(e^(2a)+1) above (1 once e^(2a) overflows to +Inf),
// then the sign of x. NaN stays NaN.
TEXT ·tanhNEON(SB), NOSPLIT, $0-24
	MOVD    n+0(FP), R0
	MOVD    x+8(FP), R1
	MOVD    y+16(FP), R2
	LOAD_EXP_CONSTS
	MOVD    $neonact<>+8(SB), R5
	VLD1R.P 4(R5), [V5.S4]  // t4
	VLD1R.P 4(R5), [V6.S4]  // t3
	VLD1R.P 4(R5), [V7.S4]  // t2
	VLD1R.P 4(R5), [V8.S4]  // t1
	VLD1R.P 4(R5), [V9.S4]  // t0
	VLD1R.P 4(R5), [V13.S4] // 0.625
	VLD1R   (R5), [V14.S4]  // 2

tanhLoop:
	VLD1.P 16(R1), [V10.S4]
	BIC_16B(11, 10, 30)           // BIC V11.16B, V10.16B, V30.16B: a = |x|
	FMUL_4S(12, 11, 11)           // FMUL V12.4S, V11.4S, V11.4S: s = a^2
	VORR   V6.B16, V6.B16, V15.B16
	VFMLA  V5.S4, V12.S4, V15.S4  // t3 + t4*s
	VORR   V7.B16, V7.B16, V31.B16
	VFMLA  V15.S4, V12.S4, V31.S4 // t2 + (...)*s
	VORR   V8.B16, V8.B16, V15.B16
	VFMLA  V31.S4, V12.S4, V15.S4 // t1 + (...)*s
	VORR   V9.B16, V9.B16, V31.B16
	VFMLA  V15.S4, V12.S4, V31.S4 // T(s) = t0 + (...)*s
	FMUL_4S(31, 31, 12)           // FMUL V31.4S, V31.4S, V12.4S: s*T(s)
	VORR   V11.B16, V11.B16, V15.B16
	VFMLA  V31.S4, V11.S4, V15.S4 // the polynomial: a + a*s*T(s)
	FADD_4S(0, 11, 11)            // FADD V0.4S, V11.4S, V11.4S: 2a
	EXP_V0_V1
	FADD_4S(1, 1, 29)             // FADD V1.4S, V1.4S, V29.4S: e^(2a) + 1
	FDIV_4S(1, 14, 1)             // FDIV V1.4S, V14.4S, V1.4S: 2/(e^(2a)+1)
	FSUB_4S(1, 29, 1)             // FSUB V1.4S, V29.4S, V1.4S: 1 - 2/(e^(2a)+1)
	FCMGT_4S(12, 13, 11)          // FCMGT V12.4S, V13.4S, V11.4S: a < 0.625 (false for NaN)
	BIT_16B(1, 15, 12)            // BIT V1.16B, V15.16B, V12.16B: the polynomial there
	VAND   V30.B16, V10.B16, V12.B16
	VORR   V12.B16, V1.B16, V1.B16 // x's sign
	VST1.P [V1.S4], 16(R2)
	SUBS   $4, R0
	BNE    tanhLoop
	RET

// func geluBackwardNEON(n int, x *float32, dy *float32, dx *float32)
// dx[i] = dy[i]*GELU'(x[i]). With z as in geluNEON, s = sigmoid(z) and
// e = e^-|z|,
//
//	GELU'(x) = s + x*z'(x)*s*(1-s),  s*(1-s) = e/(1+e)^2,
//
// the second form free of the cancellation of 1-s; z' = gelu1 +
// gelu3x3*x^2. x^2 is capped at 1e8 in z and z', where s*(1-s) is 0
// anyway, so that large finite x give x*z'*0 = 0 rather than Inf*0.
TEXT ·geluBackwardNEON(SB), NOSPLIT, $0-32
	MOVD    n+0(FP), R0
	MOVD    x+8(FP), R1
	MOVD    dy+16(FP), R2
	MOVD    dx+24(FP), R3
	LOAD_EXP_CONSTS
	MOVD    $neonact<>(SB), R5
	VLD1R   (R5), [V5.S4] // gelu1
	ADD     $4, R5, R6
	VLD1R   (R6), [V6.S4] // gelu3
	ADD     $36, R5, R6
	VLD1R.P 4(R6), [V7.S4] // gelu3x3
	VLD1R   (R6), [V8.S4]  // 1e8

geluBackwardLoop:
	VLD1.P 16(R1), [V13.S4]         // x
	VLD1.P 16(R2), [V9.S4]          // dy
	FMUL_4S(14, 13, 13)             // FMUL V14.4S, V13.4S, V13.4S: x^2
	FMIN_4S(14, 14, 8)              // FMIN V14.4S, V14.4S, V8.4S: capped
	VORR   V5.B16, V5.B16, V10.B16
	VFMLA  V6.S4, V14.S4, V10.S4    // gelu1 + gelu3*x^2
	FMUL_4S(10, 10, 13)             // FMUL V10.4S, V10.4S, V13.4S: z
	VORR   V5.B16, V5.B16, V11.B16
	VFMLA  V7.S4, V14.S4, V11.S4    // gelu1 + gelu3x3*x^2
	FMUL_4S(11, 11, 13)             // FMUL V11.4S, V11.4S, V13.4S: x*z'
	VORR   V30.B16, V10.B16, V0.B16 // -|z|
	EXP_V0_V1
	FADD_4S(12, 1, 29)              // FADD V12.4S, V1.4S, V29.4S: 1 + e
	FDIV_4S(12, 29, 12)             // FDIV V12.4S, V29.4S, V12.4S: r = 1/(1+e)
	FMUL_4S(15, 12, 1)              // FMUL V15.4S, V12.4S, V1.4S: r*e
	SSHR31_4S(14, 10)               // SSHR V14.4S, V10.4S, #31: z's sign
	VORR   V12.B16, V12.B16, V31.B16
	BIT_16B(31, 15, 14)             // BIT V31.16B, V15.16B, V14.16B: s, r*e where z < 0, else r
	FMUL_4S(1, 12, 1)               // FMUL V1.4S, V12.4S, V1.4S
	FMUL_4S(1, 12, 1)               // FMUL V1.4S, V12.4S, V1.4S: s*(1-s) = r*r*e
	VFMLA  V11.S4, V1.S4, V31.S4    // s + x*z'*s*(1-s)
	FMUL_4S(31, 31, 9)              // FMUL V31.4S, V31.4S, V9.4S: times dy
	VST1.P [V31.S4], 16(R3)
	SUBS   $4, R0
	BNE    geluBackwardLoop
	RET
