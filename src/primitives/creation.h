// Primitives that create arrays from parameters.
#pragma once

#include "primitive.h"

namespace fastsync {

// Fills the output with its single (0-d) input, converted to the output dtype.
class Full : public Primitive {
 public:
  explicit Full(Stream s) : Primitive(s) {}
  const char* name() const override { return "Full"; }
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
