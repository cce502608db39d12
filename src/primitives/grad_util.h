// Small graph-building helpers the derivative rules share. Each takes the
// stream the rule runs on.
#pragma once

#include <vector>

#include "array.h"
#include "ops/ops.h"

namespace fastsync::grad {

// `v` as a weak scalar beside `like` (takes its dtype).
inline array k(double v, const array& like) { return weak_scalar(v, like.dtype()); }
// c * conj(d): the vjp of a holomorphic map with derivative d (d itself for
// real arrays).
array mul_conj(const array& c, const array& d, Stream s);
// A cotangent of a broadcast result summed back to `shape`.
array unbroadcast(const array& c, const Shape& shape, Stream s);
// Zeros of `shape` with `values` added at flat (row-major) positions
// `flat_index` (same shape as values); repeats accumulate.
array add_at_flat(const Shape& shape, const array& flat_index, const array& values, Stream s);
// Flat row-major positions into an array of `shape` for `index` taken along
// `axis` (index has the array's rank and broadcasts off the axis).
array flat_index_along(const Shape& shape, const array& index, int axis, Stream s);
// `c` broadcast to the shape of `like`; under a compile trace, through a node
// that reads the shape from `like`, so a shapeless replay follows it.
array broadcast_like(const array& c, const array& like, Stream s);
// Zeros like `a`: a derivative that does not depend on anything (its shape
// follows `a` through a shapeless replay, as zeros_like's does).
inline array zero_like(const array& a, Stream s) { return zeros_like(a, s); }
// Zeros for every input in argnums.
std::vector<array> zeros_for(const std::vector<array>& primals, const std::vector<int>& argnums,
                             Stream s);

}  // namespace fastsync::grad
