#include "primitives/creation.h"

#include <cmath>

#include "errors.h"
#include "ops/ops.h"
#include "trace_scope.h"

namespace fastsync {

array full(const Shape& shape, const array& value, std::optional<Dtype> dtype, StreamOrDevice s) {
  if (value.ndim() != 0 && value.size() != 1) {
    // A non-scalar fill value broadcasts like NumPy's full.
    auto b = broadcast_to(dtype ? astype(value, *dtype, s) : value, shape, s);
    return astype(b, dtype.value_or(value.dtype()), s);
  }
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[full] negative dimension in shape");
  }
  Dtype dt = dtype.value_or(value.dtype());
  auto v = value.ndim() == 0 ? value : reshape(value, {}, s);
  return array(shape, dt, std::make_shared<Full>(to_stream(s)), {v});
}

array zeros(const Shape& shape, Dtype dtype, StreamOrDevice s) {
  return full(shape, scalar(false), dtype, s);
}
array ones(const Shape& shape, Dtype dtype, StreamOrDevice s) {
  return full(shape, scalar(true), dtype, s);
}
// Under a compile trace, the fill reads its shape from `a` (a second input of
// Full), so a shapeless replay follows a's new shape.
static array fill_like(const array& a, bool one, StreamOrDevice s) {
  if (!compile_trace::active()) return full(a.shape(), scalar(one), a.dtype(), s);
  return array(a.shape(), a.dtype(), std::make_shared<Full>(to_stream(s)), {scalar(one), a});
}
array zeros_like(const array& a, StreamOrDevice s) { return fill_like(a, false, s); }
array ones_like(const array& a, StreamOrDevice s) { return fill_like(a, true, s); }

array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s) {
  if (step == 0) throw std::invalid_argument("[arange] step must be nonzero");
  if (!std::isfinite(start) || !std::isfinite(stop) || std::isnan(step)) {
    throw std::invalid_argument("[arange] start and stop must be finite, step not NaN");
  }
  if (dtype == bool_) throw type_error("[arange] bool dtype is not supported");
  if (is_complex(dtype)) throw std::invalid_argument("[arange] complex64 is not supported");
  // The bounds travel as doubles: an integer range past 2**53 would come out
  // rounded, so it is refused rather than computed wrong.
  constexpr double kExact = 9007199254740992.0;  // 2**53
  if (!is_floating(dtype) &&
      (std::abs(start) > kExact || std::abs(stop) > kExact || std::abs(step) > kExact)) {
    throw std::invalid_argument(
        "[arange] integer start, stop and step beyond 2**53 in magnitude are not supported "
        "(they would be rounded)");
  }
  // An infinite step reaches past stop at once: just start, when it is
  // before stop in the step's direction (NumPy).
  double n = std::isinf(step) ? ((step > 0 ? start < stop : start > stop) ? 1.0 : 0.0)
                              : std::ceil((stop - start) / step);
  // A quotient that underflows to zero still leaves `start` inside the range
  // when it lies before stop in the step's direction (NumPy).
  if (n == 0 && (step > 0 ? start < stop : start > stop)) n = 1;
  // MLX's limit: a size beyond int32 is almost always a mistake (2**40
  // elements), so it is refused before anything is allocated.
  if (n > 2147483647.0) {
    throw std::invalid_argument("[arange] the range has " + std::to_string(n) +
                                " elements, more than the 2**31 - 1 allowed");
  }
  int64_t size = n > 0 ? static_cast<int64_t>(n) : 0;
  if (std::isinf(step)) step = 1;  // only `start` is produced
  return array({size}, dtype, std::make_shared<Arange>(to_stream(s), start, step), {});
}

}  // namespace fastsync

