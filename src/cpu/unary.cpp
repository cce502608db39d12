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

template <typename T, typename Fn>
void unary_kernel(const array& in, array& out, Fn fn) {
  using C = compute_t<T>;
  const T* src = in.data<T>();
  T* dst = out.data<T>();
  if (in.flags().contiguous && out.strides() == in.strides()) {
    for (int64_t i = 0, n = in.data_size(); i < n; ++i) dst[i] = T(fn(C(src[i])));
    return;
  }
  cpu::for_each_strided<2>(out.shape(), {&in.strides(), &out.strides()},
                      [&](auto offs, int64_t n, auto st) {
                        const T* s = src + offs[0];
                        T* d = dst + offs[1];
                        for (int64_t i = 0; i < n; ++i) d[i * st[1]] = T(fn(C(s[i * st[0]])));
                      });
}

template <UnaryOp op>
void run_unary(const array& in, array& out) {
  dispatch_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> && op != UnaryOp::abs && op != UnaryOp::square) {
      throw std::invalid_argument("unsupported dtype bool");
    } else if constexpr (!std::is_same_v<T, bool>) {
      unary_kernel<T>(in, out, UnaryFn<op>{});
    } else {
      unary_kernel<T>(in, out, [](bool x) { return x; });
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
  void (*kernel)(const array&, array&) = nullptr;
  switch (op()) {
    case UnaryOp::negative: kernel = run_unary<UnaryOp::negative>; break;
    case UnaryOp::abs: kernel = run_unary<UnaryOp::abs>; break;
    case UnaryOp::exp: kernel = run_unary<UnaryOp::exp>; break;
    case UnaryOp::log: kernel = run_unary<UnaryOp::log>; break;
    case UnaryOp::sqrt: kernel = run_unary<UnaryOp::sqrt>; break;
    case UnaryOp::square: kernel = run_unary<UnaryOp::square>; break;
  }
  enc.dispatch([kernel, in = in.unsafe_weak_copy(), out = out.unsafe_weak_copy()]() mutable {
    kernel(in, out);
  });
}

}  // namespace fastsync
