// Bindings for the elementwise compositions and the float functions added
// beside the primitives (ops/math.cpp, ops/elementwise.cpp). Arguments are
// converted here; all checking happens in the C++ ops.
#include <nanobind/stl/optional.h>

#include "convert.h"
#include "defs.h"
#include "ops/ops.h"

namespace fastsync::py {

void init_math(nb::module_& m) {
  def_unary(m, "erfinv", erfinv, "Elementwise inverse error function.");
  def_unary(m, "tan", tan, "Elementwise tangent.");
  def_unary(m, "arcsin", arcsin, "Elementwise inverse sine.");
  def_unary(m, "arccos", arccos, "Elementwise inverse cosine.");
  def_unary(m, "arctan", arctan, "Elementwise inverse tangent.");
  def_unary(m, "sinh", sinh, "Elementwise hyperbolic sine.");
  def_unary(m, "cosh", cosh, "Elementwise hyperbolic cosine.");
  def_unary(m, "arcsinh", arcsinh, "Elementwise inverse hyperbolic sine.");
  def_unary(m, "arccosh", arccosh, "Elementwise inverse hyperbolic cosine.");
  def_unary(m, "arctanh", arctanh, "Elementwise inverse hyperbolic tangent.");
  def_unary(m, "log10", log10, "Elementwise base-10 logarithm.");
  def_unary(m, "trunc", trunc, "Round toward zero (integers unchanged).");
  def_unary(m, "reciprocal", reciprocal, "Elementwise 1 / x (integers compute in float32).");
  def_unary(m, "degrees", degrees, "Radians to degrees.");
  def_unary(m, "radians", radians, "Degrees to radians.");
  def_unary(m, "real", real, "The real part (a real array is returned as it is).");
  def_unary(m, "imag", imag, "The imaginary part (zeros for a real array).");
  def_unary(m, "conjugate", conjugate, "The complex conjugate (a real array is its own).");
  def_unary(m, "conj", conjugate, "The complex conjugate (same as conjugate).");
  def_unary(m, "isnan", isnan, "True where the element is NaN.");
  def_unary(m, "isinf", isinf, "True where the element is +inf or -inf.");
  def_unary(m, "isposinf", isposinf, "True where the element is +inf.");
  def_unary(m, "isneginf", isneginf, "True where the element is -inf.");
  def_unary(m, "isfinite", isfinite, "True where the element is neither NaN nor infinite.");
  def_binary(m, "logical_xor", logical_xor, "Elementwise logical exclusive or (output bool).");
  def_binary(m, "logaddexp", logaddexp, "Elementwise log(exp(a) + exp(b)), computed stably.");

  m.def(
      "nan_to_num",
      [](nb::handle a, double nan, std::optional<double> posinf, std::optional<double> neginf,
         nb::handle s) {
        return nan_to_num(to_array(a), nan, posinf, neginf, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("nan") = 0.0, nb::arg("posinf") = nb::none(),
      nb::arg("neginf") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Replace NaN and infinities (by default with 0 and the dtype's finite extremes).");
  m.def(
      "isclose",
      [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, nb::handle s) {
        auto [x, y] = to_operands(a, b);
        return isclose(x, y, rtol, atol, equal_nan, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("rtol") = 1e-5, nb::arg("atol") = 1e-8, nb::kw_only(),
      nb::arg("equal_nan") = false, nb::arg("stream") = nb::none(),
      "Elementwise |a - b| <= atol + rtol * |b|, with broadcasting.");
  m.def(
      "allclose",
      [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, nb::handle s) {
        auto [x, y] = to_operands(a, b);
        return allclose(x, y, rtol, atol, equal_nan, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("rtol") = 1e-5, nb::arg("atol") = 1e-8, nb::kw_only(),
      nb::arg("equal_nan") = false, nb::arg("stream") = nb::none(),
      "True (a 0-d bool array) when every element of a is close to b.");
  m.def(
      "array_equal",
      [](nb::handle a, nb::handle b, bool equal_nan, nb::handle s) {
        return array_equal(to_array(a), to_array(b), equal_nan, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("equal_nan") = false, nb::kw_only(),
      nb::arg("stream") = nb::none(),
      "True (a 0-d bool array) when a and b have one shape and equal values.");
}

}  // namespace fastsync::py
