// Index math of the patch primitives (Im2Col, Col2Im), shared by the CPU
// kernels (src/backend/cpu/conv.cpp) and the CUDA ones
// (src/backend/cuda/conv.cu), so both backends pad, stride, dilate and flip
// identically. A value type with fixed-size arrays so kernels take it by
// value; built and validated by the ops layer (src/ops/conv.cpp).
//
// Geometry of one spatial axis d: the input (of `in[d]` samples) is first
// dilated (input_dilation[d] - 1 zeros between samples), then padded by
// pad_lo[d] before and pad_hi[d] after (negative pads crop); the kernel
// (kernel[d] taps, kernel_dilation[d] apart, reversed when `flip`) then
// slides over it by stride[d], giving out[d] positions.
#pragma once

#include <cstdint>

#include "backend/common/host_device.h"

namespace fastsync {

inline constexpr int kMaxConvDims = 3;

struct ConvGeometry {
  int dims = 0;        // spatial axes, 1 to kMaxConvDims
  int64_t groups = 1;  // channel groups
  int64_t in[kMaxConvDims] = {1, 1, 1};
  int64_t kernel[kMaxConvDims] = {1, 1, 1};
  int64_t out[kMaxConvDims] = {1, 1, 1};
  int64_t stride[kMaxConvDims] = {1, 1, 1};
  int64_t pad_lo[kMaxConvDims] = {0, 0, 0};
  int64_t kernel_dilation[kMaxConvDims] = {1, 1, 1};
  int64_t input_dilation[kMaxConvDims] = {1, 1, 1};
  bool flip = false;

  // The input sample that kernel tap k reads at output position o along
  // axis d, or -1 where it reads padding or a dilation zero.
  FASTSYNC_HD int64_t input_at(int d, int64_t o, int64_t k) const {
    int64_t tap = flip ? kernel[d] - 1 - k : k;
    int64_t pos = o * stride[d] - pad_lo[d] + tap * kernel_dilation[d];
    if (pos < 0 || pos % input_dilation[d] != 0) return -1;
    int64_t i = pos / input_dilation[d];
    return i < in[d] ? i : -1;
  }

  // The output position at which kernel tap k reads input sample i along
  // axis d, or -1 where no output position does.
  FASTSYNC_HD int64_t output_at(int d, int64_t i, int64_t k) const {
    int64_t tap = flip ? kernel[d] - 1 - k : k;
    int64_t pos = i * input_dilation[d] + pad_lo[d] - tap * kernel_dilation[d];
    if (pos < 0 || pos % stride[d] != 0) return -1;
    int64_t o = pos / stride[d];
    return o < out[d] ? o : -1;
  }

  // A 1x1 kernel at stride 1 with no padding: the patches are the input.
  FASTSYNC_HD bool pointwise() const {
    for (int d = 0; d < dims; ++d) {
      if (kernel[d] != 1 || stride[d] != 1 || pad_lo[d] != 0 || out[d] != in[d] ||
          input_dilation[d] != 1) {
        return false;
      }
    }
    return true;
  }

  FASTSYNC_HD int64_t kernel_size() const {
    int64_t n = 1;
    for (int d = 0; d < dims; ++d) n *= kernel[d];
    return n;
  }
  FASTSYNC_HD int64_t out_size() const {
    int64_t n = 1;
    for (int d = 0; d < dims; ++d) n *= out[d];
    return n;
  }
  FASTSYNC_HD int64_t in_size() const {
    int64_t n = 1;
    for (int d = 0; d < dims; ++d) n *= in[d];
    return n;
  }
};

}  // namespace fastsync
