// The graph-building API. Ops validate arguments, promote dtypes, choose the
// stream and create graph nodes; they never compute. Any thread may call
// them (they only read immutable parts of their inputs).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "array.h"
#include "stream.h"

namespace fastsync {

// Creation
array zeros(const Shape& shape, Dtype dtype = float32, StreamOrDevice s = {});
array ones(const Shape& shape, Dtype dtype = float32, StreamOrDevice s = {});
array full(const Shape& shape, const array& value, std::optional<Dtype> dtype = {},
           StreamOrDevice s = {});
array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s = {});
array zeros_like(const array& a, StreamOrDevice s = {});
array ones_like(const array& a, StreamOrDevice s = {});

// Conversion and shape
array astype(const array& a, Dtype dtype, StreamOrDevice s = {});
array reshape(const array& a, Shape shape, StreamOrDevice s = {});
array transpose(const array& a, std::vector<int> axes, StreamOrDevice s = {});
array transpose(const array& a, StreamOrDevice s = {});
array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s = {});
// Basic slicing with Python semantics (negative and out-of-range bounds are
// clamped); one (start, stop, step) per leading axis.
array slice(const array& a, const std::vector<std::optional<int64_t>>& start,
            const std::vector<std::optional<int64_t>>& stop,
            const std::vector<std::optional<int64_t>>& step, StreamOrDevice s = {});

// Elementwise
array negative(const array& a, StreamOrDevice s = {});
array abs(const array& a, StreamOrDevice s = {});
array exp(const array& a, StreamOrDevice s = {});
array log(const array& a, StreamOrDevice s = {});
array sqrt(const array& a, StreamOrDevice s = {});
array square(const array& a, StreamOrDevice s = {});
array add(const array& a, const array& b, StreamOrDevice s = {});
array subtract(const array& a, const array& b, StreamOrDevice s = {});
array multiply(const array& a, const array& b, StreamOrDevice s = {});
array divide(const array& a, const array& b, StreamOrDevice s = {});
array maximum(const array& a, const array& b, StreamOrDevice s = {});
array minimum(const array& a, const array& b, StreamOrDevice s = {});
array floor_divide(const array& a, const array& b, StreamOrDevice s = {});
array remainder(const array& a, const array& b, StreamOrDevice s = {});
std::vector<array> divmod(const array& a, const array& b, StreamOrDevice s = {});

// Reductions; no axes means all axes.
array sum(const array& a, const std::optional<std::vector<int>>& axes = {},
          bool keepdims = false, StreamOrDevice s = {});

// A Python scalar next to an array of dtype `peer` (weak-scalar rule).
array weak_scalar(bool v, Dtype peer);
array weak_scalar(int64_t v, Dtype peer);
array weak_scalar(double v, Dtype peer);
// A Python scalar on its own: bool, int32 or float32, as MLX.
array scalar(bool v);
array scalar(int64_t v);
array scalar(double v);

// Testing: an op whose compute task throws `message` on the worker.
array fail_in_task(const array& a, const std::string& message, StreamOrDevice s = {});

}  // namespace fastsync
