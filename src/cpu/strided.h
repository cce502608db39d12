// Loops over N arrays that share a shape but have their own strides.
// Adjacent dimensions that are contiguous for every array are merged first,
// so most strided work becomes a few long inner loops.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "array.h"

namespace fastsync::cpu {

template <size_t N>
struct Collapsed {
  Shape shape;
  std::array<Strides, N> strides;
};

template <size_t N>
Collapsed<N> collapse_dims(const Shape& shape, const std::array<const Strides*, N>& strides) {
  Collapsed<N> c;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !c.shape.empty();
    if (merge) {
      for (size_t k = 0; k < N; ++k) {
        if (c.strides[k].back() != (*strides[k])[d] * shape[d]) merge = false;
      }
    }
    if (merge) {
      c.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) c.strides[k].back() = (*strides[k])[d];
    } else {
      c.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) c.strides[k].push_back((*strides[k])[d]);
    }
  }
  if (c.shape.empty()) {
    c.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) c.strides[k].push_back(0);
  }
  return c;
}

// Calls inner(offsets, n, inner_strides) for each run along the last
// (collapsed) dimension; offsets are in elements.
template <size_t N, typename F>
void for_each_strided(const Shape& shape, const std::array<const Strides*, N>& strides,
                      F&& inner) {
  if (shape_size(shape) == 0) return;
  auto c = collapse_dims<N>(shape, strides);
  int nd = static_cast<int>(c.shape.size());
  int64_t n = c.shape[nd - 1];
  std::array<int64_t, N> in_strides, offs{};
  for (size_t k = 0; k < N; ++k) in_strides[k] = c.strides[k][nd - 1];
  std::vector<int64_t> idx(nd, 0);
  int64_t outer = shape_size(c.shape) / n;
  for (int64_t o = 0; o < outer; ++o) {
    inner(offs, n, in_strides);
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < c.shape[d]) {
        for (size_t k = 0; k < N; ++k) offs[k] += c.strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) offs[k] -= c.strides[k][d] * (c.shape[d] - 1);
      idx[d] = 0;
    }
  }
}

// Strides of `in` broadcast to `shape` (right-aligned; 0 on broadcast axes).
Strides broadcast_strides(const array& in, const Shape& shape);

}  // namespace fastsync::cpu
