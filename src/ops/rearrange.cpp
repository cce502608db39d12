// Ops that rearrange or combine arrays, composed from views, gathers,
// scatters and matmul (see ops/ops.h for the op contract): flatten, unstack,
// atleast_*, broadcast_arrays, roll, diagonal/diag/trace, meshgrid, diff,
// as_strided, the dynamic slice and slice_update, put_along_axis, and the
// tensor products.
#include <algorithm>
#include <numeric>

#include "errors.h"
#include "ops/axes.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "primitives/binary.h"
#include "primitives/shape.h"

namespace fastsync {

namespace {

std::vector<std::optional<int64_t>> none_of(int n) {
  return std::vector<std::optional<int64_t>>(n);
}

// The row-major element positions of the block of `shape` starting at
// `start` (one entry per axis, possibly a lazy array) inside an array of
// `full` shape: an int64 array of `shape`.
array block_positions(const Shape& full, const Shape& shape, const std::vector<array>& start,
                      StreamOrDevice s) {
  int nd = static_cast<int>(full.size());
  array pos = zeros({}, int64, s);
  int64_t stride = 1;
  for (int i = nd - 1; i >= 0; --i) {
    Shape along(nd, 1);
    along[i] = shape[i];
    array idx = add(reshape(arange(0, static_cast<double>(shape[i]), 1, int64, s), along, s),
                    astype(start[i], int64, s), s);
    pos = add(pos, multiply(idx, weak_scalar(stride, int64), s), s);
    stride *= full[i];
  }
  return broadcast_to(pos, shape, s);
}

}  // namespace

array slice_axis(const array& a, int axis, std::optional<int64_t> lo, std::optional<int64_t> hi,
                 StreamOrDevice s) {
  auto b = none_of(a.ndim()), e = none_of(a.ndim()), st = none_of(a.ndim());
  b[axis] = lo;
  e[axis] = hi;
  return slice(a, b, e, st, s);
}

array contiguous(const array& a, StreamOrDevice s) {
  return array(a.shape(), a.dtype(), std::make_shared<AsType>(to_stream(s), a.dtype()), {a});
}

array flatten(const array& a, int start_axis, int end_axis, StreamOrDevice s) {
  if (a.ndim() == 0) return reshape(a, {1}, s);
  int b = normalize_axis("flatten", start_axis, a.ndim());
  int e = normalize_axis("flatten", end_axis, a.ndim());
  if (b > e) throw std::invalid_argument("[flatten] start_axis must not come after end_axis");
  Shape out(a.shape().begin(), a.shape().begin() + b);
  out.push_back(-1);
  if (a.size() == 0) {
    int64_t n = 1;
    for (int i = b; i <= e; ++i) n *= a.shape()[i];
    out.back() = n;
  }
  out.insert(out.end(), a.shape().begin() + e + 1, a.shape().end());
  return reshape(a, out, s);
}

array unflatten(const array& a, int axis, const Shape& shape, StreamOrDevice s) {
  int ax = normalize_axis("unflatten", axis, a.ndim());
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  out.insert(out.end(), shape.begin(), shape.end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return reshape(a, out, s);
}

std::vector<array> unstack(const array& a, int axis, StreamOrDevice s) {
  if (a.ndim() == 0) throw std::invalid_argument("[unstack] cannot unstack a 0-d array");
  int ax = normalize_axis("unstack", axis, a.ndim());
  std::vector<array> out;
  for (int64_t i = 0; i < a.shape()[ax]; ++i) {
    out.push_back(squeeze(slice_axis(a, ax, i, i + 1, s), std::vector<int>{ax}, s));
  }
  return out;
}

array atleast_nd(const array& a, int n, StreamOrDevice s) {
  if (a.ndim() >= n) return a;
  if (n == 3 && a.ndim() > 0) {
    // NumPy puts a 1-D input in the middle: (1, N, 1); a 2-D one gets (M, N, 1).
    Shape out = a.ndim() == 1 ? Shape{1, a.shape()[0], 1} : Shape{a.shape()[0], a.shape()[1], 1};
    return reshape(a, out, s);
  }
  Shape out(n - a.ndim(), 1);
  out.insert(out.end(), a.shape().begin(), a.shape().end());
  return reshape(a, out, s);
}

std::vector<array> broadcast_arrays(const std::vector<array>& arrays, StreamOrDevice s) {
  Shape shape;
  for (auto& a : arrays) {
    try {
      shape = broadcast_shapes(shape, a.shape());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("[broadcast_arrays] ") + e.what());
    }
  }
  std::vector<array> out;
  for (auto& a : arrays) out.push_back(broadcast_to(a, shape, s));
  return out;
}

array roll(const array& a, const std::vector<int64_t>& shift, const Axes& axes, StreamOrDevice s) {
  if (!axes) {
    // Shifts of the flattened array add up (NumPy).
    int64_t total = std::accumulate(shift.begin(), shift.end(), int64_t{0});
    return reshape(roll(flatten(a, 0, -1, s), {total}, std::vector<int>{0}, s), a.shape(), s);
  }
  // One shift for many axes, or many shifts along one axis, broadcast.
  std::vector<int64_t> shifts = shift;
  std::vector<int> ax_list = *axes;
  if (shifts.size() == 1 && ax_list.size() > 1) shifts.assign(ax_list.size(), shift[0]);
  if (ax_list.size() == 1 && shifts.size() > 1) ax_list.assign(shifts.size(), ax_list[0]);
  if (shifts.size() != ax_list.size()) {
    throw std::invalid_argument("[roll] shift and axis must have the same length");
  }
  array r = a;
  for (size_t k = 0; k < ax_list.size(); ++k) {
    int ax = normalize_axis("roll", ax_list[k], a.ndim());
    int64_t n = a.shape()[ax];
    if (n == 0) continue;
    int64_t sh = ((shifts[k] % n) + n) % n;
    if (sh == 0) continue;
    r = concatenate({slice_axis(r, ax, n - sh, std::nullopt, s), slice_axis(r, ax, 0, n - sh, s)},
                    ax, s);
  }
  return r;
}

array flip(const array& a, const std::optional<std::vector<int>>& axes, StreamOrDevice s) {
  std::vector<std::optional<int64_t>> b(a.ndim()), e(a.ndim()), st(a.ndim());
  if (!axes) {
    for (auto& x : st) x = -1;
  } else {
    for (int ax : *axes) st[normalize_axis("flip", ax, a.ndim())] = -1;
  }
  return slice(a, b, e, st, s);
}

array diagonal(const array& a, int64_t offset, int axis1, int axis2, StreamOrDevice s) {
  if (a.ndim() < 2)
    throw std::invalid_argument("[diagonal] needs an array of at least 2 dimensions");
  int a1 = normalize_axis("diagonal", axis1, a.ndim());
  int a2 = normalize_axis("diagonal", axis2, a.ndim());
  if (a1 == a2) throw std::invalid_argument("[diagonal] axis1 and axis2 must differ");
  auto prim = std::make_shared<Diagonal>(to_stream(s), offset, a1, a2);
  Shape out = prim->output_shapes({a})[0];
  return array(std::move(out), a.dtype(), std::move(prim), {a});
}

array diag(const array& a, int64_t k, StreamOrDevice s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1) throw std::invalid_argument("[diag] input must be 1-D or 2-D");
  // A square matrix with `a` on its k-th diagonal: scatter into zeros.
  int64_t n = a.shape()[0] + (k < 0 ? -k : k);
  int64_t row0 = k < 0 ? -k : 0, col0 = k > 0 ? k : 0;
  array i = arange(0, static_cast<double>(a.shape()[0]), 1, int64, s);
  array pos = add(multiply(add(i, weak_scalar(row0, int64), s), weak_scalar(n, int64), s),
                  add(i, weak_scalar(col0, int64), s), s);
  return reshape(scatter_set(zeros({n * n}, a.dtype(), s), pos, a, s), {n, n}, s);
}

