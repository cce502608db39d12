// GPU kernels of the factorization primitives (primitives/factorizations.h):
// cuSOLVER's dense API (cusolver.h), one call per matrix of the batch on
// the stream's handle, workspaces from the stream's allocator.
//
// cuSOLVER is column-major, like LAPACK. A row-major matrix read
// column-major is its transpose, which several ops use instead of copying:
// inv factors A^T and solves A^T X = I (X = A^-T column-major, A^-1
// row-major); solve factors A^T and solves with the transpose flag;
// cholesky and eigh read the other triangle (conj(A), A being Hermitian);
// a wide svd works on A^T, whose U and Vt are A's Vt and U read row-major.
// The rest (LU, QR, a tall SVD) copy through transposed views.
//
// A matrix cuSOLVER cannot factor (singular, not positive definite, no
// convergence) sets its info; a check kernel after the calls turns the
// first positive one into the stream's error record, and the error
// (ValueError naming the op and the matrix) reaches the outputs' readers,
// as a CPU task's does.
//
// Every op ends the stream's captured CUDA graph first: cuSOLVER may load
// modules on a first call, which a capture forbids.
#include <stdexcept>
#include <string>

#include "backend/cuda/copy.h"
#include "backend/cuda/cusolver.h"
#include "backend/cuda/kernel_utils.cuh"
#include "backend/cuda/signal.h"
#include "errors.h"
#include "primitives/factorizations.h"

namespace fastsync {

namespace {

namespace sol = cuda::cusolver;

enum : int { kLower = 0, kUpper = 1 };
enum : int { kOpN = 0, kOpT = 1 };
enum : int { kNoVectors = 0, kVectors = 1 };

int64_t batch_of(const array& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim() - 2; ++d) n *= a.shape(d);
  return n;
}

// Calls f(Typed&, T*) with the entry points and element type of `d`.
template <typename F>
void dispatch(Dtype d, const char* op, F&& f) {
  const sol::Api& a = sol::api(op);
  if (d == float32) {
    f(a.s, static_cast<float*>(nullptr));
  } else if (d == float64) {
    f(a.d, static_cast<double*>(nullptr));
  } else {
    f(a.c, static_cast<float2*>(nullptr));
  }
}

template <typename T>
T* ptr(const array& a, int64_t offset = 0) {
  return static_cast<T*>(a.raw_ptr()) + offset;
}

// A row-contiguous copy of `a` with its last two axes swapped: each matrix
// column-major.
array transposed_copy(cuda::CommandEncoder& enc, const array& a) {
  Shape shape = a.shape();
  Strides strides = a.strides();
  std::swap(shape[a.ndim() - 1], shape[a.ndim() - 2]);
  std::swap(strides[a.ndim() - 1], strides[a.ndim() - 2]);
  array t = cuda::temporary(enc, shape, a.dtype());
  cuda::copy_gpu(enc, a.unsafe_weak_copy(shape, strides), t);
  return t;
}

// `cols` (matrices column-major with leading dimension ld, batch stride
// `step`) written row-major into `out` (..., rows, n).
void store_rows(cuda::CommandEncoder& enc, const array& cols, int64_t ld, int64_t step,
                const array& out) {
  const int nd = out.ndim();
  Strides strides(nd, 0);
  int64_t b = step;
  for (int d = nd - 3; d >= 0; --d) {
    strides[d] = b;
    b *= out.shape(d);
  }
  strides[nd - 2] = 1;
  strides[nd - 1] = ld;
  cuda::copy_gpu(enc, cols.unsafe_weak_copy(out.shape(), strides), out);
}

array row_copy(cuda::CommandEncoder& enc, const array& a) {
  array t = cuda::temporary(enc, a.shape(), a.dtype());
  cuda::copy_gpu(enc, a, t);
  return t;
}

void* workspace(cuda::CommandEncoder& enc, int64_t elements, int itemsize) {
  return cuda::temporary(enc, {std::max<int64_t>(1, elements) * itemsize}, uint8).raw_ptr();
}

__global__ void check_info(const int* info, int64_t count, cuda::ErrorRecord* record,
                           uint64_t position) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    if (info[i] > 0) cuda::record_error(record, position, cuda::kErrorLinalg, i, info[i]);
  }
}

