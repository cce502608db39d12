// Gathers by integer indices. Indices are read when the task runs: negative
// ones count from the end; one out of range fails the task (IndexError-like
// RuntimeError at the next eval), never reads out of bounds.
#pragma once

#include "primitive.h"

namespace fastsync {

// take: out = a.shape[:axis] + indices.shape + a.shape[axis+1:].
// along_axis (take_along_axis): indices have a's ndim and broadcast with it
// off the axis; out has the broadcast shape.
class Gather : public Primitive {
 public:
  Gather(Stream s, int axis, bool along_axis, Shape out_shape)
      : Primitive(s), axis_(axis), along_axis_(along_axis), shape_(std::move(out_shape)) {}
  const char* name() const override { return along_axis_ ? "TakeAlongAxis" : "Take"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>&) const override { return {shape_}; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  // The index dtypes the kernels read as they are (token ids are int32 or
  // uint32 in most models: no conversion op per lookup); the ops convert
  // other integer dtypes to int64.
  static bool reads_index(Dtype t) { return t == int32 || t == uint32 || t == int64; }

 private:
  int axis_;
  bool along_axis_;
  Shape shape_;
};

}  // namespace fastsync

namespace fastsync {

// out = a with rows a[indices[j]] combined with updates[j] along axis 0;
// repeated indices accumulate (add, prod, max, min: each update applies
// once, in no particular order) or the last write wins (set).
enum class ScatterOp { set, add, prod, max, min };

class Scatter : public Primitive {
 public:
  Scatter(Stream s, ScatterOp op) : Primitive(s), op_(op) {}
  const char* name() const override {
    switch (op_) {
      case ScatterOp::add: return "ScatterAdd";
      case ScatterOp::prod: return "ScatterProd";
      case ScatterOp::max: return "ScatterMax";
      case ScatterOp::min: return "ScatterMin";
      default: return "Scatter";
    }
  }
  FASTSYNC_VJP
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  ScatterOp op_;
};

// out = a with the strided region start:stop:step (normalized, one triple per
// axis) replaced by `update` (inputs[1], the region's shape): basic-slice
// assignment. Writes into a's buffer when nothing else holds it, so a KV
// cache updated a row per step is neither copied nor duplicated.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape stop, Shape step)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), step_(std::move(step)) {}
  const char* name() const override { return "SliceUpdate"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  const Shape& start() const { return start_; }
  const Shape& stop() const { return stop_; }
  const Shape& step() const { return step_; }
  // The updated region, of `shape`, as a strided view of `out`'s
  // row-contiguous buffer (what both backends copy the update into).
  array region_of(const array& out, const Shape& shape) const;

 private:
  Shape start_, stop_, step_;
};

}  // namespace fastsync
