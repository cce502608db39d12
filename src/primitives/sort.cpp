// Derivatives of sorting: each value's cotangent returns to the position it
// came from; positions (argsort) have none.
#include "primitives/sort.h"

#include "primitives/grad_util.h"

namespace fastsync {

std::vector<array> Sort::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>&,
                             const std::vector<array>&) {
  const Stream s = stream();
  const array& x = primals[0];
  if (indices_ || x.dtype() == bool_) return {grad::zero_like(x, s)};
  array order = argsort(x, axis_, s);
  array flat = grad::flat_index_along(x.shape(), order, axis_, s);
  return {grad::add_at_flat(x.shape(), flat, cotangents[0], s)};
}

}  // namespace fastsync

// --- batching -------------------------------------------------------------

#include "primitives/batching.h"

namespace fastsync {

std::pair<std::vector<array>, std::vector<int>> Sort::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs,
                                                           const std::shared_ptr<Primitive>&) {
  array x = batching::batch_first(inputs[0], axes[0], stream());
  return batching::apply(std::make_shared<Sort>(stream(), axis_ + 1, indices_), {x}, outputs);
}

}  // namespace fastsync
