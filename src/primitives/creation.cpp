// Derivatives of the creation primitives: a fill value receives the sum of
// the cotangent; positions have none.
#include "primitives/creation.h"

#include "primitives/grad_util.h"

namespace fastsync {

std::vector<array> Full::vjp(const std::vector<array>& primals,
                             const std::vector<array>& cotangents, const std::vector<int>&,
                             const std::vector<array>&) {
  const array& v = primals[0];
  if (v.dtype() == bool_) return {grad::zero_like(v, stream())};
  return {astype(sum(cotangents[0], {}, false, stream()), v.dtype(), stream())};
}

std::vector<array> Arange::vjp(const std::vector<array>& primals, const std::vector<array>&,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  return grad::zeros_for(primals, argnums, stream());
}

}  // namespace fastsync