array trace(const array& a, int64_t offset, int axis1, int axis2, std::optional<Dtype> dtype,
            StreamOrDevice s) {
  array d = diagonal(a, offset, axis1, axis2, s);
  if (dtype) d = astype(d, *dtype, s);
  array r = sum(d, std::vector<int>{-1}, false, s);
  return dtype ? astype(r, *dtype, s) : r;
}

std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse, bool xy_indexing,
                            StreamOrDevice s) {
  int n = static_cast<int>(arrays.size());
  std::vector<array> out;
  for (int i = 0; i < n; ++i) {
    if (arrays[i].ndim() != 1) {
      throw std::invalid_argument("[meshgrid] inputs must be 1-D arrays");
    }
    Shape shape(n, 1);
    int pos = i;
    if (xy_indexing && n >= 2 && i < 2) pos = 1 - i;
    shape[pos] = arrays[i].shape()[0];
    out.push_back(reshape(arrays[i], shape, s));
  }
  if (!sparse) out = broadcast_arrays(out, s);
  return out;
}

array diff(const array& a, int n, int axis, StreamOrDevice s) {
  if (n < 0) throw std::invalid_argument("[diff] order n must be non-negative");
  if (n == 0) return a;
  if (a.ndim() == 0) throw std::invalid_argument("[diff] needs at least a 1-D array");
  int ax = normalize_axis("diff", axis, a.ndim());
  array r = a;
  for (int i = 0; i < n && r.shape()[ax] > 0; ++i) {
    array hi = slice_axis(r, ax, 1, std::nullopt, s), lo = slice_axis(r, ax, 0, -1, s);
    r = r.dtype() == bool_ ? not_equal(hi, lo, s) : subtract(hi, lo, s);
  }
  return r;
}

