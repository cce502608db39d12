#include "primitives/shape.h"

#include <algorithm>
#include <stdexcept>

#include "primitives/binary.h"

namespace fastsync {

std::vector<Shape> Reshape::output_shapes(const std::vector<array>&) const { return {shape_}; }

std::vector<Shape> Transpose::output_shapes(const std::vector<array>& inputs) const {
  Shape out;
  for (int a : axes_) out.push_back(inputs[0].shape()[a]);
  return {out};
}

std::vector<Shape> Slice::output_shapes(const std::vector<array>&) const {
  Shape out;
  for (size_t i = 0; i < start_.size(); ++i) {
    int64_t n = step_[i] > 0 ? (stop_[i] - start_[i] + step_[i] - 1) / step_[i]
                             : (start_[i] - stop_[i] - step_[i] - 1) / -step_[i];
    out.push_back(std::max<int64_t>(n, 0));
  }
  return {out};
}

std::vector<Shape> Broadcast::output_shapes(const std::vector<array>&) const { return {shape_}; }

std::vector<Shape> BroadcastLike::output_shapes(const std::vector<array>& inputs) const {
  const Shape& from = inputs[0].shape();
  const Shape& to = inputs[1].shape();
  bool ok;
  try {
    ok = broadcast_shapes(from, to) == to;
  } catch (const std::invalid_argument&) {
    ok = false;
  }
  if (!ok) {
    throw std::invalid_argument("[broadcast] cannot broadcast shape " + shape_str(from) + " to " +
                                shape_str(to));
  }
  return {to};
}

std::vector<Shape> ExpandDims::output_shapes(const std::vector<array>& inputs) const {
  const Shape& in = inputs[0].shape();
  Shape out;
  size_t k = 0, a = 0;
  for (size_t d = 0; d < in.size() + axes_.size(); ++d) {
    if (a < axes_.size() && axes_[a] == static_cast<int>(d)) {
      out.push_back(1);
      ++a;
    } else {
      out.push_back(in[k++]);
    }
  }
  return {out};
}

std::vector<Shape> Squeeze::output_shapes(const std::vector<array>& inputs) const {
  const Shape& in = inputs[0].shape();
  Shape out;
  size_t a = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    if (a < axes_.size() && axes_[a] == static_cast<int>(d)) {
      if (in[d] != 1) {
        throw std::invalid_argument("[squeeze] cannot squeeze axis " + std::to_string(d) +
                                    " of size " + std::to_string(in[d]));
      }
      ++a;
    } else {
      out.push_back(in[d]);
    }
  }
  return {out};
}

std::vector<Shape> Diagonal::output_shapes(const std::vector<array>& inputs) const {
  const Shape& in = inputs[0].shape();
  Shape out;
  for (int i = 0; i < static_cast<int>(in.size()); ++i) {
    if (i != axis1_ && i != axis2_) out.push_back(in[i]);
  }
  int64_t rows = in[axis1_] - (offset_ < 0 ? -offset_ : 0);
  int64_t cols = in[axis2_] - (offset_ > 0 ? offset_ : 0);
  out.push_back(std::max<int64_t>(0, std::min(rows, cols)));
  return {out};
}

std::vector<Shape> Depends::output_shapes(const std::vector<array>& inputs) const {
  std::vector<Shape> out;
  for (int i = 0; i < n_; ++i) out.push_back(inputs[i].shape());
  return out;
}

std::vector<Shape> AsStrided::output_shapes(const std::vector<array>&) const { return {shape_}; }

std::vector<Shape> AsType::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

}  // namespace fastsync

namespace fastsync {

std::vector<Shape> Concatenate::output_shapes(const std::vector<array>& inputs) const {
  Shape out = inputs[0].shape();
  out[axis_] = 0;
  for (auto& in : inputs) out[axis_] += in.shape()[axis_];
  return {out};
}

}  // namespace fastsync

// --- derivatives --------------------------------------------------------

#include "primitives/grad_util.h"

