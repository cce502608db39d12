// cuBLAS, loaded with dlopen at first use, and one cuBLAS handle per GPU
// stream.
//
// The build has no cuBLAS headers or library (only nvcc and the CUDA
// runtime), so the slice of cuBLAS's C ABI that fastsync calls is declared
// here, with the values of cublas_api.h (unchanged from cuBLAS 11 through
// 13). cudaDataType comes from the runtime's library_types.h. The library is
// looked for, in order: a libcublas.so.13 or .so.12 already in the process
// (the wheel that fastsync._cuda_libs.preload() loads, or another
// framework's), the loader's path (libcublas.so.13, then .so.12), each
// entry of FASTSYNC_CUBLAS_PATH (':'-separated directories or library
// files), and the CUDA toolkit's lib64. Failing all of them raises
// std::runtime_error listing what was tried and how to install cuBLAS.
//
// Threads: api() may be called from any thread. handle() is for the
// encoding thread (under the eval driver's lock), like every eval_gpu.
#pragma once

#include <cuda_runtime.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace fastsync::cuda {

class CommandEncoder;

namespace cublas {

// ---- The slice of cublas_api.h fastsync uses ----
struct cublasContext;
using cublasHandle_t = cublasContext*;

// C enums: int-sized, hence the fixed underlying type.
enum cublasStatus_t : int {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16,
};

enum cublasOperation_t : int {
  CUBLAS_OP_N = 0,
  CUBLAS_OP_T = 1,
};

enum cublasMath_t : int {
  CUBLAS_DEFAULT_MATH = 0,
  // Split-K and other partial sums stay in the compute type even when the
  // output is narrower, so a half-type product is rounded once, as on CPU.
  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,
};

enum cublasComputeType_t : int {
  CUBLAS_COMPUTE_16F = 64,
  CUBLAS_COMPUTE_16F_PEDANTIC = 65,
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_64F = 70,
  CUBLAS_COMPUTE_64F_PEDANTIC = 71,
  CUBLAS_COMPUTE_32I = 72,
  CUBLAS_COMPUTE_32I_PEDANTIC = 73,
  CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
};

enum cublasGemmAlgo_t : int {
  CUBLAS_GEMM_DEFAULT = -1,
};

// ---- The slice of cublasLt.h fastsync uses (values of cuBLAS 12-13) ----
namespace lt {
struct Context;
struct Opaque;
using Handle = Context*;
using MatmulDesc = Opaque*;
using Layout = Opaque*;
using Preference = Opaque*;
enum DescAttr : int {
  kTransA = 3,  // int32_t cublasOperation_t
  kTransB = 4,  // int32_t cublasOperation_t
};
enum LayoutAttr : int {
  kBatchCount = 5,   // int32_t
  kBatchStride = 6,  // int64_t, elements
};
enum PrefAttr : int {
  kMaxWorkspaceBytes = 1,    // uint64_t
  kReductionSchemeMask = 3,  // uint32_t
  kMinAlignmentA = 5,        // uint32_t, bytes (A..D: 5..8)
};
enum : uint32_t {
  kReductionInComputeType = 2,  // CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE
};
struct Algo {
  uint64_t data[8];
};
struct HeuristicResult {
  Algo algo;
  size_t workspace_bytes;
  cublasStatus_t state;
  float waves;
  int reserved[4];
};
}  // namespace lt

struct Api {
  void* lib = nullptr;  // from dlopen; never closed
  std::string path;     // what was loaded (a soname or a file)

  cublasStatus_t (*Create)(cublasHandle_t*);
  cublasStatus_t (*Destroy)(cublasHandle_t);
  cublasStatus_t (*SetStream)(cublasHandle_t, cudaStream_t);
  cublasStatus_t (*SetWorkspace)(cublasHandle_t, void*, size_t);
  cublasStatus_t (*SetMathMode)(cublasHandle_t, cublasMath_t);
  cublasStatus_t (*GemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n,
                           int k, const void* alpha, const void* A, cudaDataType Atype, int lda,
                           const void* B, cudaDataType Btype, int ldb, const void* beta, void* C,
                           cudaDataType Ctype, int ldc, cublasComputeType_t, cublasGemmAlgo_t);
  cublasStatus_t (*GemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t,
                                         int m, int n, int k, const void* alpha, const void* A,
                                         cudaDataType Atype, int lda, long long strideA,
                                         const void* B, cudaDataType Btype, int ldb,
                                         long long strideB, const void* beta, void* C,
                                         cudaDataType Ctype, int ldc, long long strideC,
                                         int batchCount, cublasComputeType_t, cublasGemmAlgo_t);
  // Optional (null when absent): only used for messages.
  const char* (*GetStatusString)(cublasStatus_t) = nullptr;
  const char* (*GetStatusName)(cublasStatus_t) = nullptr;

