#include "primitives/reduce.h"

#include <algorithm>

namespace fastsync {

const char* Reduce::name() const {
  switch (op_) {
    case ReduceOp::sum: return "Sum";
    case ReduceOp::prod: return "Prod";
    case ReduceOp::max: return "Max";
    case ReduceOp::min: return "Min";
  }
  return "Reduce";
}

std::vector<Shape> Reduce::output_shapes(const std::vector<array>& inputs) const {
  Shape out;
  const auto& in = inputs[0].shape();
  size_t k = 0;
  for (int d = 0; d < static_cast<int>(in.size()); ++d) {
    if (k < axes_.size() && axes_[k] == d) {
      ++k;
    } else {
      out.push_back(in[d]);
    }
  }
  return {out};
}

}  // namespace fastsync

namespace fastsync {

std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& inputs) const {
  Shape out = inputs[0].shape();
  out.erase(out.begin() + axis_);
  return {out};
}

const char* Scan::name() const {
  switch (op_) {
    case ReduceOp::sum: return "CumSum";
    case ReduceOp::prod: return "CumProd";
    case ReduceOp::max: return "CumMax";
    case ReduceOp::min: return "CumMin";
  }
  return "Scan";
}

std::vector<Shape> Scan::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

}  // namespace fastsync

// --- derivatives --------------------------------------------------------

#include "primitives/grad_util.h"

namespace fastsync {

namespace {

// `c` (the reduced result's cotangent) with the reduced axes back as size 1.
// Through expand_dims, whose shape follows c's through a shapeless replay.
array keep_axes(const array& c, const Shape& in, const std::vector<int>& axes, Stream s) {
  if (c.ndim() == static_cast<int>(in.size())) return c;
  return expand_dims(c, axes, s);
}

// d prod / d x_i = product of the others, exact when some x are zero: the
// axes go last and flatten to one, then exclusive running products from
// both ends meet at i.
array prod_others(const array& x, const std::vector<int>& axes, Stream s) {
  std::vector<int> perm;
  for (int d = 0; d < x.ndim(); ++d) {
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) perm.push_back(d);
  }
  Shape moved_shape;
  for (int d : perm) moved_shape.push_back(x.shape()[d]);
  perm.insert(perm.end(), axes.begin(), axes.end());
  moved_shape.push_back(-1);
  array t = reshape(transpose(x, perm, s), moved_shape, s);
  int last = t.ndim() - 1;
  array others = multiply(cumprod(t, last, false, false, s), cumprod(t, last, true, false, s), s);
  Shape permuted;
  for (int d : perm) permuted.push_back(x.shape()[d]);
  std::vector<int> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int>(i);
  return transpose(reshape(others, permuted, s), inverse, s);
}

// Positions 0..n-1 along `axis`, shaped to broadcast against an array of
// rank `ndim`.
array positions_along(int64_t n, int axis, int ndim, Stream s) {
  Shape at(ndim, 1);
  at[axis] = n;
  return reshape(arange(0, static_cast<double>(n), 1, int32, s), at, s);
}

// vjp of an inclusive scan running forward along `axis`.
array inclusive_scan_vjp(ReduceOp op, const array& x, const array& c, int axis, Stream s) {
  using grad::k;
  switch (op) {
    case ReduceOp::sum: return cumsum(c, axis, true, true, s);
    case ReduceOp::prod: {
      // Up to the first zero: (sum_{k>=i} c_k y_k) / x_i. At the first zero
      // z: the same sum over the products with x_z replaced by 1. After it:
      // zero.
      array zero = equal(x, k(0, x), s);
      array zeros_so_far = cumsum(astype(zero, int32, s), axis, false, true, s);
      array first_zero = logical_and(zero, equal(zeros_so_far, scalar(int64_t{1}), s), s);
      array before = equal(zeros_so_far, scalar(int64_t{0}), s);
      array y = cumprod(x, axis, false, true, s);
      array safe_x = where(zero, k(1, x), x, s);
      array y_skip = cumprod(where(first_zero, k(1, x), x, s), axis, false, true, s);
      array plain = divide(cumsum(grad::mul_conj(c, y, s), axis, true, true, s),
                           is_complex(x.dtype()) ? conjugate(safe_x, s) : safe_x, s);
      array at_zero = cumsum(grad::mul_conj(c, y_skip, s), axis, true, true, s);
      return where(before, plain, where(first_zero, at_zero, k(0, c), s), s);
    }
    case ReduceOp::max:
    case ReduceOp::min: {
      // Each output's cotangent goes to the latest position holding the
      // running extreme.
      array y =
          op == ReduceOp::max ? cummax(x, axis, false, true, s) : cummin(x, axis, false, true, s);
      array pos = positions_along(x.shape()[axis], axis, x.ndim(), s);
      array held = where(equal(x, y, s), pos, scalar(int64_t{-1}), s);
      array owner = cummax(broadcast_to(held, x.shape(), s), axis, false, true, s);
      array flat = grad::flat_index_along(x.shape(), owner, axis, s);
      return grad::add_at_flat(x.shape(), flat, c, s);
    }
  }
  return c;
}

}  // namespace

