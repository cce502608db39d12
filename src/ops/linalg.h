// Graph-building API for linear algebra (see ops/ops.h for the op contract:
// validate, promote, pick the stream, build the node; never compute).
#pragma once

#include <optional>

#include "array.h"
#include "stream.h"

namespace fastsync {

// NumPy's matmul: 1-D operands act as a row (a) or a column (b) whose axis
// is dropped from the result; leading axes broadcast. Only floating dtypes
// are accepted (integer and bool operands raise, as in MLX); float16 and
// bfloat16 compute in float32 and round once at the end.
array matmul(const array& a, const array& b, StreamOrDevice s = {});

// beta * c + alpha * (a @ b), with c broadcast to the product's shape.
array addmm(const array& c, const array& a, const array& b, double alpha = 1.0, double beta = 1.0,
            StreamOrDevice s = {});

// MLX's products with a gather, segments or block masks. fastsync has no
// kernels of their own: each is composed of take, where, broadcasts and
// matmul, so it runs on every backend; the cost of each composition is
// given with it.

// out[i] = a[lhs_indices[i]] @ b[rhs_indices[i]], indices flat over the
// batch axes of a (..., M, K) and b (..., K, N) and broadcast together; an
// absent index stands for arange over its operand's batch, in its shape.
// Neither: matmul. `sorted_indices` is accepted as a hint and unused.
array gather_mm(const array& a, const array& b, const std::optional<array>& lhs_indices,
                const std::optional<array>& rhs_indices, bool sorted_indices = false,
                StreamOrDevice s = {});

// out[..., :, :] = a[:, start:end] @ b[start:end, :] for each (start, end)
// pair in segments (..., 2); a (M, K) and b (K, N) are matrices.
array segmented_mm(const array& a, const array& b, const array& segments, StreamOrDevice s = {});

// a @ b with block_size x block_size blocks of a (mask_lhs), b (mask_rhs)
// and the product (mask_out) masked: each mask has one entry per block
// ((..., ceil(rows / block_size), ceil(cols / block_size))), bool (false
// zeroes the block) or floating (scales it).
array block_masked_mm(const array& a, const array& b, int block_size = 64,
                      const std::optional<array>& mask_out = {},
                      const std::optional<array>& mask_lhs = {},
                      const std::optional<array>& mask_rhs = {}, StreamOrDevice s = {});

}  // namespace fastsync
