// CPU kernel for Sort/ArgSort: each slice along the axis is gathered into a
// scratch buffer, sorted with std::stable_sort, and written back.
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "backend/common/axes.h"
#include "backend/cpu/parallel.h"
#include "backend/common/strided.h"
#include "backend/cpu/utils.h"
#include "primitives/sort.h"

namespace fastsync {

namespace {
template <typename C>
bool less_nan_last(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (a != a) return false;
    if (b != b) return true;
  }
  return a < b;
}
}  // namespace

void Sort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::begin_op(*this, in, out);
  auto sp = split_axis(in, out.strides(), axis_);
  enc.dispatch([src = in.raw_ptr(), dst = out.raw_ptr(), dt = in.dtype(), indices = indices_,
                n = sp.n, si = sp.in_stride, so = sp.out_stride,
                plan = make_plan<2>(sp.outer_shape, {&sp.in_outer, &sp.out_outer})] {
    dispatch_dtype(dt, [&](auto tag) {
      using T = decltype(tag);
      using C = compute_t<T>;
      if constexpr (is_complex_v<C>) {
        throw std::logic_error("[sort] complex values have no order");
      } else {
        const T* x = static_cast<const T*>(src);
        std::vector<uint32_t> order(n);
        std::vector<C> vals(n);
        for_each_strided(plan, [&](auto offs, int64_t m, auto st) {
          for (int64_t j = 0; j < m; ++j) {
            const T* xi = x + offs[0] + j * st[0];
            for (int64_t i = 0; i < n; ++i) vals[i] = C(xi[i * si]);
            std::iota(order.begin(), order.end(), 0u);
            std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
              return less_nan_last(vals[a], vals[b]);
            });
            int64_t o = offs[1] + j * st[1];
            if (indices) {
              auto* y = static_cast<uint32_t*>(dst) + o;
              for (int64_t i = 0; i < n; ++i) y[i * so] = order[i];
            } else {
              auto* y = static_cast<T*>(dst) + o;
              for (int64_t i = 0; i < n; ++i) y[i * so] = xi[order[i] * si];
            }
          }
        });
      }
    });
  });
}

}  // namespace fastsync
