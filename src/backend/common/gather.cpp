// Layout setup for Gather; see gather.h.
#include "backend/common/gather.h"

#include "backend/common/strided.h"

namespace fastsync {

GatherPlan plan_gather(const array& a, const array& idx, const Shape& out_shape, int axis,
                       bool along_axis) {
  GatherPlan p;
  p.n = a.shape()[axis];
  p.step = a.strides()[axis];
  if (along_axis) {
    p.a = broadcast_strides(a, out_shape);
    p.a[axis] = 0;
    p.idx = broadcast_strides(idx, out_shape);
    return p;
  }
  // out's axes: a's before `axis`, then idx's, then a's after `axis`.
  for (int d = 0; d < axis; ++d) {
    p.a.push_back(a.strides()[d]);
    p.idx.push_back(0);
  }
  for (int d = 0; d < idx.ndim(); ++d) {
    p.a.push_back(0);
    p.idx.push_back(idx.shape()[d] == 1 ? 0 : idx.strides()[d]);
  }
  for (int d = axis + 1; d < a.ndim(); ++d) {
    p.a.push_back(a.strides()[d]);
    p.idx.push_back(0);
  }
  return p;
}

}  // namespace fastsync
