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
array linspace(double start, double stop, int64_t num = 50, Dtype dtype = float32,
               StreamOrDevice s = {});
// tri: ones on and below the k-th diagonal; eye: ones on it.
array tri(int64_t n, std::optional<int64_t> m = {}, int k = 0, Dtype dtype = float32,
          StreamOrDevice s = {});
array eye(int64_t n, std::optional<int64_t> m = {}, int k = 0, Dtype dtype = float32,
          StreamOrDevice s = {});
array identity(int64_t n, Dtype dtype = float32, StreamOrDevice s = {});
array tril(const array& a, int k = 0, StreamOrDevice s = {});
array triu(const array& a, int k = 0, StreamOrDevice s = {});
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

array expand_dims(const array& a, const std::vector<int>& axes, StreamOrDevice s = {});
// No axes: every axis of size 1.
array squeeze(const array& a, const std::optional<std::vector<int>>& axes = {},
              StreamOrDevice s = {});
array swapaxes(const array& a, int axis1, int axis2, StreamOrDevice s = {});
array moveaxis(const array& a, int source, int destination, StreamOrDevice s = {});
array concatenate(const std::vector<array>& arrays, int axis = 0, StreamOrDevice s = {});
array stack(const std::vector<array>& arrays, int axis = 0, StreamOrDevice s = {});
// Split at the given indices, or into `sections` equal parts; views.
std::vector<array> split(const array& a, const std::vector<int64_t>& indices, int axis = 0,
                         StreamOrDevice s = {});
std::vector<array> split(const array& a, int sections, int axis = 0, StreamOrDevice s = {});

array tile(const array& a, std::vector<int64_t> reps, StreamOrDevice s = {});
// No axis: over the flattened array.
array repeat(const array& a, int64_t repeats, std::optional<int> axis = {},
             StreamOrDevice s = {});
// Constant padding: one (before, after) pair per axis, or one pair for all.
array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& widths,
          const array& value, StreamOrDevice s = {});

// Gathers by integer indices (no axis: from the flattened array). An index
// out of range fails the computation with a clear error.
array take(const array& a, const array& indices, std::optional<int> axis = {},
           StreamOrDevice s = {});
array take_along_axis(const array& a, const array& indices, std::optional<int> axis,
                      StreamOrDevice s = {});

// a with rows a[indices[j]] (first axis) replaced by, or added to,
// updates[j]; updates broadcast to indices.shape + a.shape[1:]. Repeated
// indices accumulate for add. Python: a.at[indices].add(v) / .set(v).
array scatter_add(const array& a, const array& indices, const array& updates,
                  StreamOrDevice s = {});
array scatter_set(const array& a, const array& indices, const array& updates,
                  StreamOrDevice s = {});

// Stable sorts along an axis (flattened when none); NaN last. argsort gives
// uint32 positions; topk the k largest, in ascending order.
array sort(const array& a, std::optional<int> axis = -1, StreamOrDevice s = {});
array argsort(const array& a, std::optional<int> axis = -1, StreamOrDevice s = {});
array topk(const array& a, int k, std::optional<int> axis = -1, StreamOrDevice s = {});

// Elementwise, one input. Transcendental ops compute integers in float32.
array negative(const array& a, StreamOrDevice s = {});
array abs(const array& a, StreamOrDevice s = {});
array sign(const array& a, StreamOrDevice s = {});
array exp(const array& a, StreamOrDevice s = {});
array expm1(const array& a, StreamOrDevice s = {});
array log(const array& a, StreamOrDevice s = {});
array log1p(const array& a, StreamOrDevice s = {});
array log2(const array& a, StreamOrDevice s = {});
array sqrt(const array& a, StreamOrDevice s = {});
array rsqrt(const array& a, StreamOrDevice s = {});
array square(const array& a, StreamOrDevice s = {});
array sin(const array& a, StreamOrDevice s = {});
array cos(const array& a, StreamOrDevice s = {});
array tanh(const array& a, StreamOrDevice s = {});
array sigmoid(const array& a, StreamOrDevice s = {});
array erf(const array& a, StreamOrDevice s = {});
array floor(const array& a, StreamOrDevice s = {});
array ceil(const array& a, StreamOrDevice s = {});
array round(const array& a, int decimals = 0, StreamOrDevice s = {});
array logical_not(const array& a, StreamOrDevice s = {});
array bitwise_invert(const array& a, StreamOrDevice s = {});

