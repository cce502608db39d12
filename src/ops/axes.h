// Axis arguments shared by the ops: validation with the op's name in the
// message, negative axes counted from the end.
#pragma once

#include <stdexcept>
#include <string>

namespace fastsync {

inline int normalize_axis(const char* op, int axis, int ndim) {
  if (axis < -ndim || axis >= ndim) {
    throw std::invalid_argument(std::string("[") + op + "] axis " + std::to_string(axis) +
                                " is out of bounds for an array of " + std::to_string(ndim) +
                                " dimensions");
  }
  return axis < 0 ? axis + ndim : axis;
}

}  // namespace fastsync
