#include "primitives/shape.h"

#include <algorithm>
#include <numeric>

#include "errors.h"
#include "ops/axes.h"
#include "ops/dtype_checks.h"
#include "ops/ops.h"
#include "primitives/sort.h"

namespace fastsync {

array astype(const array& a, Dtype dtype, StreamOrDevice s) {
  if (a.dtype() == dtype) return a;
  return array(a.shape(), dtype, std::make_shared<AsType>(to_stream(s), dtype), {a});
}

array reshape(const array& a, Shape shape, StreamOrDevice s) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("[reshape] can only infer one dimension");
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("[reshape] negative dimension in shape " + shape_str(shape));
    } else {
      // Each dimension within int32, and their product checked: a product
      // that wrapped (2^62 + 1 rows of 4) could match the size by accident.
      checked_dim("reshape", shape[i]);
      if (__builtin_mul_overflow(known, shape[i], &known)) {
        throw std::overflow_error("[reshape] the shape " + shape_str(shape) +
                                  " has more elements than int64 holds");
      }
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0) {
      throw std::invalid_argument("[reshape] cannot reshape array of size " +
                                  std::to_string(a.size()) + " into shape " + shape_str(shape));
    }
    shape[infer] = a.size() / known;
    known *= shape[infer];
  }
  if (known != a.size()) {
    throw std::invalid_argument("[reshape] cannot reshape array of size " +
                                std::to_string(a.size()) + " into shape " + shape_str(shape));
  }
  if (shape == a.shape()) return a;
  Shape out = shape;
  return array(std::move(out), a.dtype(), std::make_shared<Reshape>(to_stream(s), std::move(shape)),
               {a});
}

array transpose(const array& a, std::vector<int> axes, StreamOrDevice s) {
  int nd = a.ndim();
  if (static_cast<int>(axes.size()) != nd) {
    throw std::invalid_argument("[transpose] axes must list every one of the " +
                                std::to_string(nd) + " axes");
  }
  std::vector<bool> seen(nd, false);
  for (auto& ax : axes) {
    if (ax < -nd || ax >= nd) {
      throw std::invalid_argument("[transpose] axis " + std::to_string(ax) +
                                  " is out of bounds for an array of " + std::to_string(nd) +
                                  " dimensions");
    }
    if (ax < 0) ax += nd;
    if (seen[ax]) throw std::invalid_argument("[transpose] repeated axis");
    seen[ax] = true;
  }
  Shape shape;
  for (int ax : axes) shape.push_back(a.shape()[ax]);
  return array(std::move(shape), a.dtype(), std::make_shared<Transpose>(to_stream(s), axes), {a});
}

array transpose(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, std::move(axes), s);
}

array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s) {
  if (a.shape() == shape) return a;
  bool ok = shape.size() >= a.shape().size();
  for (size_t i = 0; ok && i < a.shape().size(); ++i) {
    int64_t d = a.shape()[a.ndim() - 1 - i];
    int64_t t = shape[shape.size() - 1 - i];
    ok = d == t || d == 1;
  }
  if (!ok) {
    throw std::invalid_argument("[broadcast_to] cannot broadcast shape " + shape_str(a.shape()) +
                                " to " + shape_str(shape));
  }
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s), shape), {a});
}

SliceBounds slice_bounds(const Shape& shape, const std::vector<std::optional<int64_t>>& start,
                         const std::vector<std::optional<int64_t>>& stop,
                         const std::vector<std::optional<int64_t>>& step) {
  int nd = static_cast<int>(shape.size());
  if (static_cast<int>(start.size()) > nd) {
    throw std::invalid_argument("[slice] too many indices for an array of " + std::to_string(nd) +
                                " dimensions");
  }
  SliceBounds r{Shape(nd), Shape(nd), Shape(nd)};
  for (int i = 0; i < nd; ++i) {
    int64_t n = shape[i];
    int64_t k = i < static_cast<int>(step.size()) && step[i] ? *step[i] : 1;
    if (k == 0) throw std::invalid_argument("[slice] slice step cannot be zero");
    // Python's slice.indices semantics.
    auto norm = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v < 0 ? *v + n : *v;
      if (k > 0) return std::clamp<int64_t>(x, 0, n);
      return std::clamp<int64_t>(x, -1, n - 1);
    };
    r.start[i] =
        norm(i < static_cast<int>(start.size()) ? start[i] : std::nullopt, k > 0 ? 0 : n - 1);
    r.stop[i] = norm(i < static_cast<int>(stop.size()) ? stop[i] : std::nullopt, k > 0 ? n : -1);
    r.step[i] = k;
    r.identity &= (r.start[i] == 0 && r.stop[i] == n && k == 1);
  }
  return r;
}

