// Fusion for fastsync.compile: rewrites a freshly built, unevaluated graph so
// that chains of elementwise ops run as one Fused node (primitives/fused.h).
//
// Called from Python (python/fastsync/_compile.py) on the outputs of a
// compiled function, on the calling thread, outside any transform (a traced
// graph is left alone: its nodes must keep their own derivatives). The
// rewrite happens under the eval driver's lock.
#pragma once

#include <vector>

#include "array.h"

namespace fastsync {

struct FuseStats {
  int groups = 0;   // Fused nodes made
  int removed = 0;  // nodes they replaced, minus one each
};

// Fuses within the unevaluated graph behind `outputs`. A fused chain keeps its
// intermediates in the compute type (float32 for float16/bfloat16) and
// rounds once, at its output, where the unfused graph rounds after each op. A node joins its
// consumer's chain when it is a Unary or Binary op of the consumer's floating
// dtype, stream and shape, and nothing but that chain holds its result (not
// an output, a Python variable, or another consumer).
FuseStats fuse(const std::vector<array>& outputs);

// Unevaluated nodes behind `outputs` (each one task on the CPU, one kernel
// or more on the GPU): what fusion reduces.
int64_t graph_nodes(const std::vector<array>& outputs);

}  // namespace fastsync