std::vector<array> Reduce::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents, const std::vector<int>&,
                               const std::vector<array>& outputs) {
  const Stream s = stream();
  const array& x = primals[0];
  if (x.dtype() == bool_) return {grad::zero_like(x, s)};
  array c = keep_axes(cotangents[0], x.shape(), axes_, s);
  switch (op_) {
    case ReduceOp::sum: return {grad::broadcast_like(c, x, s)};
    case ReduceOp::prod:
      return {grad::mul_conj(grad::broadcast_like(c, x, s), prod_others(x, axes_, s), s)};
    case ReduceOp::max:
    case ReduceOp::min: {
      // Shared equally among the positions that hold the extreme.
      array y = keep_axes(outputs[0], x.shape(), axes_, s);
      array hit = astype(equal(x, y, s), x.dtype(), s);
      array count = sum(hit, axes_, true, s);
      return {multiply(hit, divide(c, count, s), s)};
    }
  }
  return {grad::zero_like(x, s)};
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {grad::zero_like(primals[0], stream())};
}

std::vector<array> Scan::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>&,
                             const std::vector<array>&) {
  const Stream s = stream();
  array x = primals[0];
  if (!is_inexact(x.dtype())) return {grad::zero_like(x, s)};
  array c = cotangents[0];
  // Reduce every variant to an inclusive forward scan: a reverse scan is a
  // forward one of the flipped input; an exclusive output k is the
  // inclusive output k - 1, so its cotangent shifts down by one.
  std::vector<int> ax{axis_};
  if (reverse_) {
    x = flip(x, ax, s);
    c = flip(c, ax, s);
  }
  if (!inclusive_ && x.shape()[axis_] > 0) {
    std::vector<std::optional<int64_t>> start(axis_ + 1), stop(axis_ + 1), step(axis_ + 1);
    start[axis_] = 1;
    Shape one = c.shape();
    one[axis_] = 1;
    c = concatenate({slice(c, start, stop, step, s), zeros(one, c.dtype(), s)}, axis_, s);
  }
  array dx = inclusive_scan_vjp(op_, x, c, axis_, s);
  return {reverse_ ? flip(dx, ax, s) : dx};
}

std::vector<array> Softmax::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>& outputs) {
  const Stream s = stream();
  const array& y = outputs[0];
  const array& c = cotangents[0];
  array dot = sum(multiply(c, y, s), std::vector<int>{y.ndim() - 1}, true, s);
  return {multiply(y, subtract(c, dot, s), s)};
}

}  // namespace fastsync

// --- batching -------------------------------------------------------------
// The batch axis goes first and the reduced (or scanned) axes shift by one.

#include "primitives/batching.h"

namespace fastsync {

using batching::batch_first;

std::pair<std::vector<array>, std::vector<int>> Reduce::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs,
                                                             const std::shared_ptr<Primitive>&) {
  array x = batch_first(inputs[0], axes[0], stream());
  std::vector<int> shifted;
  for (int a : axes_) shifted.push_back(a + 1);
  auto prim = std::make_shared<Reduce>(stream(), op_, shifted);
  return batching::apply(prim, {x}, outputs);
}

std::pair<std::vector<array>, std::vector<int>> ArgReduce::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>& outputs,
                                                                const std::shared_ptr<Primitive>&) {
  array x = batch_first(inputs[0], axes[0], stream());
  return batching::apply(std::make_shared<ArgReduce>(stream(), op_, axis_ + 1), {x}, outputs);
}

std::pair<std::vector<array>, std::vector<int>> Scan::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs,
                                                           const std::shared_ptr<Primitive>&) {
  array x = batch_first(inputs[0], axes[0], stream());
  auto prim = std::make_shared<Scan>(stream(), op_, axis_ + 1, reverse_, inclusive_);
  return batching::apply(prim, {x}, outputs);
}

std::pair<std::vector<array>, std::vector<int>> Softmax::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  // Over the last axis: with the batch first, the last axis is unchanged
  // (a 0-d entry would make the batch the last axis: no fast rule then).
  if (inputs[0].ndim() < 2) return Primitive::vmap(inputs, axes, outputs, self);
  return batching::apply(self, {batch_first(inputs[0], axes[0], stream())}, outputs);
}

}  // namespace fastsync
