#include <array>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "ops/ops.h"

namespace fastsync {

namespace {

// Weak scalars are the Python numbers beside arrays (`x + 1.0`): a loop
// makes the same few values over and over. A small per-thread table hands
// out the same 0-d host array for a value met recently instead of a fresh
// one (an ArrayDesc, a Data and a buffer to allocate, then to free, per op).
// Sharing is safe: a constant's descriptor is never changed once made
// (Python's in-place operators rebind the handle), and the table's own
// reference keeps it from being donated to an op's output. Per thread, so
// no lock; each thread's table dies with it.
class RecentScalars {
 public:
  template <typename T>
  array get(T t, Dtype d) {
    static_assert(sizeof(T) <= sizeof(uint64_t));
    uint64_t bits = 0;
    std::memcpy(&bits, &t, sizeof(T));
    const int dtype = static_cast<int>(d.val);
    Entry& e =
        table_[((bits * 0x9E3779B97F4A7C15ull) >> 58 ^ static_cast<uint64_t>(dtype)) % kSize];
    if (!e.value || e.bits != bits || e.dtype != dtype) {
      e.value = array(&t, {}, d, allocator::constants());
      e.bits = bits;
      e.dtype = dtype;
    }
    return *e.value;
  }

 private:
  static constexpr size_t kSize = 16;
  struct Entry {
    std::optional<array> value;
    uint64_t bits = 0;
    int dtype = -1;
  };
  std::array<Entry, kSize> table_;
};

template <typename V>
array scalar_of(V v, Dtype d, bool weak = false) {
  return dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T t;
    if constexpr (std::is_same_v<T, bfloat16_t> || std::is_same_v<T, float16_t>) {
      t = T(static_cast<float>(v));
    } else {
      t = static_cast<T>(v);
    }
    if (weak) {
      static thread_local RecentScalars recent;  // one table per element type
      return recent.get(t, d);
    }
    return array(&t, {}, d);
  });
}

}  // namespace

array weak_scalar(bool v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::boolean, peer), true);
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
  return scalar_of(v, d, true);
}
array weak_scalar(double v, Dtype peer) {
  return scalar_of(v, weak_scalar_type(ScalarKind::floating, peer), true);
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
