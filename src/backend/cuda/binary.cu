// GPU eval of Binary, DivMod and Select: one grid-stride kernel per (op,
// dtype) pair the CPU supports. What an op computes, and for which dtypes,
// is backend/common/elementwise.h, the functors cpu/binary.cpp runs too
// (NumPy's floor division and remainder, 0 for integer division by zero,
// its NaN handling in maximum/minimum, wrapping integer arithmetic); half
// types compute in float and round back to nearest even.
//
// Outputs are dense and the kernels write element i at i of the buffer. An
// output takes the layout of its operands when they are all one dense
// non-row-major layout (a transpose) or scalars (alloc_like_operands, as on
// the CPU): `transpose(x) + 1` is then one flat pass, as in PyTorch, not a
// strided gather. Otherwise the output is row-contiguous (fresh, or a
// donated same-shaped input). Inputs laid out like the output are read at
// i, scalars at 0 (both in 16-byte units where types and alignment allow),
// others through their broadcast strides, merged by make_indexer: a
// contiguous operand then costs one multiply per element, not a division
// per dimension.
#include <stdexcept>

#include "backend/common/buffers.h"
#include "backend/common/elementwise.h"
#include "backend/cuda/allocators.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/binary.h"

namespace fastsync {

namespace {

using cuda::Indexer;
using elementwise::BinaryFn;

// Offsets of N operands at row-major index i: i itself when all are
// row-contiguous like the output, one multiply for one merged dimension.
template <int N>
__device__ inline void offsets_at(const Indexer<N>& ix, bool flat, int64_t i, int64_t (&off)[N]) {
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

template <BinaryOp op, typename T, typename O>
__global__ void binary_kernel(const T* a, const T* b, O* out, int64_t n, bool flat, Indexer<2> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    int64_t off[2];
    offsets_at(ix, flat, i, off);
    out[i] = cuda::narrow<O>(BinaryFn<op>{}(cuda::widen(a[off[0]]), cuda::widen(b[off[1]])));
  }
}

// The flat case in 16-byte units when the output has the inputs' type, the
// bulk of a model's elementwise traffic (a bfloat16 thread moved 2 bytes a
// load); the last n % V elements one a thread.
// A scalar operand (a_scalar / b_scalar) is one value splatted into every
// unit: `x * 0.5` streams like `x * y`.
template <typename T>
__device__ inline uint4 splat16(T v) {
  uint4 u;
  T* p = reinterpret_cast<T*>(&u);
#pragma unroll
  for (int k = 0; k < 16 / static_cast<int>(sizeof(T)); ++k) p[k] = v;
  return u;
}

template <BinaryOp op, typename T>
__global__ void binary_flat16(const T* a, const T* b, T* out, int64_t n, bool a_scalar,
                              bool b_scalar) {
  constexpr int V = 16 / sizeof(T);
  const int64_t units = n / V;
  const int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const uint4 as = a_scalar ? splat16(a[0]) : uint4{};
  const uint4 bs = b_scalar ? splat16(b[0]) : uint4{};
  for (int64_t u = tid; u < units; u += step) {
    uint4 x = a_scalar ? as : reinterpret_cast<const uint4*>(a)[u];
    uint4 y = b_scalar ? bs : reinterpret_cast<const uint4*>(b)[u];
    uint4 z;
    const T* px = reinterpret_cast<const T*>(&x);
    const T* py = reinterpret_cast<const T*>(&y);
    T* pz = reinterpret_cast<T*>(&z);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      pz[k] = cuda::narrow<T>(BinaryFn<op>{}(cuda::widen(px[k]), cuda::widen(py[k])));
    }
    reinterpret_cast<uint4*>(out)[u] = z;
  }
  const int64_t i = units * V + tid;
  if (i < n) {
    out[i] = cuda::narrow<T>(
        BinaryFn<op>{}(cuda::widen(a[a_scalar ? 0 : i]), cuda::widen(b[b_scalar ? 0 : i])));
  }
}

template <typename T>
__global__ void divmod_kernel(const T* a, const T* b, T* q, T* r, int64_t n, bool flat,
                              Indexer<2> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    int64_t off[2];
    offsets_at(ix, flat, i, off);
    auto x = cuda::widen(a[off[0]]);
    auto y = cuda::widen(b[off[1]]);
    q[i] = cuda::narrow<T>(BinaryFn<BinaryOp::floor_divide>{}(x, y));
    r[i] = cuda::narrow<T>(BinaryFn<BinaryOp::remainder>{}(x, y));
  }
}

// Select moves values without looking at them: one kernel per element size.
template <typename B>
__global__ void select_kernel(const bool* cond, const B* x, const B* y, B* out, int64_t n,
                              bool flat, Indexer<3> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    int64_t off[3];
    offsets_at(ix, flat, i, off);
    out[i] = cond[off[0]] ? x[off[1]] : y[off[2]];
  }
}

