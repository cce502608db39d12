// Conversions between Python objects and fastsync values, shared by the
// binding files. No array logic lives here beyond picking dtypes for Python
// input, as MLX does.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "array.h"
#include "stream.h"
#include "stream_arg.h"

namespace nb = nanobind;

namespace fastsync::py {

// mx.array(obj, dtype): Python scalars, nested lists, NumPy arrays and
// anything NumPy can convert.
array array_from_object(nb::handle obj, std::optional<Dtype> dtype);
// An array argument of an op: array_from_object without a dtype.
array to_array(nb::handle obj);
// A sequence of array arguments (concatenate, stack).
std::vector<array> to_arrays(nb::handle seq);
// An operand of a binary op: arrays pass through, Python scalars take the
// weak-scalar dtype next to `peer`.
array to_operand(nb::handle obj, Dtype peer);
// Both operands of a binary op, either of which may be a Python scalar; an
// array operand sets the dtype a scalar takes.
std::pair<array, array> to_operands(nb::handle a, nb::handle b);
// True for Python bool/int/float (not arrays).
bool is_python_scalar(nb::handle obj);
// shape= (and reps=) arguments: an int or a sequence of ints.
Shape to_shape(nb::handle shape);
// The same, where None means "not given".
std::optional<Shape> to_optional_shape(nb::handle shape);
// axis= arguments: an int or a sequence of ints.
std::vector<int> to_axis_list(nb::handle axis);
// The same, where None means all axes.
std::optional<std::vector<int>> to_axes(nb::handle axis);
// An optional argument: None gives nullopt, anything else nb::cast<T>.
template <class T>
std::optional<T> to_optional(nb::handle obj) {
  if (obj.is_none()) return std::nullopt;
  return nb::cast<T>(obj);
}
// dtype= arguments: a Dtype, or None for the op's default; anything else is
// a TypeError naming what was given.
std::optional<Dtype> to_dtype(nb::handle dtype);
// Evaluated array -> Python scalar / nested list / NumPy array.
nb::object to_scalar(array& a);
nb::object to_list(array& a);
nb::object to_numpy(array& a, nb::handle dtype);
// Evaluated array -> MLX's text form (repr and str).
std::string to_text(array& a);
// Evaluated array -> a DLPack-exporting view of its memory (host or CUDA),
// which keeps the array's buffer alive.
nb::ndarray<> to_dlpack(array& a);
// Any DLPack exporter (NumPy, PyTorch on CPU or CUDA, ...) -> a new array
// holding a copy of its values.
array from_dlpack(nb::handle obj);

}  // namespace fastsync::py
