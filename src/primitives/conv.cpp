#include "primitives/conv.h"

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

}  // namespace fastsync