array as_strided(const array& a, const Shape& shape, const Strides& strides, int64_t offset,
                 StreamOrDevice s) {
  if (shape.size() != strides.size()) {
    throw std::invalid_argument("[as_strided] shape and strides must have the same length");
  }
  int64_t lo = offset, hi = offset, n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw std::invalid_argument("[as_strided] negative dimension in shape");
    n *= shape[i];
    int64_t reach = (shape[i] - 1) * strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  if (n > 0 && (lo < 0 || hi >= a.size())) {
    throw std::invalid_argument("[as_strided] the view reaches outside the input's " +
                                std::to_string(a.size()) + " elements");
  }
  return array(shape, a.dtype(), std::make_shared<AsStrided>(to_stream(s), shape, strides, offset),
               {contiguous(a, s)});
}

array view(const array& a, Dtype dtype, StreamOrDevice s) {
  if (dtype == a.dtype()) return a;
  int in = a.dtype().size(), out = dtype.size();
  Shape shape = a.shape();
  if (shape.empty()) {
    if (in != out) {
      throw std::invalid_argument("[view] a 0-d array can only be viewed as a dtype of its size");
    }
  } else if (in != out) {
    int64_t bytes = shape.back() * in;
    if (bytes % out != 0) {
      throw std::invalid_argument("[view] the last axis (" + std::to_string(bytes) +
                                  " bytes) does not divide into " + dtype.name() + " elements");
    }
    shape.back() = bytes / out;
  }
  return array(shape, dtype, std::make_shared<BitCast>(to_stream(s), shape), {contiguous(a, s)});
}

array dynamic_slice(const array& a, const array& start, const std::vector<int>& axes,
                    const Shape& size, StreamOrDevice s) {
  if (axes.size() != size.size()) {
    throw std::invalid_argument("[slice] axes and slice_size must have the same length");
  }
  if (start.ndim() != 1 || start.shape()[0] != static_cast<int64_t>(axes.size())) {
    throw std::invalid_argument("[slice] start_indices must be 1-D with one entry per axis");
  }
  array r = a;
  for (size_t k = 0; k < axes.size(); ++k) {
    int ax = normalize_axis("slice", axes[k], a.ndim());
    int64_t n = a.shape()[ax];
    if (size[k] < 0 || size[k] > n) {
      throw std::invalid_argument("[slice] slice_size " + std::to_string(size[k]) +
                                  " does not fit axis " + std::to_string(ax));
    }
    // The start is clamped so that the slice stays inside the axis.
    array b = clip(astype(take(start, scalar(static_cast<int64_t>(k)), 0, s), int64, s),
                   weak_scalar(int64_t{0}, int64), weak_scalar(n - size[k], int64), s);
    array idx = add(arange(0, static_cast<double>(size[k]), 1, int64, s), b, s);
    r = take(r, idx, ax, s);
  }
  return r;
}

