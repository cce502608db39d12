// Matrix products. Both primitives take NumPy matmul operands as they are:
// a 1-D operand stands for a row (a) or a column (b) and its axis is absent
// from the output, and leading (batch) axes broadcast. Keeping the 1-D and
// broadcast cases inside the primitive means a product is one graph node
// and the kernel sees the caller's real strides, so it can hand transposed
// views straight to BLAS. Operands share a floating dtype (the ops layer
// promotes and rejects the rest).
#pragma once

#include "primitive.h"

namespace fastsync {

// out = a @ b
class Matmul : public Primitive {
 public:
  explicit Matmul(Stream s) : Primitive(s) {}
  const char* name() const override { return "Matmul"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
};

// out = beta * c + alpha * (a @ b); inputs are {c, a, b} and c broadcasts
// to the product's shape.
class AddMM : public Primitive {
 public:
  AddMM(Stream s, double alpha, double beta) : Primitive(s), alpha_(alpha), beta_(beta) {}
  const char* name() const override { return "AddMM"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  double alpha() const { return alpha_; }
  double beta() const { return beta_; }

 private:
  double alpha_;
  double beta_;
};

// The shape of a @ b under NumPy's rules; throws std::invalid_argument
// naming `op` and both shapes when they do not fit.
Shape matmul_shape(const char* op, const Shape& a, const Shape& b);

}  // namespace fastsync
