// Loops over N arrays that share a shape but have their own strides.
//
// A plan is made on the encoding thread: adjacent dimensions that are
// contiguous for every array are merged, so most strided work becomes a few
// long inner loops. Plans hold their dims inline (no heap) up to kInlineDims,
// so capturing one in a task costs no allocation on either thread.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "array.h"

namespace fastsync::cpu {

// A vector of int64 with inline storage for the common small case.
class Dims {
 public:
  static constexpr int kInline = 8;
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](int i) { return n_ <= kInline ? inline_[i] : heap_[i]; }
  int64_t operator[](int i) const { return n_ <= kInline ? inline_[i] : heap_[i]; }
  int64_t& back() { return (*this)[n_ - 1]; }
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

template <size_t N>
StridedPlan<N> make_plan(const Shape& shape, const std::array<const Strides*, N>& strides) {
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

// Calls inner(offsets, n, inner_strides) for each run along the last
// (merged) dimension; offsets are in elements.
template <size_t N, typename F>
void for_each_strided(const StridedPlan<N>& c, F&& inner) {
  if (c.size == 0) return;
  int nd = c.shape.size();
  int64_t n = c.shape[nd - 1];
  std::array<int64_t, N> in_strides, offs{};
  for (size_t k = 0; k < N; ++k) in_strides[k] = c.strides[k][nd - 1];
  Dims idx;
  for (int d = 0; d < nd; ++d) idx.push_back(0);
  int64_t outer = c.size / n;
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

template <size_t N, typename F>
void for_each_strided(const Shape& shape, const std::array<const Strides*, N>& strides,
                      F&& inner) {
  for_each_strided(make_plan<N>(shape, strides), inner);
}

// Strides of `in` broadcast to `shape` (right-aligned; 0 on broadcast axes).
Strides broadcast_strides(const array& in, const Shape& shape);

}  // namespace fastsync::cpu
