// CPU kernels for Scan (cumulative reductions) and ArgReduce. Both walk every
// position off the axis with a strided plan and run along the axis inside.
#include <stdexcept>

#include "backend/common/axes.h"
#include "backend/cpu/reducer.h"
#include "backend/common/reducer.h"
#include "backend/common/strided.h"
#include "backend/cpu/utils.h"
#include "primitives/reduce.h"

namespace fastsync {

void Scan::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::begin_op(*this, in, out);
  auto sp = split_axis(in, out.strides(), axis_);
  enc.dispatch([src = in.raw_ptr(), dst = out.raw_ptr(), in_t = in.dtype(), out_t = out.dtype(),
                op = op_, reverse = reverse_, inclusive = inclusive_, n = sp.n,
                si = sp.in_stride, so = sp.out_stride,
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

void ArgReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::begin_op(*this, in, out);
  // The output has no axis: give it a zero stride there to share the split.
  Strides out_strides = out.strides();
  out_strides.insert(out_strides.begin() + axis_, 0);
  auto sp = split_axis(in, out_strides, axis_);
  enc.dispatch([src = in.raw_ptr(), dst = static_cast<uint32_t*>(out.raw_ptr()), dt = in.dtype(),
                is_max = op_ == ArgReduceOp::argmax, n = sp.n, si = sp.in_stride,
                plan = make_plan<2>(sp.outer_shape, {&sp.in_outer, &sp.out_outer})] {
    dispatch_dtype(dt, [&](auto tag) {
      using T = decltype(tag);
      using C = compute_t<T>;
      if constexpr (is_complex_v<C>) {
        throw std::logic_error("[argreduce] complex values have no order");
      } else {
        const T* x = static_cast<const T*>(src);
        for_each_strided(plan, [&](auto offs, int64_t m, auto st) {
          for (int64_t j = 0; j < m; ++j) {
            const T* xi = x + offs[0] + j * st[0];
            uint32_t best = 0;
            C bv = C(xi[0]);
            for (int64_t i = 1; i < n && bv == bv; ++i) {
              C v = C(xi[i * si]);
              if (v != v || (is_max ? v > bv : v < bv)) {
                bv = v;
                best = static_cast<uint32_t>(i);
              }
            }
            dst[offs[1] + j * st[1]] = best;
          }
        });
      }
    });
  });
}

}  // namespace fastsync
