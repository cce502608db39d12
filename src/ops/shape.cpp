#include <algorithm>
#include <numeric>

#include "errors.h"
#include "ops/ops.h"
#include "primitives/shape.h"

namespace fastsync {

namespace {
std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t k = 0; k < s.size(); ++k) r += (k ? ", " : "") + std::to_string(s[k]);
  return r + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

array astype(const array& a, Dtype dtype, StreamOrDevice s) {
  if (a.dtype() == dtype) return a;
  return array(a.shape(), dtype, std::make_shared<AsType>(to_stream(s), dtype), {a});
}

array reshape(const array& a, Shape shape, StreamOrDevice s) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("[reshape] can only infer one dimension");
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("[reshape] negative dimension in shape " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0) {
      throw std::invalid_argument("[reshape] cannot reshape array of size " +
                                  std::to_string(a.size()) + " into shape " + shape_str(shape));
    }
    shape[infer] = a.size() / known;
    known *= shape[infer];
  }
  if (known != a.size()) {
    throw std::invalid_argument("[reshape] cannot reshape array of size " +
                                std::to_string(a.size()) + " into shape " + shape_str(shape));
  }
  if (shape == a.shape()) return a;
  Shape out = shape;
  return array(std::move(out), a.dtype(), std::make_shared<Reshape>(to_stream(s), std::move(shape)),
               {a});
}

array transpose(const array& a, std::vector<int> axes, StreamOrDevice s) {
  int nd = a.ndim();
  if (static_cast<int>(axes.size()) != nd) {
    throw std::invalid_argument("[transpose] axes must list every one of the " +
                                std::to_string(nd) + " axes");
  }
  std::vector<bool> seen(nd, false);
  for (auto& ax : axes) {
    if (ax < -nd || ax >= nd) {
      throw std::invalid_argument("[transpose] axis " + std::to_string(ax) +
                                  " is out of bounds for an array of " + std::to_string(nd) +
                                  " dimensions");
    }
    if (ax < 0) ax += nd;
    if (seen[ax]) throw std::invalid_argument("[transpose] repeated axis");
    seen[ax] = true;
  }
  Shape shape;
  for (int ax : axes) shape.push_back(a.shape()[ax]);
  return array(std::move(shape), a.dtype(), std::make_shared<Transpose>(to_stream(s), axes), {a});
}

array transpose(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, std::move(axes), s);
}

array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s) {
  if (a.shape() == shape) return a;
  bool ok = shape.size() >= a.shape().size();
  for (size_t i = 0; ok && i < a.shape().size(); ++i) {
    int64_t d = a.shape()[a.ndim() - 1 - i];
    int64_t t = shape[shape.size() - 1 - i];
    ok = d == t || d == 1;
  }
  if (!ok) {
    throw std::invalid_argument("[broadcast_to] cannot broadcast shape " + shape_str(a.shape()) +
                                " to " + shape_str(shape));
  }
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s), shape), {a});
}

array slice(const array& a, const std::vector<std::optional<int64_t>>& start,
            const std::vector<std::optional<int64_t>>& stop,
            const std::vector<std::optional<int64_t>>& step, StreamOrDevice s) {
  int nd = a.ndim();
  if (static_cast<int>(start.size()) > nd) {
    throw std::invalid_argument("[slice] too many indices for an array of " +
                                std::to_string(nd) + " dimensions");
  }
  Shape b(nd), e(nd), st(nd);
  bool identity = true;
  for (int i = 0; i < nd; ++i) {
    int64_t n = a.shape()[i];
    int64_t k = i < static_cast<int>(step.size()) && step[i] ? *step[i] : 1;
    if (k == 0) throw std::invalid_argument("[slice] slice step cannot be zero");
    // Python's slice.indices semantics.
    auto norm = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v < 0 ? *v + n : *v;
      if (k > 0) return std::clamp<int64_t>(x, 0, n);
      return std::clamp<int64_t>(x, -1, n - 1);
    };
    b[i] = norm(i < static_cast<int>(start.size()) ? start[i] : std::nullopt, k > 0 ? 0 : n - 1);
    e[i] = norm(i < static_cast<int>(stop.size()) ? stop[i] : std::nullopt, k > 0 ? n : -1);
    st[i] = k;
    identity &= (b[i] == 0 && e[i] == n && k == 1);
  }
  if (identity) return a;
  auto prim = std::make_shared<Slice>(to_stream(s), b, e, st);
  Shape out = prim->output_shapes({a})[0];
  return array(std::move(out), a.dtype(), std::move(prim), {a});
}

}  // namespace fastsync
