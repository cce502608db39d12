// CPU kernels for Unary primitives.
#include <cmath>

#include "cpu/strided.h"
#include "cpu/utils.h"
#include "primitives/unary.h"

namespace fastsync {

namespace {

template <UnaryOp op>
struct UnaryFn {
  template <typename C>
  C operator()(C x) const {
    if constexpr (op == UnaryOp::negative) {
      return -x;
    } else if constexpr (op == UnaryOp::abs) {
      if constexpr (std::is_unsigned_v<C>) return x;
      else return x < C(0) ? C(-x) : x;
    } else if constexpr (op == UnaryOp::exp) {
      return std::exp(x);
    } else if constexpr (op == UnaryOp::log) {
      return std::log(x);
    } else if constexpr (op == UnaryOp::sqrt) {
      return std::sqrt(x);
    } else {
      return x * x;
    }
  }
};

// What a unary task needs; `flat` > 0 means one pass over that many
// elements (input and output share a dense layout), else the plan is walked.
struct UnaryArgs {
  const void* in;
  void* out;
  Dtype dtype;
  int64_t flat;
  cpu::StridedPlan<2> plan;
};

template <typename T, typename Fn>
void unary_kernel(const UnaryArgs& args, Fn fn) {
  using C = compute_t<T>;
  const T* src = static_cast<const T*>(args.in);
  T* dst = static_cast<T*>(args.out);
  if (args.flat > 0) {
    for (int64_t i = 0, n = args.flat; i < n; ++i) dst[i] = T(fn(C(src[i])));
    return;
  }
  cpu::for_each_strided(args.plan, [&](auto offs, int64_t n, auto st) {
    const T* s = src + offs[0];
    T* d = dst + offs[1];
    for (int64_t i = 0; i < n; ++i) d[i * st[1]] = T(fn(C(s[i * st[0]])));
  });
}

template <UnaryOp op>
void run_unary(const UnaryArgs& args) {
  dispatch_dtype(args.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      // The ops layer sends bool only to abs and square, both the identity.
      unary_kernel<T>(args, [](bool x) { return x; });
    } else {
      unary_kernel<T>(args, UnaryFn<op>{});
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
    if (in.is_donatable() && in.dtype() == out.dtype()) {
      out.copy_shared_buffer(in);
    } else {
      out.set_data(allocator::malloc(in.data_size() * in.itemsize()));
      out.copy_shared_buffer(out, in.strides(), in.flags(), in.data_size());
    }
  } else {
    cpu::alloc(out);
  }
  enc.set_input_array(in);
  enc.set_output_array(out);
  void (*kernel)(const UnaryArgs&) = nullptr;
  switch (op()) {
    case UnaryOp::negative: kernel = run_unary<UnaryOp::negative>; break;
    case UnaryOp::abs: kernel = run_unary<UnaryOp::abs>; break;
    case UnaryOp::exp: kernel = run_unary<UnaryOp::exp>; break;
    case UnaryOp::log: kernel = run_unary<UnaryOp::log>; break;
    case UnaryOp::sqrt: kernel = run_unary<UnaryOp::sqrt>; break;
    case UnaryOp::square: kernel = run_unary<UnaryOp::square>; break;
  }
  UnaryArgs args{in.raw_ptr(), out.raw_ptr(), in.dtype(), 0, {}};
  if (in.flags().contiguous && out.strides() == in.strides()) {
    args.flat = in.data_size();
  } else {
    args.plan = cpu::make_plan<2>(out.shape(), {&in.strides(), &out.strides()});
  }
  enc.dispatch([kernel, args = std::move(args)] { kernel(args); });
}

}  // namespace fastsync
