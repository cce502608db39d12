#include <algorithm>

#include "ops/ops.h"
#include "primitives/reduce.h"

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
}  // namespace

array sum(const array& a, const std::optional<std::vector<int>>& axes, bool keepdims,
          StreamOrDevice s) {
  auto ax = reduction_axes("sum", a, axes);
  Dtype out = sum_type(a.dtype());
  auto prim = std::make_shared<Reduce>(to_stream(s), ReduceOp::sum, ax);
  Shape shape = prim->output_shapes({a})[0];
  array r(std::move(shape), out, std::move(prim), {a});
  return keep_dims(r, a, ax, keepdims, s);
}

}  // namespace fastsync