array slice(const array& a, const std::vector<std::optional<int64_t>>& start,
            const std::vector<std::optional<int64_t>>& stop,
            const std::vector<std::optional<int64_t>>& step, StreamOrDevice s) {
  auto [b, e, st, identity] = slice_bounds(a.shape(), start, stop, step);
  if (identity) return a;
  auto prim = std::make_shared<Slice>(to_stream(s), b, e, st);
  Shape out = prim->output_shapes({a})[0];
  return array(std::move(out), a.dtype(), std::move(prim), {a});
}

}  // namespace fastsync

namespace fastsync {

array expand_dims(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  int nd = a.ndim() + static_cast<int>(axes.size());
  std::vector<bool> is_new(nd, false);
  for (int ax : axes) {
    int n = normalize_axis("expand_dims", ax, nd);
    if (is_new[n]) throw std::invalid_argument("[expand_dims] repeated axis");
    is_new[n] = true;
  }
  if (axes.empty()) return a;
  std::vector<int> sorted;
  for (int d = 0; d < nd; ++d) {
    if (is_new[d]) sorted.push_back(d);
  }
  auto p = std::make_shared<ExpandDims>(to_stream(s), std::move(sorted));
  Shape shape = p->output_shapes({a})[0];
  return array(std::move(shape), a.dtype(), std::move(p), {a});
}

array squeeze(const array& a, const std::optional<std::vector<int>>& axes, StreamOrDevice s) {
  std::vector<bool> drop(a.ndim(), false);
  if (!axes) {
    for (int d = 0; d < a.ndim(); ++d) drop[d] = a.shape()[d] == 1;
  } else {
    for (int ax : *axes) {
      int n = normalize_axis("squeeze", ax, a.ndim());
      if (a.shape()[n] != 1) {
        throw std::invalid_argument("[squeeze] cannot squeeze axis " + std::to_string(ax) +
                                    " of size " + std::to_string(a.shape()[n]));
      }
      drop[n] = true;
    }
  }
  std::vector<int> sorted;
  for (int d = 0; d < a.ndim(); ++d) {
    if (drop[d]) sorted.push_back(d);
  }
  if (sorted.empty()) return a;
  auto p = std::make_shared<Squeeze>(to_stream(s), std::move(sorted));
  Shape shape = p->output_shapes({a})[0];
  return array(std::move(shape), a.dtype(), std::move(p), {a});
}

array swapaxes(const array& a, int axis1, int axis2, StreamOrDevice s) {
  int x = normalize_axis("swapaxes", axis1, a.ndim());
  int y = normalize_axis("swapaxes", axis2, a.ndim());
  std::vector<int> perm(a.ndim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[x], perm[y]);
  return transpose(a, perm, s);
}

array moveaxis(const array& a, int source, int destination, StreamOrDevice s) {
  int from = normalize_axis("moveaxis", source, a.ndim());
  int to = normalize_axis("moveaxis", destination, a.ndim());
  std::vector<int> perm;
  for (int d = 0; d < a.ndim(); ++d) {
    if (d != from) perm.push_back(d);
  }
  perm.insert(perm.begin() + to, from);
  return transpose(a, perm, s);
}

array concatenate(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw std::invalid_argument("[concatenate] needs at least one array");
  int nd = arrays[0].ndim();
  if (nd == 0)
    throw std::invalid_argument("[concatenate] zero-dimensional arrays cannot be joined");
  int ax = normalize_axis("concatenate", axis, nd);
  Dtype t = arrays[0].dtype();
  for (auto& a : arrays) {
    if (a.ndim() != nd) {
      throw std::invalid_argument(
          "[concatenate] all arrays must have the same number of dimensions");
    }
    for (int d = 0; d < nd; ++d) {
      if (d != ax && a.shape()[d] != arrays[0].shape()[d]) {
        throw std::invalid_argument("[concatenate] shapes " + shape_str(arrays[0].shape()) +
                                    " and " + shape_str(a.shape()) +
                                    " differ outside the concatenation axis");
      }
    }
    t = promote_types(t, a.dtype());
  }
  Stream st = to_stream(s);
  std::vector<array> ins;
  for (auto& a : arrays) ins.push_back(astype(a, t, st));
  auto prim = std::make_shared<Concatenate>(st, ax);
  Shape shape = prim->output_shapes(ins)[0];
  checked_dim("concatenate", shape[ax]);
  return array(std::move(shape), t, std::move(prim), std::move(ins));
}

array stack(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw std::invalid_argument("[stack] needs at least one array");
  for (auto& a : arrays) {
    if (a.shape() != arrays[0].shape()) {
      throw std::invalid_argument("[stack] all arrays must have the same shape");
    }
  }
  int ax = normalize_axis("stack", axis, arrays[0].ndim() + 1);
  std::vector<array> expanded;
  for (auto& a : arrays) expanded.push_back(expand_dims(a, {ax}, s));
  return concatenate(expanded, ax, s);
}

std::vector<array> split(const array& a, const std::vector<int64_t>& indices, int axis,
                         StreamOrDevice s) {
  int ax = normalize_axis("split", axis, a.ndim());
  const int64_t n = a.shape()[ax];
  Shape starts, stops;
  int64_t start = 0;
  std::vector<int64_t> bounds = indices;
  bounds.push_back(n);
  for (int64_t stop : bounds) {
    // Python's slice bounds: negative from the end, clamped, never reversed.
    int64_t b = start < 0 ? std::max<int64_t>(start + n, 0) : std::min(start, n);
    int64_t e = stop < 0 ? std::max<int64_t>(stop + n, 0) : std::min(stop, n);
    starts.push_back(b);
    stops.push_back(std::max(e, b));
    start = stop;
  }
  Stream st = to_stream(s);
  bool tiles = true;  // pieces in order, one after another, covering the axis
  for (size_t i = 0; i < starts.size(); ++i) {
    tiles = tiles && starts[i] == (i ? stops[i - 1] : 0);
  }
  if (!tiles || stops.back() != n) {
    // Overlapping or out-of-order bounds (NumPy allows them): a slice each.
    std::vector<array> out;
    for (size_t i = 0; i < starts.size(); ++i) {
      std::vector<std::optional<int64_t>> b(a.ndim()), e(a.ndim()), step(a.ndim());
      b[ax] = starts[i];
      e[ax] = stops[i];
      out.push_back(slice(a, b, e, step, st));
    }
    return out;
  }
  std::vector<Shape> shapes;
  for (size_t i = 0; i < starts.size(); ++i) {
    Shape sh = a.shape();
    sh[ax] = stops[i] - starts[i];
    shapes.push_back(std::move(sh));
  }
  std::vector<Dtype> dtypes(starts.size(), a.dtype());
  return array::make_arrays(std::move(shapes), std::move(dtypes),
                            std::make_shared<Split>(st, ax, std::move(starts), std::move(stops)),
                            {a});
}

std::vector<array> split(const array& a, int sections, int axis, StreamOrDevice s) {
  int ax = normalize_axis("split", axis, a.ndim());
  if (sections <= 0 || a.shape()[ax] % sections != 0) {
    throw std::invalid_argument("[split] array split does not result in an equal division: " +
                                std::to_string(a.shape()[ax]) + " into " +
                                std::to_string(sections));
  }
  // Only an empty axis divides into more sections than it has elements: each
  // is an empty array, and millions of them are a mistake, not a request.
  constexpr int kMaxEmptySections = 1 << 20;
  if (a.shape()[ax] == 0 && sections > kMaxEmptySections) {
    throw std::invalid_argument("[split] " + std::to_string(sections) +
                                " sections of an empty axis would make as many empty arrays "
                                "(at most 2**20)");
  }
  std::vector<int64_t> idx;
  int64_t step = a.shape()[ax] / sections;
  for (int i = 1; i < sections; ++i) idx.push_back(i * step);
  return split(a, idx, ax, s);
}

}  // namespace fastsync