namespace fastsync {

namespace {

// The vjp of a view that picks input elements: apply the same view to the
// input's flat positions, then add the cotangent at the positions it read
// (overlapping views accumulate).
array vjp_by_positions(std::shared_ptr<Primitive> same_view, const array& x, const array& c,
                       Stream s) {
  Dtype pos_t = x.size() > (int64_t{1} << 31) - 1 ? int64 : int32;
  array positions = reshape(arange(0, static_cast<double>(x.size()), 1, pos_t, s), x.shape(), s);
  array picked = array(c.shape(), pos_t, std::move(same_view), {positions});
  return grad::add_at_flat(x.shape(), picked, c, s);
}

}  // namespace

std::vector<array> Reshape::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents, const std::vector<int>&,
                                const std::vector<array>&) {
  return {reshape(cotangents[0], primals[0].shape(), stream())};
}

std::vector<array> ExpandDims::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                   const std::vector<int>&, const std::vector<array>&) {
  return {squeeze(cotangents[0], axes_, stream())};
}

std::vector<array> Squeeze::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>&) {
  return {expand_dims(cotangents[0], axes_, stream())};
}

std::vector<array> Transpose::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  std::vector<int> inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = static_cast<int>(i);
  return {transpose(cotangents[0], inverse, stream())};
}

std::vector<array> Slice::vjp(const std::vector<array>& primals,
                              const std::vector<array>& cotangents, const std::vector<int>&,
                              const std::vector<array>&) {
  const array& x = primals[0];
  const array& c = cotangents[0];
  bool unit = c.size() > 0;
  for (auto st : step_) unit = unit && st == 1;
  if (unit) {
    // A block: pad the cotangent with zeros around it.
    std::vector<std::pair<int64_t, int64_t>> widths;
    for (int i = 0; i < x.ndim(); ++i) {
      widths.push_back({start_[i], x.shape()[i] - start_[i] - c.shape()[i]});
    }
    return {pad(c, widths, zeros({}, c.dtype(), stream()), stream())};
  }
  if (c.size() == 0) return {grad::zero_like(x, stream())};
  return {
      vjp_by_positions(std::make_shared<Slice>(stream(), start_, stop_, step_), x, c, stream())};
}

std::vector<Shape> Split::output_shapes(const std::vector<array>& inputs) const {
  std::vector<Shape> out;
  for (size_t i = 0; i < starts_.size(); ++i) {
    Shape sh = inputs[0].shape();
    sh[axis_] = stops_[i] - starts_[i];
    out.push_back(std::move(sh));
  }
  return out;
}

// The backward pass gives every piece a cotangent (zeros where none flowed).
std::vector<array> Split::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>&) {
  return {concatenate(cotangents, axis_, stream())};
}

std::vector<array> Broadcast::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents, const std::vector<int>&,
                                  const std::vector<array>&) {
  return {grad::unbroadcast(cotangents[0], primals[0].shape(), stream())};
}

std::vector<array> BroadcastLike::vjp(const std::vector<array>& primals,
                                      const std::vector<array>& cotangents,
                                      const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int i : argnums) {
    out.push_back(i == 0 ? grad::unbroadcast(cotangents[0], primals[0].shape(), stream())
                         : grad::zero_like(primals[i], stream()));
  }
  return out;
}

std::vector<array> Diagonal::vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents, const std::vector<int>&,
                                 const std::vector<array>&) {
  return {vjp_by_positions(std::make_shared<Diagonal>(stream(), offset_, axis1_, axis2_),
                           primals[0], cotangents[0], stream())};
}

std::vector<array> AsStrided::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents, const std::vector<int>&,
                                  const std::vector<array>&) {
  return {vjp_by_positions(std::make_shared<AsStrided>(stream(), shape_, strides_, offset_),
                           primals[0], cotangents[0], stream())};
}

std::vector<array> BitCast::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>&, const std::vector<array>&) {
  // Reinterpreted bits have no derivative.
  return {grad::zero_like(primals[0], stream())};
}

