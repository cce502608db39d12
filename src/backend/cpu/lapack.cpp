// CPU kernels of the factorization primitives (primitives/factorizations.h):
// LAPACK from the OpenBLAS wheel (scipy-openblas32, 32-bit integers,
// symbols prefixed scipy_), whichever BLAS the products use.
//
// eval_cpu (encoding thread) allocates the row-contiguous outputs and
// dispatches one task that, per matrix of the batch, copies the input (any
// strides, broadcast batch axes included) into a column-major workspace,
// calls LAPACK, and writes the results back row-major. The explicit
// transposing copy keeps "upper" and "lower" meaning what they mean to the
// caller. LAPACK's threaded level-3 calls run under the BLAS pool lock
// (blas.h), so two streams never share OpenBLAS's pool at once.
//
// A matrix LAPACK cannot factor throws std::invalid_argument (ValueError,
// as NumPy's LinAlgError) naming the op and the matrix's batch index; the
// task fails and the error surfaces when the outputs are read.
#include <complex>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

// The wheel's symbols carry its scipy_ prefix (scipy_sgetrf_).
#define LAPACK_GLOBAL(lcname, UCNAME) scipy_##lcname##_
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapack.h>

#include "backend/cpu/blas.h"
#include "backend/cpu/utils.h"
#include "primitives/factorizations.h"

namespace fastsync {

namespace {

using cfloat = std::complex<float>;
using lint = lapack_int;

template <typename T>
struct real_of {
  using type = T;
};
template <>
struct real_of<cfloat> {
  using type = float;
};
template <typename T>
using real_t = typename real_of<T>::type;
template <typename T>
constexpr bool is_cplx = std::is_same_v<T, cfloat>;

template <typename T>
T conj_of(T x) {
  if constexpr (is_cplx<T>) {
    return std::conj(x);
  } else {
    return x;
  }
}

[[noreturn]] void fail(const char* op, int64_t b, const std::string& why) {
  throw std::invalid_argument(std::string("[") + op + "] " + why + " (matrix " + std::to_string(b) +
                              " of the batch)");
}

void lapack_check(const char* op, const char* routine, lint info) {
  if (info < 0) {
    throw std::runtime_error(std::string("[") + op + "] LAPACK " + routine + " rejected argument " +
                             std::to_string(-info) + " (a fastsync bug)");
  }
}

// The element offset of matrix b of a batch, through a's batch strides.
int64_t batch_offset(const array& a, int64_t b) {
  int64_t off = 0;
  for (int d = a.ndim() - 3; d >= 0; --d) {
    off += (b % a.shape(d)) * a.strides()[d];
    b /= a.shape(d);
  }
  return off;
}

int64_t batch_count(const array& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim() - 2; ++d) n *= a.shape(d);
  return n;
}

// Transposing copies go tile by tile, so both sides stay in cache.
constexpr int64_t kTile = 32;

// Matrix b of `a` (M x N) into `dst`, column-major with leading dimension M.
template <typename T>
void load(const array& a, int64_t b, std::vector<T>& dst) {
  const int64_t m = a.shape(-2), n = a.shape(-1);
  const int64_t rs = a.strides()[a.ndim() - 2], cs = a.strides()[a.ndim() - 1];
  dst.resize(m * n);
  const T* src = static_cast<const T*>(a.raw_ptr()) + batch_offset(a, b);
  for (int64_t ib = 0; ib < m; ib += kTile) {
    for (int64_t jb = 0; jb < n; jb += kTile) {
      const int64_t ie = std::min(m, ib + kTile), je = std::min(n, jb + kTile);
      for (int64_t i = ib; i < ie; ++i) {
        for (int64_t j = jb; j < je; ++j) dst[i + j * m] = src[i * rs + j * cs];
      }
    }
  }
}

// Matrix b of `a` copied as it is laid out row-major: column-major, that is
// its transpose. A Hermitian solver reads it as conj(A) with the other
// triangle (the caller flips upper and lower) and skips both transposes.
// `dst` holds m * n elements and is not a's buffer.
template <typename T>
void load_transposed(const array& a, int64_t b, T* dst) {
  const int64_t m = a.shape(-2), n = a.shape(-1);
  const int64_t rs = a.strides()[a.ndim() - 2], cs = a.strides()[a.ndim() - 1];
  const T* src = static_cast<const T*>(a.raw_ptr()) + batch_offset(a, b);
  if (cs == 1 && rs == n) {
    std::copy(src, src + m * n, dst);
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) dst[j + i * n] = src[i * rs + j * cs];
  }
}

