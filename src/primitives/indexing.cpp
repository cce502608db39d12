// Derivatives of gathers and scatters: a gather's cotangent scatters back
// (adding at repeated indices); a scatter's cotangent gathers.
#include "primitives/indexing.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "primitives/grad_util.h"
#include "primitives/shape.h"

namespace fastsync {

namespace {

// Integer positions have no derivative; MLX raises rather than silently
// returning zeros when one is asked for (a traced value reached the
// indices), so the user marks them.
[[noreturn]] void throw_index_gradient(const char* op) {
  throw std::invalid_argument(std::string("[") + op +
                              "] cannot differentiate with respect to the indices; wrap "
                              "indices computed from a differentiated value in stop_gradient");
}

// Forward mode ignores the indices' tangents (a traced value may reach the
// indices; positions still have no derivative): the default jvp over the
// other inputs.
std::vector<array> jvp_without_indices(Primitive& p, const std::vector<array>& primals,
                                       const std::vector<array>& tangents,
                                       const std::vector<int>& argnums,
                                       const std::vector<array>& outputs) {
  std::vector<int> kept;
  std::vector<array> ts;
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == 1) continue;
    kept.push_back(argnums[j]);
    ts.push_back(tangents[j]);
  }
  if (kept.empty()) return {zeros(outputs[0].shape(), tangents[0].dtype(), p.stream())};
  return p.Primitive::jvp(primals, ts, kept, outputs);
}

}  // namespace

std::vector<array> Gather::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents, const std::vector<int>& argnums,
                               const std::vector<array>& outputs) {
  return jvp_without_indices(*this, primals, tangents, argnums, outputs);
}

std::vector<array> Scatter::jvp(const std::vector<array>& primals,
                                const std::vector<array>& tangents, const std::vector<int>& argnums,
                                const std::vector<array>& outputs) {
  return jvp_without_indices(*this, primals, tangents, argnums, outputs);
}

std::vector<array> Gather::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const array& a = primals[0];
  const array& idx = primals[1];
  const array& c = cotangents[0];
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 1) {
      throw_index_gradient(name());
    } else if (a.dtype() == bool_) {
      out.push_back(grad::zero_like(a, s));
    } else if (along_axis_) {
      array flat = broadcast_to(grad::flat_index_along(a.shape(), idx, axis_, s), c.shape(), s);
      out.push_back(grad::add_at_flat(a.shape(), flat, c, s));
    } else {
      // c is a.shape[:axis] + idx.shape + a.shape[axis+1:]: bring the index
      // axes first, scatter-add rows into a with its axis first, move back.
      const int ni = idx.ndim();
      std::vector<int> perm;
      for (int d = 0; d < ni; ++d) perm.push_back(axis_ + d);
      for (int d = 0; d < axis_; ++d) perm.push_back(d);
      for (int d = axis_ + ni; d < c.ndim(); ++d) perm.push_back(d);
      Shape rows{idx.size()};
      Shape moved{a.shape()[axis_]};
      for (int d = 0; d < a.ndim(); ++d) {
        if (d == axis_) continue;
        rows.push_back(a.shape()[d]);
        moved.push_back(a.shape()[d]);
      }
      array upd = reshape(transpose(c, perm, s), rows, s);
      array acc = scatter_add(zeros(moved, c.dtype(), s), reshape(idx, {-1}, s), upd, s);
      out.push_back(moveaxis(acc, 0, axis_, s));
    }
  }
  return out;
}

std::vector<array> Scatter::vjp(const std::vector<array>& primals,
                                const std::vector<array>& cotangents,
                                const std::vector<int>& argnums,
                                const std::vector<array>& outputs) {
  const Stream s = stream();
  const array& a = primals[0];
  const array& idx = primals[1];
  const array& u = primals[2];
  const array& c = cotangents[0];
  const array& y = outputs[0];
  if (a.dtype() == bool_ && std::find(argnums.begin(), argnums.end(), 1) == argnums.end()) {
    return grad::zeros_for(primals, argnums, s);
  }
  array z = grad::k(0, c);
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 1) throw_index_gradient(name());
    const bool to_a = i == 0;
    switch (op_) {
      case ScatterOp::set:
        out.push_back(to_a ? scatter_set(c, idx, zeros(u.shape(), c.dtype(), s), s)
                           : take(c, idx, 0, s));
        break;
      case ScatterOp::add: out.push_back(to_a ? c : take(c, idx, 0, s)); break;
      case ScatterOp::prod: {
        // Each row of y is a's row times the product of its updates.
        array applied = scatter_prod(ones(a.shape(), a.dtype(), s), idx, u, s);
        if (to_a) {
          out.push_back(grad::mul_conj(c, applied, s));
        } else {
          array others = divide(take(multiply(a, applied, s), idx, 0, s), u, s);
          out.push_back(grad::mul_conj(take(c, idx, 0, s), others, s));
        }
        break;
      }
      case ScatterOp::max:
      case ScatterOp::min: {
        // The cotangent follows the value that won; a keeps ties.
        array a_won = equal(a, y, s);
        if (to_a) {
          out.push_back(where(a_won, c, z, s));
        } else {
          array won = logical_and(equal(u, take(y, idx, 0, s), s),
                                  logical_not(take(a_won, idx, 0, s), s), s);
          out.push_back(where(won, take(c, idx, 0, s), z, s));
        }
        break;
      }
    }
  }
  return out;
}

array SliceUpdate::region_of(const array& out, const Shape& shape) const {
  int64_t offset = 0;
  Strides region(out.ndim());
  for (int i = 0; i < out.ndim(); ++i) {
    offset += start_[i] * out.strides()[i];
    region[i] = out.strides()[i] * step_[i];
  }
  // No reference: `out` keeps the buffer alive for as long as the op needs.
  return out.unsafe_weak_copy(shape, std::move(region), offset);
}

std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const Stream s = stream();
  const array& u = primals[1];
  const array& c = cotangents[0];
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 0) {
      // What the region held was overwritten: no derivative flows through it
      // (a broadcast zero: no region-sized buffer of zeros).
      array zero = broadcast_to(zeros({}, c.dtype(), s), u.shape(), s);
      out.push_back(array(c.shape(), c.dtype(),
                          std::make_shared<SliceUpdate>(s, start_, stop_, step_), {c, zero}));
    } else {
      out.push_back(
          array(u.shape(), c.dtype(), std::make_shared<Slice>(s, start_, stop_, step_), {c}));
    }
  }
  return out;
}

}  // namespace fastsync
