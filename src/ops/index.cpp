#include "ops/index.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "autodiff.h"
#include "errors.h"
#include "ops/dtype_checks.h"
#include "ops/ops.h"
#include "primitives/binary.h"
#include "primitives/indexing.h"
#include "primitives/shape.h"

namespace fastsync {

array index_as_int64(const array& idx, StreamOrDevice s) {
  if (idx.dtype() == uint64) {
    const uint64_t top = static_cast<uint64_t>(INT64_MAX);
    return astype(minimum(idx, scalar_array(top), s), int64, s);
  }
  return astype(idx, int64, s);
}

namespace {

using Kind = Index::Kind;

// The index with its ellipsis expanded into full slices (one is appended
// when there is none), so every item but new_axis consumes one axis.
std::vector<Index> expand(const array& a, const std::vector<Index>& index) {
  int consumed = 0, ellipses = 0;
  for (auto& i : index) {
    if (i.kind == Kind::ellipsis)
      ++ellipses;
    else if (i.kind != Kind::new_axis)
      ++consumed;
  }
  if (ellipses > 1) throw std::invalid_argument("[getitem] an index can only have one ellipsis");
  if (consumed > a.ndim()) {
    throw std::invalid_argument("[getitem] too many indices for an array of " +
                                std::to_string(a.ndim()) + " dimensions");
  }
  std::vector<Index> out;
  for (auto& i : index) {
    if (i.kind != Kind::ellipsis) {
      out.push_back(i);
      continue;
    }
    for (int k = 0; k < a.ndim() - consumed; ++k) out.push_back(Index::slice({}, {}, {}));
  }
  if (ellipses == 0) {
    for (int k = consumed; k < a.ndim(); ++k) out.push_back(Index::slice({}, {}, {}));
  }
  return out;
}

// An array index's positions along an axis of length n, as int64 in [0, n):
// a gather from 0..n-1, whose kernel counts negatives from the end and fails
// (IndexError at eval) on an index outside [-n, n) of *this* axis. Wrapping
// the negatives by hand and combining would let -n-3 of one axis land
// inside the merged axis and read the wrong element.
array positions(const array& idx, int64_t n, StreamOrDevice s) {
  return take(arange(0, static_cast<double>(n), 1, int64, s), idx, 0, s);
}

void check_index_array(const array& idx) {
  if (!is_integral(idx.dtype())) {
    throw std::invalid_argument(std::string("[getitem] array indices must be integers, got ") +
                                idx.dtype().name());
  }
}

// The flat positions an index selects in `a` and `v` broadcast to them, both
// 1-D: what a scatter into the flattened array takes.
std::pair<array, array> selection(const char* op, const array& a, const std::vector<Index>& index,
                                  const array& value, StreamOrDevice s);

}  // namespace

array get_index(const array& a, const std::vector<Index>& index, StreamOrDevice s) {
  std::vector<Index> items = expand(a, index);
  bool advanced =
      std::any_of(items.begin(), items.end(), [](const Index& i) { return i.kind == Kind::array; });
  // 1. The basic part as one strided view: slices keep their axis, integers
  // drop it (or, next to array indices, act as 0-d arrays), array-indexed
  // axes stay whole for step 2.
  std::vector<std::optional<int64_t>> b, e, st;
  Shape shape;                // the view's shape after dropping/inserting axes
  std::vector<int> adv_axes;  // axes of that shape indexed by arrays
  std::vector<array> adv_index;
  std::vector<int64_t> adv_len;  // per array index: its axis' length; -1: an integer, in range
  int axis = 0;
  std::vector<std::pair<int, bool>> layout;  // (axis of the slice view or -1 new, keep)
  for (auto& it : items) {
    switch (it.kind) {
      case Kind::new_axis: layout.push_back({-1, true}); continue;
      case Kind::slice:
        b.push_back(it.start);
        e.push_back(it.stop);
        st.push_back(it.step);
        layout.push_back({axis++, true});
        continue;
      case Kind::integer: {
        int64_t n = a.shape()[axis];
        int64_t i = it.value;
        if (i < -n || i >= n) {
          throw std::out_of_range("[getitem] index " + std::to_string(i) +
                                  " is out of bounds for axis " + std::to_string(axis) +
                                  " with size " + std::to_string(n));
        }
        if (i < 0) i += n;
        if (advanced) {
          b.push_back({}), e.push_back({}), st.push_back({});
          adv_index.push_back(scalar(i));
          adv_len.push_back(-1);
          layout.push_back({axis++, true});
          adv_axes.push_back(static_cast<int>(layout.size()) - 1);
        } else {
          b.push_back(i), e.push_back(i + 1), st.push_back(1);
          layout.push_back({axis++, false});
        }
        continue;
      }
      case Kind::array: {
        const array& idx = *it.indices;
        if (idx.dtype() == bool_) {
          throw std::invalid_argument(
              "[getitem] boolean mask indices give data-dependent shapes and are only "
              "supported in assignment (a[mask] = v); use where() to select");
        }
        b.push_back({}), e.push_back({}), st.push_back({});
        check_index_array(idx);
        adv_index.push_back(idx);
        adv_len.push_back(a.shape()[axis]);
        layout.push_back({axis++, true});
        adv_axes.push_back(static_cast<int>(layout.size()) - 1);
        continue;
      }
      case Kind::ellipsis: break;
    }
  }
  array v = slice(a, b, e, st, s);
  // Axis k of the result so far is layout entry k among the kept ones.
  std::vector<int> kept_pos(layout.size(), -1);
  for (size_t k = 0; k < layout.size(); ++k) {
    auto [ax, keep] = layout[k];
    if (!keep) continue;
    kept_pos[k] = static_cast<int>(shape.size());
    shape.push_back(ax < 0 ? 1 : v.shape()[ax]);
  }
  if (shape != v.shape()) v = reshape(v, shape, s);
  if (!advanced) return v;

  // 2. Gather: the array-indexed axes first and merged into one, indexed
  // by the row-major combination of the (broadcast) index arrays.
  std::vector<int> adv;
  for (int k : adv_axes) adv.push_back(kept_pos[k]);
  // One array index is a take along its axis, which puts the index's axes
  // where NumPy does and reads int32/uint32/int64 indices as they are.
  if (adv.size() == 1) return take(v, adv_index[0], adv[0], s);
  std::vector<array> idx = adv_index;
  Shape bshape;
  for (auto& i : idx) {
    try {
      bshape = broadcast_shapes(bshape, i.shape());
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument("[getitem] the index arrays do not broadcast together");
    }
  }
  std::vector<int> perm = adv, rest;
  for (int k = 0; k < v.ndim(); ++k) {
    if (std::find(adv.begin(), adv.end(), k) == adv.end()) rest.push_back(k);
  }
  perm.insert(perm.end(), rest.begin(), rest.end());
  // The merged axis's length is known: a -1 could not be inferred when a
  // kept axis is empty.
  int64_t total = 1;
  for (int k : adv) total *= v.shape()[k];
  Shape merged{total};
  for (int k : rest) merged.push_back(v.shape()[k]);
  array flat = reshape(transpose(v, perm, s), merged, s);
  std::optional<array> lin;
  int64_t stride = 1;
  for (int j = static_cast<int>(adv.size()) - 1; j >= 0; --j) {
    array pos = adv_len[j] < 0 ? idx[j] : positions(idx[j], adv_len[j], s);
    if (stride != 1) pos = multiply(pos, weak_scalar(stride, int64), s);
    lin = lin ? add(*lin, pos, s) : pos;
    stride *= v.shape()[adv[j]];
  }
  lin = broadcast_to(*lin, bshape, s);
  array g = take(flat, *lin, 0, s);
  // 3. NumPy's placement: adjacent array indices put the broadcast
  // dimensions where the first of them was; separated ones put them first.
  bool adjacent = adv.back() - adv.front() + 1 == static_cast<int>(adv.size());
  if (!adjacent || adv.front() == 0) return g;
  int nb = static_cast<int>(bshape.size());
  std::vector<int> order;
  for (int k = 0; k < adv.front(); ++k) order.push_back(nb + k);
  for (int k = 0; k < nb; ++k) order.push_back(k);
  for (int k = nb + adv.front(); k < g.ndim(); ++k) order.push_back(k);
  return transpose(g, order, s);
}

namespace {
std::pair<array, array> selection(const char* op, const array& a, const std::vector<Index>& index,
                                  const array& value, StreamOrDevice s) {
  Dtype pos_type = a.size() <= (int64_t{1} << 31) - 1 ? int32 : int64;
  array all_pos = reshape(arange(0, static_cast<double>(a.size()), 1, pos_type, s), a.shape(), s);
  array pos = get_index(all_pos, index, s);
  // The value may carry extra leading axes of size 1, as NumPy allows.
  array v = value;
  while (v.ndim() > pos.ndim() && v.shape()[0] == 1) v = squeeze(v, std::vector<int>{0}, s);
  array vals = [&] {
    try {
      return broadcast_to(v, pos.shape(), s);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(std::string("[") + op + "] cannot combine a value of shape " +
                                  shape_str(value.shape()) + " with a selection of shape " +
                                  shape_str(pos.shape()));
    }
  }();
  return {reshape(pos, {-1}, s), reshape(vals, {-1}, s)};
}
}  // namespace

namespace {

// An assignment through basic slices only: one SliceUpdate that writes the
// region (in place when a's buffer is free), with no array of positions.
// Anything else (integers, new axes, arrays) takes the scatter form.
std::optional<array> basic_update(const array& a, const std::vector<Index>& index, const array& v,
                                  StreamOrDevice s) {
  Stream stream = to_stream(s);
  std::vector<Index> items = expand(a, index);
  std::vector<std::optional<int64_t>> b, e, st;
  for (const Index& it : items) {
    if (it.kind != Kind::slice) return std::nullopt;
    b.push_back(it.start), e.push_back(it.stop), st.push_back(it.step);
  }
  SliceBounds r = slice_bounds(a.shape(), b, e, st);
  Shape region = Slice(stream, r.start, r.stop, r.step).output_shapes({a})[0];
  array u = v;  // the value may carry extra leading axes of size 1, as NumPy allows
  while (u.ndim() > static_cast<int>(region.size()) && u.shape()[0] == 1) {
    u = squeeze(u, std::vector<int>{0}, s);
  }
  try {
    u = broadcast_to(u, region, s);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[setitem] cannot combine a value of shape " +
                                shape_str(v.shape()) + " with a selection of shape " +
                                shape_str(region));
  }
  auto prim = std::make_shared<SliceUpdate>(stream, r.start, r.stop, r.step);
  return array(a.shape(), a.dtype(), std::move(prim), {a, u});
}

}  // namespace

