// GPU eval of Binary, DivMod and Select: one grid-stride kernel per (op,
// dtype) pair the CPU supports, computing exactly what cpu/binary.cpp
// computes (NumPy's floor division and remainder, 0 for integer division by
// zero, its NaN handling in maximum/minimum, wrapping integer arithmetic).
//
// Outputs are row-contiguous (fresh, or a donated same-shaped input), so the
// kernels write element i at i. Inputs are read at i when they are
// row-contiguous with the output's shape, else through their broadcast
// strides, merged by make_indexer: a scalar or a contiguous operand then
// costs one multiply per element, not a division per dimension.
#include <stdexcept>
#include <utility>

#include "cuda/kernel_utils.cuh"
#include "primitives/binary.h"

namespace fastsync {

namespace {

using cuda::Indexer;

// The type a storage type T computes in (float for the half types).
template <typename T>
using compute_of = decltype(cuda::widen(std::declval<T>()));

// Offsets of N operands at row-major index i: i itself when all are
// row-contiguous like the output, one multiply for one merged dimension.
template <int N>
__device__ inline void offsets_at(const Indexer<N>& ix, bool flat, int64_t i,
                                  int64_t (&off)[N]) {
  if (flat) {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = i;
  } else if (ix.ndim == 1) {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = i * ix.strides[k][0];
  } else {
    ix.offsets(i, off);
  }
}

// Integer arithmetic in an unsigned type of at least int's width: wraps as
// the CPU's -fwrapv build does, with no signed overflow (undefined in device
// code, and possible even for uint16 products after promotion to int).
template <typename C>
using wrap_t = std::conditional_t<(sizeof(C) < 4), uint32_t, std::make_unsigned_t<C>>;
template <typename C>
__device__ inline C wrap_add(C a, C b) {
  return C(wrap_t<C>(a) + wrap_t<C>(b));
}
template <typename C>
__device__ inline C wrap_sub(C a, C b) {
  return C(wrap_t<C>(a) - wrap_t<C>(b));
}
template <typename C>
__device__ inline C wrap_mul(C a, C b) {
  return C(wrap_t<C>(a) * wrap_t<C>(b));
}

__device__ inline float m_floor(float x) { return ::floorf(x); }
__device__ inline double m_floor(double x) { return ::floor(x); }
__device__ inline float m_fmod(float a, float b) { return ::fmodf(a, b); }
__device__ inline double m_fmod(double a, double b) { return ::fmod(a, b); }
__device__ inline float m_pow(float a, float b) { return ::powf(a, b); }
__device__ inline double m_pow(double a, double b) { return ::pow(a, b); }
__device__ inline float m_atan2(float a, float b) { return ::atan2f(a, b); }
__device__ inline double m_atan2(double a, double b) { return ::atan2(a, b); }

template <typename C>
__device__ C floor_div(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    return m_floor(a / b);
  } else if constexpr (std::is_same_v<C, bool>) {
    return b ? a : false;
  } else {
    // NumPy gives 0 for division by zero; guard the one overflowing case.
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<C>) {
      if (b == C(-1)) return wrap_sub(C(0), a);
      C q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? C(q - 1) : q;
    } else {
      return a / b;
    }
  }
}

