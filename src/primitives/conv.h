// The patch primitives that convolutions are built from (ops/conv.cpp).
//
// A convolution is Im2Col, which gathers every window the kernel sees into
// a row, followed by one matrix product with the weight (the Matmul
// primitive, so it runs on the BLAS/cuBLAS paths and their derivatives).
// Col2Im is Im2Col's adjoint: it sums each patch entry back onto the input
// sample it came from, which is the input gradient of a convolution and the
// forward pass of a transposed one. Both are linear, so each one's vjp is
// the other.
//
// Layouts are channels-last, as MLX's: an image is (N, *spatial, C) and its
// patches are (N, *out, G, *kernel, C / G) (G channel groups), so the rows
// of one group are contiguous runs the product reads as they are.
#pragma once

#include "backend/common/conv.h"
#include "primitive.h"

namespace fastsync {

// (N, *in, C) -> (N, *out, G, *kernel, C / G); padding reads zero.
class Im2Col : public Primitive {
 public:
  Im2Col(Stream s, ConvGeometry g) : Primitive(s), geometry_(g) {}
  const char* name() const override { return "Im2Col"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return false; }
  const ConvGeometry& geometry() const { return geometry_; }

 private:
  ConvGeometry geometry_;
};

// (N, *out, G, *kernel, C / G) -> (N, *in, C): each input sample receives
// the sum of the patch entries read from it.
class Col2Im : public Primitive {
 public:
  Col2Im(Stream s, ConvGeometry g) : Primitive(s), geometry_(g) {}
  const char* name() const override { return "Col2Im"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return false; }
  const ConvGeometry& geometry() const { return geometry_; }

 private:
  ConvGeometry geometry_;
};

// The shapes both primitives map between, for `batch` images of
// `channels` channels.
Shape image_shape(const ConvGeometry& g, int64_t batch, int64_t channels);
Shape patches_shape(const ConvGeometry& g, int64_t batch, int64_t channels);

}  // namespace fastsync
