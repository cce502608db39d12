// The view primitives and the layout helpers every backend uses: a view
// shares its input's buffer with other strides and an offset, so nothing is
// computed or encoded and one eval serves every backend.
#include <cstdlib>
#include <optional>

#include "backend/common/strided.h"
#include "primitives/shape.h"

namespace fastsync {

namespace {
// `in`'s strides right-aligned to `shape`, 0 on broadcast axes, into either
// container (Dims: no heap allocation up to its inline rank).
template <typename S>
S broadcast_into(const array& in, const Shape& shape) {
  S s;
  if constexpr (requires { s.reserve(shape.size()); }) s.reserve(shape.size());
  const size_t off = shape.size() - in.ndim();
  for (size_t i = 0; i < off; ++i) s.push_back(0);
  for (int i = 0; i < in.ndim(); ++i) s.push_back(in.shape()[i] == 1 ? 0 : in.strides()[i]);
  return s;
}
}  // namespace

Strides broadcast_strides(const array& in, const Shape& shape) {
  return broadcast_into<Strides>(in, shape);
}

Dims broadcast_dims(const array& in, const Shape& shape) { return broadcast_into<Dims>(in, shape); }

Dims dims_of(const Strides& strides) {
  Dims s;
  for (auto v : strides) s.push_back(v);
  return s;
}

void make_view(const array& in, array& out, Strides strides, int64_t offset) {
  int64_t span = out.size() == 0 ? 0 : 1;
  for (int i = 0; i < out.ndim(); ++i) {
    if (out.shape()[i] > 1) span += (out.shape()[i] - 1) * std::abs(strides[i]);
  }
  Flags f = compute_flags(out.shape(), strides, span);
  out.copy_shared_buffer(in, std::move(strides), f, span, offset);
}

// The strides that read `to` out of an array of shape `from` and `strides`
// without moving data, when they exist (NumPy's rule): axes of size one
// dropped, the remaining old axes and the new ones fall into groups of
// equal products; a group of several old axes must be row-contiguous
// among themselves (one stride runs through it), and its new axes take
// strides from the innermost old one outwards. Splitting an axis of a
// transposed view always works; merging two axes it transposed does not.
static std::optional<Strides> reshape_strides(const Shape& from, const Strides& strides,
                                              const Shape& to) {
  if (shape_size(to) == 0) return row_major_strides(to);
  Shape os;
  Strides ost;
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i] != 1) {
      os.push_back(from[i]);
      ost.push_back(strides[i]);
    }
  }
  Strides out(to.size(), 1);
  size_t oi = 0, ni = 0;
  while (oi < os.size() && ni < to.size()) {
    size_t oj = oi + 1, nj = ni + 1;
    int64_t op = os[oi], np = to[ni];
    while (op != np) {
      if (np < op) {
        if (nj == to.size()) return std::nullopt;
        np *= to[nj++];
      } else {
        if (oj == os.size()) return std::nullopt;
        op *= os[oj++];
      }
    }
    for (size_t k = oi; k + 1 < oj; ++k) {
      if (ost[k] != ost[k + 1] * os[k + 1]) return std::nullopt;
    }
    out[nj - 1] = ost[oj - 1];
    for (size_t k = nj - 1; k > ni; --k) out[k - 1] = out[k] * to[k];
    oi = oj;
    ni = nj;
  }
  if (oi < os.size()) return std::nullopt;
  for (; ni < to.size(); ++ni) {
    if (to[ni] != 1) return std::nullopt;
  }
  return out;
}

bool reshape_view(const array& in, array& out) {
  if (in.flags().row_contiguous) {
    make_view(in, out, row_major_strides(out.shape()));
    return true;
  }
  std::optional<Strides> s = reshape_strides(in.shape(), in.strides(), out.shape());
  if (!s) return false;
  make_view(in, out, std::move(*s));
  return true;
}

void ViewPrimitive::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  view(inputs[0], outputs[0]);
}

void ViewPrimitive::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  view(inputs[0], outputs[0]);
}

void Transpose::view(const array& in, array& out) const {
  Strides s;
  for (int a : axes_) s.push_back(in.strides()[a]);
  make_view(in, out, std::move(s));
}

void Slice::view(const array& in, array& out) const {
  Strides s(in.ndim());
  int64_t offset = 0;
  for (int i = 0; i < in.ndim(); ++i) {
    s[i] = in.strides()[i] * step_[i];
    if (out.shape()[i] > 0) offset += start_[i] * in.strides()[i];
  }
  make_view(in, out, std::move(s), out.size() > 0 ? offset : 0);
}

// Split's pieces: the input's strides, offset to each piece's start.
static void split_views(const array& in, std::vector<array>& outs, int axis, const Shape& starts) {
  for (size_t i = 0; i < outs.size(); ++i) {
    int64_t offset = outs[i].size() > 0 ? starts[i] * in.strides()[axis] : 0;
    make_view(in, outs[i], in.strides(), offset);
  }
}

void Split::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  split_views(inputs[0], outputs, axis_, starts_);
}

void Split::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  split_views(inputs[0], outputs, axis_, starts_);
}

void Broadcast::view(const array& in, array& out) const {
  make_view(in, out, broadcast_strides(in, shape_));
}

void BroadcastLike::view(const array& in, array& out) const {
  make_view(in, out, broadcast_strides(in, out.shape()));
}

// A new axis takes the stride that would step over the axes inside it, so a
// row-contiguous input stays row-contiguous.
void ExpandDims::view(const array& in, array& out) const {
  Strides s(out.ndim());
  int k = in.ndim() - 1;
  size_t a = axes_.size();
  int64_t inner = 1;
  for (int d = out.ndim() - 1; d >= 0; --d) {
    if (a > 0 && axes_[a - 1] == d) {
      s[d] = inner;
      --a;
    } else {
      s[d] = in.strides()[k];
      inner = in.strides()[k] * in.shape()[k];
      --k;
    }
  }
  make_view(in, out, std::move(s));
}

void Squeeze::view(const array& in, array& out) const {
  Strides s;
  size_t a = 0;
  for (int d = 0; d < in.ndim(); ++d) {
    if (a < axes_.size() && axes_[a] == d) {
      ++a;
    } else {
      s.push_back(in.strides()[d]);
    }
  }
  make_view(in, out, std::move(s));
}

void Diagonal::view(const array& in, array& out) const {
  Strides s;
  for (int i = 0; i < in.ndim(); ++i) {
    if (i != axis1_ && i != axis2_) s.push_back(in.strides()[i]);
  }
  s.push_back(in.strides()[axis1_] + in.strides()[axis2_]);
  int64_t start = offset_ >= 0 ? offset_ * in.strides()[axis2_] : -offset_ * in.strides()[axis1_];
  make_view(in, out, std::move(s), out.size() > 0 ? start : 0);
}

void BitCast::view(const array& in, array& out) const {
  // Offsets count elements of the output's dtype; the input's data pointer
  // already sits where the view starts.
  make_view(in, out, row_major_strides(out.shape()));
}

void Depends::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (int i = 0; i < n_; ++i) outputs[i].copy_shared_buffer(inputs[i]);
}

void Depends::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_cpu(inputs, outputs);
}

void AsStrided::view(const array& in, array& out) const {
  make_view(in, out, strides_, out.size() > 0 ? offset_ : 0);
}

}  // namespace fastsync
