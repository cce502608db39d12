// Binding helpers shared by the op families: one signature for every
// elementwise op of one or two array arguments (a stream= keyword, Python
// scalars as weak operands).
#pragma once

#include "convert.h"

namespace fastsync::py {

using UnaryFn = array (*)(const array&, StreamOrDevice);
using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

inline void def_unary(nb::module_& m, const char* name, UnaryFn f, const char* doc) {
  m.def(name, [f](nb::handle a, nb::handle s) {
    return f(to_array(a), to_stream_or_device(s));
  }, nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(), doc);
}

inline void def_binary(nb::module_& m, const char* name, BinaryFn f, const char* doc) {
  m.def(name, [f](nb::handle a, nb::handle b, nb::handle s) {
    auto [x, y] = to_operands(a, b);
    return f(x, y, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(), doc);
}

}  // namespace fastsync::py