// One info word per matrix, checked after the calls.
// A solve after a factorization writes 0 to the info it is given on success:
// it gets the scratch word, so the factorization's verdict survives.
struct Infos {
  array words;
  int64_t count;
  Infos(cuda::CommandEncoder& enc, int64_t count)
      : words(cuda::temporary(enc, {count + 1}, int32)), count(count) {
    cuda::check(cudaMemsetAsync(words.raw_ptr(), 0, (count + 1) * sizeof(int), enc.cuda_stream()),
                "cudaMemsetAsync");
  }
  int* at(int64_t b) const { return static_cast<int*>(words.raw_ptr()) + b; }
  int* scratch() const { return at(count); }
  void check(cuda::CommandEncoder& enc, const char* op, const char* what) {
    std::string name = op, why = what;
    auto* record = enc.error_record(cuda::kErrorLinalg, [name, why](const cuda::ErrorRecord& r) {
      return std::make_exception_ptr(std::invalid_argument("[" + name + "] " + why + " (matrix " +
                                                           std::to_string(r.a) + " of the batch)"));
    });
    const int64_t n = count;
    check_info<<<cuda::grid_for(n), cuda::kBlock, 0, enc.cuda_stream()>>>(at(0), n, record,
                                                                          enc.op_position());
    cuda::check_launch("[linalg] info check");
  }
};

// Zeroes, in row-major rows x cols matrices, the part strictly above (or
// below) the diagonal.
template <typename T>
__global__ void zero_part(T* a, int64_t total, int64_t rows, int64_t cols, bool above) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t j = e % cols, i = (e / cols) % rows;
    if (above ? j > i : j < i) a[e] = T{};
  }
}

template <typename T>
__global__ void fill_identity(T* a, int64_t total, int64_t n) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t j = e % n, i = (e / n) % n;
    T v{};
    if (i == j) {
      if constexpr (std::is_same_v<T, float2>) {
        v.x = 1.0f;
      } else {
        v = T(1);
      }
    }
    a[e] = v;
  }
}

__global__ void conjugate(float2* a, int64_t total) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    a[e].y = -a[e].y;
  }
}

// LAPACK's 1-based pivots -> 0-based, and the row permutation P with
// (L @ U)[P] = a: the swaps applied in order give `order` (a[order] =
// L @ U), and P is its inverse. One thread per matrix; `order` is scratch.
__global__ void pivots_to_permutation(const int* ipiv, int32_t* piv, int32_t* perm, int32_t* order,
                                      int64_t batch, int64_t m, int64_t k) {
  int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (b >= batch) return;
  int32_t* o = order + b * m;
  for (int64_t i = 0; i < m; ++i) o[i] = static_cast<int32_t>(i);
  for (int64_t i = 0; i < k; ++i) {
    int32_t j = ipiv[b * k + i] - 1;
    piv[b * k + i] = j;
    int32_t t = o[i];
    o[i] = o[j];
    o[j] = t;
  }
  for (int64_t i = 0; i < m; ++i) perm[b * m + o[i]] = static_cast<int32_t>(i);
}

// Identity permutations (an LU of matrices with no columns).
__global__ void iota_rows(int32_t* perm, int64_t total, int64_t m) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    perm[e] = static_cast<int32_t>(e % m);
  }
}

// Inverse and Solve: factors each matrix of `lu` (A^T column-major, n x n,
// in place) and solves with each matrix of `rhs` (column-major n x k, in
// place), `trans` saying which of A^T or A the solve applies: kOpN leaves
// A^-T B, kOpT leaves A^-1 B. A singular matrix is the op's error.
void lu_solve(cuda::CommandEncoder& enc, const char* op, const array& lu, const array& rhs, int n,
              int k, int trans) {
  const int64_t batch = batch_of(lu);
  Infos info(enc, batch);
  array ipiv = cuda::temporary(enc, {batch * n}, int32);
  sol::Handle h = sol::handle(enc, op);
  dispatch(lu.dtype(), op, [&](auto& f, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    int lwork = 0;
    sol::check(f.getrf_size(h, n, n, ptr<T>(lu), n, &lwork), op, "getrf_bufferSize");
    T* work = static_cast<T*>(workspace(enc, lwork, sizeof(T)));
    for (int64_t b = 0; b < batch; ++b) {
      T* m = ptr<T>(lu, b * n * n);
      int* piv = ptr<int>(ipiv, b * n);
      sol::check(f.getrf(h, n, n, m, n, work, piv, info.at(b)), op, "getrf");
      sol::check(f.getrs(h, trans, n, k, m, n, piv, ptr<T>(rhs, b * n * k), n, info.scratch()), op,
                 "getrs");
    }
  });
  info.check(enc, op, "the matrix is singular");
}

