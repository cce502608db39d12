// GPU eval of Matmul and AddMM: cuBLAS gemms (loaded at run time, see
// cuda/cublas.h; launched through cuda/gemm.h's cached plans) on the op's stream, with the CPU
// kernels' semantics (src/backend/cpu/matmul.cpp).
//
// Products are computed by cuBLAS in float64 for float64 and in float32 for
// everything else (CUBLAS_COMPUTE_32F, TF32 only for float32 operands under
// FASTSYNC_TF32=1, precision.h; complex64 as CUDA_C_32F,
// the cgemm of cublasGemmEx), writing the output dtype
// directly: float16 and bfloat16 products are rounded once, as on the CPU.
// AddMM copies c (broadcast) into the output, unless it can donate c's
// buffer, and lets the gemm scale it by beta; with beta == 0, c is not read.
// An empty sum (k == 0) gives zeros, or beta * c.
//
// The layout planning is the CPU kernels' (backend/common/matmul_plan.h).
// Operands are read where they are when the matrix slices (the last two
// axes; a 1-D a is a row, a 1-D b a column) are row- or column-contiguous:
// cuBLAS gets them through its transpose flags and leading dimension.
// Anything else is first made contiguous (cuda::contiguous_gpu), with
// broadcast batch axes kept at size 1 so only distinct matrices are copied.
// cuBLAS is column-major: the row-major C = A @ B is computed as the
// column-major C^T = B^T A^T, which reads the same buffers. Batch axes
// (broadcast, any strides) become strided-batched gemms, one per run of the
// innermost merged batch axis; when b has no batch of its own and a's rows
// are evenly spaced, a's batch folds into the rows of one tall gemm.
//
// A product with few rows (a decoding step's x @ W.T: up to kGemvRows rows,
// one matrix, b read as rows of W) skips cuBLAS for a matrix-vector kernel:
// a warp (or a few, when W has few rows) per output column streams its row
// of W once with 16-byte loads for all of a's rows, accumulating in float32
// as cuBLAS does. It is bound by
// the bandwidth of W, and costs one launch where a cuBLAS call spends tens
// of microseconds of host time choosing a kernel.
//
// Encoding thread only; everything is launched before eval_gpu returns.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "backend/common/matmul_plan.h"
#include "backend/common/strided.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/cublas.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/kernel_utils.cuh"
#include "backend/cuda/precision.h"
#include "primitives/linalg.h"

