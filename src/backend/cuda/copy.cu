// GPU strided copies with dtype conversion (copy.h): the kernel behind astype,
// contiguous copies of views, reshapes of strided arrays and concatenation.
//
// Values convert exactly as the CPU copy (cpu/copy.cpp) does: through the
// input's compute type, then a C++ cast. Casts that C++ leaves undefined
// (NaN, infinities or out-of-range floats to integers) give what x86-64
// code compiled by GCC gives, which is also what NumPy gives there: the
// truncating SSE conversion to int32 (int64 for 32-bit unsigned and 64-bit
// targets) that yields INT_MIN when out of range, then wraps to the target.
// CUDA's own conversions saturate instead (-1.5 -> uint8 would be 0, not 255).
#include <cstdint>
#include <limits>

#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"

namespace fastsync::cuda {

namespace {

// Offsets of N arrays at linear index i; one merged dimension (contiguous or
// scalar-broadcast operands) needs no division.
template <int N>
__device__ inline void offsets_at(const Indexer<N>& ix, int64_t i, int64_t (&off)[N]) {
  if (ix.ndim == 1) {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = i * ix.strides[k][0];
  } else {
    ix.offsets(i, off);
  }
}

// cvttsd2si: truncation, or the "integer indefinite" INT_MIN when the
// truncated value does not fit (NaN included, as its comparisons fail).
__device__ inline int32_t x86_to_i32(double x) {
  return (x > -2147483649.0 && x < 2147483648.0) ? static_cast<int32_t>(x)
                                                 : std::numeric_limits<int32_t>::min();
}
__device__ inline int64_t x86_to_i64(double x) {
  return (x >= -9223372036854775808.0 && x < 9223372036854775808.0)
             ? static_cast<int64_t>(x)
             : std::numeric_limits<int64_t>::min();
}

// A float (widened to double, exactly) to integer type Out, as GCC's x86-64
// code for static_cast<Out> computes it.
template <typename Out>
__device__ inline Out float_to_int(double x) {
  if constexpr (std::is_same_v<Out, uint64_t>) {
    // GCC converts values from 2^63 up (NaN excluded) shifted down by 2^63
    // and sets the top bit back.
    constexpr double two63 = 9223372036854775808.0;
    if (x >= two63) return static_cast<uint64_t>(x86_to_i64(x - two63)) ^ (uint64_t(1) << 63);
    return static_cast<uint64_t>(x86_to_i64(x));
  } else if constexpr (sizeof(Out) == 8 || std::is_same_v<Out, uint32_t>) {
    return static_cast<Out>(x86_to_i64(x));
  } else {
    return static_cast<Out>(x86_to_i32(x));
  }
}

template <typename In, typename Out>
__device__ inline Out convert(In v) {
  auto c = widen(v);  // the input's compute type, as the CPU casts through it
  using C = decltype(c);
  if constexpr (std::is_same_v<Out, bool>) {
    return c != C(0);  // complex64: either part nonzero
  } else if constexpr (is_complex_v<C>) {
    // complex64 to a real type: its real part, converted as a float32 is
    // (complex.h; the CPU casts the same way).
    return convert<float, Out>(c.re);
  } else if constexpr (std::is_integral_v<Out> && is_float_v<C>) {
    return float_to_int<Out>(static_cast<double>(c));
  } else if constexpr (std::is_same_v<Out, __half> && std::is_same_v<C, double>) {
    return __double2half(c);  // one rounding, as the CPU's double -> _Float16
  } else {
    // bfloat16 from double rounds through float on the CPU too (its only
    // constructor takes a float); narrow does the same.
    return narrow<Out>(c);
  }
}

template <typename In, typename Out>
__global__ void copy_kernel(const In* src, Out* dst, int64_t n, Indexer<2> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    int64_t off[2];
    offsets_at(ix, i, off);
    if constexpr (std::is_same_v<In, Out>) {
      dst[off[1]] = src[off[0]];
    } else {
      dst[off[1]] = convert<In, Out>(src[off[0]]);
    }
  }
}

template <typename In, typename Out>
void launch_copy(CommandEncoder& enc, const array& src, const array& dst, const Indexer<2>& ix) {
  int64_t n = dst.size();
  copy_kernel<In, Out><<<grid_for(n), kBlock, 0, enc.cuda_stream()>>>(
      static_cast<const In*>(src.raw_ptr()), static_cast<Out*>(dst.raw_ptr()), n, ix);
  check_launch("[copy] kernel");
}

// Same-dtype copies whose merged last dimension is dense on both sides move
// in units of up to 16 bytes: one index computation and one memory
// transaction per unit instead of per element (a bfloat16 reshape of a
// transposed view moved 2 bytes a thread, dividing 64-bit indices for each).
bool copy_in_units(CommandEncoder& enc, const array& src, const array& dst) {
  auto plan = make_plan<2>(dst.shape(), {&src.strides(), &dst.strides()});
  const int nd = plan.shape.size();
  if (plan.strides[0][nd - 1] != 1 || plan.strides[1][nd - 1] != 1) return false;
  const auto a = reinterpret_cast<uintptr_t>(src.raw_ptr());
  const auto b = reinterpret_cast<uintptr_t>(dst.raw_ptr());
  for (int64_t bytes : {16, 8, 4}) {
    const int64_t k = bytes / src.itemsize();  // elements per unit
    if (k <= 1) return false;
    bool ok = plan.shape[nd - 1] % k == 0 && a % bytes == 0 && b % bytes == 0;
    Shape shape(nd);
    Strides s0(nd), s1(nd);
    for (int d = 0; d < nd; ++d) {
      bool inner = d == nd - 1;
      ok = ok && (inner || (plan.strides[0][d] % k == 0 && plan.strides[1][d] % k == 0));
      shape[d] = inner ? plan.shape[d] / k : plan.shape[d];
      s0[d] = inner ? 1 : plan.strides[0][d] / k;
      s1[d] = inner ? 1 : plan.strides[1][d] / k;
    }
    if (!ok) continue;
    auto ix = make_indexer<2>(shape, {&s0, &s1}, "copy");
    const int64_t n = shape_size(shape);
    auto run = [&](auto unit) {
      using U = decltype(unit);
      copy_kernel<U, U><<<grid_for(n), kBlock, 0, enc.cuda_stream()>>>(
          static_cast<const U*>(src.raw_ptr()), static_cast<U*>(dst.raw_ptr()), n, ix);
    };
    if (bytes == 16) run(uint4{});
    if (bytes == 8) run(uint2{});
    if (bytes == 4) run(uint32_t{});
    check_launch("[copy] kernel");
    return true;
  }
  return false;
}

}  // namespace

