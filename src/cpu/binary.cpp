// CPU kernels for Binary and DivMod primitives.
#include <cmath>
#include <limits>

#include "cpu/parallel.h"
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

template <typename C>
C int_power(C base, C exp) {
  if constexpr (std::is_signed_v<C>) {
    // Integer to a negative power: 0 unless the base is 1 or -1 (NumPy
    // raises; a kernel cannot, so the exact integer answer is given).
    if (exp < 0) return base == 1 ? C(1) : base == C(-1) ? C(exp % 2 ? -1 : 1) : C(0);
  }
  C r = 1;
  while (exp) {
    if (exp & 1) r = C(r * base);
    base = C(base * base);
    exp = C(exp >> 1);
  }
  return r;
}

template <typename C>
C shift(C a, C b, bool left) {
  constexpr int bits = sizeof(C) * 8;
  if constexpr (std::is_signed_v<C>) {
    if (b < 0) return 0;
  }
  if (b >= bits) return left ? C(0) : (std::is_signed_v<C> && a < 0 ? C(-1) : C(0));
  if (left) return C(static_cast<std::make_unsigned_t<C>>(a) << b);
  return C(a >> b);
}

template <BinaryOp op, typename C>
constexpr bool supported() {
  constexpr bool is_bool = std::is_same_v<C, bool>;
  constexpr bool is_int = std::is_integral_v<C> && !is_bool;
  switch (op) {
    case BinaryOp::subtract:
    case BinaryOp::floor_divide:
    case BinaryOp::remainder:
    case BinaryOp::power: return !is_bool;
    case BinaryOp::divide:
    case BinaryOp::arctan2: return std::is_floating_point_v<C>;
    case BinaryOp::logical_and:
    case BinaryOp::logical_or: return is_bool;
    case BinaryOp::bitwise_and:
    case BinaryOp::bitwise_or:
    case BinaryOp::bitwise_xor: return is_int || is_bool;
    case BinaryOp::left_shift:
    case BinaryOp::right_shift: return is_int;
    default: return true;
  }
}

template <BinaryOp op>
struct BinaryFn {
  template <typename C>
  auto operator()(C a, C b) const {
    if constexpr (op == BinaryOp::add) {
      if constexpr (std::is_same_v<C, bool>) return C(a || b);
      else return C(a + b);
    } else if constexpr (op == BinaryOp::subtract) {
      return C(a - b);
    } else if constexpr (op == BinaryOp::multiply) {
      if constexpr (std::is_same_v<C, bool>) return C(a && b);
      else return C(a * b);
    } else if constexpr (op == BinaryOp::divide) {
      return C(a / b);
    } else if constexpr (op == BinaryOp::floor_divide) {
      return floor_div(a, b);
    } else if constexpr (op == BinaryOp::remainder) {
      return py_mod(a, b);
    } else if constexpr (op == BinaryOp::power) {
      if constexpr (std::is_floating_point_v<C>) return C(std::pow(a, b));
      else return int_power(a, b);
    } else if constexpr (op == BinaryOp::maximum) {
      if constexpr (std::is_floating_point_v<C>) {
        return std::isnan(a) ? a : (std::isnan(b) || a < b ? b : a);  // NaN propagates, as NumPy
      } else {
        return a < b ? b : a;
      }
    } else if constexpr (op == BinaryOp::minimum) {
      if constexpr (std::is_floating_point_v<C>) {
        return std::isnan(a) ? a : (std::isnan(b) || b < a ? b : a);
      } else {
        return b < a ? b : a;
      }
    } else if constexpr (op == BinaryOp::arctan2) {
      return C(std::atan2(a, b));
    } else if constexpr (op == BinaryOp::logical_and) {
      return C(a && b);
    } else if constexpr (op == BinaryOp::logical_or) {
      return C(a || b);
    } else if constexpr (op == BinaryOp::bitwise_and) {
      return C(a & b);
    } else if constexpr (op == BinaryOp::bitwise_or) {
      return C(a | b);
    } else if constexpr (op == BinaryOp::bitwise_xor) {
      return C(a ^ b);
    } else if constexpr (op == BinaryOp::left_shift) {
      return shift(a, b, true);
    } else if constexpr (op == BinaryOp::right_shift) {
      return shift(a, b, false);
    } else if constexpr (op == BinaryOp::equal) {
      return a == b;
    } else if constexpr (op == BinaryOp::not_equal) {
      return a != b;
    } else if constexpr (op == BinaryOp::less) {
      return a < b;
    } else if constexpr (op == BinaryOp::less_equal) {
      return a <= b;
    } else if constexpr (op == BinaryOp::greater) {
      return a > b;
    } else {
      return a >= b;
    }
  }
};

