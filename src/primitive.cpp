#include "primitive.h"

#include "autodiff.h"
#include "ops/ops.h"

namespace fastsync {

std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) const {
  throw not_implemented(std::string("[") + name() + "] output_shapes is not implemented");
}

void Primitive::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  throw not_implemented(std::string("[") + name() + "] has no GPU implementation in this build");
}

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw not_implemented(std::string("[") + name() + "] has no derivative (vjp)");
}

std::vector<array> Primitive::jvp(const std::vector<array>& primals,
                                  const std::vector<array>& tangents,
                                  const std::vector<int>& argnums,
                                  const std::vector<array>& outputs) {
  // vjp maps output cotangents c to J^T c; the derivative of that map with
  // respect to c, pulled back from the tangents, is J t.
  std::vector<array> placeholders;
  for (auto& o : outputs) placeholders.push_back(zeros(o.shape(), o.dtype(), stream()));
  auto pulled = vjp(primals, placeholders, argnums, outputs);
  std::vector<array> seeds;
  for (size_t i = 0; i < pulled.size(); ++i) {
    seeds.push_back(tangents[i].dtype() == pulled[i].dtype()
                        ? tangents[i]
                        : astype(tangents[i], pulled[i].dtype(), stream()));
  }
  std::vector<array> out = backward(pulled, seeds, placeholders);
  // Boolean outputs (comparisons, logic) get zero tangents in the tangents'
  // dtype, so arithmetic on them stays in floating point.
  for (size_t k = 0; k < out.size(); ++k) {
    if (outputs[k].dtype() == bool_ && !tangents.empty()) {
      out[k] = zeros(outputs[k].shape(), tangents[0].dtype(), stream());
    }
  }
  return out;
}

}  // namespace fastsync