[[noreturn]] void no_gpu_kernel(const char* op) {
  throw not_implemented(std::string("[") + op +
                        "] has no GPU kernel yet: call it with stream=mx.cpu");
}

// The start of every factorization's eval_gpu: its stream's encoder, out of
// any graph capture (cuSOLVER's calls are not captured), with every output
// allocated and every input and output declared.
cuda::CommandEncoder& begin_op(const Primitive& p, const std::vector<array>& inputs,
                               std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(p);
  enc.end_graph();
  for (const array& in : inputs) enc.set_input_array(in);
  for (array& o : outputs) {
    cuda::alloc(o);
    enc.set_output_array(o);
  }
  return enc;
}

}  // namespace

void Cholesky::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* op = "linalg.cholesky";
  auto& enc = begin_op(*this, inputs, outputs);
  array& out = outputs[0];
  if (out.size() == 0) return;
  cuda::copy_gpu(enc, inputs[0], out);
  const int n = static_cast<int>(out.shape(-1));
  const int64_t batch = batch_of(out);
  Infos info(enc, batch);
  sol::Handle h = sol::handle(enc, op);
  // The row-major matrix is conj(A) column-major with the triangles swapped.
  const int uplo = upper_ ? kLower : kUpper;
  dispatch(out.dtype(), op, [&](auto& f, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    int lwork = 0;
    sol::check(f.potrf_size(h, uplo, n, ptr<T>(out), n, &lwork), op, "potrf_bufferSize");
    T* work = static_cast<T*>(workspace(enc, lwork, sizeof(T)));
    for (int64_t b = 0; b < batch; ++b) {
      sol::check(f.potrf(h, uplo, n, ptr<T>(out, b * n * n), n, work, lwork, info.at(b)), op,
                 "potrf");
    }
    zero_part<T><<<cuda::grid_for(out.size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
        ptr<T>(out), out.size(), n, n, !upper_);
    cuda::check_launch("[linalg.cholesky] kernel");
  });
  info.check(enc, op, "the matrix is not positive definite");
}

void Inverse::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (triangular_) no_gpu_kernel("linalg.tri_inv");
  const char* op = "linalg.inv";
  auto& enc = begin_op(*this, inputs, outputs);
  array& out = outputs[0];
  if (out.size() == 0) return;
  array lu = row_copy(enc, inputs[0]);  // A^T column-major
  const int n = static_cast<int>(out.shape(-1));
  dispatch(out.dtype(), op, [&](auto&, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    fill_identity<T><<<cuda::grid_for(out.size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
        ptr<T>(out), out.size(), n);
    cuda::check_launch("[linalg.inv] kernel");
  });
  // A^T X = I: X = A^-T column-major, which is A^-1 row-major.
  lu_solve(enc, op, lu, out, n, n, kOpN);
}

void Solve::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (triangular_) no_gpu_kernel("linalg.solve_triangular");
  const char* op = "linalg.solve";
  auto& enc = begin_op(*this, inputs, outputs);
  array& out = outputs[0];
  if (out.size() == 0) return;
  array lu = row_copy(enc, inputs[0]);        // A^T column-major
  array x = transposed_copy(enc, inputs[1]);  // b column-major, solved in place
  const int n = static_cast<int>(lu.shape(-1));
  const int k = static_cast<int>(out.shape(-1));
  lu_solve(enc, op, lu, x, n, k, kOpT);  // (A^T)^T x = b
  store_rows(enc, x, n, static_cast<int64_t>(n) * k, out);
}