template <typename T>
void load_transposed(const array& a, int64_t b, std::vector<T>& dst) {
  dst.resize(a.shape(-2) * a.shape(-1));
  load_transposed(a, b, dst.data());
}

// A column-major M x N block (leading dimension ld) into row-major `dst`.
template <typename T, typename U>
void store(const T* src, int64_t m, int64_t n, int64_t ld, U* dst) {
  for (int64_t ib = 0; ib < m; ib += kTile) {
    for (int64_t jb = 0; jb < n; jb += kTile) {
      const int64_t ie = std::min(m, ib + kTile), je = std::min(n, jb + kTile);
      for (int64_t i = ib; i < ie; ++i) {
        for (int64_t j = jb; j < je; ++j) dst[i * n + j] = U(src[i + j * ld]);
      }
    }
  }
}

// Zeroes the strict lower (or upper) triangle of a column-major n x n matrix.
template <typename T>
void zero_triangle(T* a, int64_t n, bool lower) {
  for (int64_t j = 0; j < n; ++j) {
    T* col = a + j * n;
    if (lower) {
      std::fill(col + j + 1, col + n, T(0));
    } else {
      std::fill(col, col + j, T(0));
    }
  }
}

template <typename T>
void zero_triangle(std::vector<T>& a, int64_t n, bool lower) {
  zero_triangle(a.data(), n, lower);
}

// --- LAPACK by type --------------------------------------------------------

template <typename T>
lint getrf(lint m, lint n, T* a, lint* ipiv) {
  lint info = 0, lda = std::max<lint>(1, m);
  if constexpr (std::is_same_v<T, float>) LAPACK_sgetrf(&m, &n, a, &lda, ipiv, &info);
  if constexpr (std::is_same_v<T, double>) LAPACK_dgetrf(&m, &n, a, &lda, ipiv, &info);
  if constexpr (is_cplx<T>) LAPACK_cgetrf(&m, &n, a, &lda, ipiv, &info);
  return info;
}

template <typename T>
lint getri(lint n, T* a, const lint* ipiv) {
  lint info = 0, lwork = -1, lda = std::max<lint>(1, n);
  T q{};
  auto call = [&](T* work) {
    if constexpr (std::is_same_v<T, float>) LAPACK_sgetri(&n, a, &lda, ipiv, work, &lwork, &info);
    if constexpr (std::is_same_v<T, double>) LAPACK_dgetri(&n, a, &lda, ipiv, work, &lwork, &info);
    if constexpr (is_cplx<T>) LAPACK_cgetri(&n, a, &lda, ipiv, work, &lwork, &info);
  };
  call(&q);
  lwork = std::max<lint>(1, static_cast<lint>(std::real(q)));
  std::vector<T> work(lwork);
  call(work.data());
  return info;
}

template <typename T>
lint trtri(bool upper, lint n, T* a) {
  lint info = 0;
  lint lda = std::max<lint>(1, n);
  char uplo = upper ? 'U' : 'L', diag = 'N';
  if constexpr (std::is_same_v<T, float>) scipy_LAPACK_strtri(&uplo, &diag, &n, a, &lda, &info);
  if constexpr (std::is_same_v<T, double>) scipy_LAPACK_dtrtri(&uplo, &diag, &n, a, &lda, &info);
  if constexpr (is_cplx<T>) scipy_LAPACK_ctrtri(&uplo, &diag, &n, a, &lda, &info);
  return info;
}

