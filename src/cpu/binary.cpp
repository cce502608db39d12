// CPU kernels for Binary and DivMod primitives.
#include <cmath>
#include <limits>

#include "cpu/strided.h"
#include "cpu/utils.h"
#include "primitives/binary.h"

namespace fastsync {

namespace {

template <typename C>
C floor_div(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::floor(a / b);
  } else if constexpr (std::is_same_v<C, bool>) {
    return b ? a : false;
  } else {
    // NumPy gives 0 for division by zero; guard the one overflowing case.
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == C(-1)) return C(-a);
      C q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? C(q - 1) : q;
    } else {
      return a / b;
    }
  }
}

template <typename C>
C py_mod(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else if constexpr (std::is_same_v<C, bool>) {
    return false;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == C(-1)) return 0;
      C r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? C(r + b) : r;
    } else {
      return a % b;
    }
  }
}

template <BinaryOp op>
struct BinaryFn {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (op == BinaryOp::add) {
      if constexpr (std::is_same_v<C, bool>) return a || b;
      else return a + b;
    } else if constexpr (op == BinaryOp::subtract) {
      return a - b;
    } else if constexpr (op == BinaryOp::multiply) {
      if constexpr (std::is_same_v<C, bool>) return a && b;
      else return a * b;
    } else if constexpr (op == BinaryOp::divide) {
      return a / b;
    } else if constexpr (op == BinaryOp::maximum) {
      if constexpr (std::is_floating_point_v<C>) {
        return std::isnan(a) ? a : (a < b ? b : a);  // NaN propagates, as NumPy
      } else {
        return a < b ? b : a;
      }
    } else if constexpr (op == BinaryOp::minimum) {
      if constexpr (std::is_floating_point_v<C>) {
        return std::isnan(a) ? a : (b < a ? b : a);
      } else {
        return b < a ? b : a;
      }
    } else if constexpr (op == BinaryOp::floor_divide) {
      return floor_div(a, b);
    } else {
      return py_mod(a, b);
    }
  }
};

// One pass over a run of n elements; the compiler vectorizes the unit-stride
// and scalar-operand cases separately.
template <typename T, typename Fn>
inline void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, T* o, int64_t so,
                       int64_t n, Fn fn) {
  using C = compute_t<T>;
  if (sa == 1 && sb == 1 && so == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = T(fn(C(a[i]), C(b[i])));
  } else if (sa == 0 && sb == 1 && so == 1) {
    C av = C(*a);
    for (int64_t i = 0; i < n; ++i) o[i] = T(fn(av, C(b[i])));
  } else if (sa == 1 && sb == 0 && so == 1) {
    C bv = C(*b);
    for (int64_t i = 0; i < n; ++i) o[i] = T(fn(C(a[i]), bv));
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = T(fn(C(a[i * sa]), C(b[i * sb])));
  }
}

// What a binary task needs: pointers and a strided plan, no allocation.
struct BinaryArgs {
  const void* a;
  const void* b;
  void* out;
  Dtype dtype;
  cpu::StridedPlan<3> plan;
};

BinaryArgs binary_args(const array& a, const array& b, const array& out) {
  Strides sa = cpu::broadcast_strides(a, out.shape());
  Strides sb = cpu::broadcast_strides(b, out.shape());
  return {a.raw_ptr(), b.raw_ptr(), out.raw_ptr(), a.dtype(),
          cpu::make_plan<3>(out.shape(), {&sa, &sb, &out.strides()})};
}

template <typename T, typename Fn>
void binary_kernel(const BinaryArgs& args, Fn fn) {
  const T* pa = static_cast<const T*>(args.a);
  const T* pb = static_cast<const T*>(args.b);
  T* po = static_cast<T*>(args.out);
  cpu::for_each_strided(args.plan, [&](auto offs, int64_t n, auto st) {
    binary_run(pa + offs[0], st[0], pb + offs[1], st[1], po + offs[2], st[2], n, fn);
  });
}

template <BinaryOp op>
void run_binary(const BinaryArgs& args) {
  dispatch_dtype(args.dtype, [&](auto tag) { binary_kernel<decltype(tag)>(args, BinaryFn<op>{}); });
}

using BinaryKernel = void (*)(const BinaryArgs&);

BinaryKernel kernel_for(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return run_binary<BinaryOp::add>;
    case BinaryOp::subtract: return run_binary<BinaryOp::subtract>;
    case BinaryOp::multiply: return run_binary<BinaryOp::multiply>;
    case BinaryOp::divide: return run_binary<BinaryOp::divide>;
    case BinaryOp::maximum: return run_binary<BinaryOp::maximum>;
    case BinaryOp::minimum: return run_binary<BinaryOp::minimum>;
    case BinaryOp::floor_divide: return run_binary<BinaryOp::floor_divide>;
    case BinaryOp::remainder: return run_binary<BinaryOp::remainder>;
  }
  return nullptr;
}

// Allocates `out`, donating a same-shaped input's buffer when possible.
void binary_alloc(const array& a, const array& b, array& out) {
  if (a.shape() == out.shape() && a.is_donatable() && a.dtype() == out.dtype()) {
    cpu::donate_or_alloc(a, out);
  } else if (b.shape() == out.shape() && b.is_donatable() && b.dtype() == out.dtype()) {
    cpu::donate_or_alloc(b, out);
  } else {
    cpu::alloc(out);
  }
}

}  // namespace

void Binary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  array& out = outputs[0];
  binary_alloc(a, b, out);
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
