// Convolutions, channels-last as in MLX: an input is (N, *spatial, C_in)
// and a weight (C_out, *kernel, C_in / groups); outputs are
// (N, *spatial_out, C_out). Every spatial parameter takes one value per
// spatial axis, or a single value for all of them (an empty list means the
// default). Each op validates its arguments and throws std::invalid_argument
// naming the op; the graph it builds is Im2Col (primitives/conv.h) and one
// matrix product, so each runs on both backends and is differentiable.
#pragma once

#include <string>
#include <vector>

#include "array.h"
#include "stream.h"

namespace fastsync {

using ConvParam = std::vector<int64_t>;

// The general form. padding_lo/padding_hi pad (or, negative, crop) each
// side of each spatial axis of the input after input_dilation spreads its
// samples apart; flip turns the correlation into a true convolution.
array conv_general(const array& input, const array& weight, const ConvParam& stride = {},
                   const ConvParam& padding_lo = {}, const ConvParam& padding_hi = {},
                   const ConvParam& kernel_dilation = {}, const ConvParam& input_dilation = {},
                   int64_t groups = 1, bool flip = false, StreamOrDevice s = {});

// PyTorch-style convolutions with symmetric, non-negative padding.
array conv1d(const array& input, const array& weight, const ConvParam& stride = {},
             const ConvParam& padding = {}, const ConvParam& dilation = {}, int64_t groups = 1,
             StreamOrDevice s = {});
array conv2d(const array& input, const array& weight, const ConvParam& stride = {},
             const ConvParam& padding = {}, const ConvParam& dilation = {}, int64_t groups = 1,
             StreamOrDevice s = {});
array conv3d(const array& input, const array& weight, const ConvParam& stride = {},
             const ConvParam& padding = {}, const ConvParam& dilation = {}, int64_t groups = 1,
             StreamOrDevice s = {});

// The adjoints of the above in their input (PyTorch's conv_transpose),
// with the weight in the same (C_out, *kernel, C_in / groups) layout;
// output_padding (< stride or < dilation) adds samples at the high end.
array conv_transpose1d(const array& input, const array& weight, const ConvParam& stride = {},
                       const ConvParam& padding = {}, const ConvParam& dilation = {},
                       const ConvParam& output_padding = {}, int64_t groups = 1,
                       StreamOrDevice s = {});
array conv_transpose2d(const array& input, const array& weight, const ConvParam& stride = {},
                       const ConvParam& padding = {}, const ConvParam& dilation = {},
                       const ConvParam& output_padding = {}, int64_t groups = 1,
                       StreamOrDevice s = {});
array conv_transpose3d(const array& input, const array& weight, const ConvParam& stride = {},
                       const ConvParam& padding = {}, const ConvParam& dilation = {},
                       const ConvParam& output_padding = {}, int64_t groups = 1,
                       StreamOrDevice s = {});

// NumPy's convolve of two 1-D arrays; mode is "full", "same" or "valid".
array convolve(const array& a, const array& v, const std::string& mode = "full",
               StreamOrDevice s = {});

}  // namespace fastsync