template <typename C>
__device__ C py_mod(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = m_fmod(a, b);
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
__device__ C int_power(C base, C exp) {
  if constexpr (std::is_signed_v<C>) {
    // A negative power: the exact integer answer (NumPy raises instead).
    if (exp < 0) return base == 1 ? C(1) : base == C(-1) ? C(exp % 2 ? -1 : 1) : C(0);
  }
  C r = 1;
  while (exp) {
    if (exp & 1) r = wrap_mul(r, base);
    base = wrap_mul(base, base);
    exp = C(exp >> 1);
  }
  return r;
}

template <typename C>
__device__ C shift(C a, C b, bool left) {
  constexpr int bits = sizeof(C) * 8;
  if constexpr (std::is_signed_v<C>) {
    if (b < 0) return 0;
  }
  if (b >= bits) return left ? C(0) : (std::is_signed_v<C> && a < 0 ? C(-1) : C(0));
  if (left) return C(wrap_t<C>(a) << b);
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

// The CPU's BinaryFn, op for op. Comparisons return bool, the rest C.
template <BinaryOp op>
struct BinaryFn {
  template <typename C>
  __device__ std::conditional_t<is_comparison(op), bool, C> operator()(C a, C b) const {
    constexpr bool is_float = std::is_floating_point_v<C>;
    constexpr bool is_bool = std::is_same_v<C, bool>;
    if constexpr (op == BinaryOp::add) {
      if constexpr (is_bool) return a || b;
      else if constexpr (is_float) return a + b;
      else return wrap_add(a, b);
    } else if constexpr (op == BinaryOp::subtract) {
      if constexpr (is_float) return a - b;
      else return wrap_sub(a, b);
    } else if constexpr (op == BinaryOp::multiply) {
      if constexpr (is_bool) return a && b;
      else if constexpr (is_float) return a * b;
      else return wrap_mul(a, b);
    } else if constexpr (op == BinaryOp::divide) {
      return a / b;
    } else if constexpr (op == BinaryOp::floor_divide) {
      return floor_div(a, b);
    } else if constexpr (op == BinaryOp::remainder) {
      return py_mod(a, b);
    } else if constexpr (op == BinaryOp::power) {
      if constexpr (is_float) return m_pow(a, b);
      else return int_power(a, b);
    } else if constexpr (op == BinaryOp::maximum) {
      // A NaN in either argument propagates, as NumPy (and the CPU).
      if constexpr (is_float) return a != a ? a : (b != b || a < b ? b : a);
      else return a < b ? b : a;
    } else if constexpr (op == BinaryOp::minimum) {
      if constexpr (is_float) return a != a ? a : (b != b || b < a ? b : a);
      else return b < a ? b : a;
    } else if constexpr (op == BinaryOp::arctan2) {
      return m_atan2(a, b);
    } else if constexpr (op == BinaryOp::logical_and) {
      return a && b;
    } else if constexpr (op == BinaryOp::logical_or) {
      return a || b;
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

template <BinaryOp op, typename T, typename O>
__global__ void binary_kernel(const T* a, const T* b, O* out, int64_t n, bool flat,
                              Indexer<2> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    int64_t off[2];
    offsets_at(ix, flat, i, off);
    out[i] = cuda::narrow<O>(BinaryFn<op>{}(cuda::widen(a[off[0]]), cuda::widen(b[off[1]])));
  }
}

template <typename T>
__global__ void divmod_kernel(const T* a, const T* b, T* q, T* r, int64_t n, bool flat,
                              Indexer<2> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    int64_t off[2];
    offsets_at(ix, flat, i, off);
    auto x = cuda::widen(a[off[0]]);
    auto y = cuda::widen(b[off[1]]);
    q[i] = cuda::narrow<T>(floor_div(x, y));
    r[i] = cuda::narrow<T>(py_mod(x, y));
  }
}

// Select moves values without looking at them: one kernel per element size.
template <typename B>
__global__ void select_kernel(const bool* cond, const B* x, const B* y, B* out, int64_t n,
                              bool flat, Indexer<3> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    int64_t off[3];
    offsets_at(ix, flat, i, off);
    out[i] = cond[off[0]] ? x[off[1]] : y[off[2]];
  }
}

// How N inputs are read for a row-contiguous output: flat when every input
// is row-contiguous with the output's shape, else through broadcast strides.
template <int N>
struct Reads {
  bool flat = true;
  Indexer<N> ix{};
};

template <int N>
Reads<N> reads_for(const std::array<const array*, N>& ins, const array& out, const char* op) {
  Reads<N> r;
  for (auto* in : ins) {
    r.flat = r.flat && in->flags().row_contiguous && in->shape() == out.shape();
  }
  if (r.flat) return r;
  std::array<Strides, N> strides;
  std::array<const Strides*, N> ptrs;
  for (int k = 0; k < N; ++k) {
    strides[k] = cpu::broadcast_strides(*ins[k], out.shape());
    ptrs[k] = &strides[k];
  }
  r.ix = cuda::make_indexer<N>(out.shape(), ptrs, op);
  return r;
}

template <BinaryOp op>
void launch_binary(cuda::CommandEncoder& enc, const array& a, const array& b, const array& out) {
  auto r = reads_for<2>({&a, &b}, out, "binary");
  int64_t n = out.size();
  cuda::dispatch_type(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!supported<op, compute_of<T>>()) {
      throw std::logic_error("[binary] dtype not supported by this op");
    } else {
      using O = std::conditional_t<is_comparison(op), bool, T>;
      binary_kernel<op, T, O><<<cuda::grid_for(n), cuda::kBlock, 0, enc.stream()>>>(
          static_cast<const T*>(a.raw_ptr()), static_cast<const T*>(b.raw_ptr()),
          static_cast<O*>(out.raw_ptr()), n, r.flat, r.ix);
      cuda::check_launch("[binary] kernel");
    }
  });
}

