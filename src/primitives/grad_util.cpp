#include "primitives/grad_util.h"

#include "autodiff.h"
#include "primitives/shape.h"
#include "trace_scope.h"

namespace fastsync::grad {

array mul_conj(const array& c, const array& d, Stream s) {
  // conj(d) * c, in that order: complex products round differently with
  // the operands swapped (fused multiply-adds), and MLX users compare
  // against conj(f'(x)) * cotangent exactly.
  return multiply(is_complex(d.dtype()) ? conjugate(d, s) : d, c, s);
}

array broadcast_like(const array& c, const array& like, Stream s) {
  if (!compile_trace::active() || c.shape() == like.shape())
    return broadcast_to(c, like.shape(), s);
  Shape shape = BroadcastLike(s).output_shapes({c, like})[0];
  return array(std::move(shape), c.dtype(), std::make_shared<BroadcastLike>(s), {c, like});
}

array unbroadcast(const array& c, const Shape& shape, Stream s) {
  if (c.shape() == shape) return c;
  int lead = c.ndim() - static_cast<int>(shape.size());
  std::vector<int> axes;
  for (int i = 0; i < c.ndim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && c.shape()[i] != 1)) axes.push_back(i);
  }
  array r = sum(c, axes, true, s);
  return reshape(r, shape, s);
}

array add_at_flat(const Shape& shape, const array& flat_index, const array& values, Stream s) {
  int64_t n = shape_size(shape);
  array z = zeros({n}, values.dtype(), s);
  // Positions are locally constant in the values that chose them: a second
  // derivative must not flow into them.
  array idx = stop_gradient(reshape(flat_index, {-1}, s), s);
  array r = scatter_add(z, idx, reshape(values, {-1}, s), s);
  return reshape(r, shape, s);
}

array flat_index_along(const Shape& shape, const array& index, int axis, Stream s) {
  const int nd = static_cast<int>(shape.size());
  Strides st = row_major_strides(shape);
  array idx = astype(index, int64, s);
  array flat = multiply(idx, scalar(static_cast<int64_t>(st[axis])), s);
  for (int d = 0; d < nd; ++d) {
    if (d == axis) continue;
    Shape at(nd, 1);
    at[d] = shape[d];
    array r = reshape(arange(0, static_cast<double>(shape[d]), 1, int64, s), at, s);
    flat = add(flat, multiply(r, scalar(static_cast<int64_t>(st[d])), s), s);
  }
  return flat;
}

std::vector<array> zeros_for(const std::vector<array>& primals, const std::vector<int>& argnums,
                             Stream s) {
  std::vector<array> out;
  for (int i : argnums) out.push_back(zero_like(primals[i], s));
  return out;
}

}  // namespace fastsync::grad