namespace fastsync {

array tile(const array& a, std::vector<int64_t> reps, StreamOrDevice s) {
  for (auto r : reps) {
    if (r < 0) throw std::invalid_argument("[tile] repetitions must be non-negative");
  }
  int nd = std::max<int>(a.ndim(), static_cast<int>(reps.size()));
  reps.insert(reps.begin(), nd - reps.size(), 1);
  Shape in(nd - a.ndim(), 1);
  in.insert(in.end(), a.shape().begin(), a.shape().end());
  // View as (1, d0, 1, d1, ...), broadcast to (r0, d0, r1, d1, ...), flatten
  // pairs.
  Shape expanded, target, out;
  for (int d = 0; d < nd; ++d) {
    expanded.insert(expanded.end(), {1, in[d]});
    target.insert(target.end(), {reps[d], in[d]});
    out.push_back(checked_dim("tile", reps[d] * in[d]));
  }
  return reshape(broadcast_to(reshape(a, expanded, s), target, s), out, s);
}

array repeat(const array& a, int64_t repeats, std::optional<int> axis, StreamOrDevice s) {
  if (repeats < 0) throw std::invalid_argument("[repeat] repeats must be non-negative");
  if (!axis) return repeat(reshape(a, {-1}, s), repeats, 0, s);
  int ax = normalize_axis("repeat", *axis, a.ndim());
  Shape expanded = a.shape(), target = a.shape(), out = a.shape();
  expanded.insert(expanded.begin() + ax + 1, 1);
  target.insert(target.begin() + ax + 1, repeats);
  out[ax] = checked_dim("repeat", out[ax] * repeats);
  return reshape(broadcast_to(reshape(a, expanded, s), target, s), out, s);
}

namespace {
// One pair pads every axis alike, as NumPy's pad_width.
std::vector<std::pair<int64_t, int64_t>> pad_widths_per_axis(
    const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_widths) {
  auto widths = pad_widths.size() == 1
                    ? std::vector<std::pair<int64_t, int64_t>>(a.ndim(), pad_widths[0])
                    : pad_widths;
  if (static_cast<int>(widths.size()) != a.ndim()) {
    throw std::invalid_argument("[pad] need one (before, after) pair, or one per axis, got " +
                                std::to_string(widths.size()) + " for " + std::to_string(a.ndim()) +
                                " axes");
  }
  return widths;
}
}  // namespace

namespace {
// Edge and mirror padding are both a gather along each axis: position i of
// the padded axis reads input position index(i, n) (i counted from -before).
template <typename IndexFn>
array pad_by_gather(const char* mode, const array& a,
                    const std::vector<std::pair<int64_t, int64_t>>& pad_widths, IndexFn index,
                    StreamOrDevice s) {
  auto widths = pad_widths_per_axis(a, pad_widths);
  array r = a;
  for (int d = 0; d < a.ndim(); ++d) {
    auto [before, after] = widths[d];
    if (before < 0 || after < 0) throw std::invalid_argument("[pad] widths must be non-negative");
    if (before == 0 && after == 0) continue;
    int64_t n = r.shape()[d];
    if (n == 0) {
      throw std::invalid_argument(std::string("[pad] mode='") + mode +
                                  "' cannot pad an empty axis");
    }
    std::vector<int64_t> idx;
    for (int64_t i = -before; i < n + after; ++i) idx.push_back(index(i, n));
    r = take(r, array(idx.data(), {static_cast<int64_t>(idx.size())}, int64), d, s);
  }
  return r;
}
}  // namespace

array pad_edge(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_widths,
               StreamOrDevice s) {
  return pad_by_gather(
      "edge", a, pad_widths, [](int64_t i, int64_t n) { return std::clamp<int64_t>(i, 0, n - 1); },
      s);
}

array pad_mirror(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_widths,
                 bool symmetric, StreamOrDevice s) {
  // One period of the mirrored sequence repeats: reflect 0 1 .. n-1 n-2 .. 1,
  // symmetric 0 .. n-1 n-1 .. 0 (a single element reflects onto itself).
  auto index = [symmetric](int64_t i, int64_t n) {
    int64_t period = symmetric ? 2 * n : std::max<int64_t>(2 * n - 2, 1);
    int64_t p = ((i % period) + period) % period;
    return p < n ? p : (symmetric ? period - 1 - p : period - p);
  };
  return pad_by_gather(symmetric ? "symmetric" : "reflect", a, pad_widths, index, s);
}

array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_widths,
          const array& value, StreamOrDevice s) {
  const auto widths = pad_widths_per_axis(a, pad_widths);
  array r = a;
  for (int d = 0; d < a.ndim(); ++d) {
    auto [before, after] = widths[d];
    if (before < 0 || after < 0) throw std::invalid_argument("[pad] widths must be non-negative");
    if (before == 0 && after == 0) continue;
    std::vector<array> parts;
    Shape side = r.shape();
    if (before) {
      side[d] = before;
      parts.push_back(full(side, value, r.dtype(), s));
    }
    parts.push_back(r);
    if (after) {
      side[d] = after;
      parts.push_back(full(side, value, r.dtype(), s));
    }
    r = concatenate(parts, d, s);
  }
  return r;
}

}  // namespace fastsync

