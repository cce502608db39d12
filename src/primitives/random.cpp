// Random bits are not differentiable: the key receives no cotangent.
#include "primitives/random.h"

#include "primitives/grad_util.h"

namespace fastsync {

std::vector<array> RandomBits::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  return grad::zeros_for(primals, argnums, stream());
}

}  // namespace fastsync