// How N inputs are read for a dense output: `flat` when every input is laid
// out like it; `scalar` marks size-1 inputs when every other input is (one
// merged dimension, stride 0 for the scalars); else through broadcast
// strides, which only a row-contiguous output allows.
template <int N>
struct Reads {
  bool flat = true;
  bool scalar[N] = {};
  bool any_scalar = false;
  Indexer<N> ix{};
};

inline bool laid_out_like(const array& in, const array& out) {
  if (in.shape() != out.shape()) return false;
  if (out.flags().row_contiguous) return in.flags().row_contiguous;
  return in.strides() == out.strides();  // out is dense: so is an input with its strides
}

template <int N>
Reads<N> reads_for(const std::array<const array*, N>& ins, const array& out, const char* op) {
  Reads<N> r;
  bool dense_or_scalar = true;
  for (int k = 0; k < N; ++k) {
    const bool like = laid_out_like(*ins[k], out);
    r.scalar[k] = !like && ins[k]->size() == 1;
    r.flat = r.flat && like;
    dense_or_scalar = dense_or_scalar && (like || r.scalar[k]);
  }
  if (r.flat) return r;
  if (dense_or_scalar) {
    r.any_scalar = true;
    r.ix.ndim = 1;
    r.ix.shape[0] = out.size();
    for (int k = 0; k < N; ++k) r.ix.strides[k][0] = r.scalar[k] ? 0 : 1;
    return r;
  }
  if (!out.flags().row_contiguous) {
    throw std::logic_error(std::string("[") + op + "] strided reads into a non-row-major output");
  }
  std::array<Strides, N> strides;
  std::array<const Strides*, N> ptrs;
  for (int k = 0; k < N; ++k) {
    strides[k] = broadcast_strides(*ins[k], out.shape());
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
    if constexpr (!elementwise::binary_supports<op, compute_t<T>>()) {
      throw std::logic_error("[binary] dtype not supported by this op");
    } else {
      using O = elementwise::binary_result_t<op, T>;  // bool or T
      if constexpr (std::is_same_v<O, T> && sizeof(T) <= 4) {
        // A scalar's own address need not be aligned: it is read once.
        const void* pa = r.scalar[0] ? nullptr : a.raw_ptr();
        const void* pb = r.scalar[1] ? nullptr : b.raw_ptr();
        if ((r.flat || r.any_scalar) && cuda::aligned16({pa, pb, out.raw_ptr()})) {
          const int64_t units = n / (16 / sizeof(T));
          cuda::launch(enc, binary_flat16<op, T>, cuda::grid_for(units), cuda::kBlock, 0,
                       "[binary] kernel", static_cast<const T*>(a.raw_ptr()),
                       static_cast<const T*>(b.raw_ptr()), static_cast<T*>(out.raw_ptr()), n,
                       r.scalar[0], r.scalar[1]);
          return;
        }
      }
      cuda::launch(enc, binary_kernel<op, T, O>, cuda::grid_for(n), cuda::kBlock, 0,
                   "[binary] kernel", static_cast<const T*>(a.raw_ptr()),
                   static_cast<const T*>(b.raw_ptr()), static_cast<O*>(out.raw_ptr()), n, r.flat,
                   r.ix);
    }
  });
}

}  // namespace

void Binary::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  array& out = outputs[0];
  if (!alloc_like_operands({&a, &b}, out, cuda::device_allocator(), stream().index)) {
    donate_any_or_alloc({&a, &b}, out, cuda::device_allocator(), stream().index);
  }
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
    using C = compute_t<T>;
    if constexpr (!elementwise::binary_supports<BinaryOp::floor_divide, C>() ||
                  !elementwise::binary_supports<BinaryOp::remainder, C>()) {
      throw std::logic_error("[divmod] dtype not supported by this op");
    } else {
      cuda::launch(enc, divmod_kernel<T>, cuda::grid_for(n), cuda::kBlock, 0, "[divmod] kernel",
                   static_cast<const T*>(a.raw_ptr()), static_cast<const T*>(b.raw_ptr()),
                   static_cast<T*>(outputs[0].raw_ptr()), static_cast<T*>(outputs[1].raw_ptr()), n,
                   r.flat, r.ix);
    }
  });
}

namespace {
template <typename B>
void launch_select(cuda::CommandEncoder& enc, const std::vector<array>& in, const array& out,
                   const Reads<3>& r) {
  int64_t n = out.size();
  cuda::launch(enc, select_kernel<B>, cuda::grid_for(n), cuda::kBlock, 0, "[select] kernel",
               static_cast<const bool*>(in[0].raw_ptr()), static_cast<const B*>(in[1].raw_ptr()),
               static_cast<const B*>(in[2].raw_ptr()), static_cast<B*>(out.raw_ptr()), n, r.flat,
               r.ix);
}
}  // namespace

void Select::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& cond = inputs[0];
  const array& x = inputs[1];
  const array& y = inputs[2];
  array& out = outputs[0];
  if (!alloc_like_operands({&x, &y, &cond}, out, cuda::device_allocator(), stream().index)) {
    donate_any_or_alloc({&x, &y}, out, cuda::device_allocator(), stream().index);
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
