// Matrix factorizations and the solvers built on them (mx.linalg). Every
// primitive works on the last two axes of its inputs, batched over the
// leading ones (which the ops layer has made equal across inputs), in
// float32, float64 or complex64 (the ops layer casts the half types up and
// rejects the rest). The CPU kernels call LAPACK from the OpenBLAS wheel
// (src/backend/cpu/lapack.cpp); the GPU ones cuSOLVER
// (src/backend/cuda/lapack.cu), except the triangular forms of Inverse and
// Solve, CholeskyInverse and Eig, which raise NotImplementedError on a GPU
// stream, naming the op.
//
// A kernel that meets a matrix it cannot factor (singular for inv and
// solve, not positive definite for cholesky, no convergence for svd and
// eig) fails the task with an error naming the op and the matrix's batch
// index; it surfaces at the next eval or read of the outputs.
#pragma once

#include "primitive.h"

namespace fastsync {

// (..., M, N) -> {LU (..., M, N): L below the diagonal (unit diagonal
// implied), U on and above; pivots (..., K) int32, 0-based LAPACK row
// swaps; P (..., M) int32, the row permutation with (L @ U)[P] = a}.
class LUFactor : public Primitive {
 public:
  explicit LUFactor(Stream s) : Primitive(s) {}
  const char* name() const override { return "LUFactor"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
};

// (..., M, N) -> {Q (..., M, K) with orthonormal columns, R (..., K, N)
// upper triangular}, K = min(M, N).
class QRFactor : public Primitive {
 public:
  explicit QRFactor(Stream s) : Primitive(s) {}
  const char* name() const override { return "QRFactor"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
};

// (..., M, N) -> {U (..., M, M), S (..., K) descending, Vt (..., N, N)}, or
// {S} alone; S is real for complex input.
class SVD : public Primitive {
 public:
  SVD(Stream s, bool compute_uv) : Primitive(s), compute_uv_(compute_uv) {}
  const char* name() const override { return "SVD"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool compute_uv() const { return compute_uv_; }

 private:
  bool compute_uv_;
};

// The inverse of a square matrix; with `triangular`, of the lower (or
// `upper`) triangle, the other triangle read as zero.
class Inverse : public Primitive {
 public:
  Inverse(Stream s, bool triangular, bool upper)
      : Primitive(s), triangular_(triangular), upper_(upper) {}
  const char* name() const override { return "Inverse"; }
  FASTSYNC_VJP
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  bool triangular_, upper_;
};

// The Cholesky factor of a Hermitian positive-definite matrix, read from
// its lower (or `upper`) triangle: L with A = L L^H, or U with A = U^H U;
// the other triangle of the output is zero.
class Cholesky : public Primitive {
 public:
  Cholesky(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  const char* name() const override { return "Cholesky"; }
  FASTSYNC_VJP
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  bool upper_;
};

// The inverse of A from its Cholesky factor (lower, or `upper`).
class CholeskyInverse : public Primitive {
 public:
  CholeskyInverse(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  const char* name() const override { return "CholeskyInverse"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  bool upper_;
};

// Eigen-decomposition of a Hermitian matrix read from its lower (or
// `upper`) triangle: {w (..., N) real ascending, V (..., N, N) with the
// eigenvectors as columns}, or {w} alone.
class Eigh : public Primitive {
 public:
  Eigh(Stream s, bool upper, bool vectors) : Primitive(s), upper_(upper), vectors_(vectors) {}
  const char* name() const override { return "Eigh"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  bool upper_, vectors_;
};

// Eigen-decomposition of a general square matrix: {w (..., N) complex64,
// V (..., N, N) complex64, unit-norm eigenvectors as columns}, or {w}.
class Eig : public Primitive {
 public:
  Eig(Stream s, bool vectors) : Primitive(s), vectors_(vectors) {}
  const char* name() const override { return "Eig"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  bool vectors_;
};

// x with a @ x = b for a (..., N, N) and b (..., N, K); `triangular` reads
// only a's lower (or `upper`) triangle.
class Solve : public Primitive {
 public:
  Solve(Stream s, bool triangular, bool upper)
      : Primitive(s), triangular_(triangular), upper_(upper) {}
  const char* name() const override { return "Solve"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  bool triangular_, upper_;
};

}  // namespace fastsync
