// CPU kernels for the patch primitives (Im2Col, Col2Im); the index math is
// backend/common/conv.h's, shared with the CUDA kernels.
//
// eval_cpu (encoding thread) allocates the row-contiguous output and
// captures the input's view (any strides: broadcast and transposed views
// are read in place); the task walks the output in chunks on the kernel
// pool. Im2Col copies one run of C / G channels per (image, position,
// group, tap); Col2Im computes each input sample as the sum of the patch
// entries that read it, so no two threads ever write one element and the
// result does not depend on the thread count.
#include "primitives/conv.h"

#include <vector>

#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"

namespace fastsync {

namespace {

template <typename T>
constexpr bool is_conv_type_v = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;

// Calls f(T{}) for the dtypes convolutions support; the ops layer has
// rejected the others before a primitive is built.
template <typename F>
void dispatch_conv_dtype(Dtype d, F&& f) {
  dispatch_dtype(d, [&](auto tag) {
    if constexpr (is_conv_type_v<decltype(tag)>) f(tag);
  });
}

// Splits a linear index over `extent` (innermost last) into `idx`.
inline void unravel(int64_t i, const int64_t* extent, int n, int64_t* idx) {
  for (int d = n - 1; d >= 0; --d) {
    idx[d] = i % extent[d];
    i /= extent[d];
  }
}

template <typename T>
void im2col(const ConvGeometry& g, array x, array out) {
  const int D = g.dims;
  const int64_t cg = out.shape(-1);
  const Strides& xs = x.strides();  // (N, *in, C)
  const int64_t cs = xs[D + 1];
  const int64_t taps = g.kernel_size();
  const int64_t positions = g.out_size();
  const int64_t units = out.shape(0) * positions * g.groups * taps;
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  const T zero = T(0.0f);
  cpu::parallel_for(units, std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(cg, 1)),
                    [&](int64_t begin, int64_t end) {
                      int64_t o[kMaxConvDims], k[kMaxConvDims];
                      for (int64_t u = begin; u < end; ++u) {
                        T* y = dst + u * cg;
                        int64_t rest = u;
                        unravel(rest % taps, g.kernel, D, k);
                        rest /= taps;
                        int64_t grp = rest % g.groups;
                        rest /= g.groups;
                        unravel(rest % positions, g.out, D, o);
                        int64_t n = rest / positions;
                        int64_t off = n * xs[0] + grp * cg * cs;
                        bool inside = true;
                        for (int d = 0; d < D && inside; ++d) {
                          int64_t i = g.input_at(d, o[d], k[d]);
                          inside = i >= 0;
                          off += i * xs[d + 1];
                        }
                        if (!inside) {
                          for (int64_t c = 0; c < cg; ++c) y[c] = zero;
                        } else if (cs == 1) {
                          for (int64_t c = 0; c < cg; ++c) y[c] = src[off + c];
                        } else {
                          for (int64_t c = 0; c < cg; ++c) y[c] = src[off + c * cs];
                        }
                      }
                    });
}

template <typename T>
void col2im(const ConvGeometry& g, array p, array out) {
  using C = compute_t<T>;
  const int D = g.dims;
  const int64_t cg = p.shape(-1);
  const int64_t channels = cg * g.groups;
  const Strides& ps = p.strides();  // (N, *out, G, *kernel, Cg)
  const int64_t gs = ps[D + 1];
  const int64_t cs = ps[2 * D + 2];
  const int64_t taps = g.kernel_size();
  const int64_t pixels = g.in_size();
  const int64_t units = out.shape(0) * pixels;
  const T* src = p.data<T>();
  T* dst = out.data<T>();
  cpu::parallel_for(
      units, std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(channels * taps, 1)),
      [&](int64_t begin, int64_t end) {
        std::vector<C> acc(channels);
        int64_t i[kMaxConvDims], k[kMaxConvDims];
        for (int64_t u = begin; u < end; ++u) {
          std::fill(acc.begin(), acc.end(), C(0));
          unravel(u % pixels, g.in, D, i);
          int64_t n = u / pixels;
          for (int64_t t = 0; t < taps; ++t) {
            unravel(t, g.kernel, D, k);
            int64_t off = n * ps[0];
            bool hit = true;
            for (int d = 0; d < D && hit; ++d) {
              int64_t o = g.output_at(d, i[d], k[d]);
              hit = o >= 0;
              off += o * ps[d + 1] + k[d] * ps[D + 2 + d];
            }
            if (!hit) continue;
            for (int64_t grp = 0; grp < g.groups; ++grp) {
              const T* x = src + off + grp * gs;
              C* a = acc.data() + grp * cg;
              for (int64_t c = 0; c < cg; ++c) a[c] += C(x[c * cs]);
            }
          }
          T* y = dst + u * channels;
          for (int64_t c = 0; c < channels; ++c) y[c] = T(acc[c]);
        }
      });
}

}  // namespace

void Im2Col::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::begin_op(*this, inputs[0], outputs[0]);
  if (outputs[0].size() == 0) return;
  enc.dispatch(
      [g = geometry_, x = inputs[0].unsafe_weak_copy(), out = outputs[0].unsafe_weak_copy()]() {
        dispatch_conv_dtype(out.dtype(), [&](auto tag) { im2col<decltype(tag)>(g, x, out); });
      });
}

void Col2Im::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::begin_op(*this, inputs[0], outputs[0]);
  if (outputs[0].size() == 0) return;
  enc.dispatch(
      [g = geometry_, p = inputs[0].unsafe_weak_copy(), out = outputs[0].unsafe_weak_copy()]() {
        dispatch_conv_dtype(out.dtype(), [&](auto tag) { col2im<decltype(tag)>(g, p, out); });
      });
}

}  // namespace fastsync
