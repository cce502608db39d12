// CPU kernel for Softmax over the last axis. Rows are split across the kernel
// thread pool; per row: a max pass, an exp-and-sum pass writing the output,
// a scaling pass; in float (double for float64) with a vectorizable exp.
#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <optional>

#include "backend/cpu/copy.h"
#include "backend/cpu/fast_math.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"
#include "primitives/reduce.h"

namespace fastsync {

namespace {
template <typename C>
inline C exp_of(C v) {
  if constexpr (std::is_same_v<C, float>) {
    return cpu::fast_expf(v);
  } else {
    return std::exp(v);
  }
}

// Max and sum with 16 independent partials: a single running value would
// serialize the loop (float max/add may not be reordered by the compiler).
// NaNs are tracked apart from the max. For float32 the max is written with
// vector intrinsics: GCC kept the portable loop scalar (a compare and a
// setp per element), and it took as long as the exp pass.
template <typename T, typename C = compute_t<T>>
C row_max(const T* x, int64_t n) {
  constexpr int L = 16;
  C m = -INFINITY;
  bool any_nan = false;
  int64_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    __m512 part = _mm512_set1_ps(-INFINITY);
    __mmask16 nan = 0;
    for (; i + L <= n; i += L) {
      __m512 v = _mm512_loadu_ps(x + i);
      nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      part = _mm512_max_ps(v, part);  // a NaN in v keeps part (tracked above)
    }
    m = _mm512_reduce_max_ps(part);
    any_nan = nan != 0;
  }
#elif defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) {
    __m256 part = _mm256_set1_ps(-INFINITY);
    __m256 nan = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
      __m256 v = _mm256_loadu_ps(x + i);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      part = _mm256_max_ps(v, part);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, part);
    for (float l : lanes) m = l > m ? l : m;
    any_nan = _mm256_movemask_ps(nan) != 0;
  }
#endif
  C part[L];
  bool nan[L] = {};
  for (int l = 0; l < L; ++l) part[l] = -INFINITY;
  for (; i + L <= n; i += L) {
    for (int l = 0; l < L; ++l) {
      C v = C(x[i + l]);
      part[l] = v > part[l] ? v : part[l];
      nan[l] |= v != v;
    }
  }
  for (; i < n; ++i) {
    C v = C(x[i]);
    m = v > m ? v : m;
    any_nan |= v != v;
  }
  for (int l = 0; l < L; ++l) {
    m = part[l] > m ? part[l] : m;
    any_nan |= nan[l];
  }
  return any_nan ? C(NAN) : m;
}

template <typename C>
C row_sum(const C* x, int64_t n) {
  constexpr int L = 16;
  C part[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    for (int l = 0; l < L; ++l) part[l] += x[i + l];
  }
  C s = 0;
  for (; i < n; ++i) s += x[i];
  for (int l = 0; l < L; ++l) s += part[l];
  return s;
}

template <typename T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t n) {
  using C = compute_t<T>;
  int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(n, 1));
  cpu::parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      T* yr = y + r * n;
      C m = row_max(xr, n);
      if (!std::isfinite(m)) m = m != m ? m : C(0);  // all -inf rows: exp(-inf) = 0
      if constexpr (std::is_same_v<T, C>) {
        // Exponentials go straight into the output, then get scaled; no
        // reduction inside the exp loop, so it vectorizes.
        for (int64_t i = 0; i < n; ++i) yr[i] = exp_of(C(xr[i]) - m);
        C inv = C(1) / row_sum(yr, n);
        for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
      } else {
        C sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += exp_of(C(xr[i]) - m);
        C inv = C(1) / sum;
        for (int64_t i = 0; i < n; ++i) yr[i] = T(exp_of(C(xr[i]) - m) * inv);
      }
    }
  });
}
}  // namespace

void Softmax::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  // Rows must be contiguous: copy a strided input first (a temporary). A
  // contiguous one may be donated, which any other handle on it (a copy of
  // the array, its declaration) would rule out: so it is declared after.
  std::optional<array> staged;
  if (!in.flags().row_contiguous) {
    staged = array(in.shape(), in.dtype(), nullptr, {});
    staged->detach();
    cpu::alloc(*staged);
    enc.dispatch([a = in.unsafe_weak_copy(), b = staged->unsafe_weak_copy()]() mutable {
      cpu::copy_kernel(a, b);
    });
    enc.add_temporary(*staged);
    cpu::alloc(out);
  } else {
    cpu::donate_or_alloc(in, out);
  }
  const array& src = staged ? *staged : in;
  enc.set_input_array(in);
  enc.set_output_array(out);
  int64_t n = in.ndim() ? in.shape().back() : 1;
  int64_t rows = n ? in.size() / n : 0;
  enc.dispatch([x = src.raw_ptr(), y = out.raw_ptr(), dt = in.dtype(), rows, n] {
    dispatch_dtype(dt, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<compute_t<T>>) {
        softmax_rows(static_cast<const T*>(x), static_cast<T*>(y), rows, n);
      } else {
        throw std::logic_error("[softmax] the ops layer sends floats only");
      }
    });
  });
}

}  // namespace fastsync
