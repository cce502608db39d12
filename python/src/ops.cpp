// Bindings for the graph-building ops. Arguments are converted here; all
// checking happens in the C++ ops.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "ops/ops.h"

namespace fastsync::py {

namespace {

using UnaryFn = array (*)(const array&, StreamOrDevice);
using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

// Both operands may be Python scalars; an array operand sets the dtype a
// scalar takes.
std::pair<array, array> operands(nb::handle a, nb::handle b) {
  bool sa = is_python_scalar(a), sb = is_python_scalar(b);
  if (sa && !sb) {
    array y = array_from_object(b, std::nullopt);
    return {to_operand(a, y.dtype()), y};
  }
  array x = array_from_object(a, std::nullopt);
  return {x, to_operand(b, x.dtype())};
}

void def_unary(nb::module_& m, const char* name, UnaryFn f, const char* doc) {
  m.def(name, [f](nb::handle a, nb::handle s) {
    return f(array_from_object(a, std::nullopt), to_stream_or_device(s));
  }, nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(), doc);
}

void def_binary(nb::module_& m, const char* name, BinaryFn f, const char* doc) {
  m.def(name, [f](nb::handle a, nb::handle b, nb::handle s) {
    auto [x, y] = operands(a, b);
    return f(x, y, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(), doc);
}

std::optional<std::vector<int>> to_axes(nb::handle axis) {
  if (axis.is_none()) return std::nullopt;
  if (nb::isinstance<nb::int_>(axis)) return std::vector<int>{nb::cast<int>(axis)};
  return nb::cast<std::vector<int>>(axis);
}

Shape to_shape(nb::handle shape) {
  if (nb::isinstance<nb::int_>(shape)) return {nb::cast<int64_t>(shape)};
  return nb::cast<Shape>(shape);
}

std::optional<Dtype> to_dtype(nb::handle d) {
  if (d.is_none()) return std::nullopt;
  return nb::cast<Dtype>(d);
}

}  // namespace

void init_ops(nb::module_& m) {
  def_unary(m, "negative", negative, "Elementwise negation.");
  def_unary(m, "abs", abs, "Elementwise absolute value.");
  def_unary(m, "exp", exp, "Elementwise exponential (integers compute in float32).");
  def_unary(m, "log", log, "Elementwise natural logarithm (integers compute in float32).");
  def_unary(m, "sqrt", sqrt, "Elementwise square root (integers compute in float32).");
  def_unary(m, "square", square, "Elementwise square.");
  def_binary(m, "add", add, "Elementwise sum with broadcasting.");
  def_binary(m, "subtract", subtract, "Elementwise difference with broadcasting.");
  def_binary(m, "multiply", multiply, "Elementwise product with broadcasting.");
  def_binary(m, "divide", divide, "Elementwise true division (integers give float32).");
  def_binary(m, "maximum", maximum, "Elementwise maximum; NaN propagates.");
  def_binary(m, "minimum", minimum, "Elementwise minimum; NaN propagates.");
  def_binary(m, "floor_divide", floor_divide, "Elementwise floor division.");
  def_binary(m, "remainder", remainder, "Elementwise remainder with the sign of the divisor.");

  m.def("divmod", [](nb::handle a, nb::handle b, nb::handle s) {
    auto [x, y] = operands(a, b);
    auto r = divmod(x, y, to_stream_or_device(s));
    return nb::make_tuple(r[0], r[1]);
  }, nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "Floor quotient and remainder, two outputs of one primitive.");

  m.def("sum", [](nb::handle a, nb::handle axis, bool keepdims, nb::handle s) {
    return sum(array_from_object(a, std::nullopt), to_axes(axis), keepdims,
               to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::kw_only(),
        nb::arg("stream") = nb::none(),
        "Sum over the given axes (all when None). Integers and bools sum in int64/uint64.");

  m.def("astype", [](nb::handle a, Dtype d, nb::handle s) {
    return astype(array_from_object(a, std::nullopt), d, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("dtype"), nb::kw_only(), nb::arg("stream") = nb::none());

  m.def("reshape", [](nb::handle a, nb::handle shape, nb::handle s) {
    return reshape(array_from_object(a, std::nullopt), to_shape(shape), to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("shape"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "Reshape; a view when the input is row-contiguous, a copy otherwise.");

  m.def("transpose", [](nb::handle a, nb::handle axes, nb::handle s) {
    array x = array_from_object(a, std::nullopt);
    if (axes.is_none()) return transpose(x, to_stream_or_device(s));
    return transpose(x, nb::cast<std::vector<int>>(axes), to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("axes") = nb::none(), nb::kw_only(), nb::arg("stream") = nb::none(),
        "Permute axes (reverse them by default); a view.");

  m.def("broadcast_to", [](nb::handle a, nb::handle shape, nb::handle s) {
    return broadcast_to(array_from_object(a, std::nullopt), to_shape(shape),
                        to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("shape"), nb::kw_only(), nb::arg("stream") = nb::none());

  m.def("zeros", [](nb::handle shape, nb::handle dtype, nb::handle s) {
    return zeros(to_shape(shape), to_dtype(dtype).value_or(float32), to_stream_or_device(s));
  }, nb::arg("shape"), nb::arg("dtype") = nb::none(), nb::kw_only(),
        nb::arg("stream") = nb::none());
  m.def("ones", [](nb::handle shape, nb::handle dtype, nb::handle s) {
    return ones(to_shape(shape), to_dtype(dtype).value_or(float32), to_stream_or_device(s));
  }, nb::arg("shape"), nb::arg("dtype") = nb::none(), nb::kw_only(),
        nb::arg("stream") = nb::none());
  m.def("full", [](nb::handle shape, nb::handle vals, nb::handle dtype, nb::handle s) {
    return full(to_shape(shape), array_from_object(vals, std::nullopt), to_dtype(dtype),
                to_stream_or_device(s));
  }, nb::arg("shape"), nb::arg("vals"), nb::arg("dtype") = nb::none(), nb::kw_only(),
        nb::arg("stream") = nb::none());
  m.def("zeros_like", [](const array& a, nb::handle s) {
    return zeros_like(a, to_stream_or_device(s));
  }, nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none());
  m.def("ones_like", [](const array& a, nb::handle s) {
    return ones_like(a, to_stream_or_device(s));
  }, nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none());

  m.def("arange", [](nb::args args, nb::handle dtype, nb::handle s) {
    if (args.size() < 1 || args.size() > 3) {
      throw std::invalid_argument("[arange] takes 1 to 3 positional arguments: "
                                  "stop | start, stop[, step]");
    }
    double start = 0, stop, step = 1;
    bool all_int = true;
    for (auto h : args) {
      all_int &= nb::isinstance<nb::int_>(h);
    }
    if (args.size() == 1) {
      stop = nb::cast<double>(args[0]);
    } else {
      start = nb::cast<double>(args[0]);
      stop = nb::cast<double>(args[1]);
      if (args.size() == 3) step = nb::cast<double>(args[2]);
    }
    Dtype d = to_dtype(dtype).value_or(all_int ? int32 : float32);
    return arange(start, stop, step, d, to_stream_or_device(s));
  }, nb::arg("args"), nb::arg("dtype") = nb::none(), nb::arg("stream") = nb::none(),
        "arange(stop) / arange(start, stop[, step]): int32 for integer arguments, else "
        "float32.");

  nb::module_ t = m.def_submodule("_testing", "Hooks for fastsync's own tests.");
  t.def("fail_in_task", [](const array& a, const std::string& msg, nb::handle s) {
    return fail_in_task(a, msg, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("message"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "An op whose compute task raises RuntimeError(message) on the worker thread.");
}

}  // namespace fastsync::py
