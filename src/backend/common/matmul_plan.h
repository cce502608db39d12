// Layout planning for the matrix products (Matmul, AddMM), shared by the CPU
// kernels (OpenBLAS, src/backend/cpu/matmul.cpp) and the CUDA ones (cuBLAS,
// src/backend/cuda/matmul.cu). It looks at shapes and strides only: the gemm
// calls, and any copies, stay in the backends.
//
// out = a @ b is planned as row-major gemms of an M x K by a K x N matrix
// (a 1-D a is one row, a 1-D b one column) over out's batch axes. An operand
// whose matrix slices (the last two axes) are row- or column-contiguous is
// read where it is, through the transpose flag and the leading dimension;
// strides of unit axes are free, and negative ones on other matrix axes are
// never readable. Batch axes may be broadcast (stride 0) or have any
// strides. A backend copies an operand that cannot be read (or that it
// wants in another dtype) into a row-contiguous buffer of
// matmul_staging_shape(), whose broadcast batch axes stay size 1 so only
// distinct matrices are copied, and tells the plan with restage(). Once both
// operands are readable, fold_batch() folds a's batch into the rows of one
// tall gemm when b has no batch of its own and a's rows are evenly spaced
// (the common `x @ W`).
//
// Leading dimensions and folded row counts fit BLAS's 32-bit int: a layout
// that would not is unreadable, a fold that would not is not made. (The ops
// layer rejects M, N or K past INT_MAX.) Encoding thread.
#pragma once

#include <cstdint>
#include <optional>

#include "array.h"

namespace fastsync {

// How a row-major BLAS call reads a matrix: as stored (ld = row stride) or
// as the transpose of a row-major matrix (ld = column stride).
struct BlasLayout {
  bool trans = false;
  int64_t ld = 1;
};

// The layout of a rows x cols matrix with element strides (rs, cs), or none
// when BLAS cannot read it as it is.
std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs);

// One operand of the product, as the gemm calls will read it.
struct MatmulOperand {
  std::optional<BlasLayout> layout;  // none: the backend must copy it first
  Strides batch_strides;  // in elements, over the product's batch axes; 0 where broadcast
};

struct MatmulPlan {
  int64_t M = 0, N = 0, K = 0;
  Shape batch;  // out's batch axes (all but its matrix axes)
  MatmulOperand a, b;

  // Set by fold_batch(): rows of a (and of c) per gemm, a's leading
  // dimension for them, and whether that is the whole batch in one gemm.
  int64_t rows = 0;
  int64_t lda = 0;
  bool folded = false;

  MatmulOperand& operand(bool is_a) { return is_a ? a : b; }

  // The operand now lives in a row-contiguous copy of `shape` (from
  // matmul_staging_shape) with `strides`. Throws when even that cannot be
  // read, which the ops layer's size checks rule out (`op` names the op).
  void restage(bool is_a, const Shape& shape, const Strides& strides, const char* op);

  // Decides rows, lda and folded; both operands must have layouts.
  void fold_batch();

  // The batch axes the gemm calls loop over (none when folded), with
  // a.batch_strides and b.batch_strides, and c's strides over them in
  // elements for an M x N row-major c per batch element.
  Shape gemm_batch() const;
  Strides c_batch_strides() const;
};

// Plans out = a @ b (out_shape: a @ b's shape) reading a and b as they are.
MatmulPlan plan_matmul(const array& a, const array& b, const Shape& out_shape);

// The shape of a row-contiguous copy of operand x: x's, with broadcast
// (stride 0) batch axes at size 1.
Shape matmul_staging_shape(const array& x);

}  // namespace fastsync
