#include "primitives/reduce.h"

#include <algorithm>
#include <cmath>

#include "autodiff.h"
#include "ops/axes.h"
#include "ops/dtype_checks.h"
#include "ops/ops.h"

namespace fastsync {

namespace {
// Normalized, sorted, unique axes; all axes when none are given.
std::vector<int> reduction_axes(const char* op, const array& a,
                                const std::optional<std::vector<int>>& axes) {
  int nd = a.ndim();
  std::vector<int> out;
  if (!axes) {
    for (int i = 0; i < nd; ++i) out.push_back(i);
    return out;
  }
  for (int ax : *axes) {
    if (ax < -nd || ax >= nd) {
      throw std::invalid_argument(std::string("[") + op + "] axis " + std::to_string(ax) +
                                  " is out of bounds for an array of " + std::to_string(nd) +
                                  " dimensions");
    }
    out.push_back(ax < 0 ? ax + nd : ax);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw std::invalid_argument(std::string("[") + op + "] duplicate axis");
  }
  return out;
}

array keep_dims(const array& r, const array& a, const std::vector<int>& axes, bool keepdims,
                StreamOrDevice s) {
  if (!keepdims) return r;
  Shape shape = a.shape();
  for (int ax : axes) shape[ax] = 1;
  return reshape(r, shape, s);
}

array reduce(const char* name, const array& a, ReduceOp op, Dtype out,
             const std::optional<std::vector<int>>& axes, bool keepdims, StreamOrDevice s) {
  auto ax = reduction_axes(name, a, axes);
  auto prim = std::make_shared<Reduce>(to_stream(s), op, ax);
  Shape shape = prim->output_shapes({a})[0];
  array r(std::move(shape), out, std::move(prim), {a});
  return keep_dims(r, a, ax, keepdims, s);
}

int64_t reduced_size(const char* op, const array& a, const std::optional<std::vector<int>>& axes) {
  auto ax = reduction_axes(op, a, axes);
  int64_t n = 1;
  for (int x : ax) n *= a.shape()[x];
  return n;
}

void require_nonempty(const char* op, const array& a, const std::optional<std::vector<int>>& axes) {
  if (reduced_size(op, a, axes) == 0 && a.size() == 0) {
    throw std::invalid_argument(std::string("[") + op +
                                "] zero-size reduction has no identity; pass a non-empty array");
  }
}

int single_axis(const char* op, const array& a, int axis) {
  return normalize_axis(op, axis, a.ndim());
}

}  // namespace

array sum(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
          StreamOrDevice s) {
  return reduce("sum", a, ReduceOp::sum, sum_type(a.dtype()), axes, keepdims, s);
}

array prod(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
           StreamOrDevice s) {
  return reduce("prod", a, ReduceOp::prod, sum_type(a.dtype()), axes, keepdims, s);
}

array max(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
          StreamOrDevice s) {
  reject_complex("max", a.dtype());
  require_nonempty("max", a, axes);
  return reduce("max", a, ReduceOp::max, a.dtype(), axes, keepdims, s);
}

array min(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
          StreamOrDevice s) {
  reject_complex("min", a.dtype());
  require_nonempty("min", a, axes);
  return reduce("min", a, ReduceOp::min, a.dtype(), axes, keepdims, s);
}

array all(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
          StreamOrDevice s) {
  return reduce("all", astype(a, bool_, s), ReduceOp::min, bool_, axes, keepdims, s);
}

array any(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
          StreamOrDevice s) {
  return reduce("any", astype(a, bool_, s), ReduceOp::max, bool_, axes, keepdims, s);
}

array mean(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
           StreamOrDevice s) {
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  // Half types sum and divide in float32 and round once (NumPy): a float16
  // sum of 70,000 ones is inf, and so is the count.
  if (t == float16 || t == bfloat16)
    return astype(mean(astype(a, float32, s), axes, keepdims, s), t, s);
  auto total = sum(astype(a, t, s), axes, keepdims, s);
  return divide(total, weak_scalar(static_cast<double>(reduced_size("mean", a, axes)), t), s);
}

array var(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims, int ddof,
          StreamOrDevice s) {
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  if (t == float16 || t == bfloat16) {  // in float32, as mean
    return astype(var(astype(a, float32, s), axes, keepdims, ddof, s), t, s);
  }
  auto x = astype(a, t, s);
  auto centered = subtract(x, mean(x, axes, true, s), s);
  // complex64: the mean squared magnitude, float32 (NumPy).
  if (is_complex(t)) {
    centered = abs(centered, s);
    t = float32;
  }
  auto ss = sum(square(centered, s), axes, keepdims, s);
  double n = static_cast<double>(reduced_size("var", a, axes)) - ddof;
  // NumPy gives inf/nan for n <= 0; dividing by 0 does the same.
  return divide(ss, weak_scalar(std::max(n, 0.0), t), s);
}

array std(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims, int ddof,
          StreamOrDevice s) {
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}

array logsumexp(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
                StreamOrDevice s) {
  reject_complex("logsumexp", a.dtype());
  Dtype t = is_floating(a.dtype()) ? a.dtype() : float32;
  auto x = astype(a, t, s);
  // The shift cancels in the derivative: no need to differentiate it.
  auto m = stop_gradient(max(x, axes, true, s), s);
  // An all -inf (or +inf) slice would give inf - inf; shift by 0 there.
  auto finite_m = where(equal(abs(m, s), weak_scalar(INFINITY, t), s), weak_scalar(0.0, t), m, s);
  auto r = add(log(sum(exp(subtract(x, finite_m, s), s), axes, true, s), s), finite_m, s);
  if (keepdims) return r;
  auto ax = reduction_axes("logsumexp", a, axes);
  Shape shape;
  for (int d = 0, k = 0; d < a.ndim(); ++d) {
    if (k < static_cast<int>(ax.size()) && ax[k] == d) {
      ++k;
    } else {
      shape.push_back(a.shape()[d]);
    }
  }
  return reshape(r, shape, s);
}

array softmax(const array& a, const std::optional<std::vector<int>>& axes, StreamOrDevice s) {
  reject_complex("softmax", a.dtype());
  Dtype t = is_floating(a.dtype()) ? a.dtype() : float32;
  auto x = astype(a, t, s);
  auto ax = reduction_axes("softmax", a, axes);
  if (a.ndim() > 0 && ax.size() == 1 && ax[0] == a.ndim() - 1) {
    return array(a.shape(), t, std::make_shared<Softmax>(to_stream(s)), {x});
  }
  // Shifted by the max, an infinite max shifting by 0 as the kernels do, so
  // that a row holding +inf gives the same result along any axis.
  auto m = stop_gradient(max(x, axes, true, s), s);
  m = where(isinf(m, s), zeros_like(m, s), m, s);
  auto e = exp(subtract(x, m, s), s);
  return divide(e, sum(e, axes, true, s), s);
}

array argmax(const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
  reject_complex("argmax", a.dtype());
  if (!axis) {
    auto r = argmax(reshape(a, {-1}, s), 0, false, s);
    return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
  }
  int ax = single_axis("argmax", a, *axis);
  if (a.shape()[ax] == 0)
    throw std::invalid_argument("[argmax] attempt to get argmax of an empty sequence");
  auto prim = std::make_shared<ArgReduce>(to_stream(s), ArgReduceOp::argmax, ax);
  Shape shape = prim->output_shapes({a})[0];
  array r(std::move(shape), uint32, std::move(prim), {a});
  return keep_dims(r, a, {ax}, keepdims, s);
}

array argmin(const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
  reject_complex("argmin", a.dtype());
  if (!axis) {
    auto r = argmin(reshape(a, {-1}, s), 0, false, s);
    return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
  }
  int ax = single_axis("argmin", a, *axis);
  if (a.shape()[ax] == 0)
    throw std::invalid_argument("[argmin] attempt to get argmin of an empty sequence");
  auto prim = std::make_shared<ArgReduce>(to_stream(s), ArgReduceOp::argmin, ax);
  Shape shape = prim->output_shapes({a})[0];
  array r(std::move(shape), uint32, std::move(prim), {a});
  return keep_dims(r, a, {ax}, keepdims, s);
}

namespace {
array scan(const char* name, const array& a, ReduceOp op, std::optional<int> axis, bool reverse,
           bool inclusive, StreamOrDevice s) {
  if (!axis) return scan(name, reshape(a, {-1}, s), op, 0, reverse, inclusive, s);
  int ax = single_axis(name, a, *axis);
  Dtype out = (op == ReduceOp::sum || op == ReduceOp::prod) ? sum_type(a.dtype()) : a.dtype();
  return array(a.shape(), out, std::make_shared<Scan>(to_stream(s), op, ax, reverse, inclusive),
               {a});
}
}  // namespace

array cumsum(const array& a, std::optional<int> axis, bool reverse, bool inclusive,
             StreamOrDevice s) {
  return scan("cumsum", a, ReduceOp::sum, axis, reverse, inclusive, s);
}
array cumprod(const array& a, std::optional<int> axis, bool reverse, bool inclusive,
              StreamOrDevice s) {
  return scan("cumprod", a, ReduceOp::prod, axis, reverse, inclusive, s);
}
array cummax(const array& a, std::optional<int> axis, bool reverse, bool inclusive,
             StreamOrDevice s) {
  reject_complex("cummax", a.dtype());
  return scan("cummax", a, ReduceOp::max, axis, reverse, inclusive, s);
}
array cummin(const array& a, std::optional<int> axis, bool reverse, bool inclusive,
             StreamOrDevice s) {
  reject_complex("cummin", a.dtype());
  return scan("cummin", a, ReduceOp::min, axis, reverse, inclusive, s);
}

}  // namespace fastsync

