// Layout setup for Gather (take, take_along_axis), shared by the CPU kernel
// (src/backend/cpu/indexing.cpp) and the CUDA one
// (src/backend/cuda/indexing.cu): both walk out's shape with a's strides,
// the gathered axis zeroed, and the indices' strides, and read
// a[a_offset + index * step] for each element, after checking the index
// against [-n, n). Shapes and strides only; encoding thread.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "array.h"

namespace fastsync {

struct GatherPlan {
  Strides a;     // a's strides over out's shape; 0 on the axes the indices fill
  Strides idx;   // the indices' strides over out's shape; 0 where broadcast
  int64_t n;     // length of a's gathered axis: indices lie in [-n, n)
  int64_t step;  // a's stride along the gathered axis
};

// Calls f with a value of the C++ type of `t`, one of the index dtypes
// Gather reads (Gather::reads_index).
template <typename F>
void dispatch_gather_index(Dtype t, F&& f) {
  if (t == int32) return f(int32_t{});
  if (t == uint32) return f(uint32_t{});
  if (t == int64) return f(int64_t{});
  throw std::logic_error(std::string("[take] indices must be int32, uint32 or int64 here, got ") +
                         t.name());
}

// take (along_axis false): out = a.shape[:axis] + idx.shape + a.shape[axis+1:].
// take_along_axis: idx has a's ndim and broadcasts with it to out_shape.
GatherPlan plan_gather(const array& a, const array& idx, const Shape& out_shape, int axis,
                       bool along_axis);

}  // namespace fastsync
