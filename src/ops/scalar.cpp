#include <limits>
#include <stdexcept>
#include <string>

#include "ops/ops.h"

namespace fastsync {

namespace {
template <typename V>
array scalar_of(V v, Dtype d) {
  return dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T t;
    if constexpr (std::is_same_v<T, bfloat16_t> || std::is_same_v<T, float16_t>) {
      t = T(static_cast<float>(v));
    } else {
      t = static_cast<T>(v);
    }
    return array(&t, {}, d);
  });
}
}  // namespace

array weak_scalar(bool v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::boolean, peer));
}
namespace {
bool fits(int64_t v, Dtype d) {
  return dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if constexpr (std::is_unsigned_v<T>) {
        return v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max();
      } else {
        return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
      }
    } else {
      return true;
    }
  });
}
}  // namespace

array weak_scalar(int64_t v, Dtype peer) {
  Dtype d = weak_scalar_type(ScalarKind::integer, peer);
  // An integer the peer's dtype cannot hold is an error, as in MLX, never a
  // silent wrap.
  if (!fits(v, d)) {
    throw std::invalid_argument("integer " + std::to_string(v) + " is out of range for " +
                                d.name());
  }
  return scalar_of(v, d);
}
array weak_scalar(double v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::floating, peer));
}
array scalar(bool v) { return scalar_of(v, bool_); }
array scalar(int64_t v) { return scalar_of(v, fits(v, int32) ? int32 : int64); }
array scalar(uint64_t v) {
  return v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? scalar(static_cast<int64_t>(v))
             : scalar_of(v, uint64);
}
array scalar(double v) { return scalar_of(v, float32); }
array weak_scalar(complex64_t v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::complex, peer));
}
array scalar(complex64_t v) { return scalar_of(v, complex64); }

}  // namespace fastsync