void copy_gpu(CommandEncoder& enc, const array& src, const array& dst) {
  if (dst.size() == 0) return;
  if (src.dtype() == dst.dtype() && src.flags().row_contiguous && dst.flags().row_contiguous) {
    check(cudaMemcpyAsync(dst.raw_ptr(), src.raw_ptr(), dst.nbytes(), cudaMemcpyDeviceToDevice,
                          enc.cuda_stream()),
          "[copy] cudaMemcpyAsync");
    return;
  }
  auto ix = make_indexer<2>(dst.shape(), {&src.strides(), &dst.strides()}, "copy");
  if (src.dtype() == dst.dtype()) {
    if (copy_in_units(enc, src, dst)) return;
    // Same-dtype copies move bits: one kernel per element size.
    dispatch_bits(src.itemsize(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      launch_copy<U, U>(enc, src, dst, ix);
    });
    return;
  }
  dispatch_type(src.dtype(), [&](auto in_tag) {
    dispatch_type(dst.dtype(), [&](auto out_tag) {
      using In = typename decltype(in_tag)::type;
      using Out = typename decltype(out_tag)::type;
      if constexpr (!std::is_same_v<In, Out>) launch_copy<In, Out>(enc, src, dst, ix);
    });
  });
}

array contiguous_gpu(CommandEncoder& enc, const array& a) {
  if (a.flags().row_contiguous) return a;
  array out = array::from_desc(std::make_shared<ArrayDesc>(a.shape(), a.dtype()));
  alloc(out);
  copy_gpu(enc, a, out);
  enc.add_temporary(out);
  out.set_status(Status::evaluated);  // encoded; the copy may still be in flight
  return out;
}

}  // namespace fastsync::cuda
