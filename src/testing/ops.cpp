// The graph-building side of the test hooks (see testing.h).
#include <memory>
#include <stdexcept>
#include <string>

#include "ops/ops.h"

#include "testing/testing.h"

namespace fastsync {

array fail_in_task(const array& a, const std::string& message, StreamOrDevice s) {
  return array(a.shape(), a.dtype(), std::make_shared<FailInTask>(to_stream(s), message), {a});
}

array fail_in_encode(const array& a, const std::string& message, StreamOrDevice s) {
  return array(a.shape(), a.dtype(), std::make_shared<FailInEncode>(to_stream(s), message), {a});
}

array stall(const array& a, int64_t microseconds, StreamOrDevice s) {
  if (microseconds < 0 || microseconds > 10'000'000) {
    throw std::invalid_argument("[stall] microseconds must be in [0, 10000000], got " +
                                std::to_string(microseconds));
  }
  // The copy reads bytes in order: a row-contiguous input.
  array in = contiguous(a, s);
  return array(in.shape(), in.dtype(), std::make_shared<Stall>(to_stream(s), microseconds), {in});
}

}  // namespace fastsync
