// GPU eval of Matmul and AddMM: cuBLAS gemms (loaded at run time, see
// cuda/cublas.h) on the op's stream, with the CPU kernels' semantics
// (src/cpu/matmul.cpp).
//
// Products are computed by cuBLAS in float64 for float64 and in float32 for
// everything else (CUBLAS_COMPUTE_32F, never TF32), writing the output dtype
// directly: float16 and bfloat16 products are rounded once, as on the CPU.
// AddMM copies c (broadcast) into the output, unless it can donate c's
// buffer, and lets the gemm scale it by beta; with beta == 0, c is not read.
// An empty sum (k == 0) gives zeros, or beta * c.
//
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
// Encoding thread only; everything is launched before eval_gpu returns.
#include <algorithm>
#include <climits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/copy.h"
#include "cuda/cublas.h"
#include "cuda/kernel_utils.cuh"
#include "primitives/linalg.h"

namespace fastsync {

namespace {

namespace cb = cuda::cublas;

// How cuBLAS can read a rows x cols row-major matrix with element strides
// (rs, cs): as stored (ld = row stride) or as the transpose of a row-major
// matrix (ld = column stride). Strides of unit axes are free. Negative
// strides are never readable.
struct Layout {
  bool trans;
  int64_t ld;
};
std::optional<Layout> blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cols == 1 || cs == 1) {
    int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    if (ld >= std::max<int64_t>(cols, 1) && ld <= INT_MAX) return Layout{false, ld};
  }
  if (rows == 1 || rs == 1) {
    int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    if (ld >= std::max<int64_t>(rows, 1) && ld <= INT_MAX) return Layout{true, ld};
  }
  return std::nullopt;
}

// One operand as the gemms read it.
struct Operand {
  const char* ptr;
  Layout layout;
  Strides batch_strides;  // in elements, over the product's batch axes; 0 where broadcast
};

// `x` as the a (is_a) or b operand of a product with `nbatch` batch axes and
// inner dimension k; a contiguous copy when cuBLAS cannot read it as it is.
Operand prepare(cuda::CommandEncoder& enc, const char* op, const array& x, bool is_a, int64_t k,
                size_t nbatch) {
  auto describe = [&](const Shape& shape, const Strides& strides, Operand& o) {
    int nd = static_cast<int>(shape.size());
    int64_t rows, cols, rs, cs;
    if (nd == 1) {
      rows = is_a ? 1 : k;
      cols = is_a ? k : 1;
      rs = is_a ? 0 : strides[0];
      cs = is_a ? strides[0] : 0;
    } else {
      rows = shape[nd - 2];
      cols = shape[nd - 1];
      rs = strides[nd - 2];
      cs = strides[nd - 1];
    }
    o.batch_strides.assign(nbatch, 0);
    int xb = std::max(nd - 2, 0);
    for (int i = 0; i < xb; ++i) {
      if (shape[i] != 1) o.batch_strides[nbatch - xb + i] = strides[i];
    }
    return blas_layout(rows, cols, rs, cs);
  };
  Operand o;
  if (auto layout = describe(x.shape(), x.strides(), o)) {
    o.ptr = static_cast<const char*>(x.raw_ptr());
    o.layout = *layout;
    return o;
  }
  Shape shape = x.shape();
  for (int i = 0; i + 2 < x.ndim(); ++i) {
    if (x.strides()[i] == 0) shape[i] = 1;
  }
  // The view holds no reference: x itself is an input the op keeps.
  array t = cuda::contiguous_gpu(enc, x.unsafe_weak_copy(shape, x.strides()));
  auto layout = describe(t.shape(), t.strides(), o);
  if (!layout) {
    throw std::runtime_error(std::string("[") + op +
                             "] internal error: a contiguous operand has no BLAS layout");
  }
  o.ptr = static_cast<const char*>(t.raw_ptr());
  o.layout = *layout;
  return o;
}

// cuBLAS's types for a product of dtype d.
struct GemmTypes {
  cudaDataType data;
  cb::cublasComputeType_t compute;
};
GemmTypes gemm_types(Dtype d, const char* op) {
  if (d == float32) return {CUDA_R_32F, cb::CUBLAS_COMPUTE_32F};
  if (d == float64) return {CUDA_R_64F, cb::CUBLAS_COMPUTE_64F};
  if (d == float16) return {CUDA_R_16F, cb::CUBLAS_COMPUTE_32F};
  if (d == bfloat16) return {CUDA_R_16BF, cb::CUBLAS_COMPUTE_32F};
  // The ops layer rejects these; a graph built another way gets the same.
  throw std::invalid_argument(std::string("[") + op +
                              "] only floating point dtypes are supported, got " + d.name());
}

// alpha and beta in the compute type; cuBLAS reads them from the host
// before the call returns.
struct Scalars {
  double d[2];
  float f[2];
  const void* alpha(bool dbl) const { return dbl ? static_cast<const void*>(&d[0]) : &f[0]; }
  const void* beta(bool dbl) const { return dbl ? static_cast<const void*>(&d[1]) : &f[1]; }
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

  int64_t M = a.ndim() >= 2 ? a.shape(-2) : 1;
  int64_t K = a.shape(-1);
  int64_t N = b.ndim() >= 2 ? b.shape(-1) : 1;
  Shape batch(out.shape().begin(),
              out.shape().end() - (a.ndim() >= 2 ? 1 : 0) - (b.ndim() >= 2 ? 1 : 0));

