// GPU eval of Unary primitives: one grid-stride kernel per (op, dtype) pair
// the CPU supports. What an op computes, and for which dtypes, is
// backend/common/elementwise.h, the functors cpu/unary.cpp runs too.
//
// Half types compute in float and round back to nearest even. The output
// takes the layout the CPU gives it: a dense input (in any axis order) keeps
// its strides and is walked as one flat buffer, donated when possible; any
// other input is read through its strides into a row-contiguous output.
#include <stdexcept>
#include <type_traits>

#include "backend/common/elementwise.h"
#include "backend/cuda/allocators.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/unary.h"

namespace fastsync {

namespace {

using cuda::Indexer;
using elementwise::UnaryFn;

// `flat`: input and output share a dense layout; element i of the buffer
// maps to element i. Otherwise i is the row-major index, the input is read
// through `ix` and the output is row-contiguous.
// T: the stored input type; O: the stored output type (T, or float for the
// parts and magnitude of a complex value).
template <UnaryOp op, typename T, typename O>
__global__ void unary_kernel(const T* in, O* out, int64_t n, bool flat, Indexer<1> ix) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
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
    out[i] = cuda::narrow<O>(UnaryFn<op>{}(cuda::widen(in[off])));
  }
}

// The flat case in 16-byte units when the output has the input's type (as
// binary_flat16 in binary.cu).
template <UnaryOp op, typename T>
__global__ void unary_flat16(const T* in, T* out, int64_t n) {
  constexpr int V = 16 / sizeof(T);
  const int64_t units = n / V;
  const int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t u = tid; u < units; u += step) {
    uint4 x = reinterpret_cast<const uint4*>(in)[u];
    uint4 z;
    const T* px = reinterpret_cast<const T*>(&x);
    T* pz = reinterpret_cast<T*>(&z);
#pragma unroll
    for (int k = 0; k < V; ++k) pz[k] = cuda::narrow<T>(UnaryFn<op>{}(cuda::widen(px[k])));
    reinterpret_cast<uint4*>(out)[u] = z;
  }
  const int64_t i = units * V + tid;
  if (i < n) out[i] = cuda::narrow<T>(UnaryFn<op>{}(cuda::widen(in[i])));
}

template <UnaryOp op>
void launch_unary(cuda::CommandEncoder& enc, const array& in, const array& out, int64_t n,
                  bool flat) {
  Indexer<1> ix{};
  if (!flat) ix = cuda::make_indexer<1>(out.shape(), {&in.strides()}, "unary");
  cuda::dispatch_type(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    if constexpr (elementwise::unary_supports<op, C>()) {
      using R = elementwise::unary_result_t<op, C>;
      using O = std::conditional_t<std::is_same_v<R, C>, T, R>;
      if constexpr (std::is_same_v<O, T> && sizeof(T) <= 4) {
        if (flat && cuda::aligned16({in.raw_ptr(), out.raw_ptr()})) {
          const int64_t units = n / (16 / sizeof(T));
          cuda::launch(enc, unary_flat16<op, T>, cuda::grid_for(units), cuda::kBlock, 0,
                       "[unary] kernel", static_cast<const T*>(in.raw_ptr()),
                       static_cast<T*>(out.raw_ptr()), n);
          return;
        }
      }
      cuda::launch(enc, unary_kernel<op, T, O>, cuda::grid_for(n), cuda::kBlock, 0,
                   "[unary] kernel", static_cast<const T*>(in.raw_ptr()),
                   static_cast<O*>(out.raw_ptr()), n, flat, ix);
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
      out.set_data(cuda::device_allocator().malloc(in.data_size() * out.itemsize()));
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
