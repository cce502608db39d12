#include "primitives/indexing.h"

#include "errors.h"
#include "ops/axes.h"
#include "ops/dtype_checks.h"
#include "ops/index.h"
#include "ops/ops.h"
#include "primitives/binary.h"

namespace fastsync {

namespace {
array checked_indices(const char* op, const array& indices, StreamOrDevice s) {
  if (!is_integral(indices.dtype())) {
    throw type_error(std::string("[") + op + "] indices must be integers, got " +
                     indices.dtype().name());
  }
  return index_as_int64(indices, s);
}

array gather_indices(const char* op, const array& indices, StreamOrDevice s) {
  return Gather::reads_index(indices.dtype()) ? indices : checked_indices(op, indices, s);
}

}  // namespace

array take(const array& a, const array& indices, std::optional<int> axis, StreamOrDevice s) {
  if (!axis) return take(reshape(a, {-1}, s), indices, 0, s);
  int ax = normalize_axis("take", *axis, a.ndim());
  if (a.shape()[ax] == 0 && indices.size() > 0) {
    throw std::invalid_argument("[take] cannot take from an empty axis");
  }
  auto idx = gather_indices("take", indices, s);
  Shape shape(a.shape().begin(), a.shape().begin() + ax);
  shape.insert(shape.end(), idx.shape().begin(), idx.shape().end());
  shape.insert(shape.end(), a.shape().begin() + ax + 1, a.shape().end());
  Shape out = shape;
  return array(std::move(out), a.dtype(),
               std::make_shared<Gather>(to_stream(s), ax, false, std::move(shape)), {a, idx});
}

array take_along_axis(const array& a, const array& indices, std::optional<int> axis,
                      StreamOrDevice s) {
  if (!axis) return take_along_axis(reshape(a, {-1}, s), reshape(indices, {-1}, s), 0, s);
  int ax = normalize_axis("take_along_axis", *axis, a.ndim());
  if (indices.ndim() != a.ndim()) {
    throw std::invalid_argument("[take_along_axis] indices must have the array's " +
                                std::to_string(a.ndim()) + " dimensions, got " +
                                std::to_string(indices.ndim()));
  }
  auto idx = gather_indices("take_along_axis", indices, s);
  Shape off_axis = a.shape();
  off_axis[ax] = 1;
  Shape shape;
  try {
    shape = broadcast_shapes(off_axis, idx.shape());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("[take_along_axis] ") + e.what());
  }
  shape[ax] = idx.shape()[ax];
  Shape out = shape;
  return array(std::move(out), a.dtype(),
               std::make_shared<Gather>(to_stream(s), ax, true, std::move(shape)), {a, idx});
}

}  // namespace fastsync

namespace fastsync {

namespace {
array scatter(const char* op, const array& a, const array& indices, const array& updates,
              ScatterOp kind, StreamOrDevice s) {
  if (a.ndim() == 0)
    throw std::invalid_argument(std::string("[") + op + "] needs at least 1 dimension");
  auto idx = reshape(checked_indices(op, indices, s), {-1}, s);
  Shape target = idx.shape();
  target.insert(target.end(), a.shape().begin() + 1, a.shape().end());
  // Updates broadcast to (len(indices),) + a.shape[1:], in a's dtype.
  Shape full_idx = indices.shape();
  full_idx.insert(full_idx.end(), a.shape().begin() + 1, a.shape().end());
  array u = astype(updates, a.dtype(), s);
  try {
    u = reshape(broadcast_to(u, full_idx, s), target, s);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("[") + op + "] updates of shape " +
                                shape_str(updates.shape()) + " do not broadcast to " +
                                shape_str(full_idx));
  }
  return array(a.shape(), a.dtype(), std::make_shared<Scatter>(to_stream(s), kind), {a, idx, u});
}
}  // namespace

array scatter_add(const array& a, const array& indices, const array& updates, StreamOrDevice s) {
  return scatter("scatter_add", a, indices, updates, ScatterOp::add, s);
}

array scatter_set(const array& a, const array& indices, const array& updates, StreamOrDevice s) {
  return scatter("scatter", a, indices, updates, ScatterOp::set, s);
}

array scatter_prod(const array& a, const array& indices, const array& updates, StreamOrDevice s) {
  return scatter("scatter_prod", a, indices, updates, ScatterOp::prod, s);
}

array scatter_max(const array& a, const array& indices, const array& updates, StreamOrDevice s) {
  reject_complex("scatter_max", a.dtype());
  return scatter("scatter_max", a, indices, updates, ScatterOp::max, s);
}

array scatter_min(const array& a, const array& indices, const array& updates, StreamOrDevice s) {
  reject_complex("scatter_min", a.dtype());
  return scatter("scatter_min", a, indices, updates, ScatterOp::min, s);
}

}  // namespace fastsync
