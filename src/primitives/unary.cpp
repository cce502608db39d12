#include "primitives/unary.h"

namespace fastsync {

const char* Unary::name() const {
  switch (op_) {
#define FASTSYNC_NAME(op, Name) \
  case UnaryOp::op: return #Name;
    FASTSYNC_UNARY_OPS(FASTSYNC_NAME)
#undef FASTSYNC_NAME
  }
  return "Unary";
}

std::vector<Shape> Unary::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

}  // namespace fastsync
