// Graph-building API for linear algebra (see ops/ops.h for the op contract:
// validate, promote, pick the stream, build the node; never compute).
#pragma once

#include "array.h"
#include "stream.h"

namespace fastsync {

// NumPy's matmul: 1-D operands act as a row (a) or a column (b) whose axis
// is dropped from the result; leading axes broadcast. Only floating dtypes
// are accepted (integer and bool operands raise, as in MLX); float16 and
// bfloat16 compute in float32 and round once at the end.
array matmul(const array& a, const array& b, StreamOrDevice s = {});

// beta * c + alpha * (a @ b), with c broadcast to the product's shape.
array addmm(const array& c, const array& a, const array& b, double alpha = 1.0,
            double beta = 1.0, StreamOrDevice s = {});

}  // namespace fastsync
