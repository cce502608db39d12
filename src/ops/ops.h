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
// endpoint=false: stop itself is left out (num steps of (stop - start) / num).
array linspace(double start, double stop, int64_t num = 50, Dtype dtype = float32,
               bool endpoint = true, StreamOrDevice s = {});
// tri: ones on and below the k-th diagonal; eye: ones on it.
array tri(int64_t n, std::optional<int64_t> m = {}, int k = 0, Dtype dtype = float32,
          StreamOrDevice s = {});
array eye(int64_t n, std::optional<int64_t> m = {}, int k = 0, Dtype dtype = float32,
          StreamOrDevice s = {});
array identity(int64_t n, Dtype dtype = float32, StreamOrDevice s = {});
array tril(const array& a, int k = 0, StreamOrDevice s = {});
array triu(const array& a, int k = 0, StreamOrDevice s = {});
array ones_like(const array& a, StreamOrDevice s = {});
// Window functions of length m (float32), as NumPy's.
array hanning(int64_t m, StreamOrDevice s = {});
array hamming(int64_t m, StreamOrDevice s = {});
array blackman(int64_t m, StreamOrDevice s = {});
array bartlett(int64_t m, StreamOrDevice s = {});

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
// a[..., lo:hi, ...] along one axis (0 <= axis < a.ndim()).
array slice_axis(const array& a, int axis, std::optional<int64_t> lo, std::optional<int64_t> hi,
                 StreamOrDevice s = {});
// The bounds slice() normalizes its arguments to (Python's slice.indices),
// one (start, stop, step) per axis of `shape`; identity when they select all.
struct SliceBounds {
  Shape start, stop, step;
  bool identity = true;
};
SliceBounds slice_bounds(const Shape& shape, const std::vector<std::optional<int64_t>>& start,
                         const std::vector<std::optional<int64_t>>& stop,
                         const std::vector<std::optional<int64_t>>& step);

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
array repeat(const array& a, int64_t repeats, std::optional<int> axis = {}, StreamOrDevice s = {});
// Constant padding: one (before, after) pair per axis, or one pair for all.
array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& widths,
          const array& value, StreamOrDevice s = {});
// Padding that mirrors each axis at its ends: without repeating the edge
// value (NumPy's mode="reflect") or with it (mode="symmetric").
array pad_mirror(const array& a, const std::vector<std::pair<int64_t, int64_t>>& widths,
                 bool symmetric, StreamOrDevice s = {});
// Padding that repeats each axis's edge values (NumPy's mode="edge").
array pad_edge(const array& a, const std::vector<std::pair<int64_t, int64_t>>& widths,
               StreamOrDevice s = {});

// Rearranging and combining (ops/rearrange.cpp).
// A row-contiguous copy, always (even of a contiguous input).
array contiguous(const array& a, StreamOrDevice s = {});
array flatten(const array& a, int start_axis = 0, int end_axis = -1, StreamOrDevice s = {});
array unflatten(const array& a, int axis, const Shape& shape, StreamOrDevice s = {});
std::vector<array> unstack(const array& a, int axis = 0, StreamOrDevice s = {});
// atleast_1d/2d/3d with NumPy's placement of the new axes.
array atleast_nd(const array& a, int n, StreamOrDevice s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& arrays, StreamOrDevice s = {});
// No axes: roll the flattened array, keep the shape.
array roll(const array& a, const std::vector<int64_t>& shift,
           const std::optional<std::vector<int>>& axes = {}, StreamOrDevice s = {});
// Reversed along the axes (all when none): a view.
array flip(const array& a, const std::optional<std::vector<int>>& axes = {}, StreamOrDevice s = {});
// The k-th diagonal of the (axis1, axis2) planes as a last axis (a view).
array diagonal(const array& a, int64_t offset = 0, int axis1 = 0, int axis2 = 1,
               StreamOrDevice s = {});