// Allocates `out`, donating a same-shaped input's buffer when possible.
void binary_alloc(const array& a, const array& b, array& out) {
  if (a.shape() == out.shape() && a.is_donatable() && a.dtype() == out.dtype()) {
    cuda::donate_or_alloc(a, out);
  } else if (b.shape() == out.shape() && b.is_donatable() && b.dtype() == out.dtype()) {
    cuda::donate_or_alloc(b, out);
  } else {
    cuda::alloc(out);
  }
}

}  // namespace

void Binary::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  array& out = outputs[0];
  binary_alloc(a, b, out);
  auto& enc = cuda::encoder_for(*this);
  enc.set_input_array(a);
  enc.set_input_array(b);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  switch (op()) {
#define FASTSYNC_CASE(op, Name) \
  case BinaryOp::op: launch_binary<BinaryOp::op>(enc, a, b, out); break;
    FASTSYNC_BINARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
}

void DivMod::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  // Siblings are never donated into: both outputs get fresh buffers.
  cuda::alloc(outputs[0]);
  cuda::alloc(outputs[1]);
  auto& enc = cuda::encoder_for(*this);
  enc.set_input_array(a);
  enc.set_input_array(b);
  enc.set_output_array(outputs[0]);
  enc.set_output_array(outputs[1]);
  int64_t n = outputs[0].size();
  if (n == 0) return;
  auto r = reads_for<2>({&a, &b}, outputs[0], "divmod");
  cuda::dispatch_type(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      throw std::logic_error("[divmod] dtype not supported by this op");
    } else {
      divmod_kernel<T><<<cuda::grid_for(n), cuda::kBlock, 0, enc.stream()>>>(
          static_cast<const T*>(a.raw_ptr()), static_cast<const T*>(b.raw_ptr()),
          static_cast<T*>(outputs[0].raw_ptr()), static_cast<T*>(outputs[1].raw_ptr()), n,
          r.flat, r.ix);
      cuda::check_launch("[divmod] kernel");
    }
  });
}

namespace {
template <typename B>
void launch_select(cuda::CommandEncoder& enc, const std::vector<array>& in, const array& out,
                   const Reads<3>& r) {
  int64_t n = out.size();
  select_kernel<B><<<cuda::grid_for(n), cuda::kBlock, 0, enc.stream()>>>(
      static_cast<const bool*>(in[0].raw_ptr()), static_cast<const B*>(in[1].raw_ptr()),
      static_cast<const B*>(in[2].raw_ptr()), static_cast<B*>(out.raw_ptr()), n, r.flat, r.ix);
  cuda::check_launch("[select] kernel");
}
}  // namespace

void Select::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& cond = inputs[0];
  const array& x = inputs[1];
  const array& y = inputs[2];
  array& out = outputs[0];
  if (x.shape() == out.shape() && x.is_donatable()) {
    cuda::donate_or_alloc(x, out);
  } else if (y.shape() == out.shape() && y.is_donatable()) {
    cuda::donate_or_alloc(y, out);
  } else {
    cuda::alloc(out);
  }
  auto& enc = cuda::encoder_for(*this);
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  auto r = reads_for<3>({&cond, &x, &y}, out, "select");
  cuda::dispatch_bits(out.itemsize(), [&](auto tag) {
    launch_select<typename decltype(tag)::type>(enc, inputs, out, r);
  });
}

}  // namespace fastsync
