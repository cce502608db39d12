#include "primitive.h"

namespace fastsync {

std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) const {
  throw not_implemented(std::string("[") + name() + "] output_shapes is not implemented");
}

void Primitive::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  throw not_implemented(std::string("[") + name() +
                        "] has no GPU implementation in this build");
}

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw not_implemented(std::string("[") + name() +
                        "] vjp is not implemented (autodiff is not available yet)");
}

}  // namespace fastsync