namespace fastsync {

namespace {

namespace cb = cuda::cublas;

// Where the gemms read operand a (is_a) or b: x itself when the plan can
// read it, otherwise a contiguous copy (of the distinct matrices only) that
// the plan is told about.
const char* prepare(cuda::CommandEncoder& enc, MatmulPlan& plan, const char* op, const array& x,
                    bool is_a) {
  if (plan.operand(is_a).layout) return static_cast<const char*>(x.raw_ptr());
  // The view holds no reference: x itself is an input the op keeps.
  array t = cuda::contiguous_gpu(enc, x.unsafe_weak_copy(matmul_staging_shape(x), x.strides()));
  plan.restage(is_a, t.shape(), t.strides(), op);
  return static_cast<const char*>(t.raw_ptr());
}

// cuBLAS's types for a product of dtype d.
struct GemmTypes {
  cudaDataType data;
  cb::cublasComputeType_t compute;
};
GemmTypes gemm_types(Dtype d, const char* op) {
  if (d == float32) {
    return {CUDA_R_32F, cuda::tf32() ? cb::CUBLAS_COMPUTE_32F_FAST_TF32 : cb::CUBLAS_COMPUTE_32F};
  }
  if (d == float64) return {CUDA_R_64F, cb::CUBLAS_COMPUTE_64F};
  if (d == float16) return {CUDA_R_16F, cb::CUBLAS_COMPUTE_32F};
  if (d == bfloat16) return {CUDA_R_16BF, cb::CUBLAS_COMPUTE_32F};
  if (d == complex64) return {CUDA_C_32F, cb::CUBLAS_COMPUTE_32F};
  // The ops layer rejects these; a graph built another way gets the same.
  throw std::invalid_argument(std::string("[") + op +
                              "] only floating point and complex dtypes are supported, got " +
                              d.name());
}

// alpha and beta in the scale type (double for float64, a float32 pair for
// complex64, float32 otherwise); cuBLAS reads them from the host before the
// call returns.
struct Scalars {
  double d[2];
  float f[2];
  complex64_t c[2];
  const void* alpha(Dtype t) const {
    return t == float64     ? static_cast<const void*>(&d[0])
           : t == complex64 ? static_cast<const void*>(&c[0])
                            : &f[0];
  }
  const void* beta(Dtype t) const {
    return t == float64     ? static_cast<const void*>(&d[1])
           : t == complex64 ? static_cast<const void*>(&c[1])
                            : &f[1];
  }
};

// x *= beta over n contiguous elements, in the compute type, as the CPU
// kernel does for an empty sum (a zero beta gives zeros, even for inf/NaN).
template <typename T>
__global__ void scale_kernel(T* x, int64_t n, double beta) {
  using W = decltype(cuda::widen(x[0]));
  W b = static_cast<W>(beta);
  int64_t step = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += step) {
    x[i] = b == W(0) ? cuda::narrow<T>(W(0)) : cuda::narrow<T>(b * cuda::widen(x[i]));
  }
}

constexpr int64_t kGemvRows = 8;
constexpr int kGemvWarps = 8;

struct GemvArgs {
  int64_t N, K, ldw, lda;
  bool a_trans, vec, a_vec;
  int rows;
  float alpha, beta;  // beta == 0: out is not read
};

template <typename T>
__device__ inline float gemv_a(const T* a, const GemvArgs& g, int r, int64_t k) {
  return static_cast<float>(cuda::widen(g.a_trans ? a[k * g.lda + r] : a[r * g.lda + k]));
}

// acc[r] += the dot product of V elements of w (one 16-byte unit, `raw`)
// with a[r, k..k+V).
template <typename T, int R>
__device__ inline void gemv_unit(const T* a, const GemvArgs& g, const uint4& raw, int64_t k,
                                 float (&acc)[R]) {
  constexpr int V = 16 / sizeof(T);
  const T* wv = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (r >= g.rows) break;
    if (g.a_vec) {
      const uint4 xr = *reinterpret_cast<const uint4*>(a + r * g.lda + k);
      const T* xv = reinterpret_cast<const T*>(&xr);
#pragma unroll
      for (int e = 0; e < V; ++e) {
        acc[r] += static_cast<float>(cuda::widen(wv[e])) * static_cast<float>(cuda::widen(xv[e]));
      }
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e) {
        acc[r] += static_cast<float>(cuda::widen(wv[e])) * gemv_a(a, g, r, k + e);
      }
    }
  }
}

// out[r, n] = alpha * sum_k a[r, k] * w[n, k] (+ beta * out[r, n]), r < R.
// S warps per n, each taking every S-th run of w's row, their sums added in
// shared memory: a product with few columns (N) still fills the GPU. Lanes
// take 16-byte runs when g.vec (aligned, K a multiple of the run), kUnroll
// of them in flight (a decoding step is bound by the bandwidth of w);
// single elements otherwise.
template <typename T, int R, int S>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemv_kernel(const T* a, const T* w, T* out, GemvArgs g) {
  constexpr int V = 16 / sizeof(T);
  constexpr int kUnroll = 4;
  __shared__ float partial[kGemvWarps][R];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, part = warp % S;
  const int64_t n = blockIdx.x * int64_t(kGemvWarps / S) + warp / S;
  const bool active = n < g.N;
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  if (active) {
    const T* wr = w + n * g.ldw;
    if (g.vec) {
      const int64_t step = int64_t(32) * V * S;
      int64_t k0 = (int64_t(part) * 32 + lane) * V;
      for (; k0 + (kUnroll - 1) * step < g.K; k0 += kUnroll * step) {
        uint4 raw[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u)
          raw[u] = *reinterpret_cast<const uint4*>(wr + k0 + u * step);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) gemv_unit<T, R>(a, g, raw[u], k0 + u * step, acc);
      }
      for (; k0 < g.K; k0 += step) {
        gemv_unit<T, R>(a, g, *reinterpret_cast<const uint4*>(wr + k0), k0, acc);
      }
    } else {
      for (int64_t k = int64_t(part) * 32 + lane; k < g.K; k += 32 * S) {
        float we = static_cast<float>(cuda::widen(wr[k]));
#pragma unroll
        for (int r = 0; r < R; ++r) {
          if (r < g.rows) acc[r] += we * gemv_a(a, g, r, k);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    for (int o = 16; o > 0; o /= 2) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], o);
  }
  if constexpr (S > 1) {
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r) partial[warp][r] = acc[r];
    }
    __syncthreads();
    if (part != 0) return;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      acc[r] = 0.0f;
      for (int p = 0; p < S; ++p) acc[r] += partial[warp + p][r];
    }
  }
  if (lane != 0 || !active) return;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (r >= g.rows) break;
    T* o = out + r * g.N + n;
    float res = g.alpha * acc[r];
    if (g.beta != 0.0f) res += g.beta * static_cast<float>(cuda::widen(*o));
    *o = cuda::narrow<T>(res);
  }
}