// 2-D: its k-th diagonal; 1-D: the square matrix with it on the k-th diagonal.
array diag(const array& a, int64_t k = 0, StreamOrDevice s = {});
array trace(const array& a, int64_t offset = 0, int axis1 = 0, int axis2 = 1,
            std::optional<Dtype> dtype = {}, StreamOrDevice s = {});
std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse = false,
                            bool xy_indexing = true, StreamOrDevice s = {});
array diff(const array& a, int n = 1, int axis = -1, StreamOrDevice s = {});
// A view with any shape, strides and offset (in elements) over the
// row-major order of `a`; it must stay inside `a`.
array as_strided(const array& a, const Shape& shape, const Strides& strides, int64_t offset = 0,
                 StreamOrDevice s = {});
// The same bytes as another dtype; the last axis scales by the size ratio.
array view(const array& a, Dtype dtype, StreamOrDevice s = {});
// a[start[0]:start[0]+size[0], ...] along `axes`, the starts an array (so
// they may be computed lazily); starts are clamped to fit. Python: mx.slice.
array dynamic_slice(const array& a, const array& start, const std::vector<int>& axes,
                    const Shape& size, StreamOrDevice s = {});
// a with the block at `start` (along `axes`) replaced by `update`.
array slice_update(const array& a, const array& update, const array& start,
                   const std::vector<int>& axes, StreamOrDevice s = {});
// a with values written at per-position indices along an axis (no axis:
// into the flattened array).
array put_along_axis(const array& a, const array& indices, const array& values,
                     std::optional<int> axis, StreamOrDevice s = {});
// The inputs, unchanged, evaluated only after `dependencies` (an ordering
// edge; views, nothing is copied).
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies,
                           StreamOrDevice s = {});
array outer(const array& a, const array& b, StreamOrDevice s = {});
array inner(const array& a, const array& b, StreamOrDevice s = {});
array tensordot(const array& a, const array& b, const std::vector<int>& axes_a,
                const std::vector<int>& axes_b, StreamOrDevice s = {});
array tensordot(const array& a, const array& b, int axes = 2, StreamOrDevice s = {});
// sum(conj(a) * b) along axis (the first operand conjugated, as NumPy).
array vecdot(const array& a, const array& b, int axis = -1, StreamOrDevice s = {});
array kron(const array& a, const array& b, StreamOrDevice s = {});

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
// The same combining by product, maximum or minimum (repeats combine).
array scatter_prod(const array& a, const array& indices, const array& updates,
                   StreamOrDevice s = {});
array scatter_max(const array& a, const array& indices, const array& updates,
                  StreamOrDevice s = {});
array scatter_min(const array& a, const array& indices, const array& updates,
                  StreamOrDevice s = {});

// Stable sorts along an axis (flattened when none); NaN last. argsort gives
// uint32 positions; topk the k largest, in ascending order.
array sort(const array& a, std::optional<int> axis = -1, StreamOrDevice s = {});
array argsort(const array& a, std::optional<int> axis = -1, StreamOrDevice s = {});
array topk(const array& a, int k, std::optional<int> axis = -1, StreamOrDevice s = {});
// Element kth in sorted position, smaller ones before, larger after.
array partition(const array& a, int kth, std::optional<int> axis = -1, StreamOrDevice s = {});
array argpartition(const array& a, int kth, std::optional<int> axis = -1, StreamOrDevice s = {});
// Insertion points (uint32) of v into the sorted 1-D a; right: after equals.
array searchsorted(const array& a, const array& v, bool right = false, StreamOrDevice s = {});

