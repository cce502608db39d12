// NumPy-style indexing expressions, a[...] and a[...] = v, as ops (see
// ops/ops.h for the op contract). Basic indices (integers, slices, new
// axes, an ellipsis) make views; integer arrays gather, with NumPy's
// placement of the broadcast index dimensions; assignment scatters.
#pragma once

#include <optional>
#include <vector>

#include "array.h"
#include "stream.h"

namespace fastsync {

// Integer indices as the int64 the gather and scatter kernels read. A uint64
// index past int64's range would wrap to a negative one (2^64 - 1 to -1, the
// last element): it saturates instead, so the kernels report it out of
// bounds.
array index_as_int64(const array& idx, StreamOrDevice s);

struct Index {
  enum class Kind { integer, slice, new_axis, ellipsis, array };
  Kind kind;
  int64_t value = 0;                         // integer
  std::optional<int64_t> start, stop, step;  // slice
  std::optional<fastsync::array> indices;    // array (integer, or bool in assignment)

  static Index integer(int64_t v) { return {Kind::integer, v, {}, {}, {}, {}}; }
  static Index slice(std::optional<int64_t> b, std::optional<int64_t> e,
                     std::optional<int64_t> st) {
    return {Kind::slice, 0, b, e, st, {}};
  }
  static Index new_axis() { return {Kind::new_axis, 0, {}, {}, {}, {}}; }
  static Index ellipsis() { return {Kind::ellipsis, 0, {}, {}, {}, {}}; }
  static Index of(const fastsync::array& a) { return {Kind::array, 0, {}, {}, {}, a}; }
};

// a[index...]. Out-of-range integers raise IndexError (std::out_of_range);
// out-of-range array entries fail the computation.
array get_index(const array& a, const std::vector<Index>& index, StreamOrDevice s = {});

// A copy of `a` with a[index...] replaced by `value` (broadcast to the
// selection, converted to a's dtype). A bool array of a's leading shape
// selects by mask.
array set_index(const array& a, const std::vector<Index>& index, const array& value,
                StreamOrDevice s = {});

// a.at[index...].add(value) and friends: a copy of `a` with `value` combined
// into the selection; a position selected several times combines every
// value aimed at it (unlike assignment, where one wins).
enum class IndexUpdate { add, subtract, multiply, divide, maximum, minimum };
array update_index(const array& a, const std::vector<Index>& index, const array& value,
                   IndexUpdate op, StreamOrDevice s = {});

}  // namespace fastsync