// Launches the matrix-vector kernel when the planned product suits it (see
// the top of the file); false when cuBLAS should do it.
bool try_gemv(cuda::CommandEncoder& enc, const MatmulPlan& plan, const char* pa, const char* pb,
              array& out, double alpha, double beta) {
  Dtype d = out.dtype();
  if (d != float32 && d != float16 && d != bfloat16) return false;
  if (plan.rows > kGemvRows || !plan.b.layout->trans || shape_size(plan.gemm_batch()) != 1) {
    return false;
  }
  int64_t isz = out.itemsize();
  GemvArgs g{};
  g.N = plan.N;
  g.K = plan.K;
  g.ldw = plan.b.layout->ld;
  g.lda = plan.lda;
  g.a_trans = plan.a.layout->trans;
  g.rows = static_cast<int>(plan.rows);
  g.alpha = float(alpha);
  g.beta = float(beta);
  g.vec =
      reinterpret_cast<uintptr_t>(pb) % 16 == 0 && (g.ldw * isz) % 16 == 0 && (g.K * isz) % 16 == 0;
  g.a_vec =
      g.vec && !g.a_trans && reinterpret_cast<uintptr_t>(pa) % 16 == 0 && (g.lda * isz) % 16 == 0;
  // Warps per column: enough columns in flight to cover the GPU (about 32
  // warps per multiprocessor) when N is small.
  const int64_t want = 32 * int64_t(cuda::multiprocessor_count());
  const int split = g.N >= want ? 1 : g.N * 2 >= want ? 2 : g.N * 4 >= want ? 4 : 8;
  const int64_t per_block = kGemvWarps / split;
  unsigned blocks = static_cast<unsigned>((g.N + per_block - 1) / per_block);
  auto launch = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto* pa_t = reinterpret_cast<const T*>(pa);
    auto* pb_t = reinterpret_cast<const T*>(pb);
    auto* po = static_cast<T*>(out.raw_ptr());
    auto s = enc.cuda_stream();
    auto with_rows = [&](auto rows) {
      constexpr int R = decltype(rows)::value;
      switch (split) {
        case 1: gemv_kernel<T, R, 1><<<blocks, kGemvWarps * 32, 0, s>>>(pa_t, pb_t, po, g); break;
        case 2: gemv_kernel<T, R, 2><<<blocks, kGemvWarps * 32, 0, s>>>(pa_t, pb_t, po, g); break;
        case 4: gemv_kernel<T, R, 4><<<blocks, kGemvWarps * 32, 0, s>>>(pa_t, pb_t, po, g); break;
        default: gemv_kernel<T, R, 8><<<blocks, kGemvWarps * 32, 0, s>>>(pa_t, pb_t, po, g);
      }
    };
    if (g.rows == 1) {
      with_rows(std::integral_constant<int, 1>{});
    } else if (g.rows <= 4) {
      with_rows(std::integral_constant<int, 4>{});
    } else {
      with_rows(std::integral_constant<int, int(kGemvRows)>{});
    }
  };
  // A switch, not cuda::dispatch_type (see scale_kernel's launch below).
  if (d == float32)
    launch(static_cast<float*>(nullptr));
  else if (d == float16)
    launch(static_cast<__half*>(nullptr));
  else
    launch(static_cast<__nv_bfloat16*>(nullptr));
  cuda::check_launch("[matmul] gemv kernel");
  return true;
}

