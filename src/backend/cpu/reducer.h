// The dtype dispatch of the CPU's reduce and scan kernels. The reduction
// operators themselves (identity, combine, accumulator type) are shared
// with the GPU: backend/common/reducer.h.
#pragma once

#include <stdexcept>
#include <type_traits>

#include "backend/common/reducer.h"
#include "dtype.h"

namespace fastsync::cpu {

// Calls f(In{}, Out{}) for a reduction's (input, output) dtypes. The ops
// layer only pairs an input with its own dtype or with its sum type
// (integer_sum_t); other pairs are never instantiated. Complex pairs are
// complex64 -> complex64 only.
template <typename F>
void dispatch_reduce_types(Dtype in, Dtype out, F&& f) {
  dispatch_dtype(in, [&](auto in_tag) {
    // The input type and its sum type are named here, in the outer lambda:
    // GCC 12 mis-evaluates the alias template on a type taken from the
    // enclosing generic lambda's parameter inside the inner one.
    using In = decltype(in_tag);
    using Sum = std::conditional_t<std::is_integral_v<In>, integer_sum_t<In>, In>;
    dispatch_dtype(out, [&](auto out_tag) {
      using Out = decltype(out_tag);
      if constexpr (is_complex_v<In> != is_complex_v<Out>) {
        throw std::logic_error("[reduce] unexpected dtype pair");
      } else if constexpr (std::is_same_v<In, Out> || std::is_same_v<Out, Sum>) {
        f(in_tag, out_tag);
      } else {
        throw std::logic_error("[reduce] unexpected dtype pair");
      }
    });
  });
}

}  // namespace fastsync::cpu
