// The reduction operators shared by reduce and scan kernels: identity and
// combine, with NaN propagating through max and min as in NumPy.
#pragma once

#include <limits>
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

}  // namespace fastsync::cpu
