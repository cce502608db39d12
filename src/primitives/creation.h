// Primitives that create arrays from parameters.
#pragma once

#include "primitive.h"

namespace fastsync {

// Fills the output with its first (0-d) input, converted to the output
// dtype. A second input, if given, is read for its shape only: zeros_like and
// ones_like under a compile trace give one, so that a shapeless replay
// (replay.h) follows that array's new shape.
class Full : public Primitive {
 public:
  explicit Full(Stream s) : Primitive(s) {}
  const char* name() const override { return "Full"; }
  bool passes_gradient(int input) const override { return input == 0; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  FASTSYNC_VMAP
  FASTSYNC_VJP
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
};

class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double step) : Primitive(s), start_(start), step_(step) {}
  const char* name() const override { return "Arange"; }
  FASTSYNC_VJP
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  double start_, step_;
};

}  // namespace fastsync
