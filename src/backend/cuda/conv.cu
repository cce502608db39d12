// GPU convolutions. Convolution and its two gradients are single cuDNN
// executions: through the graph API's plan kept per shape (cudnn_graph.h),
// or, where that has no engine or FASTSYNC_CUDNN_GRAPH=0, through the legacy
// API (cudnn.h) with the fastest algorithm of cuDNN's measured search (or
// its heuristic first choice), chosen once per shape and kept. Workspaces
// come from the stream's allocator. They end the stream's captured CUDA
// graph first (cuDNN may load kernels on a first call, which a capture
// forbids).
//
// GPU kernels for the patch primitives (Im2Col, Col2Im): one thread per
// output element, the index math of backend/common/conv.h (the CPU kernels'
// too, so both backends pad, stride, dilate and flip identically). Inputs
// are read through their strides; outputs are row-contiguous. Col2Im
// gathers (each input sample sums the patch entries that read it), so it
// needs no atomics and is deterministic.
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "backend/common/conv.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/cudnn.h"
#include "backend/cuda/cudnn_graph.h"
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

namespace {

using cuda::cudnn::Pass;

// What picks an algorithm: the pass and every descriptor parameter.
struct AlgoKey {
  Pass pass;
  int64_t batch, c_in, c_out;
  Dtype::Val dtype;
  int dims;
  int64_t groups;
  bool flip;
  std::array<int64_t, 3 * 6> geometry;
  auto tie() const {
    return std::tie(pass, batch, c_in, c_out, dtype, dims, groups, flip, geometry);
  }
  bool operator<(const AlgoKey& o) const { return tie() < o.tie(); }
};

AlgoKey key_of(Pass pass, const ConvGeometry& g, int64_t batch, int64_t c_in, int64_t c_out,
               Dtype t) {
  AlgoKey k{pass, batch, c_in, c_out, t.val, g.dims, g.groups, g.flip, {}};
  for (int d = 0; d < kMaxConvDims; ++d) {
    k.geometry[d * 6 + 0] = g.in[d];
    k.geometry[d * 6 + 1] = g.kernel[d];
    k.geometry[d * 6 + 2] = g.out[d];
    k.geometry[d * 6 + 3] = g.stride[d];
    k.geometry[d * 6 + 4] = g.pad_lo[d];
    k.geometry[d * 6 + 5] = g.kernel_dilation[d];
  }
  return k;
}

std::mutex algos_mutex;
auto* algos = new std::map<AlgoKey, int>();  // never destroyed, as the handles

// Scratch for the measured search; algorithms that need more are skipped.
constexpr size_t kSearchWorkspace = size_t(128) << 20;

void* workspace(cuda::CommandEncoder& enc, size_t bytes);

// The algorithm for `key`, chosen once per shape and kept: the fastest of
// cuDNN's measured search (`find`: every algorithm run once on this call's
// buffers, the way XLA autotunes its convolutions; it waits for the stream),
// or cuDNN's heuristic first choice (`query`) where the library lacks the
// search or FASTSYNC_CUDNN_AUTOTUNE=0.
template <typename Query, typename Find>
int pick(cuda::CommandEncoder& enc, const AlgoKey& key, const char* what, Query query,
         bool can_find, Find find) {
  {
    std::lock_guard lk(algos_mutex);
    auto it = algos->find(key);
    if (it != algos->end()) return it->second;
  }
  cuda::cudnn::AlgoPerf perf[16];
  int count = 0;
  if (can_find && cuda::cudnn::autotune()) {
    cuda::cudnn::check(find(16, &count, perf, workspace(enc, kSearchWorkspace), kSearchWorkspace),
                       "conv", what);
  } else {
    cuda::cudnn::check(query(16, &count, perf), "conv", what);
  }
  int algo = -1;
  for (int i = 0; i < count && algo < 0; ++i) {
    if (perf[i].status == 0) algo = perf[i].algo;
  }
  if (algo < 0) throw std::runtime_error(std::string("[conv] cuDNN has no algorithm for ") + what);
  std::lock_guard lk(algos_mutex);
  algos->emplace(key, algo);
  return algo;
}

struct Scalars {
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  const void* one(Dtype t) const { return t == float64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(Dtype t) const { return t == float64 ? static_cast<const void*>(&d0) : &f0; }
};

void* workspace(cuda::CommandEncoder& enc, size_t bytes) {
  if (bytes == 0) return nullptr;
  return cuda::temporary(enc, {static_cast<int64_t>(bytes)}, uint8).raw_ptr();
}

// Row-contiguous inputs (cuDNN is given packed channels-last layouts), the
// output allocated and everything declared to the encoder.
std::pair<array, array> begin(cuda::CommandEncoder& enc, const std::vector<array>& inputs,
                              array& out) {
  enc.end_graph();
  for (const array& in : inputs) enc.set_input_array(in);
  cuda::alloc(out);
  enc.set_output_array(out);
  return {cuda::contiguous_gpu(enc, inputs[0]), cuda::contiguous_gpu(enc, inputs[1])};
}

}  // namespace

void Convolution::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  namespace dnn = cuda::cudnn;
  auto& enc = cuda::encoder_for(*this);
  array& y = outputs[0];
  auto [x, w] = begin(enc, inputs, y);
  if (y.size() == 0) return;
  const int64_t n = x.shape(0), c = x.shape(-1), o = w.shape(0);
  if (dnn::run_graph(enc, Pass::forward, geometry_, n, c, o, y.dtype(),
                     {x.raw_ptr(), w.raw_ptr(), y.raw_ptr()})) {
    return;
  }
  const dnn::Api& a = *dnn::api();
  dnn::Handle h = dnn::handle(enc);
  dnn::Descriptors d(geometry_, n, c, o, y.dtype());
  int algo = pick(
      enc, key_of(Pass::forward, geometry_, n, c, o, y.dtype()), "the forward algorithm",
      [&](int want, int* got, auto* perf) {
        return a.GetForwardAlgorithm(h, d.x, d.w, d.conv, d.y, want, got, perf);
      },
      a.FindForward != nullptr,
      [&](int want, int* got, auto* perf, void* ws, size_t bytes) {
        return a.FindForward(h, d.x, x.raw_ptr(), d.w, w.raw_ptr(), d.conv, d.y, y.raw_ptr(), want,
                             got, perf, ws, bytes);
      });
  size_t bytes = 0;
  dnn::check(a.GetForwardWorkspace(h, d.x, d.w, d.conv, d.y, algo, &bytes), "conv",
             "cudnnGetConvolutionForwardWorkspaceSize");
  Scalars k;
  dnn::check(a.Forward(h, k.one(y.dtype()), d.x, x.raw_ptr(), d.w, w.raw_ptr(), d.conv, algo,
                       workspace(enc, bytes), bytes, k.zero(y.dtype()), d.y, y.raw_ptr()),
             "conv", "cudnnConvolutionForward");
}

void ConvolutionInputGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  namespace dnn = cuda::cudnn;
  auto& enc = cuda::encoder_for(*this);
  array& dx = outputs[0];
  auto [w, dy] = begin(enc, inputs, dx);
  if (dx.size() == 0) return;
  const int64_t n = dx.shape(0), c = dx.shape(-1), o = w.shape(0);
  if (dnn::run_graph(enc, Pass::input_grad, geometry_, n, c, o, dx.dtype(),
                     {dx.raw_ptr(), w.raw_ptr(), dy.raw_ptr()})) {
    return;
  }
  const dnn::Api& a = *dnn::api();
  dnn::Handle h = dnn::handle(enc);
  dnn::Descriptors d(geometry_, n, c, o, dx.dtype());
  int algo = pick(
      enc, key_of(Pass::input_grad, geometry_, n, c, o, dx.dtype()), "the input gradient algorithm",
      [&](int want, int* got, auto* perf) {
        return a.GetBackwardDataAlgorithm(h, d.w, d.y, d.conv, d.x, want, got, perf);
      },
      a.FindBackwardData != nullptr,
      [&](int want, int* got, auto* perf, void* ws, size_t bytes) {
        return a.FindBackwardData(h, d.w, w.raw_ptr(), d.y, dy.raw_ptr(), d.conv, d.x, dx.raw_ptr(),
                                  want, got, perf, ws, bytes);
      });
  size_t bytes = 0;
  dnn::check(a.GetBackwardDataWorkspace(h, d.w, d.y, d.conv, d.x, algo, &bytes), "conv",
             "cudnnGetConvolutionBackwardDataWorkspaceSize");
  Scalars k;
  dnn::check(a.BackwardData(h, k.one(dx.dtype()), d.w, w.raw_ptr(), d.y, dy.raw_ptr(), d.conv, algo,
                            workspace(enc, bytes), bytes, k.zero(dx.dtype()), d.x, dx.raw_ptr()),
             "conv", "cudnnConvolutionBackwardData");
}

void ConvolutionWeightGrad::eval_gpu(const std::vector<array>& inputs,
                                     std::vector<array>& outputs) {
  namespace dnn = cuda::cudnn;
  auto& enc = cuda::encoder_for(*this);
  array& dw = outputs[0];
  auto [x, dy] = begin(enc, inputs, dw);
  if (dw.size() == 0) return;
  if (x.size() == 0) {
    // No images: a zero gradient.
    cuda::check(cudaMemsetAsync(dw.raw_ptr(), 0, dw.nbytes(), enc.cuda_stream()),
                "cudaMemsetAsync");
    return;
  }
  const int64_t n = x.shape(0), c = x.shape(-1), o = dw.shape(0);
  if (dnn::run_graph(enc, Pass::weight_grad, geometry_, n, c, o, dw.dtype(),
                     {x.raw_ptr(), dw.raw_ptr(), dy.raw_ptr()})) {
    return;
  }
  const dnn::Api& a = *dnn::api();
  dnn::Handle h = dnn::handle(enc);
  dnn::Descriptors d(geometry_, n, c, o, dw.dtype());
  int algo = pick(
      enc, key_of(Pass::weight_grad, geometry_, n, c, o, dw.dtype()),
      "the weight gradient algorithm",
      [&](int want, int* got, auto* perf) {
        return a.GetBackwardFilterAlgorithm(h, d.x, d.y, d.conv, d.w, want, got, perf);
      },
      a.FindBackwardFilter != nullptr,
      [&](int want, int* got, auto* perf, void* ws, size_t bytes) {
        return a.FindBackwardFilter(h, d.x, x.raw_ptr(), d.y, dy.raw_ptr(), d.conv, d.w,
                                    dw.raw_ptr(), want, got, perf, ws, bytes);
      });
  size_t bytes = 0;
  dnn::check(a.GetBackwardFilterWorkspace(h, d.x, d.y, d.conv, d.w, algo, &bytes), "conv",
             "cudnnGetConvolutionBackwardFilterWorkspaceSize");
  Scalars k;
  dnn::check(
      a.BackwardFilter(h, k.one(dw.dtype()), d.x, x.raw_ptr(), d.y, dy.raw_ptr(), d.conv, algo,
                       workspace(enc, bytes), bytes, k.zero(dw.dtype()), d.w, dw.raw_ptr()),
      "conv", "cudnnConvolutionBackwardFilter");
}

}  // namespace fastsync
