// CPU kernels for Binary, DivMod and Select primitives. What each op
// computes, and for which dtypes, is backend/common/elementwise.h (shared
// with the GPU); this file runs it over strided runs on worker threads.
#include "primitives/binary.h"

#include <algorithm>
#include <stdexcept>

#include "backend/common/buffers.h"
#include "backend/common/elementwise.h"
#include "backend/common/strided.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"

namespace fastsync {

namespace {

using elementwise::BinaryFn;

// One pass over a run of n elements; the compiler vectorizes the unit-stride
// and scalar-operand cases separately.
template <typename T, typename O, typename Fn>
inline void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, O* o, int64_t so, int64_t n,
                       Fn fn) {
  using C = compute_t<T>;
  if (sa == 1 && sb == 1 && so == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = O(fn(C(a[i]), C(b[i])));
  } else if (sa == 0 && sb == 1 && so == 1) {
    C av = C(*a);
    for (int64_t i = 0; i < n; ++i) o[i] = O(fn(av, C(b[i])));
  } else if (sa == 1 && sb == 0 && so == 1) {
    C bv = C(*b);
    for (int64_t i = 0; i < n; ++i) o[i] = O(fn(C(a[i]), bv));
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = O(fn(C(a[i * sa]), C(b[i * sb])));
  }
}

// One run of a select. Both operands are read before choosing, so the
// unit-stride and broadcast-scalar loops vectorize into blends; a condition
// broadcast along the run makes it a copy of one operand.
template <typename T>
inline void select_run(const bool* c, int64_t sc, const T* a, int64_t sa, const T* b, int64_t sb,
                       T* o, int64_t so, int64_t n) {
  if (so == 1 && sc == 0) {
    const T* src = *c ? a : b;
    const int64_t ss = *c ? sa : sb;
    if (ss == 1) {
      std::copy(src, src + n, o);
    } else if (ss == 0) {
      std::fill(o, o + n, *src);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = src[i * ss];
    }
    return;
  }
  if (so == 1 && sc == 1 && sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) {
      const T av = a[i], bv = b[i];
      o[i] = c[i] ? av : bv;
    }
  } else if (so == 1 && sc == 1 && sa == 1 && sb == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) {
      const T av = a[i];
      o[i] = c[i] ? av : bv;
    }
  } else if (so == 1 && sc == 1 && sa == 0 && sb == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) {
      const T bv = b[i];
      o[i] = c[i] ? av : bv;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = c[i * sc] ? a[i * sa] : b[i * sb];
  }
}

// What a binary task needs: pointers and a strided plan, no allocation.
struct BinaryArgs {
  const void* a;
  const void* b;
  void* out;
  Dtype dtype;
  StridedPlan<3> plan;
};

BinaryArgs binary_args(const array& a, const array& b, const array& out) {
  // Dims, not Strides: planning an elementwise op allocates nothing.
  Dims sa = broadcast_dims(a, out.shape());
  Dims sb = broadcast_dims(b, out.shape());
  Dims so = dims_of(out.strides());
  return {a.raw_ptr(), b.raw_ptr(), out.raw_ptr(), a.dtype(),
          make_plan_in_order<3, Dims>(out.shape(), {&sa, &sb, &so})};
}

template <typename T, typename O, typename Fn>
void binary_kernel(const BinaryArgs& args, Fn fn) {
  const T* pa = static_cast<const T*>(args.a);
  const T* pb = static_cast<const T*>(args.b);
  O* po = static_cast<O*>(args.out);
  cpu::for_each_strided_parallel(args.plan, [&](const auto& offs, int64_t n, const auto& st) {
    binary_run(pa + offs[0], st[0], pb + offs[1], st[1], po + offs[2], st[2], n, fn);
  });
}

template <BinaryOp op>
void run_binary(const BinaryArgs& args) {
  dispatch_dtype(args.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!elementwise::binary_supports<op, compute_t<T>>()) {
      throw std::logic_error("[binary] dtype not supported by this op");
    } else {
      binary_kernel<T, elementwise::binary_result_t<op, T>>(args, BinaryFn<op>{});  // bool or T
    }
  });
}

using BinaryKernel = void (*)(const BinaryArgs&);

BinaryKernel kernel_for(BinaryOp op) {
  switch (op) {
#define FASTSYNC_CASE(op, Name) \
  case BinaryOp::op: return run_binary<BinaryOp::op>;
    FASTSYNC_BINARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  return nullptr;
}

}  // namespace

void Binary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  array& out = outputs[0];
  if (!alloc_like_operands({&a, &b}, out, allocator::host(), cpu::encoding_stream())) {
    donate_any_or_alloc({&a, &b}, out, allocator::host(), cpu::encoding_stream());
  }
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(a);
  enc.set_input_array(b);
  enc.set_output_array(out);
  enc.dispatch([k = kernel_for(op()), args = binary_args(a, b, out)] { k(args); });
}

void DivMod::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  // Siblings are never donated into: both outputs get fresh buffers.
  cpu::alloc(outputs[0]);
  cpu::alloc(outputs[1]);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(a);
  enc.set_input_array(b);
  enc.dispatch([q = binary_args(a, b, outputs[0]), r = binary_args(a, b, outputs[1])] {
    run_binary<BinaryOp::floor_divide>(q);
    run_binary<BinaryOp::remainder>(r);
  });
}

}  // namespace fastsync

namespace fastsync {

void Select::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& cond = inputs[0];
  const array& x = inputs[1];
  const array& y = inputs[2];
  array& out = outputs[0];
  if (!alloc_like_operands({&x, &y, &cond}, out, allocator::host(), cpu::encoding_stream())) {
    donate_any_or_alloc({&x, &y}, out, allocator::host(), cpu::encoding_stream());
  }
  auto& enc = cpu::encoder_for(*this);
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  Strides sc = broadcast_strides(cond, out.shape());
  Strides sx = broadcast_strides(x, out.shape());
  Strides sy = broadcast_strides(y, out.shape());
  enc.dispatch([c = static_cast<const bool*>(cond.raw_ptr()), px = x.raw_ptr(), py = y.raw_ptr(),
                po = out.raw_ptr(), dtype = out.dtype(),
                plan = make_plan_in_order<4>(out.shape(), {&sc, &sx, &sy, &out.strides()})] {
    dispatch_dtype(dtype, [&](auto tag) {
      using T = decltype(tag);
      const T* a = static_cast<const T*>(px);
      const T* b = static_cast<const T*>(py);
      T* o = static_cast<T*>(po);
      cpu::for_each_strided_parallel(plan, [&](const auto& offs, int64_t n, const auto& st) {
        select_run(c + offs[0], st[0], a + offs[1], st[1], b + offs[2], st[2], o + offs[3], st[3],
                   n);
      });
    });
  });
}

}  // namespace fastsync
