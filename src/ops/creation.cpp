#include <cmath>

#include "errors.h"
#include "ops/ops.h"
#include "primitives/creation.h"

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
array zeros_like(const array& a, StreamOrDevice s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, StreamOrDevice s) { return ones(a.shape(), a.dtype(), s); }

array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s) {
  if (step == 0) throw std::invalid_argument("[arange] step must be nonzero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw std::invalid_argument("[arange] start, stop and step must be finite");
  }
  if (dtype == bool_) throw type_error("[arange] bool dtype is not supported");
  double n = std::ceil((stop - start) / step);
  int64_t size = n > 0 ? static_cast<int64_t>(n) : 0;
  return array({size}, dtype, std::make_shared<Arange>(to_stream(s), start, step), {});
}

}  // namespace fastsync
