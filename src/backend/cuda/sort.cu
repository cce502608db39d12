// GPU eval of Sort / ArgSort with the CPU's results (src/backend/cpu/sort.cpp):
// stable, NaN last (every NaN equal, whatever its sign or payload), -0.0
// equal to +0.0, every dtype; ArgSort gives uint32 positions along the axis.
//
// How: the sorted axis is moved last and the input made row-contiguous
// (cuda::contiguous_gpu), so each row is a segment of n elements. A kernel
// maps every element to an unsigned key whose order is the CPU's order
// (NaNs share the largest key, zeros one key) and pairs it with its
// position in the row; CUB radix-sorts the pairs stably. ArgSort's result is
// the sorted positions; Sort gathers the original elements by them, so the
// values (NaN payloads, signed zeros) are the input's. A result for an axis
// other than the last goes back through a strided copy.
//
// CUB: one segment, or a few long ones, go through DeviceRadixSort one row
// at a time (it spreads a row over the whole GPU); many rows go through
// DeviceSegmentedSort::StableSortPairs in one call (int offsets, so calls
// cover at most INT_MAX elements each). Both use double buffers, and the
// scratch they ask for is an array the op keeps as a temporary.
#include <climits>
#include <cstdint>
#include <cub/cub.cuh>
#include <string>

#include "backend/common/axes.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/sort.h"

namespace fastsync {

namespace {

using cuda::TypeTag;

template <int kBytes>
struct UnsignedOf;
template <>
struct UnsignedOf<1> {
  using type = uint8_t;
};
template <>
struct UnsignedOf<2> {
  using type = uint16_t;
};
template <>
struct UnsignedOf<4> {
  using type = uint32_t;
};
template <>
struct UnsignedOf<8> {
  using type = uint64_t;
};

// The sort key of a dtype: an unsigned integer of the same width.
template <typename T>
using key_t = typename UnsignedOf<sizeof(T)>::type;

// IEEE bits -> a key ordered as the values: negatives flipped whole,
// positives get the sign bit. Zeros collapse to +0 so -0.0 and 0.0 tie (the
// CPU's stable sort keeps them in input order); NaNs all take the largest
// key, above +inf, and so tie and come last in input order.
template <typename U>
__device__ inline U float_key(U bits, U inf_bits) {
  constexpr U kSign = U(1) << (sizeof(U) * 8 - 1);
  U mag = bits & U(~kSign);
  if (mag > inf_bits) return U(~U(0));
  if (mag == 0) return kSign;
  return (bits & kSign) ? U(~bits) : U(bits | kSign);
}

template <typename T>
__device__ inline key_t<T> sort_key(T x) {
  using U = key_t<T>;
  if constexpr (std::is_same_v<T, bool>) {
    return static_cast<U>(x);
  } else if constexpr (std::is_same_v<T, __half>) {
    return float_key<U>(__half_as_ushort(x), 0x7c00u);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return float_key<U>(__bfloat16_as_ushort(x), 0x7f80u);
  } else if constexpr (std::is_same_v<T, float>) {
    return float_key<U>(__float_as_uint(x), 0x7f800000u);
  } else if constexpr (std::is_same_v<T, double>) {
    return float_key<U>(static_cast<U>(__double_as_longlong(x)), 0x7ff0000000000000ull);
  } else if constexpr (std::is_signed_v<T>) {
    return static_cast<U>(static_cast<U>(x) ^ (U(1) << (sizeof(U) * 8 - 1)));
  } else {
    return static_cast<U>(x);
  }
}

__device__ inline int64_t thread_index() {
  return blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

template <typename T>
__global__ void keys_kernel(const T* x, key_t<T>* keys, uint32_t* pos, int64_t total, int64_t n) {
  for (int64_t i = thread_index(); i < total; i += grid_stride()) {
    keys[i] = sort_key(x[i]);
    pos[i] = static_cast<uint32_t>(i % n);
  }
}

// Row offsets of `segments` rows of n: 0, n, 2n, ...
__global__ void offsets_kernel(int* offsets, int64_t segments, int n) {
  for (int64_t s = thread_index(); s <= segments; s += grid_stride()) {
    offsets[s] = static_cast<int>(s * n);
  }
}

// out[i] = x[row start + pos[i]]: the sorted values of each row.
template <typename U>
__global__ void take_rows_kernel(const U* x, const uint32_t* pos, U* out, int64_t total,
                                 int64_t n) {
  for (int64_t i = thread_index(); i < total; i += grid_stride()) {
    out[i] = x[(i / n) * n + pos[i]];
  }
}

Dtype unsigned_dtype(int itemsize) {
  switch (itemsize) {
    case 1: return uint8;
    case 2: return uint16;
    case 4: return uint32;
    default: return uint64;
  }
}

// Sorts each row of n (keys, positions) pairs, `segments` rows, in the
// double buffers keys[0|1], pos[0|1] (input in [0]). Returns which
// positions buffer holds the result.
template <typename U>
int sort_pairs(cuda::CommandEncoder& enc, U* keys[2], uint32_t* pos[2], int64_t segments,
               int64_t n) {
  cudaStream_t stream = enc.cuda_stream();
  // One row per call spreads it over the GPU; DeviceSegmentedSort gives a
  // long row to one block, which only pays when there are many rows.
  bool per_row = segments == 1 || n > INT_MAX || (n >= (int64_t(1) << 16) && segments <= 32);
  int64_t rows_per_call = per_row ? 1 : std::min<int64_t>(segments, INT_MAX / n);
  int64_t last_rows = segments - (segments - 1) / rows_per_call * rows_per_call;

  int* offsets = nullptr;
  if (!per_row) {
    array o = cuda::temporary(enc, {rows_per_call + 1}, int32);
    offsets = static_cast<int*>(o.raw_ptr());
    offsets_kernel<<<cuda::grid_for(rows_per_call + 1), cuda::kBlock, 0, stream>>>(
        offsets, rows_per_call, static_cast<int>(n));
    cuda::check_launch("[sort] offsets kernel");
  }

  auto call = [&](void* scratch, size_t& bytes, int64_t base, int64_t rows) {
    cub::DoubleBuffer<U> dk(keys[0] + base, keys[1] + base);
    cub::DoubleBuffer<uint32_t> dp(pos[0] + base, pos[1] + base);
    cudaError_t e;
    if (per_row) {
      e = cub::DeviceRadixSort::SortPairs(scratch, bytes, dk, dp, static_cast<uint32_t>(n), 0,
                                          static_cast<int>(sizeof(U) * 8), stream);
    } else {
      e = cub::DeviceSegmentedSort::StableSortPairs(scratch, bytes, dk, dp, rows * n, rows, offsets,
                                                    offsets + 1, stream);
    }
    cuda::check(e, "[sort] cub");
    return dp.selector;
  };

  // Calls differ at most in the last one's row count.
  size_t bytes = 0, b = 0;
  call(nullptr, bytes, 0, rows_per_call);
  if (last_rows != rows_per_call) {
    call(nullptr, b, 0, last_rows);
    bytes = std::max(bytes, b);
  }
  array scratch = cuda::temporary(enc, {static_cast<int64_t>(std::max<size_t>(bytes, 1))}, uint8);

  int want = -1;
  for (int64_t s0 = 0; s0 < segments; s0 += rows_per_call) {
    int64_t rows = std::min(rows_per_call, segments - s0), base = s0 * n;
    size_t call_bytes = bytes;
    int sel = call(scratch.raw_ptr(), call_bytes, base, rows);
    if (want < 0) {
      want = sel;
    } else if (sel != want) {
      // Same-shaped calls end in the same buffer; should one not, move its
      // positions where the others are.
      cuda::check(cudaMemcpyAsync(pos[want] + base, pos[sel] + base, rows * n * sizeof(uint32_t),
                                  cudaMemcpyDeviceToDevice, stream),
                  "[sort] cudaMemcpyAsync");
    }
  }
  return want;
}

}  // namespace

void Sort::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  int64_t total = out.size();
  if (total == 0) return;
  int64_t n = in.shape()[axis_];
  if (n > UINT32_MAX) {
    throw not_implemented("[sort] GPU sort takes at most 2**32 - 1 elements along the axis");
  }
  if (n == 1) {
    if (indices_) {
      cuda::check(cudaMemsetAsync(out.raw_ptr(), 0, out.nbytes(), enc.cuda_stream()),
                  "[sort] cudaMemsetAsync");
    } else {
      cuda::copy_gpu(enc, in, out);
    }
    return;
  }

