#include "format.h"

#include <cmath>
#include <sstream>

namespace fastsync {

namespace {

constexpr int64_t kEdge = 3;  // entries kept at each end of a long axis

template <typename T>
void put(std::ostringstream& os, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "True" : "False");
  } else if constexpr (std::is_integral_v<T>) {
    os << +v;  // int8/uint8 as numbers, not characters
  } else if constexpr (is_complex_v<T>) {
    // MLX's (and Python's) form: 1+2j, 1-2j, nan+nanj.
    put(os, v.re);
    if (v.im < 0 || (v.im == 0 && std::signbit(v.im))) {
      os << "-";
      put(os, -v.im);
    } else {
      os << "+";
      put(os, v.im);
    }
    os << "j";
  } else {
    double d = static_cast<double>(static_cast<compute_t<T>>(v));
    if (std::isnan(d))
      os << "nan";
    else if (std::isinf(d))
      os << (d > 0 ? "inf" : "-inf");
    else
      os << d;  // the stream's default: six significant digits
  }
}

template <typename T>
void put_axis(std::ostringstream& os, const array& a, const T* base, int dim, int64_t off) {
  int64_t n = a.shape()[dim];
  bool last = dim + 1 == a.ndim();
  bool cut = n > 2 * kEdge;
  std::string sep = last ? ", " : ",\n" + std::string(7 + dim, ' ');
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdge) {
      os << "..." << sep;
      i = n - kEdge;
    }
    int64_t o = off + i * a.strides()[dim];
    if (last)
      put(os, base[o]);
    else
      put_axis(os, a, base, dim + 1, o);
    if (i + 1 < n) os << sep;
  }
  os << "]";
}

}  // namespace

std::string format_array(const array& a) {
  std::ostringstream os;
  os << "array(";
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* base = a.data<T>();
    if (a.ndim() == 0)
      put(os, *base);
    else
      put_axis(os, a, base, 0, 0);
  });
  os << ", dtype=" << a.dtype().name() << ")";
  return os.str();
}

}  // namespace fastsync