template <typename T>
lint potrf(bool upper, lint n, T* a) {
  lint info = 0;
  lint lda = std::max<lint>(1, n);
  char uplo = upper ? 'U' : 'L';
  if constexpr (std::is_same_v<T, float>) scipy_LAPACK_spotrf(&uplo, &n, a, &lda, &info);
  if constexpr (std::is_same_v<T, double>) scipy_LAPACK_dpotrf(&uplo, &n, a, &lda, &info);
  if constexpr (is_cplx<T>) scipy_LAPACK_cpotrf(&uplo, &n, a, &lda, &info);
  return info;
}

template <typename T>
lint potri(bool upper, lint n, T* a) {
  lint info = 0;
  lint lda = std::max<lint>(1, n);
  char uplo = upper ? 'U' : 'L';
  if constexpr (std::is_same_v<T, float>) scipy_LAPACK_spotri(&uplo, &n, a, &lda, &info);
  if constexpr (std::is_same_v<T, double>) scipy_LAPACK_dpotri(&uplo, &n, a, &lda, &info);
  if constexpr (is_cplx<T>) scipy_LAPACK_cpotri(&uplo, &n, a, &lda, &info);
  return info;
}

template <typename T>
lint geqrf(lint m, lint n, T* a, T* tau) {
  lint info = 0, lwork = -1, lda = std::max<lint>(1, m);
  T q{};
  auto call = [&](T* work) {
    if constexpr (std::is_same_v<T, float>)
      LAPACK_sgeqrf(&m, &n, a, &lda, tau, work, &lwork, &info);
    if constexpr (std::is_same_v<T, double>)
      LAPACK_dgeqrf(&m, &n, a, &lda, tau, work, &lwork, &info);
    if constexpr (is_cplx<T>) LAPACK_cgeqrf(&m, &n, a, &lda, tau, work, &lwork, &info);
  };
  call(&q);
  lwork = std::max<lint>(1, static_cast<lint>(std::real(q)));
  std::vector<T> work(lwork);
  call(work.data());
  return info;
}

// The first k columns of Q from geqrf's reflectors.
template <typename T>
lint orgqr(lint m, lint k, T* a, const T* tau) {
  lint info = 0, lwork = -1, lda = std::max<lint>(1, m);
  T q{};
  auto call = [&](T* work) {
    if constexpr (std::is_same_v<T, float>)
      LAPACK_sorgqr(&m, &k, &k, a, &lda, tau, work, &lwork, &info);
    if constexpr (std::is_same_v<T, double>)
      LAPACK_dorgqr(&m, &k, &k, a, &lda, tau, work, &lwork, &info);
    if constexpr (is_cplx<T>) LAPACK_cungqr(&m, &k, &k, a, &lda, tau, work, &lwork, &info);
  };
  call(&q);
  lwork = std::max<lint>(1, static_cast<lint>(std::real(q)));
  std::vector<T> work(lwork);
  call(work.data());
  return info;
}

template <typename T>
lint gesdd(bool vectors, lint m, lint n, T* a, real_t<T>* s, T* u, T* vt) {
  lint info = 0, lwork = -1;
  char jobz = vectors ? 'A' : 'N';
  lint k = std::min(m, n), lda = std::max<lint>(1, m), ldu = lda, ldvt = std::max<lint>(1, n);
  std::vector<lint> iwork(8 * std::max<lint>(1, k));
  std::vector<float> rwork;
  if constexpr (is_cplx<T>) {
    lint big = std::max(m, n);
    rwork.resize(vectors ? std::max<lint>(5 * k * k + 5 * k, 2 * big * k + 2 * k * k + k)
                         : 7 * std::max<lint>(1, k));
  }
  T q{};
  auto call = [&](T* work) {
    if constexpr (std::is_same_v<T, float>) {
      scipy_LAPACK_sgesdd(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork.data(),
                          &info);
    }
    if constexpr (std::is_same_v<T, double>) {
      scipy_LAPACK_dgesdd(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork.data(),
                          &info);
    }
    if constexpr (is_cplx<T>) {
      scipy_LAPACK_cgesdd(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, rwork.data(),
                          iwork.data(), &info);
    }
  };
  call(&q);
  lwork = std::max<lint>(1, static_cast<lint>(std::real(q)));
  std::vector<T> work(lwork);
  call(work.data());
  return info;
}

