#include "primitives/binary.h"

#include <stdexcept>

namespace fastsync {

const char* Binary::name() const {
  switch (op_) {
#define FASTSYNC_NAME(op, Name) \
  case BinaryOp::op: return #Name;
    FASTSYNC_BINARY_OPS(FASTSYNC_NAME)
#undef FASTSYNC_NAME
  }
  return "Binary";
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw std::invalid_argument("shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<Shape> Binary::output_shapes(const std::vector<array>& inputs) const {
  return {broadcast_shapes(inputs[0].shape(), inputs[1].shape())};
}

std::vector<Shape> Select::output_shapes(const std::vector<array>& inputs) const {
  return {broadcast_shapes(broadcast_shapes(inputs[0].shape(), inputs[1].shape()),
                           inputs[2].shape())};
}

std::vector<Shape> DivMod::output_shapes(const std::vector<array>& inputs) const {
  auto s = broadcast_shapes(inputs[0].shape(), inputs[1].shape());
  return {s, s};
}

}  // namespace fastsync