namespace fastsync {

array linspace(double start, double stop, int64_t num, Dtype dtype, bool endpoint,
               StreamOrDevice s) {
  if (num < 0) throw std::invalid_argument("[linspace] num must be non-negative");
  if (dtype == bool_) throw type_error("[linspace] bool dtype is not supported");
  // Integer dtypes take the float values truncated toward zero (NumPy).
  if (!is_floating(dtype))
    return astype(linspace(start, stop, num, float64, endpoint, s), dtype, s);
  if (num <= 1) return full({num}, scalar(start), dtype, s);
  double step = (stop - start) / static_cast<double>(endpoint ? num - 1 : num);
  auto r = add(
      multiply(arange(0, static_cast<double>(num), 1, float64, s), weak_scalar(step, float64), s),
      weak_scalar(start, float64), s);
  return astype(r, dtype, s);
}

namespace {
// Row and column indices of an (n, m) grid, shaped (n, 1) and (1, m).
std::pair<array, array> grid(const char* op, int64_t n, int64_t m, StreamOrDevice s) {
  if (n < 0 || m < 0) {
    throw std::invalid_argument(std::string("[") + op + "] dimensions must be non-negative");
  }
  return {reshape(arange(0, static_cast<double>(n), 1, int64, s), {n, 1}, s),
          reshape(arange(0, static_cast<double>(m), 1, int64, s), {1, m}, s)};
}
}  // namespace

array tri(int64_t n, std::optional<int64_t> m, int k, Dtype dtype, StreamOrDevice s) {
  auto [rows, cols] = grid("tri", n, m.value_or(n), s);
  return astype(greater_equal(add(rows, weak_scalar(int64_t(k), int64), s), cols, s), dtype, s);
}

array eye(int64_t n, std::optional<int64_t> m, int k, Dtype dtype, StreamOrDevice s) {
  auto [rows, cols] = grid("eye", n, m.value_or(n), s);
  return astype(equal(add(rows, weak_scalar(int64_t(k), int64), s), cols, s), dtype, s);
}

array identity(int64_t n, Dtype dtype, StreamOrDevice s) { return eye(n, n, 0, dtype, s); }

array tril(const array& a, int k, StreamOrDevice s) {
  if (a.ndim() < 2) throw std::invalid_argument("[tril] the array must have at least 2 dimensions");
  auto mask = tri(a.shape(-2), a.shape(-1), k, bool_, s);
  return where(mask, a, zeros({}, a.dtype(), s), s);
}

array triu(const array& a, int k, StreamOrDevice s) {
  if (a.ndim() < 2) throw std::invalid_argument("[triu] the array must have at least 2 dimensions");
  auto mask = tri(a.shape(-2), a.shape(-1), k - 1, bool_, s);
  return where(mask, zeros({}, a.dtype(), s), a, s);
}

}  // namespace fastsync

namespace fastsync {

namespace {
// n = 0 .. m-1 as float32, and the phase 2*pi*n/(m-1) of the cosine windows.
array window_phase(int64_t m, double cycles, StreamOrDevice s) {
  array n = arange(0, static_cast<double>(m), 1, float32, s);
  return multiply(n, weak_scalar(cycles * 2 * M_PI / static_cast<double>(m - 1), float32), s);
}

array cosine_window(const char* op, int64_t m, std::vector<double> coeffs, StreamOrDevice s) {
  if (m < 0) throw std::invalid_argument(std::string("[") + op + "] M must be non-negative");
  if (m <= 1) return ones({m}, float32, s);
  // sum_k (-1)^k coeffs[k] cos(2 pi k n / (M - 1))
  array w = full({m}, scalar(coeffs[0]), float32, s);
  for (size_t k = 1; k < coeffs.size(); ++k) {
    double c = (k % 2 ? -1.0 : 1.0) * coeffs[k];
    w = add(
        w, multiply(cos(window_phase(m, static_cast<double>(k), s), s), weak_scalar(c, float32), s),
        s);
  }
  return w;
}
}  // namespace

array hanning(int64_t m, StreamOrDevice s) { return cosine_window("hanning", m, {0.5, 0.5}, s); }
array hamming(int64_t m, StreamOrDevice s) { return cosine_window("hamming", m, {0.54, 0.46}, s); }
array blackman(int64_t m, StreamOrDevice s) {
  return cosine_window("blackman", m, {0.42, 0.5, 0.08}, s);
}
array bartlett(int64_t m, StreamOrDevice s) {
  if (m < 0) throw std::invalid_argument("[bartlett] M must be non-negative");
  if (m <= 1) return ones({m}, float32, s);
  array n = arange(0, static_cast<double>(m), 1, float32, s);
  array t = subtract(multiply(n, weak_scalar(2.0 / static_cast<double>(m - 1), float32), s),
                     weak_scalar(1.0, float32), s);
  return subtract(weak_scalar(1.0, float32), abs(t, s), s);
}

}  // namespace fastsync
