#include "ops/fft.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "ops/ops.h"
#include "primitives/fft.h"

namespace fastsync::fft {

namespace {

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::invalid_argument(std::string("[") + op + "] " + why);
}

double norm_scale(const char* op, const std::string& norm, bool inverse, double n) {
  if (norm == "backward") return inverse ? 1.0 / n : 1.0;
  if (norm == "forward") return inverse ? 1.0 : 1.0 / n;
  if (norm == "ortho") return 1.0 / std::sqrt(n);
  fail(op, "norm must be 'backward', 'ortho' or 'forward', got '" + norm + "'");
}

std::vector<int> checked_axes(const char* op, const std::vector<int>& axes, int ndim) {
  std::vector<int> out;
  for (int ax : axes) {
    int a = ax < 0 ? ax + ndim : ax;
    if (a < 0 || a >= ndim) {
      fail(op, "axis " + std::to_string(ax) + " is out of bounds for an array of " +
                   std::to_string(ndim) + " dimensions");
    }
    if (std::find(out.begin(), out.end(), a) != out.end()) {
      fail(op, "axis " + std::to_string(ax) + " is repeated");
    }
    out.push_back(a);
  }
  return out;
}

// `x` with axis `ax` cut or zero-padded to `n`.
array resized(const array& x, int ax, int64_t n, const Stream& s) {
  const int64_t have = x.shape(ax);
  if (have == n) return x;
  if (have > n) {
    std::vector<std::optional<int64_t>> start(x.ndim()), stop(x.ndim()), step(x.ndim());
    stop[ax] = n;
    return slice(x, start, stop, step, s);
  }
  std::vector<std::pair<int64_t, int64_t>> widths(x.ndim(), {0, 0});
  widths[ax].second = n - have;
  return pad(x, widths, zeros({}, x.dtype(), s), s);
}

array transform(const char* op, const array& a, const OptShape& sizes, const OptAxes& axes_in,
                bool inverse, bool real, const std::string& norm, StreamOrDevice so) {
  Stream s = to_stream(so);
  if (a.ndim() == 0) fail(op, "needs an array with at least one dimension");
  std::vector<int> axes;
  if (axes_in) {
    axes = checked_axes(op, *axes_in, a.ndim());
  } else {
    int count = sizes ? static_cast<int>(sizes->size()) : a.ndim();
    if (count > a.ndim()) {
      fail(op, "s has " + std::to_string(count) + " sizes but the array only " +
                   std::to_string(a.ndim()) + " dimensions");
    }
    for (int i = a.ndim() - count; i < a.ndim(); ++i) axes.push_back(i);
  }
  if (axes.empty()) fail(op, "needs at least one axis to transform");
  if (sizes && sizes->size() != axes.size()) {
    fail(op, "s has " + std::to_string(sizes->size()) + " sizes for " +
                 std::to_string(axes.size()) + " axes");
  }
  array x = a;
  if (real && !inverse) {
    if (is_complex(a.dtype())) fail(op, "needs a real input, got complex64");
    if (x.dtype() != float32) x = astype(x, float32, s);
  } else if (x.dtype() != complex64) {
    x = astype(x, complex64, s);
  }
  const int last = axes.back();
  int64_t n_last = 0;
  double points = 1;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int ax = axes[i];
    int64_t n = sizes ? (*sizes)[i] : x.shape(ax);
    int64_t input_n = n;
    if (real && inverse && ax == last) {
      n = sizes ? (*sizes)[i] : 2 * (x.shape(ax) - 1);
      input_n = n / 2 + 1;
      n_last = n;
    }
    if (n < 1) {
      fail(op, "invalid number of data points (" + std::to_string(n) + ") along axis " +
                   std::to_string(ax));
    }
    x = resized(x, ax, input_n, s);
    points *= static_cast<double>(n);
  }
  double scale = norm_scale(op, norm, inverse, points);
  auto p = std::make_shared<FFT>(s, axes, inverse, real, scale, n_last);
  Shape shape = p->output_shapes({x})[0];
  return array(std::move(shape), real && inverse ? float32 : complex64, std::move(p), {x});
}

