// Elementwise primitives of two inputs, broadcasting. Inputs share a dtype
// (the ops layer promotes); comparisons output bool, the rest that dtype.
#pragma once

#include "primitive.h"
#include "primitives/elementwise_ops.h"

namespace fastsync {

class Binary : public Primitive {
 public:
  Binary(Stream s, BinaryOp op) : Primitive(s), op_(op) {}
  const char* name() const override;
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
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
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
};

// where(condition, x, y): condition is bool, x and y share a dtype.
class Select : public Primitive {
 public:
  explicit Select(Stream s) : Primitive(s) {}
  const char* name() const override { return "Select"; }
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
};

Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace fastsync
