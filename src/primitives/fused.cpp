#include "primitives/fused.h"

#include <stdexcept>

namespace fastsync {

std::vector<array> Fused::vjp(const std::vector<array>&, const std::vector<array>&,
                              const std::vector<int>&, const std::vector<array>&) {
  throw std::logic_error(
      "[compile] a fused node was differentiated; fusion runs only outside transforms");
}

std::vector<Shape> Fused::output_shapes(const std::vector<array>& inputs) const {
  Shape out;
  for (const array& in : inputs) {
    const Shape& s = in.shape();
    if (s.size() > out.size()) out.insert(out.begin(), s.size() - out.size(), 1);
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[out.size() - s.size() + i];
      int64_t d = s[i];
      if (o != d && o != 1 && d != 1) {
        throw std::invalid_argument("[Fused] inputs of shapes that do not broadcast");
      }
      if (o == 1) o = d;
    }
  }
  return std::vector<Shape>(1 + program_.extra_outputs.size(), out);
}

std::optional<FusedRead> fused_read(const array& in, const Shape& shape) {
  if (in.size() == 1) return FusedRead::scalar;
  if (!in.flags().row_contiguous) return std::nullopt;
  if (in.shape() == shape) return FusedRead::dense;
  // Leading 1s aside, in's shape must be the output's trailing dims.
  size_t lead = 0;
  while (lead < in.shape().size() && in.shape()[lead] == 1) ++lead;
  size_t m = in.shape().size() - lead;
  if (m > shape.size()) return std::nullopt;
  for (size_t i = 0; i < m; ++i) {
    if (in.shape()[lead + i] != shape[shape.size() - m + i]) return std::nullopt;
  }
  return FusedRead::cyclic;
}

}  // namespace fastsync
