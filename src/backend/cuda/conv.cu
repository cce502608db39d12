// GPU kernels for the patch primitives (Im2Col, Col2Im): one thread per
// output element, the index math of backend/common/conv.h (the CPU kernels'
// too, so both backends pad, stride, dilate and flip identically). Inputs
// are read through their strides; outputs are row-contiguous. Col2Im
// gathers (each input sample sums the patch entries that read it), so it
// needs no atomics and is deterministic.
#include "backend/common/conv.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/conv.h"

namespace fastsync {

namespace {

// An input's strides, passed by value: (N, *spatial, C) for an image and
// (N, *out, G, *kernel, C / G) for patches.
struct ConvStrides {
  int64_t s[2 * kMaxConvDims + 3];
};

ConvStrides strides_of(const array& a) {
  ConvStrides cs{};
  for (int d = 0; d < a.ndim(); ++d) cs.s[d] = a.strides()[d];
  return cs;
}

__device__ inline void unravel(int64_t i, const int64_t* extent, int n, int64_t* idx) {
  for (int d = n - 1; d >= 0; --d) {
    idx[d] = i % extent[d];
    i /= extent[d];
  }
}

template <typename T>
__global__ void im2col_kernel(ConvGeometry g, const T* x, ConvStrides xs, T* out, int64_t cg,
                              int64_t total) {
  const int D = g.dims;
  const int64_t taps = g.kernel_size();
  const int64_t positions = g.out_size();
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += step) {
    int64_t c = e % cg;
    int64_t rest = e / cg;
    int64_t k[kMaxConvDims], o[kMaxConvDims];
    unravel(rest % taps, g.kernel, D, k);
    rest /= taps;
    int64_t grp = rest % g.groups;
    rest /= g.groups;
    unravel(rest % positions, g.out, D, o);
    int64_t n = rest / positions;
    int64_t off = n * xs.s[0] + (grp * cg + c) * xs.s[D + 1];
    bool inside = true;
    for (int d = 0; d < D && inside; ++d) {
      int64_t i = g.input_at(d, o[d], k[d]);
      inside = i >= 0;
      off += i * xs.s[d + 1];
    }
    out[e] = inside ? x[off] : cuda::narrow<T>(0.0f);
  }
}

template <typename T>
__global__ void col2im_kernel(ConvGeometry g, const T* p, ConvStrides ps, T* out, int64_t cg,
                              int64_t total) {
  const int D = g.dims;
  const int64_t channels = cg * g.groups;
  const int64_t taps = g.kernel_size();
  const int64_t pixels = g.in_size();
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += step) {
    int64_t ch = e % channels;
    int64_t u = e / channels;
    int64_t i[kMaxConvDims], k[kMaxConvDims];
    unravel(u % pixels, g.in, D, i);
    int64_t n = u / pixels;
    int64_t base = n * ps.s[0] + (ch / cg) * ps.s[D + 1] + (ch % cg) * ps.s[2 * D + 2];
    compute_t<T> acc = 0;
    for (int64_t t = 0; t < taps; ++t) {
      unravel(t, g.kernel, D, k);
      int64_t off = base;
      bool hit = true;
      for (int d = 0; d < D && hit; ++d) {
        int64_t o = g.output_at(d, i[d], k[d]);
        hit = o >= 0;
        off += o * ps.s[d + 1] + k[d] * ps.s[D + 2 + d];
      }
      if (hit) acc += cuda::widen(p[off]);
    }
    out[e] = cuda::narrow<T>(acc);
  }
}

// Calls f(TypeTag<T>{}) for the dtypes convolutions support (the ops layer
// rejected the others).
template <typename F>
void dispatch_conv_type(Dtype d, F&& f) {
  cuda::dispatch_type(d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (cuda::is_float_v<T>) f(tag);
  });
}

}  // namespace

void Im2Col::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& x = inputs[0];
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_input_array(x);
  enc.set_output_array(out);
  int64_t total = out.size();
  if (total == 0) return;
  dispatch_conv_type(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col_kernel<T><<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
        geometry_, static_cast<const T*>(x.raw_ptr()), strides_of(x),
        static_cast<T*>(out.raw_ptr()), out.shape(-1), total);
  });
  cuda::check_launch("[im2col] kernel");
}

void Col2Im::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& p = inputs[0];
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_input_array(p);
  enc.set_output_array(out);
  int64_t total = out.size();
  if (total == 0) return;
  dispatch_conv_type(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    col2im_kernel<T><<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
        geometry_, static_cast<const T*>(p.raw_ptr()), strides_of(p),
        static_cast<T*>(out.raw_ptr()), p.shape(-1), total);
  });
  cuda::check_launch("[col2im] kernel");
}

}  // namespace fastsync
