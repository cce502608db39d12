// Shape and layout primitives: views where the layout allows, copies
// otherwise.
#pragma once

#include "primitive.h"

namespace fastsync {

// A primitive whose output is a view of its input's buffer: nothing is
// computed or encoded, so one eval serves every backend
// (backend/common/views.cpp).
class ViewPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  bool is_view() const final { return true; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) final;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) final;

 protected:
  // Sets outputs[0] to a view of inputs[0] (make_view).
  virtual void view(const array& in, array& out) const = 0;
};

class Reshape : public Primitive {
 public:
  Reshape(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  const char* name() const override { return "Reshape"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  Shape shape_;
};

class Transpose : public ViewPrimitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : ViewPrimitive(s), axes_(std::move(axes)) {}
  const char* name() const override { return "Transpose"; }
  const std::vector<int>& axes() const { return axes_; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  std::vector<int> axes_;
};

// Basic slicing: start/stop/step per axis, as a strided view.
class Slice : public ViewPrimitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape step)
      : ViewPrimitive(s),
        start_(std::move(start)),
        stop_(std::move(stop)),
        step_(std::move(step)) {}
  const char* name() const override { return "Slice"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  Shape start_, stop_, step_;
};

// Consecutive pieces [starts[i], stops[i]) tiling one axis in order, each a
// view of the input (split; other bounds take a slice per piece). One node, whose vjp concatenates
// the pieces' cotangents: a slice per piece padded each cotangent with zeros to the input's size
// and summed the padded copies.
class Split : public Primitive {
 public:
  Split(Stream s, int axis, Shape starts, Shape stops)
      : Primitive(s), axis_(axis), starts_(std::move(starts)), stops_(std::move(stops)) {}
  const char* name() const override { return "Split"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;

 private:
  int axis_;
  Shape starts_, stops_;
};

class Broadcast : public ViewPrimitive {
 public:
  Broadcast(Stream s, Shape shape) : ViewPrimitive(s), shape_(std::move(shape)) {}
  const char* name() const override { return "Broadcast"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  Shape shape_;
};

// Input 0 broadcast to the shape of input 1, which is read for its shape
// only. Under a compile trace, a derivative that spreads a cotangent back over
// its primal uses it (grad::broadcast_like), so a shapeless replay (replay.h)
// follows the primal's new shape; Broadcast keeps the shape it was built with.
class BroadcastLike : public ViewPrimitive {
 public:
  using ViewPrimitive::ViewPrimitive;
  const char* name() const override { return "BroadcastLike"; }
  bool passes_gradient(int input) const override { return input == 0; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
};

// Size-1 axes inserted at `axes` (positions in the output, sorted): a view
// whose shape follows the input's, so a shapeless replay (replay.h) can run it
// on new shapes where a Reshape to the traced shape could not.
class ExpandDims : public ViewPrimitive {
 public:
  ExpandDims(Stream s, std::vector<int> axes) : ViewPrimitive(s), axes_(std::move(axes)) {}
  const char* name() const override { return "ExpandDims"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  std::vector<int> axes_;
};

// The size-1 axes `axes` (positions in the input, sorted) dropped: a view, as
// ExpandDims's inverse; a replay on an input whose axis is no longer of size 1
// raises.
class Squeeze : public ViewPrimitive {
 public:
  Squeeze(Stream s, std::vector<int> axes) : ViewPrimitive(s), axes_(std::move(axes)) {}
  const char* name() const override { return "Squeeze"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  std::vector<int> axes_;
};

// The k-th diagonal of the plane (axis1, axis2), as a last axis: a view.
class Diagonal : public ViewPrimitive {
 public:
  Diagonal(Stream s, int64_t offset, int axis1, int axis2)
      : ViewPrimitive(s), offset_(offset), axis1_(axis1), axis2_(axis2) {}
  const char* name() const override { return "Diagonal"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  int64_t offset_;
  int axis1_, axis2_;
};

// Any shape, strides and offset (in elements) over a row-contiguous input:
// the ops layer checks the view stays inside the input.
class AsStrided : public ViewPrimitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, int64_t offset)
      : ViewPrimitive(s), shape_(std::move(shape)), strides_(std::move(strides)), offset_(offset) {}
  const char* name() const override { return "AsStrided"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;

 private:
  void view(const array& in, array& out) const override;
  Shape shape_;
  Strides strides_;
  int64_t offset_;
};

// The same bytes read as another dtype (the last axis scales by the size
// ratio), over a row-contiguous input: a view.
class BitCast : public ViewPrimitive {
 public:
  BitCast(Stream s, Shape shape) : ViewPrimitive(s), shape_(std::move(shape)) {}
  const char* name() const override { return "BitCast"; }
  bool shapes_from_inputs() const override { return false; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>&) const override { return {shape_}; }

 private:
  void view(const array& in, array& out) const override;
  Shape shape_;
};

// Outputs that are the first n inputs, computed only after the remaining
// inputs: an ordering edge in the graph (mx.depends). Views; nothing runs.
class Depends : public Primitive {
 public:
  Depends(Stream s, int n) : Primitive(s), n_(n) {}
  const char* name() const override { return "Depends"; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_VJP
  bool passes_gradient(int input) const override { return input < n_; }

 protected:
  int n_;
};

// Conversion to another dtype (and to a row-contiguous copy).
class AsType : public Primitive {
 public:
  AsType(Stream s, Dtype d) : Primitive(s), dtype_(d) {}
  const char* name() const override { return "AsType"; }
  FASTSYNC_VMAP
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  Dtype dtype_;
};

// Makes `out` a view of `in`'s buffer with `strides`, starting `offset`
// elements in (backend/common/views.cpp). Its data_size is the span its
// strides reach, so flat loops over a view (say a few rows of a matrix)
// never run past it.
void make_view(const array& in, array& out, Strides strides, int64_t offset = 0);
// Reshape without a copy: when `in`'s strides allow it (row-contiguous, or
// a strided view whose reshaped axes can be read with strides of their own),
// makes `out` a view of it and returns true.
bool reshape_view(const array& in, array& out);

}  // namespace fastsync

namespace fastsync {

// Inputs of one dtype joined along `axis` (a copy).
class Concatenate : public Primitive {
 public:
  Concatenate(Stream s, int axis) : Primitive(s), axis_(axis) {}
  const char* name() const override { return "Concatenate"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  int axis_;
};

}  // namespace fastsync
