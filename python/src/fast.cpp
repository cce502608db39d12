// Bindings for the fused ops behind fastsync.fast (ops/fast.h), in the
// private submodule _core._fast; python/fastsync/fast.py re-exports them with
// MLX's signatures. Arguments are converted here; checking is in the ops.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "convert.h"
#include "ops/fast.h"

namespace fastsync::py {

namespace {

std::optional<array> optional_array(nb::handle x) {
  if (x.is_none()) return std::nullopt;
  return to_array(x);
}

// An int offset becomes an int32 scalar array; arrays pass as they are.
array offset_array(nb::handle x) {
  if (nb::isinstance<nb::int_>(x) && !nb::isinstance<nb::bool_>(x)) {
    return scalar_array(static_cast<int32_t>(nb::cast<int64_t>(x)));
  }
  return to_array(x);
}

}  // namespace

void init_fast(nb::module_& m) {
  auto f = m.def_submodule("_fast", "Fused kernels behind fastsync.fast.");
  f.def("rms_norm", [](nb::handle x, nb::handle w, float eps, nb::handle s) {
    return fast::rms_norm(to_array(x), optional_array(w), eps, to_stream_or_device(s));
  }, nb::arg("x"), nb::arg("weight").none(), nb::arg("eps"), nb::kw_only(),
        nb::arg("stream") = nb::none(),
        "x / sqrt(mean(x**2, -1) + eps) * weight over the last axis, in one kernel.");
  f.def("layer_norm", [](nb::handle x, nb::handle w, nb::handle b, float eps, nb::handle s) {
    return fast::layer_norm(to_array(x), optional_array(w), optional_array(b), eps,
                            to_stream_or_device(s));
  }, nb::arg("x"), nb::arg("weight").none(), nb::arg("bias").none(), nb::arg("eps"),
        nb::kw_only(), nb::arg("stream") = nb::none(),
        "(x - mean) / sqrt(var + eps) * weight + bias over the last axis, in one kernel.");
  f.def("rope", [](nb::handle a, int dims, bool traditional, std::optional<float> base,
                   float scale, nb::handle offset, nb::handle freqs, nb::handle s) {
    return fast::rope(to_array(a), dims, traditional, base, scale, offset_array(offset),
                      optional_array(freqs), to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("dims"), nb::kw_only(), nb::arg("traditional"),
        nb::arg("base").none(), nb::arg("scale"), nb::arg("offset"),
        nb::arg("freqs") = nb::none(), nb::arg("stream") = nb::none(),
        "Rotary position embedding of the first dims features, in one kernel.");
  f.def("scaled_dot_product_attention", [](nb::handle q, nb::handle k, nb::handle v,
                                           float scale, nb::handle mask, nb::handle sinks,
                                           nb::handle s) {
    bool causal = false;
    std::optional<array> m;
    if (nb::isinstance<nb::str>(mask)) {
      std::string kind = nb::cast<std::string>(mask);
      if (kind != "causal") {
        throw std::invalid_argument("[scaled_dot_product_attention] unknown mask '" + kind +
                                    "': use \"causal\" or an array");
      }
      causal = true;
    } else {
      m = optional_array(mask);
    }
    return fast::scaled_dot_product_attention(to_array(q), to_array(k), to_array(v), scale,
                                              causal, m, optional_array(sinks),
                                              to_stream_or_device(s));
  }, nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::kw_only(), nb::arg("scale"),
        nb::arg("mask") = nb::none(), nb::arg("sinks") = nb::none(),
        nb::arg("stream") = nb::none(),
        "softmax(q k^T * scale + mask) v in one pass per query row (k and v may have fewer "
        "heads than q).");
}

}  // namespace fastsync::py
