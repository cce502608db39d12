// GPU eval of Unary primitives: one grid-stride kernel per (op, dtype) pair
// the CPU supports, computing exactly what cpu/unary.cpp computes.
//
// Half types compute in float and round back to nearest even. The output
// takes the layout the CPU gives it: a dense input (in any axis order) keeps
// its strides and is walked as one flat buffer, donated when possible; any
// other input is read through its strides into a row-contiguous output.
#include <stdexcept>
#include <utility>

#include "cuda/allocators.h"
#include "cuda/kernel_utils.cuh"
#include "primitives/unary.h"

namespace fastsync {

namespace {

using cuda::Indexer;

// The type a storage type T computes in (float for the half types).
template <typename T>
using compute_of = decltype(cuda::widen(std::declval<T>()));

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
    default: return std::is_floating_point_v<C>;  // transcendental: the ops layer sends floats
  }
}

// The float and double flavours of a libm function, picked by overload, so
// float math never goes through double.
#define FASTSYNC_MATH(name)                                                    \
  __device__ inline float m_##name(float x) { return ::name##f(x); }           \
  __device__ inline double m_##name(double x) { return ::name(x); }
FASTSYNC_MATH(exp)
FASTSYNC_MATH(expm1)
FASTSYNC_MATH(log)
FASTSYNC_MATH(log1p)
FASTSYNC_MATH(log2)
FASTSYNC_MATH(sqrt)
FASTSYNC_MATH(sin)
FASTSYNC_MATH(cos)
FASTSYNC_MATH(tanh)
FASTSYNC_MATH(erf)
FASTSYNC_MATH(floor)
FASTSYNC_MATH(ceil)
FASTSYNC_MATH(rint)
#undef FASTSYNC_MATH

// Integer negation and products that wrap, as the CPU's -fwrapv build
// gives, with no signed overflow (undefined in device code) on the way.
template <typename C>
using wrap_t = std::conditional_t<(sizeof(C) < 4), uint32_t, std::make_unsigned_t<C>>;
template <typename C>
__device__ inline C wrap_neg(C x) {
  return C(wrap_t<C>(0) - wrap_t<C>(x));
}

// The CPU's UnaryFn, op for op (including its quirks: abs keeps the sign of
// -0.0, as `x < 0 ? -x : x` does).
template <UnaryOp op>
struct UnaryFn {
  template <typename C>
  __device__ C operator()(C x) const {
    constexpr bool is_float = std::is_floating_point_v<C>;
    if constexpr (op == UnaryOp::negative) {
      if constexpr (is_float) return -x;
      else return wrap_neg(x);
    } else if constexpr (op == UnaryOp::abs) {
      if constexpr (std::is_unsigned_v<C>) return x;
      else if constexpr (is_float) return x < C(0) ? -x : x;
      else return x < C(0) ? wrap_neg(x) : x;
    } else if constexpr (op == UnaryOp::sign) {
      if constexpr (is_float) {
        if (x != x) return x;
      }
      if constexpr (std::is_unsigned_v<C>) return C(x > 0);
      else return C((x > C(0)) - (x < C(0)));
    } else if constexpr (op == UnaryOp::square) {
      if constexpr (is_float) return x * x;
      else return C(wrap_t<C>(x) * wrap_t<C>(x));
    } else if constexpr (op == UnaryOp::floor) {
      if constexpr (is_float) return m_floor(x);
      else return x;
    } else if constexpr (op == UnaryOp::ceil) {
      if constexpr (is_float) return m_ceil(x);
      else return x;
    } else if constexpr (op == UnaryOp::round) {
      if constexpr (is_float) return m_rint(x);  // half to even, as NumPy
      else return x;
    } else if constexpr (op == UnaryOp::logical_not) {
      return !x;
    } else if constexpr (op == UnaryOp::bitwise_invert) {
      if constexpr (std::is_same_v<C, bool>) return !x;
      else return C(~x);
    } else if constexpr (op == UnaryOp::exp) {
      return m_exp(x);
    } else if constexpr (op == UnaryOp::expm1) {
      return m_expm1(x);
    } else if constexpr (op == UnaryOp::log) {
      return m_log(x);
    } else if constexpr (op == UnaryOp::log1p) {
      return m_log1p(x);
    } else if constexpr (op == UnaryOp::log2) {
      return m_log2(x);
    } else if constexpr (op == UnaryOp::sqrt) {
      return m_sqrt(x);
    } else if constexpr (op == UnaryOp::rsqrt) {
      return C(1) / m_sqrt(x);  // not rsqrt(): the CPU's correctly rounded quotient
    } else if constexpr (op == UnaryOp::sin) {
      return m_sin(x);
    } else if constexpr (op == UnaryOp::cos) {
      return m_cos(x);
    } else if constexpr (op == UnaryOp::tanh) {
      return m_tanh(x);
    } else if constexpr (op == UnaryOp::sigmoid) {
      return C(1) / (C(1) + m_exp(-x));
    } else {
      return m_erf(x);
    }
  }
};

// `flat`: input and output share a dense layout; element i of the buffer
// maps to element i. Otherwise i is the row-major index, the input is read
// through `ix` and the output is row-contiguous.
template <UnaryOp op, typename T>
__global__ void unary_kernel(const T* in, T* out, int64_t n, bool flat, Indexer<1> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    int64_t off;
    if (flat) {
      off = i;
    } else if (ix.ndim == 1) {
      off = i * ix.strides[0][0];  // one merged dim: no division
    } else {
      int64_t o[1];
      ix.offsets(i, o);
      off = o[0];
    }
    out[i] = cuda::narrow<T>(UnaryFn<op>{}(cuda::widen(in[off])));
  }
}

template <UnaryOp op>
void launch_unary(cuda::CommandEncoder& enc, const array& in, const array& out, int64_t n,
                  bool flat) {
  Indexer<1> ix{};
  if (!flat) ix = cuda::make_indexer<1>(out.shape(), {&in.strides()}, "unary");
  cuda::dispatch_type(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (supported<op, compute_of<T>>()) {
      unary_kernel<op, T><<<cuda::grid_for(n), cuda::kBlock, 0, enc.stream()>>>(
          static_cast<const T*>(in.raw_ptr()), static_cast<T*>(out.raw_ptr()), n, flat, ix);
      cuda::check_launch("[unary] kernel");
    } else {
      throw std::logic_error("[unary] dtype not supported by this op");
    }
  });
}

}  // namespace

void Unary::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  bool flat = in.flags().contiguous;
  if (flat) {
    // Keep the input's layout so the kernel is one flat pass over the buffer.
    if (in.is_donatable() && in.dtype() == out.dtype()) {
      out.copy_shared_buffer(in);
    } else {
      out.set_data(cuda::device_allocator().malloc(in.data_size() * in.itemsize()));
      out.copy_shared_buffer(out, in.strides(), in.flags(), in.data_size());
    }
  } else {
    cuda::alloc(out);
  }
  enc.set_input_array(in);
  enc.set_output_array(out);
  int64_t n = flat ? in.data_size() : out.size();
  if (out.size() == 0 || n == 0) return;
  switch (op()) {
#define FASTSYNC_CASE(op, Name) \
  case UnaryOp::op: launch_unary<UnaryOp::op>(enc, in, out, n, flat); break;
    FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
}

}  // namespace fastsync
