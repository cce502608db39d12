#include "backend/common/axes.h"

namespace fastsync {

AxisSplit split_axis(const array& in, const Strides& out_strides, int axis) {
  AxisSplit s;
  for (int d = 0; d < in.ndim(); ++d) {
    if (d == axis) continue;
    s.outer_shape.push_back(in.shape()[d]);
    s.in_outer.push_back(in.strides()[d]);
    s.out_outer.push_back(out_strides[d]);
  }
  s.n = in.shape()[axis];
  s.in_stride = in.strides()[axis];
  s.out_stride = out_strides[axis];
  return s;
}

ReduceSplit split_reduced(const array& in, const std::vector<int>& axes) {
  ReduceSplit s;
  size_t k = 0;
  for (int d = 0; d < in.ndim(); ++d) {
    if (k < axes.size() && axes[k] == d) {
      s.red_shape.push_back(in.shape()[d]);
      s.red_strides.push_back(in.strides()[d]);
      ++k;
    } else {
      s.kept_shape.push_back(in.shape()[d]);
      s.kept_strides.push_back(in.strides()[d]);
    }
  }
  return s;
}

}  // namespace fastsync
