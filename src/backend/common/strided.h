// Loops over N arrays that share a shape but have their own strides: the
// layout planning both backends use (the CPU runs the loops; the CUDA
// backend turns a plan into kernel indexers).
//
// A plan is made on the encoding thread: adjacent dimensions that are
// contiguous for every array are merged, so most strided work becomes a few
// long inner loops. Plans hold their dims inline (no heap) up to kInlineDims,
// so capturing one in a task costs no allocation on either thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "array.h"

namespace fastsync {

// A vector of int64 with inline storage for the common small case.
class Dims {
 public:
  static constexpr int kInline = 8;
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](int i) { return n_ <= kInline ? inline_[i] : heap_[i]; }
  int64_t operator[](int i) const { return n_ <= kInline ? inline_[i] : heap_[i]; }
  int64_t& back() { return (*this)[n_ - 1]; }
  const int64_t* begin() const { return n_ <= kInline ? inline_ : heap_.data(); }
  const int64_t* end() const { return begin() + n_; }
  void push_back(int64_t v) {
    if (n_ < kInline) {
      inline_[n_++] = v;
      return;
    }
    if (n_ == kInline) heap_.assign(inline_, inline_ + kInline);
    heap_.push_back(v);
    ++n_;
  }

 private:
  int n_ = 0;
  int64_t inline_[kInline];
  std::vector<int64_t> heap_;
};

template <size_t N>
struct StridedPlan {
  Dims shape;
  std::array<Dims, N> strides;
  int64_t size = 0;
};

// `S`: Strides, or Dims (strides built on the encoding thread without a
// heap allocation, broadcast_dims).
template <size_t N, typename S = Strides>
StridedPlan<N> make_plan(const Shape& shape, const std::array<const S*, N>& strides) {
  StridedPlan<N> c;
  c.size = shape_size(shape);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !c.shape.empty();
    for (size_t k = 0; merge && k < N; ++k) {
      merge = c.strides[k].back() == (*strides[k])[d] * shape[d];
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

// make_plan over the axes in the memory order of the last operand (largest
// stride first): an output laid out like a transposed operand is walked in
// order, and merges to one run. The plain plan for a row-major last operand.
template <size_t N, typename S = Strides>
StridedPlan<N> make_plan_in_order(const Shape& shape, const std::array<const S*, N>& strides) {
  const S& last = *strides[N - 1];
  // Already in memory order (any row-major output): no reordering, and no
  // allocation on every elementwise op's encode.
  if (std::is_sorted(last.begin(), last.end(), std::greater<>())) {
    return make_plan<N, S>(shape, strides);
  }
  const int nd = static_cast<int>(shape.size());
  std::vector<int> axes(nd);
  for (int i = 0; i < nd; ++i) axes[i] = i;
  std::stable_sort(axes.begin(), axes.end(), [&](int x, int y) { return last[x] > last[y]; });
  Shape ps(nd);
  std::array<Strides, N> pst;
  std::array<const Strides*, N> ptrs;
  for (size_t k = 0; k < N; ++k) {
    pst[k].resize(nd);
    for (int i = 0; i < nd; ++i) pst[k][i] = (*strides[k])[axes[i]];
    ptrs[k] = &pst[k];
  }
  for (int i = 0; i < nd; ++i) ps[i] = shape[axes[i]];
  return make_plan<N>(ps, ptrs);
}

// True when one array walks the last dimension with unit stride and another
// walks the second-to-last with unit stride (a transpose): then runs along
// the last dimension are visited in square tiles, so the array read across
// its rows stays in cache.
template <size_t N>
bool wants_tiles(const StridedPlan<N>& c) {
  int nd = c.shape.size();
  if (nd < 2 || c.shape[nd - 1] < 16 || c.shape[nd - 2] < 16) return false;
  bool row_unit = false, col_unit = false;
  for (size_t k = 0; k < N; ++k) {
    row_unit |= c.strides[k][nd - 1] == 1;
    col_unit |= c.strides[k][nd - 2] == 1;
  }
  return row_unit && col_unit;
}

// Calls inner(offsets, n, inner_strides) for each run along the last
// (merged) dimension; offsets are in elements.
template <size_t N, typename F>
void for_each_strided(const StridedPlan<N>& c, F&& inner) {
  if (c.size == 0) return;
  int nd = c.shape.size();
  bool tiled = wants_tiles(c);
  // Tiled: the outer loop covers all but the last two dims, which are
  // walked tile by tile below.
  int outer_nd = tiled ? nd - 2 : nd - 1;
  std::array<int64_t, N> in_strides, offs{};
  for (size_t k = 0; k < N; ++k) in_strides[k] = c.strides[k][nd - 1];
  Dims idx;
  for (int d = 0; d < nd; ++d) idx.push_back(0);
  int64_t outer = 1;
  for (int d = 0; d < outer_nd; ++d) outer *= c.shape[d];
  for (int64_t o = 0; o < outer; ++o) {
    if (tiled) {
      constexpr int64_t B = 32;
      int64_t rows = c.shape[nd - 2], cols = c.shape[nd - 1];
      for (int64_t r0 = 0; r0 < rows; r0 += B) {
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
          int64_t n = std::min(B, cols - c0);
          for (int64_t r = r0; r < std::min(r0 + B, rows); ++r) {
            std::array<int64_t, N> t;
            for (size_t k = 0; k < N; ++k) {
              t[k] = offs[k] + r * c.strides[k][nd - 2] + c0 * c.strides[k][nd - 1];
            }
            inner(t, n, in_strides);
          }
        }
      }
    } else {
      inner(offs, c.shape[nd - 1], in_strides);
    }
    for (int d = outer_nd - 1; d >= 0; --d) {
      if (++idx[d] < c.shape[d]) {
        for (size_t k = 0; k < N; ++k) offs[k] += c.strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) offs[k] -= c.strides[k][d] * (c.shape[d] - 1);
      idx[d] = 0;
    }
  }
}

template <size_t N, typename F>
void for_each_strided(const Shape& shape, const std::array<const Strides*, N>& strides, F&& inner) {
  for_each_strided(make_plan<N>(shape, strides), inner);
}

// Strides of `in` broadcast to `shape` (right-aligned; 0 on broadcast axes).
Strides broadcast_strides(const array& in, const Shape& shape);
// The same without a heap allocation up to Dims::kInline dimensions.
Dims broadcast_dims(const array& in, const Shape& shape);
// An array's own strides as Dims.
Dims dims_of(const Strides& strides);

}  // namespace fastsync
