// One cuBLAS product (or a strided batch of them), for matmul.cu.
//
// Through cuBLASLt with a plan per shape: the descriptors, the layouts and
// the algorithm cuBLASLt's heuristic picked are made the second time a shape
// is seen (a shape seen once goes through cublasGemmEx) and kept, so a
// loop's product is one cublasLtMatmul call. Through
// cublasGemmEx, the same product ran that heuristic on every call: about a
// fifth of the host time of a 256x256 float32 product on the H200 host
// (py-spy, bench/results/h200-2026-12-05-gemm.md). Where cuBLASLt is
// missing, or has no algorithm for a shape (or refuses the call), the
// product goes through cublasGemmEx as before; complex64 always does, and
// every product does under FASTSYNC_CUBLASLT=0 (read once).
//
// Both paths get the same settings: float32 compute (TF32 only under
// FASTSYNC_TF32=1), partial sums of split reductions kept in the compute
// type (the handle's DISALLOW_REDUCED_PRECISION_REDUCTION, the plan's
// reduction-scheme mask), the stream's own workspace.
//
// Encoding thread (under the eval driver's lock); the plan cache has a
// mutex of its own.
#pragma once

#include <cuda_runtime.h>
#include <library_types.h>

#include <cstdint>

#include "backend/cuda/cublas.h"

namespace fastsync::cuda {

class CommandEncoder;

// Column-major, as cuBLAS sees it: c (m x n) = alpha op_a(a) op_b(b) + beta c,
// `batch` times, each operand `stride_*` elements after the last.
struct Gemm {
  cublas::cublasOperation_t op_a, op_b;
  int m, n, k;
  const void* a;
  int lda;
  int64_t stride_a;
  const void* b;
  int ldb;
  int64_t stride_b;
  void* c;
  int ldc;
  int64_t stride_c;
  int batch;  // 1: one product (strides unused)
  cudaDataType type;
  cublas::cublasComputeType_t compute;
  const void* alpha;  // host scalars in the scale type (double for 64F compute)
  const void* beta;
};

// Launches `g` on `enc`'s stream. Throws std::runtime_error naming `op` when
// cuBLAS fails.
void gemm(CommandEncoder& enc, const Gemm& g, const char* op);

// Products run through a cuBLASLt plan, plans made, and products sent to
// cublasGemmEx (the backend's counters).
struct GemmCounts {
  uint64_t lt_runs, lt_plans, gemmex_runs;
};
GemmCounts gemm_counts();

}  // namespace fastsync::cuda
