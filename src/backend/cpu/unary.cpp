// CPU kernels for Unary primitives. What each op computes, and for which
// dtypes, is backend/common/elementwise.h (shared with the GPU); this file
// runs it over flat or strided runs on worker threads.
#include "primitives/unary.h"

#include <stdexcept>
#include <type_traits>

#include "backend/common/elementwise.h"
#include "backend/common/strided.h"
#include "backend/cpu/fast_math.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"

namespace fastsync {

namespace {

using elementwise::UnaryFn;

// What a unary task needs; `flat` > 0 means one pass over that many
// elements (input and output share a dense layout), else the plan is walked.
struct UnaryArgs {
  const void* in;
  void* out;
  Dtype dtype;
  int64_t flat;
  StridedPlan<2> plan;
};

// T: the stored input type; O: the stored output type (T, or float for the
// parts and magnitude of a complex value).
template <typename T, typename O, typename Fn>
void unary_kernel(const UnaryArgs& args, Fn fn) {
  using C = compute_t<T>;
  const T* src = static_cast<const T*>(args.in);
  O* dst = static_cast<O*>(args.out);
  if (args.flat > 0) {
    cpu::parallel_for(args.flat, cpu::kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = O(fn(C(src[i])));
    });
    return;
  }
  for_each_strided(args.plan, [&](auto offs, int64_t n, auto st) {
    const T* s = src + offs[0];
    O* d = dst + offs[1];
    for (int64_t i = 0; i < n; ++i) d[i * st[1]] = O(fn(C(s[i * st[0]])));
  });
}

template <UnaryOp op>
void run_unary(const UnaryArgs& args) {
  dispatch_dtype(args.dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    if constexpr (elementwise::unary_supports<op, C>()) {
      using R = elementwise::unary_result_t<op, C>;
      using O = std::conditional_t<std::is_same_v<R, C>, T, R>;
      unary_kernel<T, O>(args, cpu::UnaryFn<op>{});
    } else {
      throw std::logic_error("[unary] dtype not supported by this op");
    }
  });
}

}  // namespace

void Unary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  if (in.flags().contiguous) {
    // Keep the input's layout so the loop is one flat pass over the buffer.
    if (in.is_donatable(cpu::encoding_stream()) && in.dtype() == out.dtype()) {
      out.copy_shared_buffer(in);
    } else {
      out.set_data(allocator::malloc(in.data_size() * out.itemsize()));
      out.copy_shared_buffer(out, in.strides(), in.flags(), in.data_size());
    }
  } else {
    cpu::alloc(out);
  }
  enc.set_input_array(in);
  enc.set_output_array(out);
  void (*kernel)(const UnaryArgs&) = nullptr;
  switch (op()) {
#define FASTSYNC_CASE(op, Name) \
  case UnaryOp::op: kernel = run_unary<UnaryOp::op>; break;
    FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  UnaryArgs args{in.raw_ptr(), out.raw_ptr(), in.dtype(), 0, {}};
  if (in.flags().contiguous && out.strides() == in.strides()) {
    args.flat = in.data_size();
  } else {
    args.plan = make_plan<2>(out.shape(), {&in.strides(), &out.strides()});
  }
  enc.dispatch([kernel, args = std::move(args)] { kernel(args); });
}

}  // namespace fastsync
