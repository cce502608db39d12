// Bindings for the convolutions (ops/conv.h): conv1d/2d/3d, conv_general,
// conv_transpose1d/2d/3d and convolve. Each spatial parameter is an int or
// a sequence of ints (one per spatial axis); conv_general's padding may also
// be a pair of sequences (low, high). All checking happens in the C++ ops.
#include "ops/conv.h"

#include <nanobind/stl/string.h>

#include "convert.h"
#include "errors.h"

namespace fastsync::py {

namespace {

std::string arg_type_name(nb::handle h) {
  return nb::cast<std::string>(nb::str(h.type().attr("__name__")));
}

ConvParam to_param(const char* what, nb::handle v) {
  auto one = [&](nb::handle h) {
    int64_t x;
    if (!PyIndex_Check(h.ptr()) || !nb::try_cast<int64_t>(h, x)) {
      throw fastsync::type_error(std::string(what) + " must be an int or a sequence of ints, got " +
                                 arg_type_name(h));
    }
    return x;
  };
  if (PyIndex_Check(v.ptr())) return {one(v)};
  if (!PySequence_Check(v.ptr()) || nb::isinstance<nb::str>(v)) {
    throw fastsync::type_error(std::string(what) + " must be an int or a sequence of ints, got " +
                               arg_type_name(v));
  }
  ConvParam out;
  for (auto h : v) out.push_back(one(h));
  return out;
}

// conv_general's padding: int, sequence, or (low sequence, high sequence).
std::pair<ConvParam, ConvParam> to_padding(nb::handle v) {
  if (nb::isinstance<nb::tuple>(v) && nb::len(v) == 2 && !PyIndex_Check(v[0].ptr()) &&
      PySequence_Check(v[0].ptr())) {
    return {to_param("padding", v[0]), to_param("padding", v[1])};
  }
  ConvParam p = to_param("padding", v);
  return {p, p};
}

}  // namespace

void init_conv(nb::module_& m) {
  using ConvFn = array (*)(const array&, const array&, const ConvParam&, const ConvParam&,
                           const ConvParam&, int64_t, StreamOrDevice);
  auto def_conv = [&](const char* name, ConvFn fn, const char* doc) {
    m.def(
        name,
        [fn](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding,
             nb::handle dilation, int64_t groups, nb::handle s) {
          return fn(to_array(input), to_array(weight), to_param("stride", stride),
                    to_param("padding", padding), to_param("dilation", dilation), groups,
                    to_stream_or_device(s));
        },
        nb::arg("input"), nb::arg("weight"), nb::arg("stride") = 1, nb::arg("padding") = 0,
        nb::arg("dilation") = 1, nb::arg("groups") = 1, nb::kw_only(),
        nb::arg("stream") = nb::none(), doc);
  };
  def_conv("conv1d", conv1d,
           "1-D convolution (cross-correlation, as in PyTorch) of input (N, L, C_in) with "
           "weight (C_out, K, C_in / groups), giving (N, L_out, C_out). stride, padding "
           "(zeros on both sides) and dilation are ints or 1-sequences.");
  def_conv("conv2d", conv2d,
           "2-D convolution of input (N, H, W, C_in) with weight (C_out, KH, KW, C_in / "
           "groups), giving (N, H_out, W_out, C_out). stride, padding and dilation are an int "
           "or a pair.");
  def_conv("conv3d", conv3d,
           "3-D convolution of input (N, D, H, W, C_in) with weight (C_out, KD, KH, KW, C_in / "
           "groups). stride, padding and dilation are an int or a triple.");

  using ConvTFn = array (*)(const array&, const array&, const ConvParam&, const ConvParam&,
                            const ConvParam&, const ConvParam&, int64_t, StreamOrDevice);
  auto def_conv_t = [&](const char* name, ConvTFn fn, const char* doc) {
    m.def(
        name,
        [fn](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding,
             nb::handle dilation, nb::handle output_padding, int64_t groups, nb::handle s) {
          return fn(to_array(input), to_array(weight), to_param("stride", stride),
                    to_param("padding", padding), to_param("dilation", dilation),
                    to_param("output_padding", output_padding), groups, to_stream_or_device(s));
        },
        nb::arg("input"), nb::arg("weight"), nb::arg("stride") = 1, nb::arg("padding") = 0,
        nb::arg("dilation") = 1, nb::arg("output_padding") = 0, nb::arg("groups") = 1,
        nb::kw_only(), nb::arg("stream") = nb::none(), doc);
  };
  def_conv_t("conv_transpose1d", conv_transpose1d,
             "1-D transposed convolution of input (N, L, C_in) with weight (C_out, K, C_in / "
             "groups): the gradient of conv1d with respect to its input. Output length "
             "(L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1.");
  def_conv_t("conv_transpose2d", conv_transpose2d,
             "2-D transposed convolution of input (N, H, W, C_in) with weight (C_out, KH, KW, "
             "C_in / groups).");
  def_conv_t("conv_transpose3d", conv_transpose3d,
             "3-D transposed convolution of input (N, D, H, W, C_in) with weight (C_out, KD, "
             "KH, KW, C_in / groups).");

  m.def(
      "conv_general",
      [](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding,
         nb::handle kernel_dilation, nb::handle input_dilation, int64_t groups, bool flip,
         nb::handle s) {
        auto [lo, hi] = to_padding(padding);
        return conv_general(to_array(input), to_array(weight), to_param("stride", stride), lo, hi,
                            to_param("kernel_dilation", kernel_dilation),
                            to_param("input_dilation", input_dilation), groups, flip,
                            to_stream_or_device(s));
      },
      nb::arg("input"), nb::arg("weight"), nb::arg("stride") = 1, nb::arg("padding") = 0,
      nb::arg("kernel_dilation") = 1, nb::arg("input_dilation") = 1, nb::arg("groups") = 1,
      nb::arg("flip") = false, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Convolution over 1 to 3 spatial axes of input (N, *spatial, C_in) with weight "
      "(C_out, *kernel, C_in / groups). padding is an int, one int per axis, or a pair "
      "(low, high) of per-axis lists; input_dilation spreads the input's samples apart "
      "(a transposed convolution); flip reverses the kernel (a true convolution rather "
      "than a cross-correlation).");

  m.def(
      "convolve",
      [](nb::handle a, nb::handle v, const std::string& mode, nb::handle s) {
        return convolve(to_array(a), to_array(v), mode, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("v"), nb::arg("mode") = "full", nb::kw_only(),
      nb::arg("stream") = nb::none(),
      "NumPy's discrete linear convolution of two 1-D arrays; mode is 'full', 'same' or "
      "'valid'.");
}

}  // namespace fastsync::py
