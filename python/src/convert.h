// Conversions between Python objects and fastsync values, shared by the
// binding files. No array logic lives here beyond picking dtypes for Python
// input, as MLX does.
#pragma once

#include <nanobind/nanobind.h>

#include "array.h"
#include "stream.h"

namespace nb = nanobind;

namespace fastsync::py {

// mx.array(obj, dtype): Python scalars, nested lists, NumPy arrays and
// anything NumPy can convert.
array array_from_object(nb::handle obj, std::optional<Dtype> dtype);
// An operand of a binary op: arrays pass through, Python scalars take the
// weak-scalar dtype next to `peer`.
array to_operand(nb::handle obj, Dtype peer);
// True for Python bool/int/float (not arrays).
bool is_python_scalar(nb::handle obj);
// stream= arguments: None, Stream, Device or DeviceType.
StreamOrDevice to_stream_or_device(nb::handle obj);
// Evaluated array -> Python scalar / nested list / NumPy array.
nb::object to_scalar(array& a);
nb::object to_list(array& a);
nb::object to_numpy(array& a, nb::handle dtype);
// Evaluates (or waits for) `a` with the GIL released.
void wait_for(array& a);

}  // namespace fastsync::py
