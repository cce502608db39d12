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

// A dimension an op computes (or is given) that does not fit int32: MLX's
// limit on one axis, kept so that code moving between the two fails the same
// way, with the value in the message.
inline int64_t checked_dim(const char* op, int64_t d) {
  if (d > 2147483647LL || d < -2147483648LL) {
    throw std::overflow_error(std::string("[") + op + "] dimension " + std::to_string(d) +
                              " does not fit in int32");
  }
  return d;
}

}  // namespace fastsync