array slice_update(const array& a, const array& update, const array& start,
                   const std::vector<int>& axes, StreamOrDevice s) {
  if (start.ndim() != 1 || start.shape()[0] != static_cast<int64_t>(axes.size())) {
    throw std::invalid_argument("[slice_update] start_indices must be 1-D with one entry per axis");
  }
  if (update.ndim() > a.ndim()) {
    throw std::invalid_argument("[slice_update] update has more dimensions than the array");
  }
  Shape block = update.shape();
  block.insert(block.begin(), a.ndim() - update.ndim(), 1);
  std::vector<array> starts(a.ndim(), zeros({}, int64, s));
  std::vector<bool> sliced(a.ndim(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    int ax = normalize_axis("slice_update", axes[k], a.ndim());
    sliced[ax] = true;
    starts[ax] = clip(astype(take(start, scalar(static_cast<int64_t>(k)), 0, s), int64, s),
                      weak_scalar(int64_t{0}, int64),
                      weak_scalar(std::max<int64_t>(0, a.shape()[ax] - block[ax]), int64), s);
  }
  for (int i = 0; i < a.ndim(); ++i) {
    if (!sliced[i] && block[i] == 1) block[i] = a.shape()[i];  // broadcast over whole axes
    if (block[i] > a.shape()[i]) {
      throw std::invalid_argument("[slice_update] update of shape " + shape_str(update.shape()) +
                                  " does not fit into " + shape_str(a.shape()));
    }
  }
  array pos = block_positions(a.shape(), block, starts, s);
  array flat = reshape(a, {-1}, s);
  array vals = astype(broadcast_to(update, block, s), a.dtype(), s);
  return reshape(scatter_set(flat, reshape(pos, {-1}, s), reshape(vals, {-1}, s), s), a.shape(), s);
}

array put_along_axis(const array& a, const array& indices, const array& values,
                     std::optional<int> axis, StreamOrDevice s) {
  if (!axis) {
    if (indices.size() == 0 && values.size() == 0) return a;
    return reshape(put_along_axis(reshape(a, {-1}, s), reshape(indices, {-1}, s),
                                  reshape(values, {-1}, s), 0, s),
                   a.shape(), s);
  }
  int ax = normalize_axis("put_along_axis", *axis, a.ndim());
  if (indices.size() == 0 && values.size() == 0) return a;  // nothing to write
  if (indices.ndim() != a.ndim()) {
    throw std::invalid_argument("[put_along_axis] indices must have as many dimensions as a");
  }
  if (!is_integral(indices.dtype())) {
    throw std::invalid_argument("[put_along_axis] indices must be integers");
  }
  Shape shape;
  try {
    Shape other = a.shape();
    other[ax] = indices.shape()[ax];
    shape = broadcast_shapes(broadcast_shapes(other, indices.shape()), values.shape());
    if (shape.size() != static_cast<size_t>(a.ndim())) throw std::invalid_argument("rank");
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[put_along_axis] indices " + shape_str(indices.shape()) +
                                " and values " + shape_str(values.shape()) +
                                " do not broadcast against " + shape_str(a.shape()));
  }
  // Row-major positions: the index along `axis`, the position elsewhere.
  int64_t n = a.shape()[ax];
  array idx = astype(indices, int64, s);
  idx = where(less(idx, weak_scalar(int64_t{0}, int64), s), add(idx, weak_scalar(n, int64), s), idx,
              s);
  array pos = zeros({}, int64, s);
  int64_t stride = 1;
  for (int i = a.ndim() - 1; i >= 0; --i) {
    Shape along(a.ndim(), 1);
    along[i] = shape[i];
    array p =
        i == ax ? idx : reshape(arange(0, static_cast<double>(shape[i]), 1, int64, s), along, s);
    pos = add(pos, multiply(p, weak_scalar(stride, int64), s), s);
    stride *= a.shape()[i];
  }
  pos = broadcast_to(pos, shape, s);
  array vals = astype(broadcast_to(values, shape, s), a.dtype(), s);
  return reshape(scatter_set(reshape(a, {-1}, s), reshape(pos, {-1}, s), reshape(vals, {-1}, s), s),
                 a.shape(), s);
}

std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& deps,
                           StreamOrDevice s) {
  if (inputs.empty()) throw std::invalid_argument("[depends] needs at least one input");
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& x : inputs) {
    shapes.push_back(x.shape());
    dtypes.push_back(x.dtype());
  }
  std::vector<array> all = inputs;
  all.insert(all.end(), deps.begin(), deps.end());
  return array::make_arrays(
      std::move(shapes), std::move(dtypes),
      std::make_shared<Depends>(to_stream(s), static_cast<int>(inputs.size())), std::move(all));
}

array outer(const array& a, const array& b, StreamOrDevice s) {
  return multiply(reshape(a, {-1, 1}, s), reshape(b, {1, -1}, s), s);
}