namespace fastsync {

namespace {
array sort_impl(const char* op, const array& a, std::optional<int> axis, bool indices,
                StreamOrDevice s) {
  reject_complex(op, a.dtype());
  if (!axis) return sort_impl(op, reshape(a, {-1}, s), 0, indices, s);
  if (a.ndim() == 0)
    throw std::invalid_argument(std::string("[") + op + "] needs at least 1 dimension");
  int ax = normalize_axis(op, *axis, a.ndim());
  return array(a.shape(), indices ? uint32 : a.dtype(),
               std::make_shared<Sort>(to_stream(s), ax, indices), {a});
}
}  // namespace

array sort(const array& a, std::optional<int> axis, StreamOrDevice s) {
  return sort_impl("sort", a, axis, false, s);
}

array argsort(const array& a, std::optional<int> axis, StreamOrDevice s) {
  return sort_impl("argsort", a, axis, true, s);
}

array topk(const array& a, int k, std::optional<int> axis, StreamOrDevice s) {
  reject_complex("topk", a.dtype());
  if (!axis) return topk(reshape(a, {-1}, s), k, 0, s);
  int ax = normalize_axis("topk", *axis, a.ndim());
  if (k < 0 || k > a.shape()[ax]) {
    throw std::invalid_argument("[topk] k must be in [0, " + std::to_string(a.shape()[ax]) +
                                "], got " + std::to_string(k));
  }
  auto sorted = sort(a, ax, s);
  std::vector<std::optional<int64_t>> b(a.ndim()), e(a.ndim()), st(a.ndim());
  b[ax] = a.shape()[ax] - k;
  return slice(sorted, b, e, st, s);
}

}  // namespace fastsync