  // Loaded before anything is launched, so a missing cuBLAS leaves no work
  // behind.
  cb::cublasHandle_t handle = K > 0 ? cb::handle(enc, op) : nullptr;
  if (prefill && out.raw_ptr() != c->raw_ptr()) {
    cuda::copy_gpu(enc, c->unsafe_weak_copy(out.shape(), cpu::broadcast_strides(*c, out.shape())),
                   out);
  }
  if (K == 0) {
    if (!prefill) {
      cuda::check(cudaMemsetAsync(out.raw_ptr(), 0, out.nbytes(), enc.stream()),
                  "cudaMemsetAsync");
    } else if (beta != 1.0) {
      // A switch, not cuda::dispatch_type: instantiating anything on
      // _Float16 crashes nvcc 13.0's host code generation.
      auto launch = [&](auto* x) {
        using T = std::remove_pointer_t<decltype(x)>;
        scale_kernel<T><<<cuda::grid_for(out.size()), cuda::kBlock, 0, enc.stream()>>>(
            x, out.size(), beta);
      };
      void* x = out.raw_ptr();
      if (dtype == float32) launch(static_cast<float*>(x));
      else if (dtype == float64) launch(static_cast<double*>(x));
      else if (dtype == float16) launch(static_cast<__half*>(x));
      else launch(static_cast<__nv_bfloat16*>(x));
      cuda::check_launch("[addmm] scale kernel");
    }
    return;
  }

  const cb::Api& api = cb::api(op);
  Operand oa = prepare(enc, op, a, true, K, batch.size());
  Operand ob = prepare(enc, op, b, false, K, batch.size());

  int64_t rows = M;  // rows of a (and of c) per gemm
  int64_t lda = oa.layout.ld;
  bool b_shared = std::all_of(ob.batch_strides.begin(), ob.batch_strides.end(),
                              [](int64_t s) { return s == 0; });
  bool folded = false;
  if (b_shared && !oa.layout.trans && !batch.empty()) {
    // a's batch and row axes as one: a single gemm with M * batch rows.
    Shape rows_shape = batch;
    rows_shape.push_back(M);
    Strides rows_strides = oa.batch_strides;
    rows_strides.push_back(oa.layout.ld);
    auto plan = cpu::make_plan<1>(rows_shape, {&rows_strides});
    int64_t all_rows = shape_size(rows_shape);
    if (plan.shape.size() == 1 && all_rows <= INT_MAX) {
      int64_t ld = all_rows > 1 ? plan.strides[0][0] : std::max<int64_t>(K, 1);
      if (ld >= std::max<int64_t>(K, 1) && ld <= INT_MAX) {
        rows = all_rows;
        lda = ld;
        folded = true;
      }
    }
  }

  Scalars s{{alpha, prefill ? beta : 0.0}, {float(alpha), prefill ? float(beta) : 0.0f}};
  bool dbl = dtype == float64;
  // Column-major C^T (N x rows) = op(B^T) op(A^T): b first, then a.
  auto op_b = ob.layout.trans ? cb::CUBLAS_OP_T : cb::CUBLAS_OP_N;
  auto op_a = oa.layout.trans ? cb::CUBLAS_OP_T : cb::CUBLAS_OP_N;
  int m = static_cast<int>(N), n = static_cast<int>(rows), k = static_cast<int>(K);
  int ld_b = static_cast<int>(ob.layout.ld), ld_a = static_cast<int>(lda), ldc = m;
  int64_t isz = out.itemsize();
  char* cptr = static_cast<char*>(out.raw_ptr());

  auto gemm = [&](int64_t oa_off, int64_t ob_off, int64_t oc_off) {
    cb::check(api.GemmEx(handle, op_b, op_a, m, n, k, s.alpha(dbl), ob.ptr + ob_off * isz,
                         types.data, ld_b, oa.ptr + oa_off * isz, types.data, ld_a, s.beta(dbl),
                         cptr + oc_off * isz, types.data, ldc, types.compute,
                         cb::CUBLAS_GEMM_DEFAULT),
              op, "cublasGemmEx");
  };
  if (folded) {
    gemm(0, 0, 0);
    return;
  }
  Strides c_strides = row_major_strides(batch);
  for (auto& st : c_strides) st *= M * N;
  auto plan = cpu::make_plan<3>(batch, {&oa.batch_strides, &ob.batch_strides, &c_strides});
  cpu::for_each_strided(plan, [&](auto offs, int64_t count, auto st) {
    if (count == 1 || st[0] < 0 || st[1] < 0) {
      // Negative batch strides: one gemm per matrix rather than rely on
      // cuBLAS accepting them.
      for (int64_t i = 0; i < count; ++i) {
        gemm(offs[0] + i * st[0], offs[1] + i * st[1], offs[2] + i * st[2]);
      }
      return;
    }
    for (int64_t done = 0; done < count; done += INT_MAX) {
      int part = static_cast<int>(std::min<int64_t>(count - done, INT_MAX));
      cb::check(api.GemmStridedBatchedEx(
                    handle, op_b, op_a, m, n, k, s.alpha(dbl),
                    ob.ptr + (offs[1] + done * st[1]) * isz, types.data, ld_b, st[1],
                    oa.ptr + (offs[0] + done * st[0]) * isz, types.data, ld_a, st[0], s.beta(dbl),
                    cptr + (offs[2] + done * st[2]) * isz, types.data, ldc, st[2], part,
                    types.compute, cb::CUBLAS_GEMM_DEFAULT),
                op, "cublasGemmStridedBatchedEx");
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
