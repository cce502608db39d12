#include "format.h"

#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace fastsync {

namespace {

constexpr int64_t kEdge = 3;  // entries kept at each end of a long axis

// set_printoptions(precision=): process-wide, as NumPy's and MLX's.
std::atomic<int> g_precision{-1};

// snprintf, not iostreams: the same text ("%g": six significant digits)
// without the stream and locale machinery, which has crashed in processes
// that also load PyTorch's libraries.
template <typename T>
void put(std::string& os, T v) {
  char buf[64];
  if constexpr (std::is_same_v<T, bool>) {
    std::snprintf(buf, sizeof buf, "%s", v ? "True" : "False");
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    std::snprintf(buf, sizeof buf, "%" PRId64, static_cast<int64_t>(v));
  } else if constexpr (std::is_integral_v<T>) {
    std::snprintf(buf, sizeof buf, "%" PRIu64, static_cast<uint64_t>(v));
  } else if constexpr (is_complex_v<T>) {
    // MLX's (and Python's) form: 1+2j, 1-2j, nan+nanj.
    put(os, v.re);
    if (v.im < 0 || (v.im == 0 && std::signbit(v.im))) {
      os += "-";
      put(os, -v.im);
    } else {
      os += "+";
      put(os, v.im);
    }
    os += "j";
    return;
  } else {
    double d = static_cast<double>(static_cast<compute_t<T>>(v));
    if (std::isnan(d)) {
      std::snprintf(buf, sizeof buf, "nan");
    } else if (std::isinf(d)) {
      std::snprintf(buf, sizeof buf, "%s", d > 0 ? "inf" : "-inf");
    } else {
      int p = g_precision.load(std::memory_order_relaxed);
      if (p < 0) {
        std::snprintf(buf, sizeof buf, "%g", d);
      } else {
        std::snprintf(buf, sizeof buf, "%.*f", p, d);
      }
    }
  }
  os += buf;
}

template <typename T>
void put_axis(std::string& os, const array& a, const T* base, int dim, int64_t off) {
  int64_t n = a.shape()[dim];
  bool last = dim + 1 == a.ndim();
  bool cut = n > 2 * kEdge;
  std::string sep = last ? ", " : ",\n" + std::string(7 + dim, ' ');
  os += "[";
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdge) {
      os += "...";
      os += sep;
      i = n - kEdge;
    }
    int64_t o = off + i * a.strides()[dim];
    if (last)
      put(os, base[o]);
    else
      put_axis(os, a, base, dim + 1, o);
    if (i + 1 < n) os += sep;
  }
  os += "]";
}

}  // namespace

void set_print_precision(int digits) {
  if (digits < -1 || digits > 60) {
    throw std::invalid_argument("[set_printoptions] precision must be in [0, 60]");
  }
  g_precision.store(digits, std::memory_order_relaxed);
}

int print_precision() { return g_precision.load(std::memory_order_relaxed); }

std::string format_array(const array& a) {
  std::string os = "array(";
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* base = a.data<T>();
    if (a.ndim() == 0)
      put(os, *base);
    else
      put_axis(os, a, base, 0, 0);
  });
  os += ", dtype=";
  os += a.dtype().name();
  os += ")";
  return os;
}

}  // namespace fastsync
