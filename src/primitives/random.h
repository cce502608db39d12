// Counter-based random bits: threefry-2x32 (20 rounds) of a key and the
// element index, so a key always gives the same bits, on any stream and in
// any order, and split keys give independent streams.
#pragma once

#include "primitive.h"

namespace fastsync {

// Input: a uint32 key of shape (2,). Output: uint32 bits of `shape`.
class RandomBits : public Primitive {
 public:
  RandomBits(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  const char* name() const override { return "RandomBits"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>&) const override { return {shape_}; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  Shape shape_;
};

// The threefry-2x32 block function, exposed for the kernel and its tests.
void threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t& o0, uint32_t& o1);

}  // namespace fastsync
