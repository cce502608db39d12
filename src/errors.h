// Exception types the Python layer maps to specific Python exceptions.
// std::invalid_argument -> ValueError; type_error -> TypeError;
// not_implemented -> NotImplementedError; other std::exception -> RuntimeError.
#pragma once

#include <stdexcept>

namespace fastsync {

struct type_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct not_implemented : std::logic_error {
  using std::logic_error::logic_error;
};

}  // namespace fastsync