  // cuBLASLt, found through libcublas (which loads it): optional, products
  // go through GemmEx without it (gemm.h).
  cublasStatus_t (*LtCreate)(lt::Handle*) = nullptr;
  cublasStatus_t (*LtMatmulDescCreate)(lt::MatmulDesc*, cublasComputeType_t,
                                       cudaDataType) = nullptr;
  cublasStatus_t (*LtMatmulDescDestroy)(lt::MatmulDesc) = nullptr;
  cublasStatus_t (*LtMatmulDescSetAttribute)(lt::MatmulDesc, lt::DescAttr, const void*,
                                             size_t) = nullptr;
  cublasStatus_t (*LtMatrixLayoutCreate)(lt::Layout*, cudaDataType, uint64_t rows, uint64_t cols,
                                         int64_t ld) = nullptr;
  cublasStatus_t (*LtMatrixLayoutDestroy)(lt::Layout) = nullptr;
  cublasStatus_t (*LtMatrixLayoutSetAttribute)(lt::Layout, lt::LayoutAttr, const void*,
                                               size_t) = nullptr;
  cublasStatus_t (*LtMatmulPreferenceCreate)(lt::Preference*) = nullptr;
  cublasStatus_t (*LtMatmulPreferenceDestroy)(lt::Preference) = nullptr;
  cublasStatus_t (*LtMatmulPreferenceSetAttribute)(lt::Preference, lt::PrefAttr, const void*,
                                                   size_t) = nullptr;
  cublasStatus_t (*LtMatmulAlgoGetHeuristic)(lt::Handle, lt::MatmulDesc, lt::Layout a, lt::Layout b,
                                             lt::Layout c, lt::Layout d, lt::Preference,
                                             int requested, lt::HeuristicResult results[],
                                             int* returned) = nullptr;
  cublasStatus_t (*LtMatmul)(lt::Handle, lt::MatmulDesc, const void* alpha, const void* a,
                             lt::Layout, const void* b, lt::Layout, const void* beta, const void* c,
                             lt::Layout, void* d, lt::Layout, const lt::Algo*, void* workspace,
                             size_t workspace_bytes, cudaStream_t) = nullptr;
  bool has_lt() const { return LtCreate && LtMatmul && LtMatmulAlgoGetHeuristic; }
};

// The loaded library; loads it on first use. Throws std::runtime_error
// naming `op` when cuBLAS cannot be found (and tries again next call, so
// installing it or setting FASTSYNC_CUBLAS_PATH mid-session works).
const Api& api(const char* op);

// Throws std::runtime_error "[op] fn failed: <cuBLAS's message>" unless
// `s` is CUBLAS_STATUS_SUCCESS.
void check(cublasStatus_t s, const char* op, const char* fn);

// The cuBLAS handle bound to `enc`'s CUDA stream, created on first use with
// its own workspace (device memory held for the life of the process, like
// the encoder itself) and math mode CUBLAS_DEFAULT_MATH |
// CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION: float32 products never
// use TF32. Encoding thread.
cublasHandle_t handle(CommandEncoder& enc, const char* op);

// That handle with its workspace (cuBLASLt calls are given it explicitly).
struct Workspace {
  void* ptr;
  size_t bytes;
};
struct StreamContext {
  cublasHandle_t handle;
  Workspace workspace;
};
// The handle enqueues on `enc`'s stream without asking for it: an op asks
// for enc.cuda_stream() before its first call through the handle, so the
// call follows what the stream was deferring (encoder.h).
const StreamContext& context(CommandEncoder& enc, const char* op);

}  // namespace cublas
}  // namespace fastsync::cuda
