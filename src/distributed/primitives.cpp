// Names and output shapes of the communication primitives; their encodings
// are in backend/cpu/distributed.cpp and backend/cuda/distributed.cpp.
#include "distributed/primitives.h"

#include "ops/ops.h"

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

// --- derivatives --------------------------------------------------------
// As MLX: the cotangent of an all_sum passes through unchanged (each rank
// differentiates its own copy of the reduced value; summing gradients across
// ranks is the caller's all_sum); all_max/all_min route it to the ranks
// whose value won; all_gather hands each rank its own block.

std::vector<array> AllReduce::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents, const std::vector<int>&,
                                  const std::vector<array>& outputs) {
  const array& c = cotangents[0];
  if (op_ == ReduceOp::sum) return {c};
  return {where(equal(primals[0], outputs[0], stream()), c, zeros_like(c, stream()), stream())};
}

std::vector<array> AllGather::vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents, const std::vector<int>&,
                                  const std::vector<array>&) {
  const array& x = primals[0];
  int64_t n = x.ndim() == 0 ? 1 : x.shape()[0];
  int64_t start = static_cast<int64_t>(group_.rank()) * n;
  array block = slice(cotangents[0], {start}, {start + n}, {}, stream());
  return {reshape(block, x.shape(), stream())};
}

std::vector<array> Send::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  return {cotangents[0]};  // the output is the input itself
}

}  // namespace fastsync::distributed
