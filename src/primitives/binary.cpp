#include "primitives/binary.h"

#include <stdexcept>

namespace fastsync {

const char* Binary::name() const {
  switch (op_) {
    case BinaryOp::add: return "Add";
    case BinaryOp::subtract: return "Subtract";
    case BinaryOp::multiply: return "Multiply";
    case BinaryOp::divide: return "Divide";
    case BinaryOp::maximum: return "Maximum";
    case BinaryOp::minimum: return "Minimum";
    case BinaryOp::floor_divide: return "FloorDivide";
    case BinaryOp::remainder: return "Remainder";
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
      auto str = [](const Shape& s) {
        std::string r = "(";
        for (size_t k = 0; k < s.size(); ++k) r += (k ? ", " : "") + std::to_string(s[k]);
        return r + (s.size() == 1 ? ",)" : ")");
      };
      throw std::invalid_argument("shapes " + str(a) + " and " + str(b) +
                                  " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<Shape> Binary::output_shapes(const std::vector<array>& inputs) const {
  return {broadcast_shapes(inputs[0].shape(), inputs[1].shape())};
}

std::vector<Shape> DivMod::output_shapes(const std::vector<array>& inputs) const {
  auto s = broadcast_shapes(inputs[0].shape(), inputs[1].shape());
  return {s, s};
}

}  // namespace fastsync
