// CPU kernels for the patch primitives (Im2Col, Col2Im) and the patch
// gathers of patches.h; the index math is backend/common/conv.h's, shared
// with the CUDA kernels.
//
// eval_cpu (encoding thread) allocates the row-contiguous output and
// captures the input's view (any strides: broadcast and transposed views
// are read in place); the task walks the output in chunks on the kernel
// pool. Im2Col copies one run of C / G channels per (image, position,
// group, tap), a row of patches at a time; Col2Im computes each input
// sample as the sum of the patch entries that read it, so no two threads
// ever write one element and the result does not depend on the thread
// count.
#include "primitives/conv.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/parallel.h"
#include "backend/cpu/patches.h"
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

// One row at a time: the row's output position fixes, per spatial axis,
// which input sample each tap reads, so the taps are walked with additions
// only (the index math per copied run was most of this kernel's time).
template <typename T>
void im2col_typed(const ConvGeometry& g, const T* src, const Strides& xs, int64_t cg, int64_t row0,
                  int64_t rows, T* dst) {
  const int D = g.dims;
  const int64_t cs = xs[D + 1];
  const int64_t taps = g.kernel_size();
  const int64_t positions = g.out_size();
  const int64_t row_size = g.groups * taps * cg;
  int64_t axis_start[kMaxConvDims + 1] = {0};
  for (int d = 0; d < D; ++d) axis_start[d + 1] = axis_start[d] + g.kernel[d];
  cpu::parallel_for(rows,
                    std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(row_size, 1)),
                    [&](int64_t begin, int64_t end) {
                      // Per axis and tap: the element offset read, or -1 (padding).
                      std::vector<int64_t> tap_off(axis_start[D]);
                      std::vector<char> tap_in(axis_start[D]);
                      int64_t o[kMaxConvDims], k[kMaxConvDims];
                      for (int64_t r = begin; r < end; ++r) {
                        const int64_t row = row0 + r;
                        unravel(row % positions, g.out, D, o);
                        const int64_t n = row / positions;
                        for (int d = 0; d < D; ++d) {
                          for (int64_t t = 0; t < g.kernel[d]; ++t) {
                            const int64_t i = g.input_at(d, o[d], t);
                            tap_in[axis_start[d] + t] = i >= 0;
                            tap_off[axis_start[d] + t] = i >= 0 ? i * xs[d + 1] : 0;
                          }
                        }
                        T* y = dst + r * row_size;
                        for (int64_t grp = 0; grp < g.groups; ++grp) {
                          const int64_t base = n * xs[0] + grp * cg * cs;
                          for (int d = 0; d < D; ++d) k[d] = 0;
                          for (int64_t t = 0; t < taps; ++t, y += cg) {
                            int64_t off = base;
                            bool inside = true;
                            for (int d = 0; d < D; ++d) {
                              inside = inside && tap_in[axis_start[d] + k[d]];
                              off += tap_off[axis_start[d] + k[d]];
                            }
                            if (!inside) {
                              std::fill(y, y + cg, T(0.0f));
                            } else if (cs == 1) {
                              std::copy(src + off, src + off + cg, y);
                            } else {
                              for (int64_t c = 0; c < cg; ++c) y[c] = src[off + c * cs];
                            }
                            for (int d = D - 1; d >= 0 && ++k[d] == g.kernel[d]; --d) k[d] = 0;
                          }
                        }
                      }
                    });
}

template <typename T>
void col2im_typed(const ConvGeometry& g, const T* src, const Strides& ps, int64_t cg,
                  int64_t images, T* dst) {
  using C = compute_t<T>;
  const int D = g.dims;
  const int64_t channels = cg * g.groups;
  const int64_t gs = ps[D + 1];
  const int64_t cs = ps[2 * D + 2];
  const int64_t taps = g.kernel_size();
  const int64_t pixels = g.in_size();
  const int64_t units = images * pixels;
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

namespace cpu {

void im2col(const ConvGeometry& g, Dtype dtype, const void* x, const Strides& xs, int64_t cg,
            int64_t row0, int64_t rows, void* dst) {
  dispatch_conv_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    im2col_typed<T>(g, static_cast<const T*>(x), xs, cg, row0, rows, static_cast<T*>(dst));
  });
}

void col2im(const ConvGeometry& g, Dtype dtype, const void* p, const Strides& ps, int64_t cg,
            int64_t images, void* dst) {
  dispatch_conv_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    col2im_typed<T>(g, static_cast<const T*>(p), ps, cg, images, static_cast<T*>(dst));
  });
}

}  // namespace cpu

void Im2Col::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::begin_op(*this, inputs[0], outputs[0]);
  if (outputs[0].size() == 0) return;
  enc.dispatch(
      [g = geometry_, x = inputs[0].unsafe_weak_copy(), out = outputs[0].unsafe_weak_copy()]() {
        cpu::im2col(g, out.dtype(), x.raw_ptr(), x.strides(), out.shape(-1), 0,
                    out.shape(0) * g.out_size(), out.raw_ptr());
      });
}

void Col2Im::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::begin_op(*this, inputs[0], outputs[0]);
  if (outputs[0].size() == 0) return;
  enc.dispatch([g = geometry_, p = inputs[0].unsafe_weak_copy(),
                out = outputs[0].unsafe_weak_copy()]() {
    cpu::col2im(g, out.dtype(), p.raw_ptr(), p.strides(), p.shape(-1), out.shape(0), out.raw_ptr());
  });
}

}  // namespace fastsync
