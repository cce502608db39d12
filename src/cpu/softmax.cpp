// CPU kernel for Softmax over the last axis. Rows are split across the kernel
// thread pool; per row: a max pass, an exp-and-sum pass writing the output,
// a scaling pass; in float (double for float64) with a vectorizable exp.
#include <cmath>

#include "cpu/copy.h"
#include "cpu/fast_math.h"
#include "cpu/parallel.h"
#include "cpu/utils.h"
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

template <typename T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t n) {
  using C = compute_t<T>;
  int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(n, 1));
  cpu::parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      T* yr = y + r * n;
      C m = -INFINITY;
      for (int64_t i = 0; i < n; ++i) m = std::max(m, C(xr[i]));
      if (!std::isfinite(m)) m = m != m ? m : C(0);  // all -inf rows: exp(-inf) = 0
      C sum = 0;
      if constexpr (std::is_same_v<T, C>) {
        // Exponentials go straight into the output, then get scaled.
        for (int64_t i = 0; i < n; ++i) {
          yr[i] = exp_of(C(xr[i]) - m);
          sum += yr[i];
        }
        C inv = C(1) / sum;
        for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
      } else {
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
  // Rows must be contiguous: copy a strided input first (a temporary).
  array src = in;
  if (!in.flags().row_contiguous) {
    src = array(in.shape(), in.dtype(), nullptr, {});
    src.detach();
    cpu::alloc(src);
    enc.set_input_array(in);
    enc.dispatch([a = in.unsafe_weak_copy(), b = src.unsafe_weak_copy()]() mutable {
      cpu::copy_kernel(a, b);
    });
    enc.add_temporary(src);
  } else {
    enc.set_input_array(in);
  }
  cpu::donate_or_alloc(src.id() == in.id() ? in : src, out);
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
