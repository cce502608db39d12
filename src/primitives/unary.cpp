#include "primitives/unary.h"

namespace fastsync {

const char* Unary::name() const {
  switch (op_) {
    case UnaryOp::negative: return "Negative";
    case UnaryOp::abs: return "Abs";
    case UnaryOp::exp: return "Exp";
    case UnaryOp::log: return "Log";
    case UnaryOp::sqrt: return "Sqrt";
    case UnaryOp::square: return "Square";
  }
  return "Unary";
}

std::vector<Shape> Unary::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

}  // namespace fastsync
