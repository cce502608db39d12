// Dtype refusals the ops share, with the op's name in the message (a
// ValueError in Python, as MLX raises).
#pragma once

#include <stdexcept>
#include <string>

#include "dtype.h"

namespace fastsync {

// complex64 where an op needs real values: ordered ops (comparisons,
// max/min, sorting, floor/ceil, remainder) and the few functions NumPy and
// MLX define only on the reals. No kernel is ever asked for these.
inline void reject_complex(const char* op, Dtype t,
                           const char* why = "complex numbers have no order") {
  if (is_complex(t)) {
    throw std::invalid_argument(std::string("[") + op + "] complex64 is not supported (" + why +
                                ")");
  }
}

}  // namespace fastsync
