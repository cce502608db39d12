// Sorting along one axis: values (Sort) or the indices that sort (ArgSort).
// Stable; NaN sorts last, as NumPy.
#pragma once

#include "primitive.h"

namespace fastsync {

class Sort : public Primitive {
 public:
  Sort(Stream s, int axis, bool indices) : Primitive(s), axis_(axis), indices_(indices) {}
  const char* name() const override { return indices_ ? "ArgSort" : "Sort"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  int axis_;
  bool indices_;  // output uint32 positions instead of values
};

}  // namespace fastsync