  // The sorted axis moved last, for the input and for out.
  auto sp = split_axis(in, out.strides(), axis_);
  Shape shape = std::move(sp.outer_shape);
  Strides in_strides = std::move(sp.in_outer), out_strides = std::move(sp.out_outer);
  shape.push_back(n);
  in_strides.push_back(sp.in_stride);
  out_strides.push_back(sp.out_stride);
  bool last = axis_ == in.ndim() - 1;
  array x = cuda::contiguous_gpu(enc, in.unsafe_weak_copy(shape, in_strides));
  int64_t segments = total / n;

  Dtype kd = unsigned_dtype(in.itemsize());
  array k0 = cuda::temporary(enc, shape, kd), k1 = cuda::temporary(enc, shape, kd);
  // ArgSort along the last axis sorts positions in place in out's buffer.
  array p0 = indices_ && last ? out : cuda::temporary(enc, shape, uint32);
  array p1 = cuda::temporary(enc, shape, uint32);
  uint32_t* pos[2] = {static_cast<uint32_t*>(p0.raw_ptr()), static_cast<uint32_t*>(p1.raw_ptr())};

  int sel = 0;
  cuda::dispatch_type(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_complex_v<T>) {
      throw std::logic_error("[sort] complex values have no order");
    } else {
      using U = key_t<T>;
      U* keys[2] = {static_cast<U*>(k0.raw_ptr()), static_cast<U*>(k1.raw_ptr())};
      keys_kernel<T><<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
          static_cast<const T*>(x.raw_ptr()), keys[0], pos[0], total, n);
      cuda::check_launch("[sort] keys kernel");
      sel = sort_pairs<U>(enc, keys, pos, segments, n);
    }
  });
  array sorted_pos = sel == 0 ? p0 : p1;

  array result = sorted_pos;  // row-major over `shape`
  if (!indices_) {
    result = last ? out : cuda::temporary(enc, shape, out.dtype());
    cuda::dispatch_bits(out.itemsize(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      take_rows_kernel<U><<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
          static_cast<const U*>(x.raw_ptr()), pos[sel], static_cast<U*>(result.raw_ptr()), total,
          n);
    });
    cuda::check_launch("[sort] take kernel");
  }
  if (last) {
    if (result.raw_ptr() != out.raw_ptr()) {
      cuda::check(cudaMemcpyAsync(out.raw_ptr(), result.raw_ptr(), out.nbytes(),
                                  cudaMemcpyDeviceToDevice, enc.cuda_stream()),
                  "[sort] cudaMemcpyAsync");
    }
  } else {
    cuda::copy_gpu(enc, result, out.unsafe_weak_copy(shape, out_strides));
  }
}

}  // namespace fastsync