// Encodes out = beta * c + alpha * (a @ b) (c may be null: beta is unused).
void encode_product(const Primitive& p, const char* op, const array* c, const array& a,
                    const array& b, array& out, double alpha, double beta) {
  Dtype dtype = out.dtype();
  GemmTypes types = gemm_types(dtype, op);
  auto& enc = cuda::encoder_for(p);
  bool prefill = c != nullptr && beta != 0.0;
  if (prefill) {
    cuda::donate_or_alloc(*c, out);
  } else {
    cuda::alloc(out);
  }
  enc.set_input_array(a);
  enc.set_input_array(b);
  if (c) enc.set_input_array(*c);
  enc.set_output_array(out);
  if (out.size() == 0) return;

  MatmulPlan plan = plan_matmul(a, b, out.shape());

  // Loaded before anything is launched, so a missing cuBLAS leaves no work
  // behind.
  if (plan.K > 0) cb::handle(enc, op);
  if (prefill && out.raw_ptr() != c->raw_ptr()) {
    cuda::copy_gpu(enc, c->unsafe_weak_copy(out.shape(), broadcast_strides(*c, out.shape())), out);
  }
  if (plan.K == 0) {
    if (!prefill) {
      cuda::check(cudaMemsetAsync(out.raw_ptr(), 0, out.nbytes(), enc.cuda_stream()),
                  "cudaMemsetAsync");
    } else if (beta != 1.0) {
      // A switch, not cuda::dispatch_type: instantiating anything on
      // _Float16 crashes nvcc 13.0's host code generation.
      auto launch = [&](auto* x) {
        using T = std::remove_pointer_t<decltype(x)>;
        scale_kernel<T><<<cuda::grid_for(out.size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
            x, out.size(), beta);
      };
      void* x = out.raw_ptr();
      if (dtype == float32)
        launch(static_cast<float*>(x));
      else if (dtype == float64)
        launch(static_cast<double*>(x));
      else if (dtype == complex64)
        launch(static_cast<complex64_t*>(x));
      else if (dtype == float16)
        launch(static_cast<__half*>(x));
      else
        launch(static_cast<__nv_bfloat16*>(x));
      cuda::check_launch("[addmm] scale kernel");
    }
    return;
  }

  const char* pa = prepare(enc, plan, op, a, true);
  const char* pb = prepare(enc, plan, op, b, false);
  plan.fold_batch();
  if (try_gemv(enc, plan, pa, pb, out, alpha, prefill ? beta : 0.0)) return;

  float fa = float(alpha), fb = prefill ? float(beta) : 0.0f;
  Scalars s{
      {alpha, prefill ? beta : 0.0}, {fa, fb}, {complex64_t(fa, 0.0f), complex64_t(fb, 0.0f)}};
  auto op_b = plan.b.layout->trans ? cb::CUBLAS_OP_T : cb::CUBLAS_OP_N;
  auto op_a = plan.a.layout->trans ? cb::CUBLAS_OP_T : cb::CUBLAS_OP_N;
  int m = static_cast<int>(plan.N), n = static_cast<int>(plan.rows), k = static_cast<int>(plan.K);
  int ld_b = static_cast<int>(plan.b.layout->ld), ld_a = static_cast<int>(plan.lda), ldc = m;
  int64_t isz = out.itemsize();
  char* cptr = static_cast<char*>(out.raw_ptr());

  // Column-major C^T (N x rows) = op(B^T) op(A^T): b is cuBLAS's first
  // operand, a its second.
  cuda::Gemm g{.op_a = op_b,
               .op_b = op_a,
               .m = m,
               .n = n,
               .k = k,
               .lda = ld_b,
               .ldb = ld_a,
               .ldc = ldc,
               .batch = 1,
               .type = types.data,
               .compute = types.compute,
               .alpha = s.alpha(dtype),
               .beta = s.beta(dtype)};
  auto gemm = [&](int64_t oa_off, int64_t ob_off, int64_t oc_off, int batch, int64_t sa, int64_t sb,
                  int64_t sc) {
    g.a = pb + ob_off * isz;
    g.b = pa + oa_off * isz;
    g.c = cptr + oc_off * isz;
    g.stride_a = sb;
    g.stride_b = sa;
    g.stride_c = sc;
    g.batch = batch;
    cuda::gemm(enc, g, op);
  };
  // The batch axes (none when folded: one gemm) with a's, b's and c's
  // offsets.
  Strides c_strides = plan.c_batch_strides();
  auto batches =
      make_plan<3>(plan.gemm_batch(), {&plan.a.batch_strides, &plan.b.batch_strides, &c_strides});
  for_each_strided(batches, [&](auto offs, int64_t count, auto st) {
    if (count == 1 || st[0] < 0 || st[1] < 0) {
      // Negative batch strides: one gemm per matrix rather than rely on
      // cuBLAS accepting them.
      for (int64_t i = 0; i < count; ++i) {
        gemm(offs[0] + i * st[0], offs[1] + i * st[1], offs[2] + i * st[2], 1, 0, 0, 0);
      }
      return;
    }
    for (int64_t done = 0; done < count; done += INT_MAX) {
      int part = static_cast<int>(std::min<int64_t>(count - done, INT_MAX));
      gemm(offs[0] + done * st[0], offs[1] + done * st[1], offs[2] + done * st[2], part, st[0],
           st[1], st[2]);
    }
  });
}

}  // namespace

void Matmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_product(*this, "matmul", nullptr, inputs[0], inputs[1], outputs[0], 1.0, 0.0);
}

void AddMM::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_product(*this, "addmm", &inputs[0], inputs[1], inputs[2], outputs[0], alpha_, beta_);
}

}  // namespace fastsync
