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

bool is_comparison(BinaryOp op) {
  switch (op) {
#define FASTSYNC_CMP(op, Name) case BinaryOp::op:
    FASTSYNC_BINARY_COMPARE_OPS(FASTSYNC_CMP)
#undef FASTSYNC_CMP
    return true;
    default: return false;
  }
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

std::vector<Shape> Select::output_shapes(const std::vector<array>& inputs) const {
  return {broadcast_shapes(broadcast_shapes(inputs[0].shape(), inputs[1].shape()),
                           inputs[2].shape())};
}

std::vector<Shape> DivMod::output_shapes(const std::vector<array>& inputs) const {
  auto s = broadcast_shapes(inputs[0].shape(), inputs[1].shape());
  return {s, s};
}

}  // namespace fastsync