// Elementwise, one input. Transcendental ops compute integers in float32.
array negative(const array& a, StreamOrDevice s = {});
// abs of complex64 is its magnitude (float32).
array abs(const array& a, StreamOrDevice s = {});
array sign(const array& a, StreamOrDevice s = {});
// The parts of complex64 (float32) and its conjugate; a real array is its own
// real part and conjugate, with imaginary part zeros.
array real(const array& a, StreamOrDevice s = {});
array imag(const array& a, StreamOrDevice s = {});
array conjugate(const array& a, StreamOrDevice s = {});
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
// x * sigmoid(x) as one op (nn.silu), differentiated from x alone.
array silu(const array& a, StreamOrDevice s = {});
array erf(const array& a, StreamOrDevice s = {});
array erfinv(const array& a, StreamOrDevice s = {});
array tan(const array& a, StreamOrDevice s = {});
array arcsin(const array& a, StreamOrDevice s = {});
array arccos(const array& a, StreamOrDevice s = {});
array arctan(const array& a, StreamOrDevice s = {});
array sinh(const array& a, StreamOrDevice s = {});
array cosh(const array& a, StreamOrDevice s = {});
array arcsinh(const array& a, StreamOrDevice s = {});
array arccosh(const array& a, StreamOrDevice s = {});
array arctanh(const array& a, StreamOrDevice s = {});
array log10(const array& a, StreamOrDevice s = {});
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

// Elementwise compositions (ops/math.cpp): built from the primitives
// above, so they run on every backend.
array reciprocal(const array& a, StreamOrDevice s = {});
// Rounded toward zero (integers unchanged).
array trunc(const array& a, StreamOrDevice s = {});
array degrees(const array& a, StreamOrDevice s = {});
array radians(const array& a, StreamOrDevice s = {});
array logical_xor(const array& a, const array& b, StreamOrDevice s = {});
// log(exp(a) + exp(b)) without overflow.
array logaddexp(const array& a, const array& b, StreamOrDevice s = {});
// Classification; integer and bool inputs are never NaN or infinite.
array isnan(const array& a, StreamOrDevice s = {});
array isinf(const array& a, StreamOrDevice s = {});
array isposinf(const array& a, StreamOrDevice s = {});
array isneginf(const array& a, StreamOrDevice s = {});
array isfinite(const array& a, StreamOrDevice s = {});
// NaN and infinities replaced; infinities default to the dtype's extremes.
array nan_to_num(const array& a, double nan = 0.0, std::optional<double> posinf = {},
                 std::optional<double> neginf = {}, StreamOrDevice s = {});
// |a - b| <= atol + rtol * |b|, elementwise with broadcasting.
array isclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false, StreamOrDevice s = {});
// isclose over every element: a 0-d bool array.
array allclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
               bool equal_nan = false, StreamOrDevice s = {});
// Same shape and equal values (any dtypes): a 0-d bool array; false for
// different shapes, never an error.
array array_equal(const array& a, const array& b, bool equal_nan = false, StreamOrDevice s = {});

// Reductions; no axes means all axes. sum/prod of narrow integers and bools
// give int32 (uint32 for unsigned; sum_type, as MLX); mean/var/std of
// integers float32.
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
// NaN propagates; integers give float32.
array median(const array& a, const Axes& axes = {}, bool keepdims = false, StreamOrDevice s = {});
// Nonzero elements over the axes, int32 (as MLX).
array count_nonzero(const array& a, const Axes& axes = {}, bool keepdims = false,
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

array logcumsumexp(const array& a, std::optional<int> axis = {}, bool reverse = false,
                   bool inclusive = true, StreamOrDevice s = {});

// A Python scalar next to an array of dtype `peer` (weak-scalar rule); an
// integer the peer's dtype cannot hold raises std::invalid_argument.
array weak_scalar(bool v, Dtype peer);
array weak_scalar(int64_t v, Dtype peer);
array weak_scalar(double v, Dtype peer);
array weak_scalar(complex64_t v, Dtype peer);  // always complex64
// A Python scalar on its own: bool, int32 or float32, as MLX; integers
// beyond int32 take int64 (uint64 beyond int64).
array scalar(bool v);
array scalar(int64_t v);
array scalar(uint64_t v);
array scalar(double v);
array scalar(complex64_t v);  // complex64

}  // namespace fastsync