template <typename T>
lint syevd(bool vectors, bool upper, lint n, T* a, real_t<T>* w) {
  lint info = 0, lwork = -1, liwork = -1, lrwork = -1, lda = std::max<lint>(1, n);
  char jobz = vectors ? 'V' : 'N', uplo = upper ? 'U' : 'L';
  T q{};
  lint iq = 0;
  real_t<T> rq{};
  auto call = [&](T* work, lint* iwork, real_t<T>* rwork) {
    if constexpr (std::is_same_v<T, float>) {
      scipy_LAPACK_ssyevd(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, &info);
    }
    if constexpr (std::is_same_v<T, double>) {
      scipy_LAPACK_dsyevd(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, &info);
    }
    if constexpr (is_cplx<T>) {
      scipy_LAPACK_cheevd(&jobz, &uplo, &n, a, &lda, w, work, &lwork, rwork, &lrwork, iwork,
                          &liwork, &info);
    }
  };
  call(&q, &iq, &rq);
  lwork = std::max<lint>(1, static_cast<lint>(std::real(q)));
  liwork = std::max<lint>(1, iq);
  lrwork = std::max<lint>(1, static_cast<lint>(rq));
  std::vector<T> work(lwork);
  std::vector<lint> iwork(liwork);
  std::vector<real_t<T>> rwork(is_cplx<T> ? lrwork : 1);
  call(work.data(), iwork.data(), rwork.data());
  return info;
}

// Eigenvalues (and right eigenvectors) of a general matrix, as complex.
template <typename T>
lint geev(bool vectors, lint n, T* a, std::vector<std::complex<real_t<T>>>& w,
          std::vector<std::complex<real_t<T>>>& v) {
  lint info = 0, lwork = -1, one = 1, ldvr = std::max<lint>(1, n), lda = ldvr;
  char jobvl = 'N', jobvr = vectors ? 'V' : 'N';
  w.resize(n);
  if constexpr (is_cplx<T>) {
    std::vector<T> vr(vectors ? n * n : 1);
    std::vector<float> rwork(2 * std::max<lint>(1, n));
    T q{};
    auto call = [&](T* work) {
      scipy_LAPACK_cgeev(&jobvl, &jobvr, &n, a, &lda, w.data(), nullptr, &one, vr.data(), &ldvr,
                         work, &lwork, rwork.data(), &info);
    };
    call(&q);
    lwork = std::max<lint>(1, static_cast<lint>(std::real(q)));
    std::vector<T> work(lwork);
    call(work.data());
    if (vectors) v.assign(vr.begin(), vr.end());
  } else {
    std::vector<T> wr(n), wi(n), vr(vectors ? n * n : 1);
    T q{};
    auto call = [&](T* work) {
      if constexpr (std::is_same_v<T, float>) {
        scipy_LAPACK_sgeev(&jobvl, &jobvr, &n, a, &lda, wr.data(), wi.data(), nullptr, &one,
                           vr.data(), &ldvr, work, &lwork, &info);
      } else {
        scipy_LAPACK_dgeev(&jobvl, &jobvr, &n, a, &lda, wr.data(), wi.data(), nullptr, &one,
                           vr.data(), &ldvr, work, &lwork, &info);
      }
    };
    call(&q);
    lwork = std::max<lint>(1, static_cast<lint>(q));
    std::vector<T> work(lwork);
    call(work.data());
    for (lint j = 0; j < n; ++j) w[j] = {wr[j], wi[j]};
    if (vectors) {
      // A complex pair (j, j + 1) stores its vector's real part in column j
      // and its imaginary part in column j + 1.
      v.resize(n * n);
      for (lint j = 0; j < n; ++j) {
        if (wi[j] != 0 && j + 1 < n) {
          for (lint i = 0; i < n; ++i) {
            v[i + j * n] = {vr[i + j * n], vr[i + (j + 1) * n]};
            v[i + (j + 1) * n] = {vr[i + j * n], -vr[i + (j + 1) * n]};
          }
          ++j;
        } else {
          for (lint i = 0; i < n; ++i) v[i + j * n] = {vr[i + j * n], 0};
        }
      }
    }
  }
  return info;
}