// One pass over a run of n elements; the compiler vectorizes the unit-stride
// and scalar-operand cases separately.
template <typename T, typename O, typename Fn>
inline void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, O* o, int64_t so,
                       int64_t n, Fn fn) {
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

template <typename T, typename O, typename Fn>
void binary_kernel(const BinaryArgs& args, Fn fn) {
  const T* pa = static_cast<const T*>(args.a);
  const T* pb = static_cast<const T*>(args.b);
  O* po = static_cast<O*>(args.out);
  const auto& p = args.plan;
  if (p.shape.size() == 1 && p.size >= 2 * cpu::kParallelGrain) {
    // One long run (contiguous or scalar-broadcast): split it across threads.
    int64_t sa = p.strides[0][0], sb = p.strides[1][0], so = p.strides[2][0];
    cpu::parallel_for(p.size, cpu::kParallelGrain, [&](int64_t b, int64_t e) {
      binary_run(pa + b * sa, sa, pb + b * sb, sb, po + b * so, so, e - b, fn);
    });
    return;
  }
  cpu::for_each_strided(args.plan, [&](auto offs, int64_t n, auto st) {
    binary_run(pa + offs[0], st[0], pb + offs[1], st[1], po + offs[2], st[2], n, fn);
  });
}

template <BinaryOp op>
void run_binary(const BinaryArgs& args) {
  dispatch_dtype(args.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!supported<op, compute_t<T>>()) {
      throw std::logic_error("[binary] dtype not supported by this op");
    } else if constexpr (is_comparison(op)) {
      binary_kernel<T, bool>(args, BinaryFn<op>{});
    } else {
      binary_kernel<T, T>(args, BinaryFn<op>{});
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

namespace fastsync {

void Select::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& cond = inputs[0];
  const array& x = inputs[1];
  const array& y = inputs[2];
  array& out = outputs[0];
  if (x.shape() == out.shape() && x.is_donatable()) {
    cpu::donate_or_alloc(x, out);
  } else if (y.shape() == out.shape() && y.is_donatable()) {
    cpu::donate_or_alloc(y, out);
  } else {
    cpu::alloc(out);
  }
  auto& enc = cpu::encoder_for(*this);
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  Strides sc = cpu::broadcast_strides(cond, out.shape());
  Strides sx = cpu::broadcast_strides(x, out.shape());
  Strides sy = cpu::broadcast_strides(y, out.shape());
  enc.dispatch([c = static_cast<const bool*>(cond.raw_ptr()), px = x.raw_ptr(), py = y.raw_ptr(),
                po = out.raw_ptr(), dtype = out.dtype(),
                plan = cpu::make_plan<4>(out.shape(), {&sc, &sx, &sy, &out.strides()})] {
    dispatch_dtype(dtype, [&](auto tag) {
      using T = decltype(tag);
      const T* a = static_cast<const T*>(px);
      const T* b = static_cast<const T*>(py);
      T* o = static_cast<T*>(po);
      cpu::for_each_strided(plan, [&](auto offs, int64_t n, auto st) {
        for (int64_t i = 0; i < n; ++i) {
          o[offs[3] + i * st[3]] =
              c[offs[0] + i * st[0]] ? a[offs[1] + i * st[1]] : b[offs[2] + i * st[2]];
        }
      });
    });
  });
}

}  // namespace fastsync
