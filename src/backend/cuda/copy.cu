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
  } else if constexpr (std::is_same_v<Out, __nv_bfloat16> && std::is_same_v<C, double>) {
    return __double2bfloat16(c);  // one rounding, as the CPU's copy (round to odd first)
  } else {
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
  cuda::launch(enc, copy_kernel<In, Out>, grid_for(n), kBlock, 0, "[copy] kernel",
               static_cast<const In*>(src.raw_ptr()), static_cast<Out*>(dst.raw_ptr()), n, ix);
}

// Same-dtype copies whose merged last dimension is dense on both sides move
// in units of up to 16 bytes: one index computation and one memory
// transaction per unit instead of per element (a bfloat16 reshape of a
// transposed view moved 2 bytes a thread, dividing 64-bit indices for each).
using CopyPlan = StridedPlan<2>;

bool copy_in_units(CommandEncoder& enc, const array& src, const array& dst, const CopyPlan& plan) {
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
      cuda::launch(enc, copy_kernel<U, U>, grid_for(n), kBlock, 0, "[copy] kernel",
                   static_cast<const U*>(src.raw_ptr()), static_cast<U*>(dst.raw_ptr()), n, ix);
    };
    if (bytes == 16) run(uint4{});
    if (bytes == 8) run(uint2{});
    if (bytes == 4) run(uint32_t{});
    return true;
  }
  return false;
}

// A same-dtype copy that reads one axis with unit stride and writes the last
// with unit stride (a transpose: a weight gradient handed to the optimizer's
// fused update, a matrix made contiguous) moves through tiles in shared
// memory, so that both its reads and its writes are runs of 32 neighbours.
// Element by element, each warp's reads of a bfloat16 transpose touched 32
// sectors for 64 useful bytes: a 4096x1024 gradient took 33 us on an H100,
// about 0.5 TB/s.
// A block moves a 64x64 tile: each thread has 16 loads in flight before it
// stores (32x32 tiles, 4 loads a thread, left too few bytes in flight per
// SM to reach the memory's bandwidth).
constexpr int kTile = 64;
constexpr int kTileX = 32, kTileY = 8;  // the block's threads
constexpr int kPerX = kTile / kTileX, kPerY = kTile / kTileY;

struct TileArgs {
  int64_t rows, cols;  // the axis src reads densely, the axis dst writes densely
  int64_t src_col, dst_row;
  int n_batch;  // up to 2 further axes, walked by blockIdx.z
  int64_t batch[2], src_batch[2], dst_batch[2];
};

template <typename U>
__global__ void transpose_kernel(const U* src, U* dst, TileArgs a) {
  __shared__ U tile[kTile][kTile + 1];
  int64_t b = blockIdx.z, o0 = 0, o1 = 0;
  for (int d = a.n_batch - 1; d >= 0; --d) {
    const int64_t i = b % a.batch[d];
    b /= a.batch[d];
    o0 += i * a.src_batch[d];
    o1 += i * a.dst_batch[d];
  }
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kTile;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  U v[kPerY][kPerX] = {};
#pragma unroll
  for (int k = 0; k < kPerY; ++k) {
#pragma unroll
    for (int h = 0; h < kPerX; ++h) {
      const int64_t r = r0 + tx + h * kTileX, c = c0 + ty + k * kTileY;
      if (r < a.rows && c < a.cols) v[k][h] = src[o0 + r + c * a.src_col];
    }
  }
#pragma unroll
  for (int k = 0; k < kPerY; ++k) {
#pragma unroll
    for (int h = 0; h < kPerX; ++h) tile[ty + k * kTileY][tx + h * kTileX] = v[k][h];
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < kPerY; ++k) {
#pragma unroll
    for (int h = 0; h < kPerX; ++h) {
      const int64_t r = r0 + ty + k * kTileY, c = c0 + tx + h * kTileX;
      if (r < a.rows && c < a.cols) {
        dst[o1 + r * a.dst_row + c] = tile[tx + h * kTileX][ty + k * kTileY];
      }
    }
  }
}

bool copy_in_tiles(CommandEncoder& enc, const array& src, const array& dst, const CopyPlan& plan) {
  const int nd = plan.shape.size();
  if (nd < 2 || nd > 4 || plan.strides[1][nd - 1] != 1 || plan.strides[0][nd - 1] == 1) {
    return false;
  }
  int j = -1;  // the axis src reads with unit stride
  for (int d = nd - 2; d >= 0 && j < 0; --d) {
    if (plan.strides[0][d] == 1) j = d;
  }
  if (j < 0 || plan.shape[j] < 16 || plan.shape[nd - 1] < 16) return false;
  TileArgs a{};
  a.rows = plan.shape[j];
  a.cols = plan.shape[nd - 1];
  a.src_col = plan.strides[0][nd - 1];
  a.dst_row = plan.strides[1][j];
  int64_t batches = 1;
  for (int d = 0; d < nd - 1; ++d) {
    if (d == j) continue;
    a.batch[a.n_batch] = plan.shape[d];
    a.src_batch[a.n_batch] = plan.strides[0][d];
    a.dst_batch[a.n_batch] = plan.strides[1][d];
    ++a.n_batch;
    batches *= plan.shape[d];
  }
  const int64_t row_tiles = (a.rows + kTile - 1) / kTile;
  const int64_t col_tiles = (a.cols + kTile - 1) / kTile;
  if (row_tiles > 65535 || batches > 65535 || col_tiles > INT32_MAX) return false;
  dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_tiles),
            static_cast<unsigned>(batches));
  dispatch_bits(src.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    cuda::launch(enc, transpose_kernel<U>, grid, dim3(kTileX, kTileY), 0, "[copy] transpose kernel",
                 static_cast<const U*>(src.raw_ptr()), static_cast<U*>(dst.raw_ptr()), a);
  });
  return true;
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
    // The merged axes both faster paths look at, planned once.
    const auto plan = make_plan<2>(dst.shape(), {&src.strides(), &dst.strides()});
    if (copy_in_units(enc, src, dst, plan) || copy_in_tiles(enc, src, dst, plan)) return;
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