void LUFactor::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* op = "linalg.lu_factor";
  auto& enc = begin_op(*this, inputs, outputs);
  const array& a = inputs[0];
  const int m = static_cast<int>(a.shape(-2)), n = static_cast<int>(a.shape(-1));
  const int k = std::min(m, n);
  const int64_t batch = batch_of(a);
  if (a.size() == 0) {
    if (outputs[2].size() > 0) {
      iota_rows<<<cuda::grid_for(outputs[2].size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
          ptr<int32_t>(outputs[2]), outputs[2].size(), m);
      cuda::check_launch("[linalg.lu_factor] kernel");
    }
    return;
  }
  array lu = transposed_copy(enc, a);
  Infos info(enc, batch);  // singular factors are not errors: only the calls' own
  array ipiv = cuda::temporary(enc, {batch * std::max(k, 1)}, int32);
  sol::Handle h = sol::handle(enc, op);
  dispatch(a.dtype(), op, [&](auto& f, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    int lwork = 0;
    sol::check(f.getrf_size(h, m, n, ptr<T>(lu), m, &lwork), op, "getrf_bufferSize");
    T* work = static_cast<T*>(workspace(enc, lwork, sizeof(T)));
    for (int64_t b = 0; b < batch; ++b) {
      sol::check(f.getrf(h, m, n, ptr<T>(lu, b * int64_t{m} * n), m, work, ptr<int>(ipiv, b * k),
                         info.at(b)),
                 op, "getrf");
    }
  });
  store_rows(enc, lu, m, int64_t{m} * n, outputs[0]);
  array order = cuda::temporary(enc, {batch * m}, int32);
  pivots_to_permutation<<<cuda::grid_for(batch, 64), 64, 0, enc.cuda_stream()>>>(
      ptr<int>(ipiv), ptr<int32_t>(outputs[1]), ptr<int32_t>(outputs[2]), ptr<int32_t>(order),
      batch, m, k);
  cuda::check_launch("[linalg.lu_factor] kernel");
}

void QRFactor::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* op = "linalg.qr";
  auto& enc = begin_op(*this, inputs, outputs);
  const array& a = inputs[0];
  const int m = static_cast<int>(a.shape(-2)), n = static_cast<int>(a.shape(-1));
  const int k = std::min(m, n);
  const int64_t batch = batch_of(a);
  if (a.size() == 0 || k == 0) return;
  array w = transposed_copy(enc, a);
  array tau = cuda::temporary(enc, {batch * k}, a.dtype());
  Infos info(enc, batch);
  sol::Handle h = sol::handle(enc, op);
  dispatch(a.dtype(), op, [&](auto& f, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    int lq = 0, lo = 0;
    sol::check(f.geqrf_size(h, m, n, ptr<T>(w), m, &lq), op, "geqrf_bufferSize");
    sol::check(f.orgqr_size(h, m, k, k, ptr<T>(w), m, ptr<T>(tau), &lo), op, "orgqr_bufferSize");
    T* work = static_cast<T*>(workspace(enc, std::max(lq, lo), sizeof(T)));
    for (int64_t b = 0; b < batch; ++b) {
      sol::check(f.geqrf(h, m, n, ptr<T>(w, b * int64_t{m} * n), m, ptr<T>(tau, b * k), work, lq,
                         info.at(b)),
                 op, "geqrf");
    }
    // R: the upper triangle of the first k rows, before orgqr overwrites it.
    store_rows(enc, w, m, int64_t{m} * n, outputs[1]);
    zero_part<T><<<cuda::grid_for(outputs[1].size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
        ptr<T>(outputs[1]), outputs[1].size(), k, n, false);
    for (int64_t b = 0; b < batch; ++b) {
      sol::check(f.orgqr(h, m, k, k, ptr<T>(w, b * int64_t{m} * n), m, ptr<T>(tau, b * k), work, lo,
                         info.at(b)),
                 op, "orgqr");
    }
  });
  store_rows(enc, w, m, int64_t{m} * n, outputs[0]);
  info.check(enc, op, "the factorization failed");
}

void Eigh::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* op = "linalg.eigh";
  auto& enc = begin_op(*this, inputs, outputs);
  const array& a = inputs[0];
  const int n = static_cast<int>(a.shape(-1));
  const int64_t batch = batch_of(a);
  if (a.size() == 0) return;
  array w = row_copy(enc, a);  // conj(A) column-major, triangles swapped
  Infos info(enc, batch);
  sol::Handle h = sol::handle(enc, op);
  const int uplo = upper_ ? kLower : kUpper;
  const int jobz = vectors_ ? kVectors : kNoVectors;
  dispatch(a.dtype(), op, [&](auto& f, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using R = std::conditional_t<std::is_same_v<T, double>, double, float>;
    int lwork = 0;
    sol::check(f.syevd_size(h, jobz, uplo, n, ptr<T>(w), n, ptr<R>(outputs[0]), &lwork), op,
               "syevd_bufferSize");
    T* work = static_cast<T*>(workspace(enc, lwork, sizeof(T)));
    for (int64_t b = 0; b < batch; ++b) {
      sol::check(f.syevd(h, jobz, uplo, n, ptr<T>(w, b * int64_t{n} * n), n,
                         ptr<R>(outputs[0], b * n), work, lwork, info.at(b)),
                 op, "syevd");
    }
  });
  info.check(enc, op, "the eigensolver did not converge");
  if (!vectors_) return;
  // Eigenvectors of conj(A): A's are their conjugates.
  store_rows(enc, w, n, int64_t{n} * n, outputs[1]);
  if (a.dtype() == complex64) {
    conjugate<<<cuda::grid_for(outputs[1].size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
        ptr<float2>(outputs[1]), outputs[1].size());
    cuda::check_launch("[linalg.eigh] kernel");
  }
}

