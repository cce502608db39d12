// Derivatives of the creation primitives: a fill value receives the sum of
// the cotangent; positions have none.
#include "primitives/creation.h"

#include "primitives/batching.h"
#include "primitives/grad_util.h"

namespace fastsync {

std::vector<Shape> Full::output_shapes(const std::vector<array>& inputs) const {
  if (inputs.size() < 2) {
    throw not_implemented("[Full] the shape of a fill without a shape input is fixed");
  }
  return {inputs[1].shape()};
}

std::vector<array> Full::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>& argnums,
                             const std::vector<array>&) {
  std::vector<array> out;
  for (int i : argnums) {
    const array& v = primals[i];
    if (i != 0 || v.dtype() == bool_) {
      out.push_back(grad::zero_like(v, stream()));
    } else {
      out.push_back(astype(sum(cotangents[0], {}, false, stream()), v.dtype(), stream()));
    }
  }
  return out;
}

// Only a fill that follows its shape input can be batched: by that input's
// batch axis.
std::pair<std::vector<array>, std::vector<int>> Full::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs,
                                                           const std::shared_ptr<Primitive>& self) {
  if (inputs.size() < 2 || axes[0] >= 0) {
    throw not_implemented("[Full] vmap over the fill value is not supported");
  }
  return batching::apply(self, {inputs[0], batching::batch_first(inputs[1], axes[1], stream())},
                         outputs);
}

std::vector<array> Arange::vjp(const std::vector<array>& primals, const std::vector<array>&,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  return grad::zeros_for(primals, argnums, stream());
}

}  // namespace fastsync