template <typename T>
lint gesv(lint n, lint nrhs, T* a, T* b) {
  lint info = 0, ldb = std::max<lint>(1, n), lda = ldb;
  std::vector<lint> ipiv(std::max<lint>(1, n));
  if constexpr (std::is_same_v<T, float>)
    LAPACK_sgesv(&n, &nrhs, a, &lda, ipiv.data(), b, &ldb, &info);
  if constexpr (std::is_same_v<T, double>)
    LAPACK_dgesv(&n, &nrhs, a, &lda, ipiv.data(), b, &ldb, &info);
  if constexpr (is_cplx<T>) LAPACK_cgesv(&n, &nrhs, a, &lda, ipiv.data(), b, &ldb, &info);
  return info;
}

template <typename T>
lint trtrs(bool upper, lint n, lint nrhs, T* a, T* b) {
  lint info = 0, ldb = std::max<lint>(1, n), lda = ldb;
  char uplo = upper ? 'U' : 'L', trans = 'N', diag = 'N';
  if constexpr (std::is_same_v<T, float>) {
    scipy_LAPACK_strtrs(&uplo, &trans, &diag, &n, &nrhs, a, &lda, b, &ldb, &info);
  }
  if constexpr (std::is_same_v<T, double>) {
    scipy_LAPACK_dtrtrs(&uplo, &trans, &diag, &n, &nrhs, a, &lda, b, &ldb, &info);
  }
  if constexpr (is_cplx<T>) {
    scipy_LAPACK_ctrtrs(&uplo, &trans, &diag, &n, &nrhs, a, &lda, b, &ldb, &info);
  }
  return info;
}

// Calls f(T{}) with the LAPACK type of a float32, float64 or complex64 dtype.
template <typename F>
void dispatch_lapack(Dtype d, F&& f) {
  if (d == float32) {
    f(float{});
  } else if (d == float64) {
    f(double{});
  } else {
    f(cfloat{});
  }
}

// Allocates the outputs, declares inputs and outputs, and dispatches `body`
// (run with the BLAS pool lock held) as the op's task.
template <typename Body>
void encode(const Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
            Body body) {
  auto& enc = cpu::encoder_for(p);
  for (const array& in : inputs) enc.set_input_array(in);
  std::vector<array> outs, ins;
  for (array& out : outputs) {
    cpu::alloc(out);
    enc.set_output_array(out);
    outs.push_back(out.unsafe_weak_copy());
  }
  for (const array& in : inputs) ins.push_back(in.unsafe_weak_copy());
  enc.dispatch([ins = std::move(ins), outs = std::move(outs), body = std::move(body)]() mutable {
    std::lock_guard<std::mutex> lock(cpu::blas::pool_mutex());
    body(ins, outs);
  });
}

}  // namespace

void LUFactor::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs, [](std::vector<array>& in, std::vector<array>& out) {
    const array& a = in[0];
    const int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
    dispatch_lapack(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> w;
      std::vector<lint> ipiv(std::max<int64_t>(1, k));
      for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
        load(a, b, w);
        lapack_check("linalg.lu_factor", "getrf", getrf<T>(m, n, w.data(), ipiv.data()));
        store(w.data(), m, n, m, out[0].data<T>() + b * m * n);
        int32_t* piv = out[1].data<int32_t>() + b * k;
        int32_t* perm = out[2].data<int32_t>() + b * m;
        // Row swaps applied in order give rows with a[rows] = L @ U; P is
        // their inverse, (L @ U)[P] = a.
        std::vector<int32_t> order(m);
        for (int64_t i = 0; i < m; ++i) order[i] = static_cast<int32_t>(i);
        for (int64_t i = 0; i < k; ++i) {
          piv[i] = ipiv[i] - 1;
          std::swap(order[i], order[piv[i]]);
        }
        for (int64_t i = 0; i < m; ++i) perm[order[i]] = static_cast<int32_t>(i);
      }
    });
  });
}

