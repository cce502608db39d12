// CPU kernels for Scan (cumulative reductions) and ArgReduce. Both walk every
// position off the axis with a strided plan and run along the axis inside.
#include <cstdint>
#include <stdexcept>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "backend/common/axes.h"
#include "backend/common/reducer.h"
#include "backend/common/strided.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/reducer.h"
#include "backend/cpu/utils.h"
#include "primitives/reduce.h"

namespace fastsync {

void Scan::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::begin_op(*this, in, out);
  auto sp = split_axis(in, out.strides(), axis_);
  enc.dispatch([src = in.raw_ptr(), dst = out.raw_ptr(), in_t = in.dtype(), out_t = out.dtype(),
                op = op_, reverse = reverse_, inclusive = inclusive_, n = sp.n, si = sp.in_stride,
                so = sp.out_stride,
                plan = make_plan<2>(sp.outer_shape, {&sp.in_outer, &sp.out_outer})] {
    auto run = [&](auto op_tag, auto in_tag, auto out_tag) {
      using In = decltype(in_tag);
      using Out = decltype(out_tag);
      using A = reduce_acc_t<Out>;
      constexpr ReduceOp kOp = decltype(op_tag)::value;
      if constexpr (!reduce_supports<kOp, A>()) {
        throw std::logic_error("[scan] dtype not supported by this scan");
      } else {
        using R = Reducer<kOp, A>;
        const In* x = static_cast<const In*>(src);
        Out* y = static_cast<Out*>(dst);
        int64_t start = reverse ? n - 1 : 0, step = reverse ? -1 : 1;
        for_each_strided(plan, [&](auto offs, int64_t m, auto st) {
          for (int64_t j = 0; j < m; ++j) {
            const In* xi = x + offs[0] + j * st[0];
            Out* yi = y + offs[1] + j * st[1];
            A acc = R::init();
            for (int64_t k = 0, i = start; k < n; ++k, i += step) {
              A v = A(compute_t<In>(xi[i * si]));
              if (inclusive) {
                acc = R::apply(acc, v);
                yi[i * so] = Out(acc);
              } else {
                yi[i * so] = Out(acc);
                acc = R::apply(acc, v);
              }
            }
          }
        });
      }
    };
    cpu::dispatch_reduce_types(in_t, out_t, [&](auto in_tag, auto out_tag) {
      switch (op) {
        case ReduceOp::sum:
          return run(std::integral_constant<ReduceOp, ReduceOp::sum>{}, in_tag, out_tag);
        case ReduceOp::prod:
          return run(std::integral_constant<ReduceOp, ReduceOp::prod>{}, in_tag, out_tag);
        case ReduceOp::max:
          return run(std::integral_constant<ReduceOp, ReduceOp::max>{}, in_tag, out_tag);
        case ReduceOp::min:
          return run(std::integral_constant<ReduceOp, ReduceOp::min>{}, in_tag, out_tag);
      }
    });
  });
}

namespace {

// The index of the first max (or min) of x[0], x[si], ...; the first NaN
// wins, as in NumPy.
template <typename T, typename C = compute_t<T>>
uint32_t arg_extreme(const T* x, int64_t n, int64_t si, bool is_max) {
  uint32_t best = 0;
  C bv = C(x[0]);
  for (int64_t i = 1; i < n && bv == bv; ++i) {
    C v = C(x[i * si]);
    if (v != v || (is_max ? v > bv : v < bv)) {
      bv = v;
      best = static_cast<uint32_t>(i);
    }
  }
  return best;
}

#if defined(__AVX512F__)
// A dense float32 row in two vector passes: the extreme value (NaNs
// tracked apart), then the first lane equal to it (or the first NaN).
// Rows fit the L1/L2 cache, so the second pass reads from there.
uint32_t arg_extreme_dense(const float* x, int64_t n, bool is_max) {
  if (n < 32) return arg_extreme(x, n, 1, is_max);
  __m512 part = _mm512_set1_ps(is_max ? -INFINITY : INFINITY);
  __mmask16 nan = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    part = is_max ? _mm512_max_ps(v, part) : _mm512_min_ps(v, part);
  }
  float m = is_max ? _mm512_reduce_max_ps(part) : _mm512_reduce_min_ps(part);
  bool tail_nan = false;
  for (int64_t j = i; j < n; ++j) {
    float v = x[j];
    tail_nan |= v != v;
    m = is_max ? (v > m ? v : m) : (v < m ? v : m);
  }
  if (nan || tail_nan) {
    for (int64_t j = 0; j < n; ++j)
      if (x[j] != x[j]) return static_cast<uint32_t>(j);
  }
  __m512 target = _mm512_set1_ps(m);
  for (i = 0; i + 16 <= n; i += 16) {
    __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), target, _CMP_EQ_OQ);
    if (eq) return static_cast<uint32_t>(i + __builtin_ctz(eq));
  }
  for (; i < n; ++i)
    if (x[i] == m) return static_cast<uint32_t>(i);
  return 0;  // unreachable: m is one of the row's values
}
#endif

}  // namespace

void ArgReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::begin_op(*this, in, out);
  // The output has no axis: give it a zero stride there to share the split.
  Strides out_strides = out.strides();
  out_strides.insert(out_strides.begin() + axis_, 0);
  auto sp = split_axis(in, out_strides, axis_);
  // Rows along a dense last axis are spread over the kernel pool.
  const bool dense_rows = in.flags().row_contiguous && axis_ == in.ndim() - 1 && in.size() > 0;
  enc.dispatch([src = in.raw_ptr(), dst = static_cast<uint32_t*>(out.raw_ptr()), dt = in.dtype(),
                is_max = op_ == ArgReduceOp::argmax, n = sp.n, si = sp.in_stride, dense_rows,
                rows = sp.n ? in.size() / sp.n : 0,
                plan = make_plan<2>(sp.outer_shape, {&sp.in_outer, &sp.out_outer})] {
    dispatch_dtype(dt, [&](auto tag) {
      using T = decltype(tag);
      using C = compute_t<T>;
      if constexpr (is_complex_v<C>) {
        throw std::logic_error("[argreduce] complex values have no order");
      } else {
        const T* x = static_cast<const T*>(src);
        if (dense_rows) {
          int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(n, 1));
          cpu::parallel_for(rows, grain, [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
#if defined(__AVX512F__)
              if constexpr (std::is_same_v<T, float>) {
                dst[r] = arg_extreme_dense(x + r * n, n, is_max);
                continue;
              }
#endif
              dst[r] = arg_extreme(x + r * n, n, 1, is_max);
            }
          });
          return;
        }
        for_each_strided(plan, [&](auto offs, int64_t m, auto st) {
          for (int64_t j = 0; j < m; ++j) {
            dst[offs[1] + j * st[1]] = arg_extreme(x + offs[0] + j * st[0], n, si, is_max);
          }
        });
      }
    });
  });
}

}  // namespace fastsync
