// Elementwise primitives of one input. The ops layer converts the input to
// the dtype the op computes in; the output has that dtype, except abs, real
// and imag of complex64, which output float32.
#pragma once

#include "primitive.h"
#include "primitives/elementwise_ops.h"

namespace fastsync {

class Unary : public Primitive {
 public:
  Unary(Stream s, UnaryOp op) : Primitive(s), op_(op) {}
  const char* name() const override;
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

}  // namespace fastsync
