#include "primitives/linalg.h"

#include <stdexcept>
#include <string>

namespace fastsync {

Shape matmul_shape(const char* op, const Shape& a, const Shape& b) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string("[") + op + "] " + why + ": a has shape " +
                                shape_str(a) + " and b has shape " + shape_str(b));
  };
  if (a.empty() || b.empty()) fail("operands must have at least one dimension");
  int64_t ka = a.back();
  int64_t kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (ka != kb) {
    fail("inner dimensions differ (" + std::to_string(ka) + " != " + std::to_string(kb) + ")");
  }
  // Batch axes: everything before the last two, right-aligned and broadcast.
  size_t na = a.size() > 2 ? a.size() - 2 : 0;
  size_t nb = b.size() > 2 ? b.size() - 2 : 0;
  size_t n = std::max(na, nb);
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + na >= n ? a[i + na - n] : 1;
    int64_t db = i + nb >= n ? b[i + nb - n] : 1;
    if (da != db && da != 1 && db != 1) fail("batch dimensions cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  return out;
}

std::vector<Shape> Matmul::output_shapes(const std::vector<array>& inputs) const {
  return {matmul_shape("matmul", inputs[0].shape(), inputs[1].shape())};
}

std::vector<Shape> AddMM::output_shapes(const std::vector<array>& inputs) const {
  return {matmul_shape("addmm", inputs[1].shape(), inputs[2].shape())};
}

}  // namespace fastsync
