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
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  ReduceOp op_;
  std::vector<int> axes_;  // sorted, non-negative, unique
};

}  // namespace fastsync

namespace fastsync {

// Index of the largest / smallest element along one axis (first on ties and
// NaN, as NumPy). Output uint32, the axis removed.
enum class ArgReduceOp { argmax, argmin };

class ArgReduce : public Primitive {
 public:
  ArgReduce(Stream s, ArgReduceOp op, int axis) : Primitive(s), op_(op), axis_(axis) {}
  const char* name() const override { return op_ == ArgReduceOp::argmax ? "ArgMax" : "ArgMin"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  ArgReduceOp op_;
  int axis_;
};

// Inclusive or exclusive running reduction along one axis, either direction.
class Scan : public Primitive {
 public:
  Scan(Stream s, ReduceOp op, int axis, bool reverse, bool inclusive)
      : Primitive(s), op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  const char* name() const override;
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  ReduceOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

}  // namespace fastsync

namespace fastsync {

// softmax over the last axis, fused: one pass for the row maximum and sum of
// exponentials, one to write. Float inputs; the ops layer handles other axes
// by composition.
class Softmax : public Primitive {
 public:
  explicit Softmax(Stream s) : Primitive(s) {}
  const char* name() const override { return "Softmax"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
};

}  // namespace fastsync
