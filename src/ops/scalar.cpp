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
array weak_scalar(int64_t v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::integer, peer));
}
array weak_scalar(double v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::floating, peer));
}
array scalar(bool v) { return scalar_of(v, bool_); }
array scalar(int64_t v) { return scalar_of(v, int32); }
array scalar(double v) { return scalar_of(v, float32); }

}  // namespace fastsync
