// Elementwise primitives of two inputs, broadcasting. Inputs share a dtype
// (the ops layer promotes); outputs are that dtype.
#pragma once

#include "primitive.h"

namespace fastsync {

enum class BinaryOp { add, subtract, multiply, divide, maximum, minimum, floor_divide, remainder };

class Binary : public Primitive {
 public:
  Binary(Stream s, BinaryOp op) : Primitive(s), op_(op) {}
  const char* name() const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  BinaryOp op() const { return op_; }

 private:
  BinaryOp op_;
};

// Python's divmod: floor quotient and remainder (sign of the divisor), as
// two outputs of one primitive.
class DivMod : public Primitive {
 public:
  explicit DivMod(Stream s) : Primitive(s) {}
  const char* name() const override { return "DivMod"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
};

Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace fastsync
