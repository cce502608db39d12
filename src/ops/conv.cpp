#include "ops/conv.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ops/linalg.h"
#include "ops/ops.h"
#include "primitives/conv.h"

namespace fastsync {

namespace {

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::invalid_argument(std::string("[") + op + "] " + why);
}

std::string list_str(const ConvParam& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// One value per spatial axis: an empty list is `fallback` everywhere and a
// single value is repeated.
ConvParam per_axis(const char* op, const char* what, const ConvParam& v, int dims, int64_t fallback,
                   int64_t min) {
  ConvParam out;
  if (v.empty()) {
    out.assign(dims, fallback);
  } else if (v.size() == 1) {
    out.assign(dims, v[0]);
  } else if (static_cast<int>(v.size()) == dims) {
    out = v;
  } else {
    fail(op, std::string(what) + " " + list_str(v) +
                 " must have one value or one per spatial axis (" + std::to_string(dims) + ")");
  }
  for (int64_t x : out) {
    if (x < min) {
      fail(op,
           std::string(what) + " must be at least " + std::to_string(min) + ", got " + list_str(v));
    }
  }
  return out;
}

// Convolutions compute in a real floating dtype, as MLX's do.
Dtype conv_dtype(const char* op, const array& x, const array& w) {
  Dtype t = promote_types(x.dtype(), w.dtype());
  if (!is_floating(t)) {
    fail(op, std::string("only real floating point inputs are supported, got ") + x.dtype().name() +
                 " and " + w.dtype().name() + " (cast them with astype first)");
  }
  return t;
}

struct Checked {
  ConvGeometry g;
  array x, w;
};

Checked check(const char* op, int dims, const array& input, const array& weight,
              const ConvParam& stride, const ConvParam& pad_lo, const ConvParam& pad_hi,
              const ConvParam& kdil, const ConvParam& idil, int64_t groups, bool flip,
              const Stream& s) {
  if (dims < 1 || dims > kMaxConvDims) {
    fail(op,
         "inputs must have 1 to 3 spatial axes: (N, *spatial, C) with 3 to 5 dimensions, got "
         "shape " +
             shape_str(input.shape()));
  }
  if (input.ndim() != dims + 2) {
    fail(op, "input must have shape (N, *spatial, C_in) with " + std::to_string(dims) +
                 " spatial axes, got shape " + shape_str(input.shape()));
  }
  if (weight.ndim() != dims + 2) {
    fail(op, "weight must have shape (C_out, *kernel, C_in / groups) with " + std::to_string(dims) +
                 " spatial axes, got shape " + shape_str(weight.shape()));
  }
  if (groups < 1) fail(op, "groups must be positive, got " + std::to_string(groups));
  const int64_t c_in = input.shape(-1), c_out = weight.shape(0);
  if (c_in % groups != 0 || c_out % groups != 0) {
    fail(op, "groups (" + std::to_string(groups) + ") must divide both the input channels (" +
                 std::to_string(c_in) + ") and the output channels (" + std::to_string(c_out) +
                 ")");
  }
  if (weight.shape(-1) * groups != c_in) {
    fail(op, "weight shape " + shape_str(weight.shape()) + " expects " +
                 std::to_string(weight.shape(-1) * groups) + " input channels with groups=" +
                 std::to_string(groups) + ", but the input of shape " + shape_str(input.shape()) +
                 " has " + std::to_string(c_in));
  }
  Dtype t = conv_dtype(op, input, weight);
  ConvGeometry g;
  g.dims = dims;
  g.groups = groups;
  g.flip = flip;
  ConvParam st = per_axis(op, "stride", stride, dims, 1, 1);
  ConvParam lo = per_axis(op, "padding", pad_lo, dims, 0, INT64_MIN);
  ConvParam hi = per_axis(op, "padding", pad_hi, dims, 0, INT64_MIN);
  ConvParam kd = per_axis(op, "kernel dilation", kdil, dims, 1, 1);
  ConvParam id = per_axis(op, "input dilation", idil, dims, 1, 1);
  for (int d = 0; d < dims; ++d) {
    g.in[d] = input.shape(d + 1);
    g.kernel[d] = weight.shape(d + 1);
    g.stride[d] = st[d];
    g.pad_lo[d] = lo[d];
    g.kernel_dilation[d] = kd[d];
    g.input_dilation[d] = id[d];
    const int64_t span = g.in[d] == 0 ? 0 : (g.in[d] - 1) * id[d] + 1;
    const int64_t padded = span + lo[d] + hi[d];
    const int64_t reach = g.kernel[d] == 0 ? 0 : (g.kernel[d] - 1) * kd[d] + 1;
    if (g.kernel[d] == 0 || padded < reach) {
      fail(op, "along spatial axis " + std::to_string(d) + " the padded input has " +
                   std::to_string(padded) + " samples, fewer than the dilated kernel's " +
                   std::to_string(reach) + " (input shape " + shape_str(input.shape()) +
                   ", weight shape " + shape_str(weight.shape()) + ")");
    }
    g.out[d] = (padded - reach) / st[d] + 1;
  }
  array x = input.dtype() == t ? input : astype(input, t, s);
  array w = weight.dtype() == t ? weight : astype(weight, t, s);
  return {g, x, w};
}

// patches @ weight^T per group.
array convolve_checked(const Checked& c, const Stream& s) {
  const ConvGeometry& g = c.g;
  const int64_t n = c.x.shape(0), c_in = c.x.shape(-1), c_out = c.w.shape(0);
  const int64_t groups = g.groups, og = c_out / groups;
  const int64_t rows = n * g.out_size();
  const int64_t depth = g.kernel_size() * (c_in / groups);
  Shape out_shape{n};
  for (int d = 0; d < g.dims; ++d) out_shape.push_back(g.out[d]);
  out_shape.push_back(c_out);
  // One fused primitive where the stream's backend takes the geometry
  // (cuDNN indexes its tensors with 32-bit integers).
  const int64_t out_size = rows * c_out;
  if (c.x.size() < INT32_MAX && out_size < INT32_MAX && c.w.size() < INT32_MAX &&
      fused_convolution(s, g, c.x.dtype(), c_in, c_out)) {
    return array(out_shape, c.x.dtype(), std::make_shared<Convolution>(s, g), {c.x, c.w});
  }
  array patches = g.pointwise() && groups == 1 ? c.x
                                               : array(patches_shape(g, n, c_in), c.x.dtype(),
                                                       std::make_shared<Im2Col>(s, g), {c.x});
  if (groups == 1) {
    array y = matmul(reshape(patches, {rows, depth}, s),
                     transpose(reshape(c.w, {c_out, depth}, s), {1, 0}, s), s);
    return reshape(y, out_shape, s);
  }
  array pm = transpose(reshape(patches, {rows, groups, depth}, s), {1, 0, 2}, s);
  array wm = transpose(reshape(c.w, {groups, og, depth}, s), {0, 2, 1}, s);
  array y = transpose(matmul(pm, wm, s), {1, 0, 2}, s);
  return reshape(y, out_shape, s);
}

array conv_nd(const char* op, const array& input, const array& weight, const ConvParam& stride,
              const ConvParam& padding, const ConvParam& dilation, int64_t groups,
              StreamOrDevice s) {
  // As in MLX, the spatial rank comes from the input: conv1d of an image
  // is its 2-D convolution, with the single values repeated per axis.
  Stream st = to_stream(s);
  const int spatial = input.ndim() - 2;
  ConvParam pad = per_axis(op, "padding", padding, std::max(spatial, 1), 0, 0);
  return convolve_checked(
      check(op, spatial, input, weight, stride, pad, pad, dilation, {}, groups, false, st), st);
}

array conv_transpose_nd(const char* op, int dims, const array& input, const array& weight,
                        const ConvParam& stride, const ConvParam& padding,
                        const ConvParam& dilation, const ConvParam& output_padding, int64_t groups,
                        StreamOrDevice s) {
  Stream st = to_stream(s);
  if (input.ndim() != dims + 2 || weight.ndim() != dims + 2) {
    fail(op,
         "input must have shape (N, *spatial, C_in) and weight (C_out, *kernel, C_in / "
         "groups) with " +
             std::to_string(dims) + " spatial axes, got shapes " + shape_str(input.shape()) +
             " and " + shape_str(weight.shape()));
  }
  ConvParam sd = per_axis(op, "stride", stride, dims, 1, 1);
  ConvParam pad = per_axis(op, "padding", padding, dims, 0, 0);
  ConvParam dil = per_axis(op, "dilation", dilation, dims, 1, 1);
  ConvParam outpad = per_axis(op, "output padding", output_padding, dims, 0, 0);
  ConvParam lo(dims), hi(dims);
  for (int d = 0; d < dims; ++d) {
    if (outpad[d] >= std::max(sd[d], dil[d])) {
      fail(op, "output padding " + list_str(outpad) +
                   " must be smaller than the stride or the dilation along each axis (stride " +
                   list_str(sd) + ", dilation " + list_str(dil) + ")");
    }
    // A transposed convolution is a convolution over the input spread
    // `stride` apart, with the kernel flipped and the padding mirrored.
    const int64_t reach = dil[d] * (weight.shape(d + 1) - 1);
    lo[d] = reach - pad[d];
    hi[d] = reach - pad[d] + outpad[d];
  }
  Checked c = check(op, dims, input, weight, {}, lo, hi, dil, sd, groups, true, st);
  {
    // Where the backend takes it: the input gradient of the convolution
    // this one is the adjoint of (from the output's shape to the input's),
    // one fused primitive with no zeros spread through the input. That
    // convolution's weight (C_in, *kernel, C_out / G) is ours with the
    // channel axes swapped per group.
    ConvGeometry f;
    f.dims = dims;
    f.groups = groups;
    for (int d = 0; d < dims; ++d) {
      f.in[d] = c.g.out[d];
      f.out[d] = input.shape(d + 1);
      f.kernel[d] = weight.shape(d + 1);
      f.stride[d] = sd[d];
      f.pad_lo[d] = pad[d];
      f.kernel_dilation[d] = dil[d];
    }
    const int64_t n = input.shape(0), c_in = input.shape(-1), c_out = weight.shape(0);
    Shape out_shape = image_shape(f, n, c_out);
    int64_t out_size = 1;
    for (int64_t v : out_shape) out_size *= v;
    if (c.x.size() < INT32_MAX && out_size < INT32_MAX &&
        fused_convolution(st, f, c.x.dtype(), c_out, c_in)) {
      Shape grouped{groups, c_out / groups};
      for (int d = 0; d < dims; ++d) grouped.push_back(weight.shape(d + 1));
      grouped.push_back(c_in / groups);
      std::vector<int> perm{0, dims + 2};
      for (int d = 0; d < dims; ++d) perm.push_back(d + 2);
      perm.push_back(1);
      Shape swapped{c_in};
      for (int d = 0; d < dims; ++d) swapped.push_back(weight.shape(d + 1));
      swapped.push_back(c_out / groups);
      array wf = reshape(transpose(reshape(c.w, grouped, st), perm, st), swapped, st);
      return array(out_shape, c.x.dtype(), std::make_shared<ConvolutionInputGrad>(st, f),
                   {wf, c.x});
    }
  }
  return convolve_checked(c, st);
}

}  // namespace

array conv_general(const array& input, const array& weight, const ConvParam& stride,
                   const ConvParam& padding_lo, const ConvParam& padding_hi,
                   const ConvParam& kernel_dilation, const ConvParam& input_dilation,
                   int64_t groups, bool flip, StreamOrDevice s) {
  Stream st = to_stream(s);
  const int dims = input.ndim() - 2;
  const ConvParam& hi = padding_hi.empty() ? padding_lo : padding_hi;
  return convolve_checked(check("conv_general", dims, input, weight, stride, padding_lo, hi,
                                kernel_dilation, input_dilation, groups, flip, st),
                          st);
}

array conv1d(const array& input, const array& weight, const ConvParam& stride,
             const ConvParam& padding, const ConvParam& dilation, int64_t groups,
             StreamOrDevice s) {
  return conv_nd("conv1d", input, weight, stride, padding, dilation, groups, s);
}

array conv2d(const array& input, const array& weight, const ConvParam& stride,
             const ConvParam& padding, const ConvParam& dilation, int64_t groups,
             StreamOrDevice s) {
  return conv_nd("conv2d", input, weight, stride, padding, dilation, groups, s);
}

array conv3d(const array& input, const array& weight, const ConvParam& stride,
             const ConvParam& padding, const ConvParam& dilation, int64_t groups,
             StreamOrDevice s) {
  return conv_nd("conv3d", input, weight, stride, padding, dilation, groups, s);
}

array conv_transpose1d(const array& input, const array& weight, const ConvParam& stride,
                       const ConvParam& padding, const ConvParam& dilation,
                       const ConvParam& output_padding, int64_t groups, StreamOrDevice s) {
  return conv_transpose_nd("conv_transpose1d", 1, input, weight, stride, padding, dilation,
                           output_padding, groups, s);
}

array conv_transpose2d(const array& input, const array& weight, const ConvParam& stride,
                       const ConvParam& padding, const ConvParam& dilation,
                       const ConvParam& output_padding, int64_t groups, StreamOrDevice s) {
  return conv_transpose_nd("conv_transpose2d", 2, input, weight, stride, padding, dilation,
                           output_padding, groups, s);
}

array conv_transpose3d(const array& input, const array& weight, const ConvParam& stride,
                       const ConvParam& padding, const ConvParam& dilation,
                       const ConvParam& output_padding, int64_t groups, StreamOrDevice s) {
  return conv_transpose_nd("conv_transpose3d", 3, input, weight, stride, padding, dilation,
                           output_padding, groups, s);
}

array convolve(const array& a, const array& v, const std::string& mode, StreamOrDevice s) {
  if (a.ndim() != 1 || v.ndim() != 1) {
    fail("convolve", "both inputs must be 1-D, got shapes " + shape_str(a.shape()) + " and " +
                         shape_str(v.shape()));
  }
  if (a.size() == 0 || v.size() == 0) fail("convolve", "inputs cannot be empty");
  // Convolution commutes; NumPy slides the shorter one.
  const array& x = a.size() >= v.size() ? a : v;
  const array& k = a.size() >= v.size() ? v : a;
  const int64_t m = k.size();
  int64_t lo = 0, hi = 0;
  if (mode == "full") {
    lo = hi = m - 1;
  } else if (mode == "same") {
    lo = m / 2;
    hi = m - 1 - lo;
  } else if (mode != "valid") {
    fail("convolve", "mode must be 'full', 'same' or 'valid', got '" + mode + "'");
  }
  Stream st = to_stream(s);
  array y = conv_general(reshape(x, {1, x.size(), 1}, st), reshape(k, {1, m, 1}, st), {}, {lo},
                         {hi}, {}, {}, 1, true, st);
  return reshape(y, {y.size()}, st);
}

}  // namespace fastsync
