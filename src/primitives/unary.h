// Elementwise primitives of one input.
#pragma once

#include "primitive.h"

namespace fastsync {

enum class UnaryOp { negative, abs, exp, log, sqrt, square };

class Unary : public Primitive {
 public:
  Unary(Stream s, UnaryOp op) : Primitive(s), op_(op) {}
  const char* name() const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

}  // namespace fastsync
