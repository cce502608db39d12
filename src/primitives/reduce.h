// Reductions over a set of axes. The output drops the reduced axes; the ops
// layer reshapes for keepdims.
#pragma once

#include "primitive.h"

namespace fastsync {

enum class ReduceOp { sum, prod, max, min };

class Reduce : public Primitive {
 public:
  Reduce(Stream s, ReduceOp op, std::vector<int> axes)
      : Primitive(s), op_(op), axes_(std::move(axes)) {}
  const char* name() const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;

 private:
  ReduceOp op_;
  std::vector<int> axes_;  // sorted, non-negative, unique
};

}  // namespace fastsync