namespace fastsync {

namespace {
// A full sort is a valid partition (every element before the kth is not
// greater, every one after not smaller); O(n log n) instead of O(n).
array partition_impl(const char* op, const array& a, int kth, std::optional<int> axis, bool indices,
                     StreamOrDevice s) {
  reject_complex(op, a.dtype());
  if (!axis) return partition_impl(op, reshape(a, {-1}, s), kth, 0, indices, s);
  int ax = normalize_axis(op, *axis, a.ndim());
  int64_t n = a.shape()[ax];
  if (kth < -n || kth >= n) {
    throw std::invalid_argument(std::string("[") + op + "] kth " + std::to_string(kth) +
                                " is out of bounds for an axis of size " + std::to_string(n));
  }
  return indices ? argsort(a, ax, s) : sort(a, ax, s);
}
}  // namespace

array partition(const array& a, int kth, std::optional<int> axis, StreamOrDevice s) {
  return partition_impl("partition", a, kth, axis, false, s);
}

array argpartition(const array& a, int kth, std::optional<int> axis, StreamOrDevice s) {
  return partition_impl("argpartition", a, kth, axis, true, s);
}

// For each value, how many sorted entries come before it: a comparison
// against every entry, O(len(a) * len(v)) work and memory.
array searchsorted(const array& a, const array& v, bool right, StreamOrDevice s) {
  if (a.ndim() != 1) throw std::invalid_argument("[searchsorted] a must be 1-D");
  Dtype t = promote_types(a.dtype(), v.dtype());
  reject_complex("searchsorted", t);
  Shape vs = v.shape();
  vs.push_back(1);
  array x = astype(a, t, s), y = reshape(astype(v, t, s), vs, s);
  array before = right ? less_equal(x, y, s) : less(x, y, s);
  if (is_floating(t)) {
    // Sort's order: NaN after everything (and, for right, after other NaNs).
    array nan_v = not_equal(y, y, s), nan_a = not_equal(x, x, s);
    before = logical_or(before, logical_and(nan_v, right ? nan_v : logical_not(nan_a, s), s), s);
  }
  return astype(sum(before, std::vector<int>{-1}, false, s), uint32, s);
}

array median(const array& a, const Axes& axes, bool keepdims, StreamOrDevice s) {
  reject_complex("median", a.dtype());
  std::vector<int> ax;
  if (axes) {
    for (int x : *axes) ax.push_back(normalize_axis("median", x, a.ndim()));
    std::sort(ax.begin(), ax.end());
    if (std::adjacent_find(ax.begin(), ax.end()) != ax.end()) {
      throw std::invalid_argument("[median] repeated axis");
    }
  } else {
    for (int i = 0; i < a.ndim(); ++i) ax.push_back(i);
  }
  // Move the reduced axes last, flatten them, sort, and average the middle.
  std::vector<int> perm, kept;
  Shape out, kept_shape;
  for (int i = 0; i < a.ndim(); ++i) {
    if (std::find(ax.begin(), ax.end(), i) == ax.end()) {
      perm.push_back(i);
      kept_shape.push_back(a.shape()[i]);
    }
  }
  perm.insert(perm.end(), ax.begin(), ax.end());
  Shape flat = kept_shape;
  flat.push_back(-1);
  array x = a.ndim() == 0 ? reshape(a, {1}, s) : reshape(transpose(a, perm, s), flat, s);
  int64_t n = x.shape().back();
  if (n == 0) throw std::invalid_argument("[median] cannot take the median of an empty array");
  Dtype t = is_floating(a.dtype()) ? a.dtype() : float32;
  array sorted = astype(sort(x, -1, s), t, s);
  auto at = [&](int64_t i) {
    return take(sorted, scalar(i), static_cast<int>(sorted.ndim()) - 1, s);
  };
  array m = n % 2 ? at(n / 2) : multiply(add(at(n / 2 - 1), at(n / 2), s), weak_scalar(0.5, t), s);
  // A NaN anywhere makes the median NaN (sort put it last).
  if (is_floating(t)) {
    array last = at(n - 1);
    m = where(not_equal(last, last, s), last, m, s);
  }
  if (!keepdims) return m;
  Shape kd = a.shape();
  for (int i : ax) kd[i] = 1;
  return reshape(m, kd, s);
}

}  // namespace fastsync