std::vector<array> Depends::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int i : argnums) out.push_back(cotangents[i]);
  return out;
}

std::vector<array> AsType::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents, const std::vector<int>&,
                               const std::vector<array>&) {
  const array& x = primals[0];
  // Bools carry no derivative; integers do (cast, as MLX).
  if (x.dtype() == bool_ || dtype_ == bool_) return {grad::zero_like(x, stream())};
  return {astype(cotangents[0], x.dtype(), stream())};
}

std::vector<array> Concatenate::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = cotangents[0];
  std::vector<int64_t> offsets{0};
  for (auto& p : primals) offsets.push_back(offsets.back() + p.shape()[axis_]);
  std::vector<array> out;
  for (int i : argnums) {
    std::vector<std::optional<int64_t>> start(axis_ + 1), stop(axis_ + 1), step(axis_ + 1);
    start[axis_] = offsets[i];
    stop[axis_] = offsets[i + 1];
    out.push_back(slice(c, start, stop, step, stream()));
  }
  return out;
}

}  // namespace fastsync

// --- batching -------------------------------------------------------------

#include "primitives/batching.h"

namespace fastsync {

using batching::batch_first;

std::pair<std::vector<array>, std::vector<int>> AsType::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  return batching::elementwise(self, inputs, axes, outputs);
}

// With the batch axis first, every axis position moves up by one.
static std::vector<int> after_batch(const std::vector<int>& axes) {
  std::vector<int> out;
  for (int a : axes) out.push_back(a + 1);
  return out;
}

std::pair<std::vector<array>, std::vector<int>> ExpandDims::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes, const std::vector<array>&,
    const std::shared_ptr<Primitive>&) {
  return {{expand_dims(batch_first(inputs[0], axes[0], stream()), after_batch(axes_), stream())},
          {0}};
}

std::pair<std::vector<array>, std::vector<int>> Squeeze::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>&,
                                                              const std::shared_ptr<Primitive>&) {
  return {{squeeze(batch_first(inputs[0], axes[0], stream()), after_batch(axes_), stream())}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Reshape::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>& outputs,
                                                              const std::shared_ptr<Primitive>&) {
  array x = batch_first(inputs[0], axes[0], stream());
  Shape shape{x.shape()[0]};
  shape.insert(shape.end(), shape_.begin(), shape_.end());
  Shape out = shape;
  return {
      {array(std::move(out), outputs[0].dtype(), std::make_shared<Reshape>(stream(), shape), {x})},
      {0}};
}

std::pair<std::vector<array>, std::vector<int>> Transpose::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>&,
                                                                const std::shared_ptr<Primitive>&) {
  array x = batch_first(inputs[0], axes[0], stream());
  std::vector<int> perm{0};
  for (int a : axes_) perm.push_back(a + 1);
  return {{transpose(x, perm, stream())}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> BroadcastLike::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  const Stream s = stream();
  std::vector<array> in = batching::to_front_aligned(inputs, axes, s);
  if (axes[1] >= 0) return batching::apply(self, in, outputs);
  // Only the input is batched: the target's shape is fixed, behind the batch.
  Shape target{in[0].shape()[0]};
  target.insert(target.end(), inputs[1].shape().begin(), inputs[1].shape().end());
  return {{broadcast_to(in[0], target, s)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Broadcast::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>&,
                                                                const std::shared_ptr<Primitive>&) {
  array x = batch_first(inputs[0], axes[0], stream());
  Shape aligned{x.shape()[0]};
  aligned.insert(aligned.end(), shape_.size() - (x.ndim() - 1), 1);
  aligned.insert(aligned.end(), x.shape().begin() + 1, x.shape().end());
  Shape target{x.shape()[0]};
  target.insert(target.end(), shape_.begin(), shape_.end());
  return {{broadcast_to(reshape(x, aligned, stream()), target, stream())}, {0}};
}

}  // namespace fastsync