void SVD::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const char* op = "linalg.svd";
  auto& enc = begin_op(*this, inputs, outputs);
  const array& a = inputs[0];
  const int m = static_cast<int>(a.shape(-2)), n = static_cast<int>(a.shape(-1));
  const int k = std::min(m, n);
  const int64_t batch = batch_of(a);
  if (a.size() == 0 || k == 0) {
    if (compute_uv_ && a.size() == 0 && (outputs[0].size() || outputs[2].size())) {
      // No singular values: identity factors, as NumPy.
      dispatch(a.dtype(), op, [&](auto&, auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        for (int i : {0, 2}) {
          if (outputs[i].size() == 0) continue;
          fill_identity<T>
              <<<cuda::grid_for(outputs[i].size()), cuda::kBlock, 0, enc.cuda_stream()>>>(
                  ptr<T>(outputs[i]), outputs[i].size(), outputs[i].shape(-1));
        }
      });
      cuda::check_launch("[linalg.svd] kernel");
    }
    return;
  }
  // gesvd wants rows >= columns: a tall A column-major, or a wide A's
  // transpose, which is its row-major buffer as it is.
  const bool wide = m < n;
  const int rows = wide ? n : m, cols = wide ? m : n;
  array w = wide ? row_copy(enc, a) : transposed_copy(enc, a);
  array s = compute_uv_ ? outputs[1] : outputs[0];
  // Column-major factors of the transform: U (rows x rows), VT (cols x cols).
  array u = compute_uv_ ? cuda::temporary(enc, {batch, rows, rows}, a.dtype()) : w;
  array vt = compute_uv_ ? cuda::temporary(enc, {batch, cols, cols}, a.dtype()) : w;
  Infos info(enc, batch);
  sol::Handle h = sol::handle(enc, op);
  const signed char job = compute_uv_ ? 'A' : 'N';
  dispatch(a.dtype(), op, [&](auto& f, auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using R = std::conditional_t<std::is_same_v<T, double>, double, float>;
    int lwork = 0;
    sol::check(f.gesvd_size(h, rows, cols, &lwork), op, "gesvd_bufferSize");
    T* work = static_cast<T*>(workspace(enc, lwork, sizeof(T)));
    R* rwork = static_cast<R*>(workspace(enc, k, sizeof(R)));
    for (int64_t b = 0; b < batch; ++b) {
      sol::check(
          f.gesvd(h, job, job, rows, cols, ptr<T>(w, b * int64_t{m} * n), rows, ptr<R>(s, b * k),
                  ptr<T>(u, b * int64_t{rows} * rows), rows, ptr<T>(vt, b * int64_t{cols} * cols),
                  cols, work, lwork, rwork, info.at(b)),
          op, "gesvd");
    }
  });
  info.check(enc, op, "the SVD did not converge");
  if (!compute_uv_) return;
  if (wide) {
    // A = (A^T)^T = V' S U'^T: A's U is V' (VT' read row-major) and its Vt
    // is U'^T (U' read row-major).
    cuda::copy_gpu(enc, vt.unsafe_weak_copy(outputs[0].shape(), outputs[0].strides()), outputs[0]);
    cuda::copy_gpu(enc, u.unsafe_weak_copy(outputs[2].shape(), outputs[2].strides()), outputs[2]);
  } else {
    store_rows(enc, u, m, int64_t{m} * m, outputs[0]);
    store_rows(enc, vt, n, int64_t{n} * n, outputs[2]);
  }
}

void CholeskyInverse::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  no_gpu_kernel("linalg.cholesky_inv");
}

void Eig::eval_gpu(const std::vector<array>&, std::vector<array>&) { no_gpu_kernel("linalg.eig"); }

}  // namespace fastsync
