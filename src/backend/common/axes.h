// Splitting an array's dims around the axes an op works along: the layout
// step that the CPU and CUDA kernels of scans, sorts, arg-reductions and
// reductions share. Encoding thread (plain functions of shapes and strides).
#pragma once

#include <vector>

#include "array.h"

namespace fastsync {

// Ops along one axis (scans, sorts, arg-reductions): the shape and strides
// of `in` and of an output with `out_strides` without `axis`, and the
// axis' own extent and strides (axes.cpp).
struct AxisSplit {
  Shape outer_shape;
  Strides in_outer, out_outer;
  int64_t n, in_stride, out_stride;
};
AxisSplit split_axis(const array& in, const Strides& out_strides, int axis);

// Reductions: the dims of `in` listed in `axes` (sorted) and the others,
// each with in's shape and strides.
struct ReduceSplit {
  Shape kept_shape, red_shape;
  Strides kept_strides, red_strides;
};
ReduceSplit split_reduced(const array& in, const std::vector<int>& axes);

}  // namespace fastsync