array inner(const array& a, const array& b, StreamOrDevice s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape().back() != b.shape().back()) {
    throw std::invalid_argument("[inner] the last dimensions of a " + shape_str(a.shape()) +
                                " and b " + shape_str(b.shape()) + " differ");
  }
  return tensordot(a, b, {a.ndim() - 1}, {b.ndim() - 1}, s);
}

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a,
                const std::vector<int>& axes_b, StreamOrDevice s) {
  if (axes_a.size() != axes_b.size()) {
    throw std::invalid_argument("[tensordot] both axis lists must have the same length");
  }
  std::vector<int> ca, cb;
  int64_t k = 1;
  for (size_t i = 0; i < axes_a.size(); ++i) {
    int x = normalize_axis("tensordot", axes_a[i], a.ndim());
    int y = normalize_axis("tensordot", axes_b[i], b.ndim());
    if (a.shape()[x] != b.shape()[y]) {
      throw std::invalid_argument("[tensordot] contracted dimensions of a " + shape_str(a.shape()) +
                                  " and b " + shape_str(b.shape()) + " differ");
    }
    ca.push_back(x);
    cb.push_back(y);
    k *= a.shape()[x];
  }
  std::vector<int> fa, fb;
  Shape out;
  int64_t m = 1, n = 1;
  for (int i = 0; i < a.ndim(); ++i) {
    if (std::find(ca.begin(), ca.end(), i) == ca.end()) {
      fa.push_back(i);
      out.push_back(a.shape()[i]);
      m *= a.shape()[i];
    }
  }
  for (int i = 0; i < b.ndim(); ++i) {
    if (std::find(cb.begin(), cb.end(), i) == cb.end()) {
      fb.push_back(i);
      out.push_back(b.shape()[i]);
      n *= b.shape()[i];
    }
  }
  std::vector<int> pa = fa, pb = cb;
  pa.insert(pa.end(), ca.begin(), ca.end());
  pb.insert(pb.end(), fb.begin(), fb.end());
  array x = reshape(transpose(a, pa, s), {m, k}, s);
  array y = reshape(transpose(b, pb, s), {k, n}, s);
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_inexact(t)) {
    // matmul takes floats only: contract integers by broadcasting instead.
    array prod = multiply(reshape(x, {m, k, 1}, s), reshape(y, {1, k, n}, s), s);
    return reshape(astype(sum(prod, std::vector<int>{1}, false, s), t, s), out, s);
  }
  return reshape(matmul(astype(x, t, s), astype(y, t, s), s), out, s);
}

array tensordot(const array& a, const array& b, int axes, StreamOrDevice s) {
  if (axes < 0 || axes > a.ndim() || axes > b.ndim()) {
    throw std::invalid_argument("[tensordot] axes must be in [0, min(a.ndim, b.ndim)]");
  }
  std::vector<int> xa, xb;
  for (int i = 0; i < axes; ++i) {
    xa.push_back(a.ndim() - axes + i);
    xb.push_back(i);
  }
  return tensordot(a, b, xa, xb, s);
}

array vecdot(const array& a, const array& b, int axis, StreamOrDevice s) {
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw std::invalid_argument("[vecdot] inputs must have at least one dimension");
  }
  // The contracted axis must match as it is: it does not broadcast.
  int axa = normalize_axis("vecdot", axis, a.ndim());
  int axb = normalize_axis("vecdot", axis, b.ndim());
  if (a.shape()[axa] != b.shape()[axb]) {
    throw std::invalid_argument("[vecdot] the contracted axes differ in size (" +
                                std::to_string(a.shape()[axa]) + " and " +
                                std::to_string(b.shape()[axb]) + ")");
  }
  Shape shape;
  try {
    shape = broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("[vecdot] ") + e.what());
  }
  if (shape.empty())
    throw std::invalid_argument("[vecdot] inputs must have at least one dimension");
  int ax = normalize_axis("vecdot", axis, static_cast<int>(shape.size()));
  // The first operand is conjugated (NumPy's vecdot and vdot, MLX).
  return sum(multiply(conjugate(a, s), b, s), std::vector<int>{ax}, false, s);
}

array kron(const array& a, const array& b, StreamOrDevice s) {
  if (a.size() == 0 || b.size() == 0) {
    throw std::invalid_argument("[kron] inputs must not be empty");
  }
  int nd = std::max(a.ndim(), b.ndim());
  auto lead_ones = [&](const array& v) {
    Shape p(nd - v.ndim(), 1);
    p.insert(p.end(), v.shape().begin(), v.shape().end());
    return reshape(v, p, s);
  };
  array x = lead_ones(a), y = lead_ones(b);
  // Interleave: x as (a0, 1, a1, 1, ...), y as (1, b0, 1, b1, ...).
  Shape xs, ys, out;
  for (int i = 0; i < nd; ++i) {
    xs.insert(xs.end(), {x.shape()[i], 1});
    ys.insert(ys.end(), {1, y.shape()[i]});
    out.push_back(checked_dim("kron", x.shape()[i] * y.shape()[i]));
  }
  return reshape(multiply(reshape(x, xs, s), reshape(y, ys, s), s), out, s);
}

}  // namespace fastsync
