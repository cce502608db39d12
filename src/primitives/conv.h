// The primitives that convolutions are built from (ops/conv.cpp).
//
// Most convolutions are one fused primitive (Convolution, below). The
// general form, for what the fused kernels do not take, is Im2Col, which
// gathers every window the kernel sees into a row, followed by one matrix
// product with the weight (the Matmul primitive, so it runs on the
// BLAS/cuBLAS paths and their derivatives).
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
  FASTSYNC_VMAP
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
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return false; }
  const ConvGeometry& geometry() const { return geometry_; }

 private:
  ConvGeometry geometry_;
};

// The convolution as one fused primitive: one cuDNN call on a GPU stream
// (backend/cuda/cudnn.h), and on a CPU stream a walk over the batch in
// cache-sized chunks of patches, each multiplied by the BLAS
// (backend/cpu/convolution.cpp). The ops layer builds it where
// fused_convolution says the backend takes the geometry and dtype, and the
// Im2Col form everywhere else. Inputs {x (N, *in, C), w (O, *kernel,
// C / G)}, output (N, *out, O). Its two gradients are primitives of the
// same kind, and the three are each other's derivatives (the convolution is
// bilinear), so derivatives of any order stay fused.
class Convolution : public Primitive {
 public:
  Convolution(Stream s, ConvGeometry g) : Primitive(s), geometry_(g) {}
  const char* name() const override { return "Convolution"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return false; }

 private:
  ConvGeometry geometry_;
};

// dx for {w, dy}: the convolution's gradient in its input.
class ConvolutionInputGrad : public Primitive {
 public:
  ConvolutionInputGrad(Stream s, ConvGeometry g) : Primitive(s), geometry_(g) {}
  const char* name() const override { return "ConvolutionInputGrad"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return false; }

 private:
  ConvGeometry geometry_;
};

// dw for {x, dy}: the convolution's gradient in its weight.
class ConvolutionWeightGrad : public Primitive {
 public:
  ConvolutionWeightGrad(Stream s, ConvGeometry g) : Primitive(s), geometry_(g) {}
  const char* name() const override { return "ConvolutionWeightGrad"; }
  FASTSYNC_VJP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  bool shapes_from_inputs() const override { return false; }

 private:
  ConvGeometry geometry_;
};

// Whether Convolution can run this geometry and dtype on the GPU (cuDNN
// found and taking it). False in builds without a GPU backend. Loads the
// library on first ask.
bool gpu_dnn_convolution(const ConvGeometry& g, Dtype dtype);

// Whether the fused primitives run this convolution (c_in input channels,
// c_out output channels) on stream s: on the GPU, gpu_dnn_convolution; on
// the CPU, float32 and float64 (the half types take the Im2Col form, whose
// product converts them).
bool fused_convolution(const Stream& s, const ConvGeometry& g, Dtype dtype, int64_t c_in,
                       int64_t c_out);

// The shapes both primitives map between, for `batch` images of
// `channels` channels.
Shape image_shape(const ConvGeometry& g, int64_t batch, int64_t channels);
Shape patches_shape(const ConvGeometry& g, int64_t batch, int64_t channels);
// The weight (c_out, *kernel, c_in / groups).
Shape weight_shape(const ConvGeometry& g, int64_t c_out, int64_t c_in);

}  // namespace fastsync
