#include "primitives/conv.h"

#include <cstdint>
#include <stdexcept>

#include "ops/ops.h"
#include "primitives/batching.h"

namespace fastsync {

Shape image_shape(const ConvGeometry& g, int64_t batch, int64_t channels) {
  Shape s{batch};
  for (int d = 0; d < g.dims; ++d) s.push_back(g.in[d]);
  s.push_back(channels);
  return s;
}

Shape patches_shape(const ConvGeometry& g, int64_t batch, int64_t channels) {
  Shape s{batch};
  for (int d = 0; d < g.dims; ++d) s.push_back(g.out[d]);
  s.push_back(g.groups);
  for (int d = 0; d < g.dims; ++d) s.push_back(g.kernel[d]);
  s.push_back(channels / g.groups);
  return s;
}

std::vector<Shape> Im2Col::output_shapes(const std::vector<array>& inputs) const {
  const array& x = inputs[0];
  return {patches_shape(geometry_, x.shape(0), x.shape(-1))};
}

std::vector<Shape> Col2Im::output_shapes(const std::vector<array>& inputs) const {
  const array& p = inputs[0];
  return {image_shape(geometry_, p.shape(0), p.shape(-1) * geometry_.groups)};
}

// Each is the other's adjoint: <Im2Col(x), p> = <x, Col2Im(p)>.
std::vector<array> Im2Col::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>&) {
  const array& c = cotangents[0];
  return {array(image_shape(geometry_, c.shape(0), c.shape(-1) * geometry_.groups), c.dtype(),
                std::make_shared<Col2Im>(stream(), geometry_), {c})};
}

std::vector<array> Col2Im::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>&) {
  const array& c = cotangents[0];
  return {array(patches_shape(geometry_, c.shape(0), c.shape(-1)), c.dtype(),
                std::make_shared<Im2Col>(stream(), geometry_), {c})};
}

Shape weight_shape(const ConvGeometry& g, int64_t c_out, int64_t c_in) {
  Shape s{c_out};
  for (int d = 0; d < g.dims; ++d) s.push_back(g.kernel[d]);
  s.push_back(c_in / g.groups);
  return s;
}

namespace {

Shape out_image_shape(const ConvGeometry& g, int64_t batch, int64_t channels) {
  Shape s{batch};
  for (int d = 0; d < g.dims; ++d) s.push_back(g.out[d]);
  s.push_back(channels);
  return s;
}

}  // namespace

std::vector<Shape> Convolution::output_shapes(const std::vector<array>& in) const {
  return {out_image_shape(geometry_, in[0].shape(0), in[1].shape(0))};
}
std::vector<Shape> ConvolutionInputGrad::output_shapes(const std::vector<array>& in) const {
  return {image_shape(geometry_, in[1].shape(0), in[0].shape(-1) * geometry_.groups)};
}
std::vector<Shape> ConvolutionWeightGrad::output_shapes(const std::vector<array>& in) const {
  return {weight_shape(geometry_, in[1].shape(-1), in[0].shape(-1))};
}

bool fused_convolution(const Stream& s, const ConvGeometry& g, Dtype dtype, int64_t c_in,
                       int64_t c_out) {
  if (s.device.type == Device::Type::gpu) return gpu_dnn_convolution(g, dtype);
  // The CPU kernels (backend/cpu/convolution.cpp) pass channel counts and
  // patch widths to the BLAS as 32-bit integers.
  return (dtype == float32 || dtype == float64) && c_out < INT32_MAX &&
         g.kernel_size() * c_in < INT32_MAX;
}

// With y = B(x, w) bilinear, InputGrad(w, dy) = B_x^T dy and
// WeightGrad(x, dy) = B_w^T dy; each one's derivatives are the other two.
namespace {

template <typename P>
array make(Stream s, const ConvGeometry& g, const std::vector<array>& in) {
  auto p = std::make_shared<P>(s, g);
  Shape shape = p->output_shapes(in)[0];
  return array(std::move(shape), in[0].dtype(), std::move(p), in);
}

}  // namespace

std::vector<array> Convolution::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int i : argnums) {
    out.push_back(
        i == 0 ? make<ConvolutionInputGrad>(stream(), geometry_, {primals[1], cotangents[0]})
               : make<ConvolutionWeightGrad>(stream(), geometry_, {primals[0], cotangents[0]}));
  }
  return out;
}

std::vector<array> ConvolutionInputGrad::vjp(const std::vector<array>& primals,
                                             const std::vector<array>& cotangents,
                                             const std::vector<int>& argnums,
                                             const std::vector<array>&) {
  // primals {w, dy}, cotangent g of x's shape.
  std::vector<array> out;
  for (int i : argnums) {
    out.push_back(
        i == 0 ? make<ConvolutionWeightGrad>(stream(), geometry_, {cotangents[0], primals[1]})
               : make<Convolution>(stream(), geometry_, {cotangents[0], primals[0]}));
  }
  return out;
}

std::vector<array> ConvolutionWeightGrad::vjp(const std::vector<array>& primals,
                                              const std::vector<array>& cotangents,
                                              const std::vector<int>& argnums,
                                              const std::vector<array>&) {
  // primals {x, dy}, cotangent g of w's shape.
  std::vector<array> out;
  for (int i : argnums) {
    out.push_back(i == 0
                      ? make<ConvolutionInputGrad>(stream(), geometry_, {cotangents[0], primals[1]})
                      : make<Convolution>(stream(), geometry_, {primals[0], cotangents[0]}));
  }
  return out;
}

// Batching: the vmapped axis joins the images' batch axis (N), one node.
namespace {

template <typename P>
batching::Result fold_batch(const ConvGeometry& g, Stream s, const std::vector<array>& inputs,
                            const std::vector<int>& axes) {
  array x = batching::batch_first(inputs[0], axes[0], s);
  const int64_t b = x.shape(0), n = x.shape(1);
  Shape merged(x.shape().begin() + 1, x.shape().end());
  merged[0] = b * n;
  array flat = reshape(x, merged, s);
  auto p = std::make_shared<P>(s, g);
  Shape out_shape = p->output_shapes({flat})[0];
  array out(out_shape, flat.dtype(), std::move(p), {flat});
  Shape split = out.shape();
  split[0] = n;
  split.insert(split.begin(), b);
  return {{reshape(out, split, s)}, {0}};
}

}  // namespace

std::pair<std::vector<array>, std::vector<int>> Im2Col::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>&,
                                                             const std::shared_ptr<Primitive>&) {
  return fold_batch<Im2Col>(geometry_, stream(), inputs, axes);
}

std::pair<std::vector<array>, std::vector<int>> Col2Im::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>&,
                                                             const std::shared_ptr<Primitive>&) {
  return fold_batch<Col2Im>(geometry_, stream(), inputs, axes);
}

}  // namespace fastsync
