// Einstein summation (NumPy's einsum and einsum_path): subscripts in NumPy's
// syntax, letters a-z and A-Z, "..." for broadcast axes, implicit output
// when "->" is absent. The operands are contracted pairwise in the order of
// NumPy's greedy path (so einsum_path reports the same path NumPy does);
// each pairwise contraction lowers to transposes, reshapes and one batched
// matmul (floating and complex dtypes) or to a broadcast multiply and a sum
// (integer and bool dtypes, and products that contract nothing). Repeated
// labels within one operand take its diagonal. Errors are
// std::invalid_argument naming einsum and the problem.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "array.h"
#include "stream.h"

namespace fastsync {

array einsum(const std::string& subscripts, const std::vector<array>& operands,
             StreamOrDevice s = {});

// The contraction order einsum follows (each step lists the positions, in
// the current list of operands, of those it contracts; the result goes to
// the end of the list) and a printable report of its cost.
std::pair<std::vector<std::vector<int>>, std::string> einsum_path(
    const std::string& subscripts, const std::vector<array>& operands);

}  // namespace fastsync