namespace fastsync {

array count_nonzero(const array& a, const Axes& axes, bool keepdims, StreamOrDevice s) {
  array nz = a.dtype() == bool_ ? a : not_equal(a, weak_scalar(int64_t{0}, a.dtype()), s);
  return astype(sum(nz, axes, keepdims, s), int32, s);
}

namespace {

// x[..., start:stop].
array slice_last(const array& x, int64_t start, int64_t stop, StreamOrDevice s) {
  return slice_axis(x, x.ndim() - 1, start, stop, s);
}

// The running total before each position: shifted one along the last axis,
// -inf (an empty sum) first.
array exclusive_last(const array& r, StreamOrDevice s) {
  std::vector<std::pair<int64_t, int64_t>> widths(r.ndim(), {0, 0});
  widths.back().first = 1;
  return pad(slice_last(r, 0, r.shape().back() - 1, s), widths, weak_scalar(-INFINITY, r.dtype()),
             s);
}

// Rows this long or shorter take their running log-sum-exp in one step.
constexpr int64_t kLogScanBlock = 32;

// Inclusive running log-sum-exp along the last axis. A shift by the
// maximum of the whole axis (log(cumsum(exp(x - m))) + m) underflows for the
// early positions whenever a later value is ~88 (float32) larger: they came
// out -inf. Here each output is a logsumexp with its own shift: over the
// lower triangle of a row repeated n times for short rows; longer rows go in blocks
// of kLogScanBlock, each block's row then taking the running total of the
// blocks before it (itself such a scan, one level shorter). O(n * block)
// work and memory, with ops every backend has and their derivatives.
array log_scan_last(const array& x, StreamOrDevice s) {
  const int64_t n = x.shape().back();
  const Dtype t = x.dtype();
  if (n <= kLogScanBlock) {
    // Row i holds x[0..i] and -inf past it (a select: adding a -inf mask
    // would turn a +inf value into NaN).
    array rows = where(tri(n, {}, 0, bool_, s), expand_dims(x, std::vector<int>{-2}, s),
                       weak_scalar(-INFINITY, t), s);
    return logsumexp(rows, std::vector<int>{-1}, false, s);
  }
  const int64_t nb = (n + kLogScanBlock - 1) / kLogScanBlock;
  std::vector<std::pair<int64_t, int64_t>> widths(x.ndim(), {0, 0});
  widths.back().second = nb * kLogScanBlock - n;
  array xp = pad(x, widths, weak_scalar(-INFINITY, t), s);
  Shape blocks(x.shape().begin(), x.shape().end() - 1);
  blocks.push_back(nb);
  blocks.push_back(kLogScanBlock);
  array within = log_scan_last(reshape(xp, blocks, s), s);
  // Each block's total, then the running total of the blocks before it.
  array totals =
      squeeze(slice_last(within, kLogScanBlock - 1, kLogScanBlock, s), std::vector<int>{-1}, s);
  array before = exclusive_last(log_scan_last(totals, s), s);
  array out = logaddexp(within, expand_dims(before, std::vector<int>{-1}, s), s);
  Shape flat(x.shape().begin(), x.shape().end() - 1);
  flat.push_back(nb * kLogScanBlock);
  return slice_last(reshape(out, flat, s), 0, n, s);
}

}  // namespace

array logcumsumexp(const array& a, std::optional<int> axis, bool reverse, bool inclusive,
                   StreamOrDevice s) {
  reject_complex("logcumsumexp", a.dtype());
  if (!axis) return logcumsumexp(reshape(a, {-1}, s), 0, reverse, inclusive, s);
  int ax = single_axis("logcumsumexp", a, *axis);
  array x = is_floating(a.dtype()) ? a : astype(a, float32, s);
  if (x.shape()[ax] == 0) return x;
  x = moveaxis(x, ax, -1, s);
  if (reverse) x = flip(x, std::vector<int>{-1}, s);
  array r = log_scan_last(x, s);
  if (!inclusive) r = exclusive_last(r, s);
  if (reverse) r = flip(r, std::vector<int>{-1}, s);
  return moveaxis(r, -1, ax, s);
}

}  // namespace fastsync
