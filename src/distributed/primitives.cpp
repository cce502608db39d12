// Names and output shapes of the communication primitives; their encodings
// are in backend/cpu/distributed.cpp and backend/cuda/distributed.cpp.
#include "distributed/primitives.h"

namespace fastsync::distributed {

const char* AllReduce::name() const {
  switch (op_) {
    case ReduceOp::sum: return "AllSum";
    case ReduceOp::max: return "AllMax";
    case ReduceOp::min: return "AllMin";
  }
  return "AllReduce";
}

std::vector<Shape> AllReduce::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

Shape gathered_shape(const Shape& in, int group_size) {
  if (in.empty()) return {group_size};
  Shape out = in;
  out[0] *= group_size;
  return out;
}

std::vector<Shape> AllGather::output_shapes(const std::vector<array>& inputs) const {
  return {gathered_shape(inputs[0].shape(), group_.size())};
}

std::vector<Shape> Send::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

std::vector<Shape> Recv::output_shapes(const std::vector<array>&) const { return {shape_}; }

}  // namespace fastsync::distributed
