// vmap: a function of per-entry arrays mapped over a batch axis.
//
// Called from any graph-building thread; nothing is computed. The function
// is traced once on per-entry placeholders, then its graph is replayed on
// the batched inputs through each primitive's vmap rule.
#pragma once

#include <vector>

#include "autodiff.h"

namespace fastsync {

// outputs of fun mapped over axis in_axes[i] of inputs[i] (-1: the input is
// the same for every entry); output k carries the batch at out_axes[k] (one
// out axis: the same for all outputs).
std::vector<array> vmap(const ArrayFn& fun, const std::vector<array>& inputs,
                        const std::vector<int>& in_axes, const std::vector<int>& out_axes);

}  // namespace fastsync