OptAxes one_axis(int axis) { return std::vector<int>{axis}; }
OptShape one_size(std::optional<int64_t> n) {
  if (!n) return std::nullopt;
  return Shape{*n};
}

array shift(const char* op, const array& a, const OptAxes& axes_in, bool inverse,
            StreamOrDevice so) {
  std::vector<int> axes;
  if (axes_in) {
    axes = checked_axes(op, *axes_in, a.ndim());
  } else {
    for (int i = 0; i < a.ndim(); ++i) axes.push_back(i);
  }
  if (axes.empty() || a.size() == 0) return a;
  std::vector<int64_t> shifts;
  for (int ax : axes) shifts.push_back(inverse ? -(a.shape(ax) / 2) : a.shape(ax) / 2);
  return roll(a, shifts, axes, so);
}

void check_freq(const char* op, int64_t n, double d) {
  if (n < 1) fail(op, "n must be positive, got " + std::to_string(n));
  if (d == 0.0) fail(op, "the sample spacing d must not be zero");
}

}  // namespace

array fft(const array& a, std::optional<int64_t> n, int axis, const std::string& norm,
          StreamOrDevice s) {
  return transform("fft.fft", a, one_size(n), one_axis(axis), false, false, norm, s);
}
array ifft(const array& a, std::optional<int64_t> n, int axis, const std::string& norm,
           StreamOrDevice s) {
  return transform("fft.ifft", a, one_size(n), one_axis(axis), true, false, norm, s);
}
array rfft(const array& a, std::optional<int64_t> n, int axis, const std::string& norm,
           StreamOrDevice s) {
  return transform("fft.rfft", a, one_size(n), one_axis(axis), false, true, norm, s);
}
array irfft(const array& a, std::optional<int64_t> n, int axis, const std::string& norm,
            StreamOrDevice s) {
  return transform("fft.irfft", a, one_size(n), one_axis(axis), true, true, norm, s);
}
array fftn(const array& a, const OptShape& sz, const OptAxes& axes, const std::string& norm,
           StreamOrDevice s) {
  return transform("fft.fftn", a, sz, axes, false, false, norm, s);
}
array ifftn(const array& a, const OptShape& sz, const OptAxes& axes, const std::string& norm,
            StreamOrDevice s) {
  return transform("fft.ifftn", a, sz, axes, true, false, norm, s);
}
array rfftn(const array& a, const OptShape& sz, const OptAxes& axes, const std::string& norm,
            StreamOrDevice s) {
  return transform("fft.rfftn", a, sz, axes, false, true, norm, s);
}
array irfftn(const array& a, const OptShape& sz, const OptAxes& axes, const std::string& norm,
             StreamOrDevice s) {
  return transform("fft.irfftn", a, sz, axes, true, true, norm, s);
}

array fftshift(const array& a, const OptAxes& axes, StreamOrDevice s) {
  return shift("fft.fftshift", a, axes, false, s);
}
array ifftshift(const array& a, const OptAxes& axes, StreamOrDevice s) {
  return shift("fft.ifftshift", a, axes, true, s);
}

array fftfreq(int64_t n, double d, StreamOrDevice so) {
  check_freq("fft.fftfreq", n, d);
  Stream s = to_stream(so);
  array k = arange(0.0, static_cast<double>(n), 1.0, float32, s);
  array wrapped = where(less(k, weak_scalar(static_cast<double>((n + 1) / 2), float32), s), k,
                        subtract(k, weak_scalar(static_cast<double>(n), float32), s), s);
  return divide(wrapped, weak_scalar(d * static_cast<double>(n), float32), s);
}

array rfftfreq(int64_t n, double d, StreamOrDevice so) {
  check_freq("fft.rfftfreq", n, d);
  Stream s = to_stream(so);
  array k = arange(0.0, static_cast<double>(n / 2 + 1), 1.0, float32, s);
  return divide(k, weak_scalar(d * static_cast<double>(n), float32), s);
}

}  // namespace fastsync::fft
