#include "primitives/linalg.h"

#include <stdexcept>
#include <string>

namespace fastsync {

Shape matmul_shape(const char* op, const Shape& a, const Shape& b) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string("[") + op + "] " + why + ": a has shape " +
                                shape_str(a) + " and b has shape " + shape_str(b));
  };
  if (a.empty() || b.empty()) fail("operands must have at least one dimension");
  int64_t ka = a.back();
  int64_t kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (ka != kb) {
    fail("inner dimensions differ (" + std::to_string(ka) + " != " + std::to_string(kb) + ")");
  }
  // Batch axes: everything before the last two, right-aligned and broadcast.
  size_t na = a.size() > 2 ? a.size() - 2 : 0;
  size_t nb = b.size() > 2 ? b.size() - 2 : 0;
  size_t n = std::max(na, nb);
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + na >= n ? a[i + na - n] : 1;
    int64_t db = i + nb >= n ? b[i + nb - n] : 1;
    if (da != db && da != 1 && db != 1) fail("batch dimensions cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  return out;
}

std::vector<Shape> Matmul::output_shapes(const std::vector<array>& inputs) const {
  return {matmul_shape("matmul", inputs[0].shape(), inputs[1].shape())};
}

std::vector<Shape> AddMM::output_shapes(const std::vector<array>& inputs) const {
  return {matmul_shape("addmm", inputs[1].shape(), inputs[2].shape())};
}

}  // namespace fastsync

// --- derivatives --------------------------------------------------------
// For out = a @ b: da = c @ b^H, db = a^H @ c, with 1-D operands seen as a
// row (a) or a column (b) and broadcast batch axes summed back.

#include "ops/linalg.h"
#include "primitives/grad_util.h"
#include "primitives/shape.h"
#include "primitives/tracing.h"

namespace fastsync {

namespace {

array adjoint(const array& m, Stream s) {
  array t = swapaxes(m, -1, -2, s);
  return is_complex(t.dtype()) ? conjugate(t, s) : t;
}

// Whether a real matrix b is a transpose of a row-major matrix (a layer's
// weight read as w.T). Inside a grad trace w.T is still a Transpose node;
// eagerly it is a view whose strides say so.
bool transposed_rows(const array& b) {
  if (b.ndim() != 2 || is_complex(b.dtype())) return false;
  if (b.has_node()) {
    const auto* t = dynamic_cast<const Transpose*>(&b.primitive());
    if (!t || t->axes() != std::vector<int>{1, 0}) return false;
    const array* w = &b.inputs()[0];
    // Through the identities grad and vjp put over their inputs.
    while (w->status() == Status::unscheduled && w->has_node() &&
           dynamic_cast<const Identity*>(&w->primitive())) {
      w = &w->inputs()[0];
    }
    if (w->status() != Status::unscheduled) return w->flags().row_contiguous;
    // A pending w will be written row-major, as nearly every op writes; a
    // pending view (w.T.T) will not.
    return !(w->has_node() && w->primitive().is_view());
  }
  return b.status() != Status::unscheduled && b.shape()[0] > 1 && b.strides()[0] == 1 &&
         b.strides()[1] == b.shape()[0];
}

// The cotangents {da, db} of a @ b (all of a and b, scaled by alpha).
std::pair<array, array> matmul_grads(const array& a, const array& b, const array& c, double alpha,
                                     Stream s) {
  array a2 = a.ndim() == 1 ? reshape(a, {1, a.shape()[0]}, s) : a;
  array b2 = b.ndim() == 1 ? reshape(b, {b.shape()[0], 1}, s) : b;
  array c2 = c;
  if (b.ndim() == 1) c2 = expand_dims(c2, {c2.ndim()}, s);
  if (a.ndim() == 1) c2 = expand_dims(c2, {c2.ndim() - 1}, s);
  if (alpha != 1.0) c2 = multiply(c2, grad::k(alpha, c2), s);
  array da = grad::unbroadcast(matmul(c2, adjoint(b2, s), s), a2.shape(), s);
  // A matrix shared by every batch entry (a layer's weight): one product over
  // the flattened rows, not a product per entry summed afterwards (an
  // output batch-times larger and a reduction over it).
  const bool rows = a2.ndim() > 2 && b2.ndim() == 2;
  array a_rows = rows ? reshape(a2, {-1, a2.shape().back()}, s) : a2;
  array c_rows = rows ? reshape(c2, {-1, c2.shape().back()}, s) : c2;
  array db = [&] {
    if (transposed_rows(b)) {
      // b = w.T: w's cotangent, the transpose of db, is computed as c^T a,
      // so it comes out row-major as w is. Computed as a^T c it came out
      // transposed, and the optimizer's update copied it dense first (60
      // copies in a GPU training step, 13.6 us each for a 4096x1024
      // bfloat16 weight on an H100).
      return swapaxes(matmul(swapaxes(c_rows, -1, -2, s), a_rows, s), -1, -2, s);
    }
    if (rows) return matmul(adjoint(a_rows, s), c_rows, s);
    return grad::unbroadcast(matmul(adjoint(a2, s), c2, s), b2.shape(), s);
  }();
  return {reshape(da, a.shape(), s), reshape(db, b.shape(), s)};
}

}  // namespace

std::vector<array> Matmul::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  auto [da, db] = matmul_grads(primals[0], primals[1], cotangents[0], 1.0, stream());
  std::vector<array> out;
  for (int i : argnums) out.push_back(i == 0 ? da : db);
  return out;
}

std::vector<array> AddMM::vjp(const std::vector<array>& primals,
                              const std::vector<array>& cotangents, const std::vector<int>& argnums,
                              const std::vector<array>&) {
  const Stream s = stream();
  const array& c = cotangents[0];
  auto [da, db] = matmul_grads(primals[1], primals[2], c, alpha_, s);
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 0) {
      array dc = beta_ == 1.0 ? c : multiply(c, grad::k(beta_, c), s);
      out.push_back(grad::unbroadcast(dc, primals[0].shape(), s));
    } else {
      out.push_back(i == 1 ? da : db);
    }
  }
  return out;
}

}  // namespace fastsync

// --- batching -------------------------------------------------------------

#include "primitives/batching.h"

namespace fastsync {

std::pair<std::vector<array>, std::vector<int>> Matmul::vmap(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::vector<array>& outputs, const std::shared_ptr<Primitive>& self) {
  // Matrices per entry: the batch becomes one more broadcast batch axis. A
  // 1-D entry would be read as a matrix once batched: one node per entry.
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (batching::entry_rank(inputs[i], axes[i]) < 2) {
      return Primitive::vmap(inputs, axes, outputs, self);
    }
  }
  return batching::elementwise(self, inputs, axes, outputs);
}

}  // namespace fastsync
