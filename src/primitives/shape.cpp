#include "primitives/shape.h"

#include <algorithm>

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