// Elementwise, two inputs, broadcasting with NumPy promotion.
array add(const array& a, const array& b, StreamOrDevice s = {});
array subtract(const array& a, const array& b, StreamOrDevice s = {});
array multiply(const array& a, const array& b, StreamOrDevice s = {});
array divide(const array& a, const array& b, StreamOrDevice s = {});
array floor_divide(const array& a, const array& b, StreamOrDevice s = {});
array remainder(const array& a, const array& b, StreamOrDevice s = {});
array power(const array& a, const array& b, StreamOrDevice s = {});
array maximum(const array& a, const array& b, StreamOrDevice s = {});
array minimum(const array& a, const array& b, StreamOrDevice s = {});
array arctan2(const array& a, const array& b, StreamOrDevice s = {});
array logical_and(const array& a, const array& b, StreamOrDevice s = {});
array logical_or(const array& a, const array& b, StreamOrDevice s = {});
array bitwise_and(const array& a, const array& b, StreamOrDevice s = {});
array bitwise_or(const array& a, const array& b, StreamOrDevice s = {});
array bitwise_xor(const array& a, const array& b, StreamOrDevice s = {});
array left_shift(const array& a, const array& b, StreamOrDevice s = {});
array right_shift(const array& a, const array& b, StreamOrDevice s = {});
array equal(const array& a, const array& b, StreamOrDevice s = {});
array not_equal(const array& a, const array& b, StreamOrDevice s = {});
array less(const array& a, const array& b, StreamOrDevice s = {});
array less_equal(const array& a, const array& b, StreamOrDevice s = {});
array greater(const array& a, const array& b, StreamOrDevice s = {});
array greater_equal(const array& a, const array& b, StreamOrDevice s = {});
std::vector<array> divmod(const array& a, const array& b, StreamOrDevice s = {});
array where(const array& condition, const array& x, const array& y, StreamOrDevice s = {});
array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi,
           StreamOrDevice s = {});

// Reductions; no axes means all axes. sum/prod of integers and bools give
// int64 (uint64 for unsigned), as NumPy; mean/var/std of integers float32.
using Axes = std::optional<std::vector<int>>;
array sum(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array prod(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array max(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array min(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array all(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array any(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array mean(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
array var(const array& a, const Axes& axes = {}, bool keepdims = false, int ddof = 0,
          StreamOrDevice s = {});
array std(const array& a, const Axes& axes = {}, bool keepdims = false, int ddof = 0,
          StreamOrDevice s = {});
array logsumexp(const array& a, const Axes& axes = {}, bool keepdims = false,
                StreamOrDevice s = {});
array softmax(const array& a, const Axes& axes = {}, StreamOrDevice s = {});
// No axis: over the flattened array. Output uint32 (MLX).
array argmax(const array& a, std::optional<int> axis = {}, bool keepdims = false,
             StreamOrDevice s = {});
array argmin(const array& a, std::optional<int> axis = {}, bool keepdims = false,
             StreamOrDevice s = {});
// Running reductions; no axis: over the flattened array.
array cumsum(const array& a, std::optional<int> axis = {}, bool reverse = false,
             bool inclusive = true, StreamOrDevice s = {});
array cumprod(const array& a, std::optional<int> axis = {}, bool reverse = false,
              bool inclusive = true, StreamOrDevice s = {});
array cummax(const array& a, std::optional<int> axis = {}, bool reverse = false,
             bool inclusive = true, StreamOrDevice s = {});
array cummin(const array& a, std::optional<int> axis = {}, bool reverse = false,
             bool inclusive = true, StreamOrDevice s = {});

// A Python scalar next to an array of dtype `peer` (weak-scalar rule).
array weak_scalar(bool v, Dtype peer);
array weak_scalar(int64_t v, Dtype peer);
array weak_scalar(double v, Dtype peer);
// A Python scalar on its own: bool, int32 or float32, as MLX.
array scalar(bool v);
array scalar(int64_t v);
array scalar(double v);

}  // namespace fastsync