array set_index(const array& a, const std::vector<Index>& index, const array& value,
                StreamOrDevice s) {
  array v = astype(value, a.dtype(), s);
  // A bool mask over leading axes: a select, no positions needed.
  if (index.size() == 1 && index[0].kind == Kind::array && index[0].indices->dtype() == bool_) {
    const array& mask = *index[0].indices;
    if (mask.ndim() > a.ndim() ||
        !std::equal(mask.shape().begin(), mask.shape().end(), a.shape().begin())) {
      throw std::invalid_argument("[setitem] a boolean mask of shape " + shape_str(mask.shape()) +
                                  " does not match the array's " + shape_str(a.shape()));
    }
    Shape m = mask.shape();
    m.insert(m.end(), a.ndim() - mask.ndim(), 1);
    array expanded = reshape(mask, m, s);
    // One value for every selected position: it spans at most the axes
    // after the mask's (leading axes of size 1 aside, as NumPy allows), so
    // a select writes it. A value reaching into the mask's axes holds one
    // row per selected position, even where it would also broadcast
    // against the whole array (a (2,) value under a (2, 2) mask).
    array u = v;
    while (u.ndim() > 0 && u.shape()[0] == 1) u = squeeze(u, std::vector<int>{0}, s);
    const Shape trail(a.shape().begin() + mask.ndim(), a.shape().end());
    bool same_for_all = u.ndim() <= static_cast<int>(trail.size());
    if (same_for_all) {
      try {
        broadcast_shapes(u.shape(), trail);
      } catch (const std::invalid_argument&) {
        same_for_all = false;
      }
    }
    if (same_for_all) return where(expanded, u, a, s);
    if (v.size() == 0) return a;  // nothing selected, nothing to write
    // NumPy's other form: one value (row) per selected position, in order.
    // The k-th true entry of the mask takes value row k, found by a running
    // count; a value with too few rows fails the gather when it runs.
    Shape rows{-1};
    rows.insert(rows.end(), a.shape().begin() + mask.ndim(), a.shape().end());
    array src = reshape(v, rows, s);
    array k = subtract(cumsum(astype(reshape(mask, {-1}, s), int32, s), 0, false, true, s),
                       weak_scalar(int64_t{1}, int32), s);
    k = reshape(maximum(k, weak_scalar(int64_t{0}, int32), s), mask.shape(), s);
    k = stop_gradient(k, s);  // positions: no derivative, even from a traced mask
    return where(expanded, take(src, k, 0, s), a, s);
  }
  if (auto basic = basic_update(a, index, v, s)) return *basic;
  auto [pos, vals] = selection("setitem", a, index, v, s);
  return reshape(scatter_set(reshape(a, {-1}, s), pos, vals, s), a.shape(), s);
}