void QRFactor::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs, [](std::vector<array>& in, std::vector<array>& out) {
    const array& a = in[0];
    const int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
    dispatch_lapack(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> w, tau(std::max<int64_t>(1, k));
      for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
        load(a, b, w);
        lapack_check("linalg.qr", "geqrf", geqrf<T>(m, n, w.data(), tau.data()));
        T* r = out[1].data<T>() + b * k * n;
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = 0; j < n; ++j) r[i * n + j] = j >= i ? w[i + j * m] : T(0);
        }
        lapack_check("linalg.qr", "orgqr", orgqr<T>(m, k, w.data(), tau.data()));
        store(w.data(), m, k, m, out[0].data<T>() + b * m * k);
      }
    });
  });
}

void SVD::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs,
         [uv = compute_uv_](std::vector<array>& in, std::vector<array>& out) {
           const array& a = in[0];
           const int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
           dispatch_lapack(a.dtype(), [&](auto tag) {
             using T = decltype(tag);
             using R = real_t<T>;
             std::vector<T> w, u(uv ? m * m : 1), vt(uv ? n * n : 1);
             for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
               load(a, b, w);
               R* s = (uv ? out[1] : out[0]).template data<R>() + b * k;
               lint info = gesdd<T>(uv, m, n, w.data(), s, u.data(), vt.data());
               lapack_check("linalg.svd", "gesdd", info);
               if (info > 0) fail("linalg.svd", b, "the SVD did not converge");
               if (uv && k == 0) {
                 // No singular values: LAPACK leaves U and Vt unset; the
                 // identity is NumPy's choice of basis.
                 std::fill(u.begin(), u.end(), T(0));
                 std::fill(vt.begin(), vt.end(), T(0));
                 for (int64_t i = 0; i < m; ++i) u[i + i * m] = T(1);
                 for (int64_t i = 0; i < n; ++i) vt[i + i * n] = T(1);
               }
               if (uv) {
                 store(u.data(), m, m, m, out[0].data<T>() + b * m * m);
                 store(vt.data(), n, n, n, out[2].data<T>() + b * n * n);
               }
             }
           });
         });
}

void Inverse::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs,
         [tri = triangular_, up = upper_](std::vector<array>& in, std::vector<array>& out) {
           const array& a = in[0];
           const int64_t n = a.shape(-1);
           const char* op = tri ? "linalg.tri_inv" : "linalg.inv";
           dispatch_lapack(a.dtype(), [&](auto tag) {
             using T = decltype(tag);
             std::vector<T> w;
             std::vector<lint> ipiv(std::max<int64_t>(1, n));
             for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
               load(a, b, w);
               lint info;
               if (tri) {
                 info = trtri<T>(up, n, w.data());
                 lapack_check(op, "trtri", info);
                 zero_triangle(w, n, /*lower=*/up);
               } else {
                 info = getrf<T>(n, n, w.data(), ipiv.data());
                 lapack_check(op, "getrf", info);
                 if (info == 0) info = getri<T>(n, w.data(), ipiv.data());
                 lapack_check(op, "getri", info);
               }
               if (info > 0) fail(op, b, "the matrix is singular");
               store(w.data(), n, n, n, out[0].data<T>() + b * n * n);
             }
           });
         });
}

void Cholesky::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs, [up = upper_](std::vector<array>& in, std::vector<array>& out) {
    const array& a = in[0];
    const int64_t n = a.shape(-1);
    dispatch_lapack(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
        // The row-major matrix is conj(A) column-major, with A's lower
        // triangle as its upper one: factor that (B = U^H U), and U's
        // storage read row-major is A's lower factor (and conversely).
        // Factored in the output's own buffer (a fresh one: encode
        // allocates, never donates).
        T* w = out[0].data<T>() + b * n * n;
        load_transposed(a, b, w);
        lint info = potrf<T>(!up, n, w);
        lapack_check("linalg.cholesky", "potrf", info);
        if (info > 0) fail("linalg.cholesky", b, "the matrix is not positive definite");
        zero_triangle(w, n, /*lower=*/!up);
      }
    });
  });
}

