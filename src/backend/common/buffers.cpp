#include "backend/common/buffers.h"

#include <algorithm>
#include <vector>

namespace fastsync {

void alloc(array& out, allocator::Allocator& a) { out.set_data(a.malloc(out.nbytes())); }

void alloc_like(const array& like, array& out, allocator::Allocator& a) {
  alloc(out, a);
  const int nd = like.ndim();
  if (like.shape() != out.shape() || like.flags().row_contiguous || nd < 2 ||
      like.strides().back() != 1) {
    return;
  }
  std::vector<int> order(nd);
  for (int i = 0; i < nd; ++i) {
    if (like.strides()[i] <= 0 && like.shape()[i] > 1) return;
    order[i] = i;
  }
  // Largest stride outermost; a size-1 axis keeps its place among equals.
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return like.strides()[x] > like.strides()[y]; });
  if (order.back() != nd - 1) return;  // features stay innermost
  Strides st(nd);
  int64_t step = 1;
  for (int i = nd; i-- > 0;) {
    st[order[i]] = step;
    step *= std::max<int64_t>(out.shape()[order[i]], 1);
  }
  Flags f = compute_flags(out.shape(), st, out.size());
  out.copy_shared_buffer(out, std::move(st), f, out.size());
}

bool alloc_like_operands(std::initializer_list<const array*> ins, array& out,
                         allocator::Allocator& a, int stream) {
  const array* like = nullptr;
  for (const array* in : ins) {
    if (in->shape() == out.shape()) {
      like = in;
      break;
    }
  }
  if (!like || like->ndim() < 2 || like->size() < 2 || like->flags().row_contiguous ||
      !like->flags().contiguous || like->data_size() != like->size()) {
    return false;
  }
  for (const array* in : ins) {
    if (in->size() != 1 && (in->shape() != out.shape() || in->strides() != like->strides())) {
      return false;
    }
  }
  for (const array* in : ins) {
    if (in->shape() == out.shape() && in->dtype() == out.dtype() && in->is_donatable(stream) &&
        in->data_size() == in->size()) {
      out.copy_shared_buffer(*in);
      return true;
    }
  }
  out.set_data(a.malloc(out.nbytes()));
  out.copy_shared_buffer(out, like->strides(), like->flags(), like->data_size());
  return true;
}

void donate_or_alloc(const array& in, array& out, allocator::Allocator& a, int stream) {
  if (in.is_donatable(stream) && in.dtype() == out.dtype() && in.flags().row_contiguous &&
      in.size() == out.size() && in.data_size() == in.size() && in.size() > 0) {
    out.adopt_buffer(in);
  } else {
    alloc(out, a);
  }
}

void donate_any_or_alloc(std::initializer_list<const array*> candidates, array& out,
                         allocator::Allocator& a, int stream) {
  for (const array* in : candidates) {
    if (in->shape() == out.shape() && in->dtype() == out.dtype() && in->is_donatable(stream)) {
      donate_or_alloc(*in, out, a, stream);
      return;
    }
  }
  alloc(out, a);
}

}  // namespace fastsync
