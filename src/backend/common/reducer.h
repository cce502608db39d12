// The reduction operators of Reduce and Scan, written once for both
// backends (backend/cpu/{reduce,scan}.cpp, backend/cuda/{reduce,scan}.cu):
// the identity, the combine step, the type the running value is kept in
// and the output type per input. Same operator, same accumulator type, so
// the backends agree exactly wherever the order of combination does not
// matter (integers, max, min).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "backend/common/host_device.h"
#include "dtype.h"
#include "primitives/reduce.h"

namespace fastsync {

// The accumulator of a reduction or scan that writes Out: Out's compute
// type. So half floats accumulate in float (each partial result rounded to
// half would lose most of a long sum), bool max/min stay bool (or/and), and
// integer sums accumulate in the output type, which the ops layer already
// widened to the sum type (int32/uint32, or 64 bits for 64-bit inputs;
// sum_type, dtype.h). The input type plays no part: an
// element is converted to the accumulator before it is combined.
template <typename Out>
struct reduce_acc {
  using type = compute_t<Out>;
  // CUDA's half types get their compute type in backend/cuda/kernel_utils.cuh.
  static_assert(std::is_arithmetic_v<type> || is_complex_v<type>,
                "half type without a compute_type specialization");
};
template <typename Out>
using reduce_acc_t = typename reduce_acc<Out>::type;

// The output type the ops layer gives a reduction or scan of storage type
// In: max/min keep the dtype; sum/prod keep float and complex dtypes and
// widen bool and narrower integers to int32/uint32, 64-bit ones keep theirs
// (sum_type, dtype.h). The GPU instantiates its kernels for these (In, Out)
// pairs only.
template <typename In>
using integer_sum_t = std::conditional_t<std::is_same_v<In, bool> || std::is_signed_v<In>,
                                         std::conditional_t<sizeof(In) == 8, int64_t, int32_t>,
                                         std::conditional_t<sizeof(In) == 8, uint64_t, uint32_t>>;
template <ReduceOp op, typename In>
using reduce_out_t =
    std::conditional_t<op == ReduceOp::max || op == ReduceOp::min ||
                           std::is_floating_point_v<compute_t<In>> || is_complex_v<In>,
                       In, integer_sum_t<In>>;

// Whether the operator is defined for accumulator A: complex values have
// sums and products but no order, so no max or min (the ops layer rejects
// those; a backend asked for one raises).
template <ReduceOp op, typename A>
constexpr bool reduce_supports() {
  return !is_complex_v<A> || op == ReduceOp::sum || op == ReduceOp::prod;
}

// init(): the identity (0, 1, -inf / lowest, +inf / max), which an empty
// reduction writes and an exclusive scan starts from. apply(acc, v): the
// next running value. A is an accumulator type (reduce_acc_t), never a half
// type.
template <ReduceOp op, typename A>
struct Reducer {
  FASTSYNC_HD static constexpr A init() {
    if constexpr (op == ReduceOp::sum)
      return A(0);
    else if constexpr (op == ReduceOp::prod)
      return A(1);
    else if constexpr (op == ReduceOp::max) {
      static_assert(reduce_supports<op, A>());
      if constexpr (std::is_floating_point_v<A>)
        return -std::numeric_limits<A>::infinity();
      else
        return std::numeric_limits<A>::lowest();
    } else {
      static_assert(reduce_supports<op, A>());
      if constexpr (std::is_floating_point_v<A>)
        return std::numeric_limits<A>::infinity();
      else
        return std::numeric_limits<A>::max();
    }
  }
  // bool sum/prod (reached only through the dtype dispatch; the ops layer
  // sums bools into int64) are or/and, what bool(acc + v), bool(acc * v) give.
  // max/min: a NaN v replaces the accumulator, and once the accumulator is
  // NaN no comparison is true, so it stays: NaN propagates as in NumPy, in
  // any order of combination. Branch-free selects, so CPU loops vectorize.
  // `v != v`, not hd::is_nan: on the host that is __builtin_isnan, which
  // vectorizes to a different mask sequence than these loops were tuned with.
  FASTSYNC_HD static A apply(A acc, A v) {
    if constexpr (std::is_same_v<A, bool> && op == ReduceOp::sum)
      return acc || v;
    else if constexpr (std::is_same_v<A, bool> && op == ReduceOp::prod)
      return acc && v;
    else if constexpr (op == ReduceOp::sum)
      return acc + v;
    else if constexpr (op == ReduceOp::prod)
      return acc * v;
    else if constexpr (op == ReduceOp::max)
      return (v > acc || v != v) ? v : acc;
    else
      return (v < acc || v != v) ? v : acc;
  }
};

}  // namespace fastsync
