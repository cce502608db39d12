#include "primitives/batching.h"

#include <algorithm>

#include "ops/ops.h"

namespace fastsync::batching {

int64_t size(const std::vector<array>& inputs, const std::vector<int>& axes) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) return inputs[i].shape()[axes[i]];
  }
  return 1;
}

array batch_first(const array& x, int axis, Stream s) {
  return axis == 0 ? x : moveaxis(x, axis, 0, s);
}

std::vector<array> to_front_aligned(const std::vector<array>& inputs, const std::vector<int>& axes,
                                    Stream s) {
  int rank = 0;
  for (size_t i = 0; i < inputs.size(); ++i) rank = std::max(rank, entry_rank(inputs[i], axes[i]));
  std::vector<array> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] < 0) {
      out.push_back(inputs[i]);
      continue;
    }
    array x = batch_first(inputs[i], axes[i], s);
    int pad = rank - entry_rank(inputs[i], axes[i]);
    if (pad > 0) {
      Shape shape{x.shape()[0]};
      shape.insert(shape.end(), pad, 1);
      shape.insert(shape.end(), x.shape().begin() + 1, x.shape().end());
      x = reshape(x, shape, s);
    }
    out.push_back(x);
  }
  return out;
}

Result apply(const std::shared_ptr<Primitive>& self, const std::vector<array>& inputs,
             const std::vector<array>& outputs) {
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) dtypes.push_back(o.dtype());
  auto outs = array::make_arrays(self->output_shapes(inputs), dtypes, self, inputs);
  return {outs, std::vector<int>(outs.size(), 0)};
}

Result elementwise(const std::shared_ptr<Primitive>& self, const std::vector<array>& inputs,
                   const std::vector<int>& axes, const std::vector<array>& outputs) {
  return apply(self, to_front_aligned(inputs, axes, self->stream()), outputs);
}

}  // namespace fastsync::batching
