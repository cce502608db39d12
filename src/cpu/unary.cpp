// CPU kernels for Unary primitives.
#include <cmath>

#include "cpu/parallel.h"
#include "cpu/strided.h"
#include "cpu/utils.h"
#include "primitives/unary.h"

namespace fastsync {

namespace {

template <typename C>
constexpr bool is_float_v = std::is_floating_point_v<C>;

template <UnaryOp op, typename C>
constexpr bool supported() {
  switch (op) {
    case UnaryOp::negative:
    case UnaryOp::abs:
    case UnaryOp::sign:
    case UnaryOp::square:
    case UnaryOp::floor:
    case UnaryOp::ceil:
    case UnaryOp::round: return !std::is_same_v<C, bool>;
    case UnaryOp::logical_not: return std::is_same_v<C, bool>;
    case UnaryOp::bitwise_invert: return std::is_integral_v<C>;
    default: return is_float_v<C>;  // transcendental: the ops layer sends floats
  }
}

template <UnaryOp op>
struct UnaryFn {
  template <typename C>
  C operator()(C x) const {
    if constexpr (op == UnaryOp::negative) {
      return -x;
    } else if constexpr (op == UnaryOp::abs) {
      if constexpr (std::is_unsigned_v<C>) return x;
      else return x < C(0) ? C(-x) : x;
    } else if constexpr (op == UnaryOp::sign) {
      if constexpr (is_float_v<C>) {
        if (x != x) return x;
      }
      if constexpr (std::is_unsigned_v<C>) return C(x > 0);
      else return C((x > C(0)) - (x < C(0)));
    } else if constexpr (op == UnaryOp::square) {
      return x * x;
    } else if constexpr (op == UnaryOp::floor) {
      if constexpr (is_float_v<C>) return std::floor(x);
      else return x;
    } else if constexpr (op == UnaryOp::ceil) {
      if constexpr (is_float_v<C>) return std::ceil(x);
      else return x;
    } else if constexpr (op == UnaryOp::round) {
      if constexpr (is_float_v<C>) return std::nearbyint(x);  // half to even, as NumPy
      else return x;
    } else if constexpr (op == UnaryOp::logical_not) {
      return !x;
    } else if constexpr (op == UnaryOp::bitwise_invert) {
      if constexpr (std::is_same_v<C, bool>) return !x;
      else return C(~x);
    } else if constexpr (op == UnaryOp::exp) {
      return std::exp(x);
    } else if constexpr (op == UnaryOp::expm1) {
      return std::expm1(x);
    } else if constexpr (op == UnaryOp::log) {
      return std::log(x);
    } else if constexpr (op == UnaryOp::log1p) {
      return std::log1p(x);
    } else if constexpr (op == UnaryOp::log2) {
      return std::log2(x);
    } else if constexpr (op == UnaryOp::sqrt) {
      return std::sqrt(x);
    } else if constexpr (op == UnaryOp::rsqrt) {
      return C(1) / std::sqrt(x);
    } else if constexpr (op == UnaryOp::sin) {
      return std::sin(x);
    } else if constexpr (op == UnaryOp::cos) {
      return std::cos(x);
    } else if constexpr (op == UnaryOp::tanh) {
      return std::tanh(x);
    } else if constexpr (op == UnaryOp::sigmoid) {
      return C(1) / (C(1) + std::exp(-x));
    } else {
      return std::erf(x);
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
    cpu::parallel_for(args.flat, cpu::kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = T(fn(C(src[i])));
    });
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
    if constexpr (supported<op, compute_t<T>>()) {
      unary_kernel<T>(args, UnaryFn<op>{});
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
#define FASTSYNC_CASE(op, Name) \
  case UnaryOp::op: kernel = run_unary<UnaryOp::op>; break;
    FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
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
