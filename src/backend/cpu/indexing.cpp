// CPU kernel for Gather. Both forms walk a strided plan in which `a`'s
// stride on the gathered axis is zero, and add index * that stride per
// element; the strides come from backend/common/gather.h, shared with the
// CUDA kernel.
#include "primitives/indexing.h"

#include <stdexcept>
#include <string>

#include "backend/common/elementwise.h"
#include "backend/common/gather.h"
#include "backend/common/strided.h"
#include "backend/cpu/copy.h"
#include "backend/cpu/utils.h"

namespace fastsync {

void Gather::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& idx = inputs[1];  // int32, uint32 or int64 (the ops layer converts others)
  array& out = outputs[0];
  cpu::alloc(out);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(a);
  enc.set_input_array(idx);
  enc.set_output_array(out);

  GatherPlan g = plan_gather(a, idx, out.shape(), axis_, along_axis_);
  enc.dispatch([pa = a.raw_ptr(), pidx = idx.raw_ptr(), it = idx.dtype(), po = out.raw_ptr(),
                dt = a.dtype(), n = g.n, step = g.step,
                plan = make_plan<3>(out.shape(), {&g.a, &g.idx, &out.strides()})] {
    dispatch_gather_index(it, [&](auto itag) {
      using I = decltype(itag);
      const I* pi = static_cast<const I*>(pidx);
      dispatch_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        const T* x = static_cast<const T*>(pa);
        T* y = static_cast<T*>(po);
        for_each_strided(plan, [&](auto offs, int64_t m, auto st) {
          for (int64_t j = 0; j < m; ++j) {
            int64_t i = static_cast<int64_t>(pi[offs[1] + j * st[1]]);
            if (i < -n || i >= n) {
              throw std::out_of_range("[take] index " + std::to_string(i) +
                                      " is out of bounds for axis of size " + std::to_string(n));
            }
            if (i < 0) i += n;
            y[offs[2] + j * st[2]] = x[offs[0] + j * st[0] + i * step];
          }
        });
      });
    });
  });
}

}  // namespace fastsync

namespace fastsync {

void Scatter::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& idx = inputs[1];  // int64, 1-D (the ops layer flattens)
  const array& upd = inputs[2];  // idx.shape + a.shape[1:], broadcast by the ops layer
  array& out = outputs[0];
  // In place when nothing else holds a's buffer (a KV cache written a row
  // per step): no copy of the rows left alone, no second buffer.
  cpu::donate_or_alloc(a, out);
  auto& enc = cpu::encoder_for(*this);
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  Shape row(a.shape().begin() + 1, a.shape().end());
  Strides a_row(a.strides().begin() + 1, a.strides().end());
  Strides u_row(upd.strides().begin() + 1, upd.strides().end());
  Strides o_row(out.strides().begin() + 1, out.strides().end());
  enc.dispatch([a = a.unsafe_weak_copy(), out = out.unsafe_weak_copy(),
                pi = static_cast<const int64_t*>(idx.raw_ptr()), is = idx.strides()[0],
                m = idx.size(), pu = upd.raw_ptr(), us = upd.strides()[0], op = op_,
                plan = make_plan<2>(row, {&u_row, &o_row})]() mutable {
    if (a.raw_ptr() != out.raw_ptr()) cpu::copy_kernel(a, out);
    int64_t n = out.shape()[0], os = out.strides()[0];
    dispatch_dtype(out.dtype(), [&](auto tag) {
      using T = decltype(tag);
      using C = compute_t<T>;
      const T* u = static_cast<const T*>(pu);
      T* y = out.data<T>();
      for (int64_t j = 0; j < m; ++j) {
        int64_t i = pi[j * is];
        if (i < -n || i >= n) {
          throw std::out_of_range("[scatter] index " + std::to_string(i) +
                                  " is out of bounds for axis of size " + std::to_string(n));
        }
        if (i < 0) i += n;
        for_each_strided(plan, [&](auto offs, int64_t k, auto st) {
          const T* src = u + j * us + offs[0];
          T* dst = y + i * os + offs[1];
          auto combine = [&](auto fn) {
            for (int64_t q = 0; q < k; ++q) {
              T& d = dst[q * st[1]];
              d = T(fn(C(d), C(src[q * st[0]])));
            }
          };
          switch (op) {
            case ScatterOp::set:
              for (int64_t q = 0; q < k; ++q) dst[q * st[1]] = src[q * st[0]];
              break;
            case ScatterOp::add: combine(elementwise::BinaryFn<BinaryOp::add>{}); break;
            case ScatterOp::prod: combine(elementwise::BinaryFn<BinaryOp::multiply>{}); break;
            case ScatterOp::max:
            case ScatterOp::min:
              if constexpr (is_complex_v<C>) {
                throw std::logic_error("[scatter] complex values have no order");
              } else if (op == ScatterOp::max) {
                combine(elementwise::BinaryFn<BinaryOp::maximum>{});
              } else {
                combine(elementwise::BinaryFn<BinaryOp::minimum>{});
              }
              break;
          }
        });
      }
    });
  });
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& u = inputs[1];  // the region's shape (the ops layer broadcasts)
  array& out = outputs[0];
  cpu::donate_or_alloc(a, out);
  auto& enc = cpu::encoder_for(*this);
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  enc.dispatch([a = a.unsafe_weak_copy(), out = out.unsafe_weak_copy(), u = u.unsafe_weak_copy(),
                dst = region_of(out, u.shape())]() mutable {
    if (a.raw_ptr() != out.raw_ptr()) cpu::copy_kernel(a, out);
    if (u.size() > 0) cpu::copy_kernel(u, dst);
  });
}

}  // namespace fastsync
