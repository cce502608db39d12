#include "backend/cpu/copy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/common/strided.h"
#include "backend/cpu/parallel.h"

namespace fastsync::cpu {

namespace {

// double -> float rounding to odd: the float next toward zero, its last bit
// set when inexact. Rounding that on to bfloat16 (to nearest even) gives what
// one rounding straight from the double would; through float's own rounding
// to nearest, a near-tie could round twice (1 + 2^-8 + 2^-30 became 1).
float round_to_odd_float(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) == d || !std::isfinite(f)) return f;  // exact, NaN, overflow
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) --u;  // rounded away from zero: back
  u |= 1u;
  std::memcpy(&f, &u, 4);
  return f;
}

template <typename In, typename Out>
void copy_typed(const array& in, array& out) {
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  auto cast = [](In v) {
    if constexpr (std::is_same_v<In, double> && std::is_same_v<Out, bfloat16_t>) {
      return Out(round_to_odd_float(v));  // one rounding, not two through float
    } else {
      return static_cast<Out>(static_cast<compute_t<In>>(v));
    }
  };
  if (in.flags().row_contiguous && out.flags().row_contiguous && in.shape() == out.shape()) {
    parallel_for(out.size(), kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = cast(src[i]);
    });
    return;
  }
  // Strided: the outermost axis of the plan is split over the kernel pool
  // (a broadcast cotangent staged for a product is tens of MB).
  const StridedPlan<2> plan = make_plan<2>(out.shape(), {&in.strides(), &out.strides()});
  auto run = [&](const StridedPlan<2>& p, const In* s0, Out* d0) {
    for_each_strided(p, [&](auto offs, int64_t n, auto st) {
      const In* s = s0 + offs[0];
      Out* d = d0 + offs[1];
      if (st[0] == 1 && st[1] == 1) {
        for (int64_t i = 0; i < n; ++i) d[i] = cast(s[i]);
      } else if (st[0] == 0) {
        Out v = cast(*s);
        for (int64_t i = 0; i < n; ++i) d[i * st[1]] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * st[1]] = cast(s[i * st[0]]);
      }
    });
  };
  const int64_t outer = plan.shape[0];
  if (plan.size < 2 * kParallelGrain || outer < 2) {
    run(plan, src, dst);
    return;
  }
  const int64_t inner = plan.size / outer;
  parallel_for(outer, std::max<int64_t>(1, kParallelGrain / inner), [&](int64_t b, int64_t e) {
    StridedPlan<2> part = plan;
    part.shape[0] = e - b;
    part.size = (e - b) * inner;
    run(part, src + b * plan.strides[0][0], dst + b * plan.strides[1][0]);
  });
}
}  // namespace

void copy_kernel(const array& in, array& out) {
  dispatch_dtype(in.dtype(), [&](auto in_tag) {
    dispatch_dtype(out.dtype(),
                   [&](auto out_tag) { copy_typed<decltype(in_tag), decltype(out_tag)>(in, out); });
  });
}

}  // namespace fastsync::cpu
