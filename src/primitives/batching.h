// Helpers the vmap rules share: batch axes moved to the front and ranks
// aligned so broadcasting keeps entries apart.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "primitive.h"

namespace fastsync::batching {

using Result = std::pair<std::vector<array>, std::vector<int>>;

// The batch size (from the first batched input).
int64_t size(const std::vector<array>& inputs, const std::vector<int>& axes);
// Batched inputs with the batch axis first, then padded with size-1 axes
// after it to the largest per-entry rank among all inputs; others as they
// are. Right-aligned broadcasting then pairs entries correctly.
std::vector<array> to_front_aligned(const std::vector<array>& inputs, const std::vector<int>& axes,
                                    Stream s);
// The primitive itself applied to `inputs` (already batched at the front):
// one node whose outputs have batch axis 0.
Result apply(const std::shared_ptr<Primitive>& self, const std::vector<array>& inputs,
             const std::vector<array>& outputs);
// The usual rule for elementwise primitives: align, then apply.
Result elementwise(const std::shared_ptr<Primitive>& self, const std::vector<array>& inputs,
                   const std::vector<int>& axes, const std::vector<array>& outputs);
// `x` with its batch axis first.
array batch_first(const array& x, int axis, Stream s);
// The per-entry rank of input i.
inline int entry_rank(const array& a, int axis) { return a.ndim() - (axis >= 0 ? 1 : 0); }

}  // namespace fastsync::batching