array update_index(const array& a, const std::vector<Index>& index, const array& value,
                   IndexUpdate op, StreamOrDevice s) {
  if (op == IndexUpdate::maximum || op == IndexUpdate::minimum) {
    reject_complex(op == IndexUpdate::maximum ? "at.maximum" : "at.minimum", a.dtype());
  }
  array v = astype(value, a.dtype(), s);
  if (op == IndexUpdate::subtract) v = negative(v, s);
  if (op == IndexUpdate::divide) {
    if (!is_inexact(a.dtype())) {
      throw std::invalid_argument("[at] divide needs a floating array, got " +
                                  std::string(a.dtype().name()));
    }
    v = divide(weak_scalar(1.0, a.dtype()), v, s);
  }
  auto [pos, vals] = selection("at", a, index, v, s);
  array flat = reshape(a, {-1}, s);
  array out = [&] {
    switch (op) {
      case IndexUpdate::add:
      case IndexUpdate::subtract: return scatter_add(flat, pos, vals, s);
      case IndexUpdate::multiply:
      case IndexUpdate::divide: return scatter_prod(flat, pos, vals, s);
      case IndexUpdate::maximum: return scatter_max(flat, pos, vals, s);
      default: return scatter_min(flat, pos, vals, s);
    }
  }();
  return reshape(out, a.shape(), s);
}

}  // namespace fastsync
