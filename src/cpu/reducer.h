// The reduction operators shared by reduce and scan kernels: identity and
// combine, with NaN propagating through max and min as in NumPy.
#pragma once

#include <limits>
#include <stdexcept>
#include <type_traits>

#include "primitives/reduce.h"

namespace fastsync::cpu {

template <ReduceOp op, typename A>
struct Reducer {
  static A init() {
    if constexpr (op == ReduceOp::sum) return A(0);
    else if constexpr (op == ReduceOp::prod) return A(1);
    else if constexpr (op == ReduceOp::max) {
      if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
      else return std::numeric_limits<A>::lowest();
    } else {
      if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
      else return std::numeric_limits<A>::max();
    }
  }
  static A apply(A acc, A v) {
    if constexpr (op == ReduceOp::sum) return acc + v;
    else if constexpr (op == ReduceOp::prod) return acc * v;
    else if constexpr (op == ReduceOp::max) return (v > acc || v != v) ? v : acc;
    else return (v < acc || v != v) ? v : acc;
  }
};

// Calls f(In{}, Out{}) for a reduction's (input, output) dtypes. The ops
// layer only pairs an input with its own dtype or with its sum type
// (int64/uint64); other pairs are never instantiated.
template <typename F>
void dispatch_reduce_types(Dtype in, Dtype out, F&& f) {
  dispatch_dtype(in, [&](auto in_tag) {
    dispatch_dtype(out, [&](auto out_tag) {
      using In = decltype(in_tag);
      using Out = decltype(out_tag);
      if constexpr (std::is_same_v<In, Out> || std::is_same_v<Out, int64_t> ||
                    std::is_same_v<Out, uint64_t>) {
        f(in_tag, out_tag);
      } else {
        throw std::logic_error("[reduce] unexpected dtype pair");
      }
    });
  });
}

}  // namespace fastsync::cpu