void CholeskyInverse::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs, [up = upper_](std::vector<array>& in, std::vector<array>& out) {
    const array& a = in[0];
    const int64_t n = a.shape(-1);
    dispatch_lapack(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> w;
      for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
        // As in Cholesky: the factor read column-major is the other
        // triangle's (conjugated) factor, and the inverse computed from it
        // is conj(A^-1) column-major, which read row-major is A^-1 (A is
        // Hermitian).
        load_transposed(a, b, w);
        lint info = potri<T>(!up, n, w.data());
        lapack_check("linalg.cholesky_inv", "potri", info);
        if (info > 0) fail("linalg.cholesky_inv", b, "the factor is singular");
        // potri fills one triangle of the Hermitian inverse: mirror it.
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t i = j + 1; i < n; ++i) {
            T& lower = w[i + j * n];
            T& upper = w[j + i * n];
            if (!up) {
              lower = conj_of(upper);
            } else {
              upper = conj_of(lower);
            }
          }
        }
        std::copy(w.begin(), w.end(), out[0].data<T>() + b * n * n);
      }
    });
  });
}

void Eigh::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs,
         [up = upper_, vec = vectors_](std::vector<array>& in, std::vector<array>& out) {
           const array& a = in[0];
           const int64_t n = a.shape(-1);
           dispatch_lapack(a.dtype(), [&](auto tag) {
             using T = decltype(tag);
             using R = real_t<T>;
             std::vector<T> w;
             for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
               load(a, b, w);
               lint info = syevd<T>(vec, up, n, w.data(), out[0].data<R>() + b * n);
               lapack_check("linalg.eigh", "syevd", info);
               if (info > 0) fail("linalg.eigh", b, "the eigensolver did not converge");
               if (vec) store(w.data(), n, n, n, out[1].data<T>() + b * n * n);
             }
           });
         });
}

void Eig::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs, [vec = vectors_](std::vector<array>& in, std::vector<array>& out) {
    const array& a = in[0];
    const int64_t n = a.shape(-1);
    dispatch_lapack(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> w;
      std::vector<std::complex<real_t<T>>> vals, vecs;
      for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
        load(a, b, w);
        lint info = geev<T>(vec, n, w.data(), vals, vecs);
        lapack_check("linalg.eig", "geev", info);
        if (info > 0) fail("linalg.eig", b, "the eigensolver did not converge");
        cfloat* wo = out[0].data<cfloat>() + b * n;
        for (int64_t i = 0; i < n; ++i) wo[i] = cfloat(vals[i]);
        if (vec) store(vecs.data(), n, n, n, out[1].data<cfloat>() + b * n * n);
      }
    });
  });
}

void Solve::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode(*this, inputs, outputs,
         [tri = triangular_, up = upper_](std::vector<array>& in, std::vector<array>& out) {
           const array& a = in[0];
           const array& rhs = in[1];
           const int64_t n = a.shape(-1), k = rhs.shape(-1);
           const char* op = tri ? "linalg.solve_triangular" : "linalg.solve";
           dispatch_lapack(a.dtype(), [&](auto tag) {
             using T = decltype(tag);
             std::vector<T> w, x;
             for (int64_t b = 0, nb = batch_count(a); b < nb; ++b) {
               load(a, b, w);
               load(rhs, b, x);
               lint info =
                   tri ? trtrs<T>(up, n, k, w.data(), x.data()) : gesv<T>(n, k, w.data(), x.data());
               lapack_check(op, tri ? "trtrs" : "gesv", info);
               if (info > 0) fail(op, b, "the matrix is singular");
               store(x.data(), n, k, n, out[0].data<T>() + b * n * k);
             }
           });
         });
}

}  // namespace fastsync
