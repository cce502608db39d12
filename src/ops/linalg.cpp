#include "ops/linalg.h"

#include <climits>
#include <string>

#include "ops/ops.h"
#include "primitives/binary.h"
#include "primitives/linalg.h"

namespace fastsync {

namespace {


// MLX rejects integer and bool products rather than computing them in
// float; so do we, so MLX code behaves the same here. complex64 is a BLAS
// type (cgemm, cublasCgemm).
Dtype float_operands(const char* op, const std::vector<array>& xs) {
  Dtype t = xs[0].dtype();
  for (size_t i = 1; i < xs.size(); ++i) t = promote_types(t, xs[i].dtype());
  if (!is_inexact(t)) {
    std::string got;
    for (size_t i = 0; i < xs.size(); ++i) {
      got += std::string(i ? " and " : "") + xs[i].dtype().name();
    }
    throw std::invalid_argument(std::string("[") + op +
                                "] only floating point dtypes (and complex64) are supported, got " + got +
                                " (which promote to " + t.name() +
                                "); cast the operands with astype first");
  }
  return t;
}

// The BLAS takes 32-bit sizes; strides past that are staged by the kernel,
// but a dimension that large cannot be passed at all.
void check_blas_sizes(const char* op, const array& a, const array& b) {
  for (int64_t d : {a.shape().back(), a.ndim() >= 2 ? a.shape(-2) : int64_t{1},
                    b.ndim() >= 2 ? b.shape().back() : int64_t{1}}) {
    if (d > INT_MAX) {
      throw std::invalid_argument(std::string("[") + op + "] matrix dimension " +
                                  std::to_string(d) + " exceeds the BLAS limit of " +
                                  std::to_string(INT_MAX));
    }
  }
}

array cast(const array& x, Dtype t, const Stream& s) {
  return x.dtype() == t ? x : astype(x, t, s);
}

}  // namespace

array matmul(const array& a, const array& b, StreamOrDevice s) {
  Shape shape = matmul_shape("matmul", a.shape(), b.shape());
  Dtype t = float_operands("matmul", {a, b});
  check_blas_sizes("matmul", a, b);
  Stream st = to_stream(s);
  return array(std::move(shape), t, std::make_shared<Matmul>(st), {cast(a, t, st), cast(b, t, st)});
}

array addmm(const array& c, const array& a, const array& b, double alpha, double beta,
            StreamOrDevice s) {
  Shape shape = matmul_shape("addmm", a.shape(), b.shape());
  bool fits = c.ndim() <= static_cast<int>(shape.size());
  for (int i = 1; fits && i <= c.ndim(); ++i) {
    int64_t d = c.shape()[c.ndim() - i];
    fits = d == 1 || d == shape[shape.size() - i];
  }
  if (!fits) {
    throw std::invalid_argument("[addmm] c with shape " + shape_str(c.shape()) +
                                " cannot be broadcast to the shape of a @ b " + shape_str(shape) +
                                " (a has shape " + shape_str(a.shape()) + ", b has shape " +
                                shape_str(b.shape()) + ")");
  }
  Dtype t = float_operands("addmm", {c, a, b});
  check_blas_sizes("addmm", a, b);
  Stream st = to_stream(s);
  return array(std::move(shape), t, std::make_shared<AddMM>(st, alpha, beta),
               {cast(c, t, st), cast(a, t, st), cast(b, t, st)});
}

namespace {

int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= shape[i];
  return n;
}

Shape batch_of(const array& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

// broadcast_shapes with the op's name in the error.
Shape broadcast_or_throw(const char* op, const Shape& a, const Shape& b, const std::string& what) {
  try {
    return broadcast_shapes(a, b);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("[") + op + "] " + what + " with shapes " +
                                shape_str(a) + " and " + shape_str(b) +
                                " cannot be broadcast together");
  }
}

// The operands of a product as matrices: 1-D a is a row, 1-D b a column
// (the caller squeezes those axes from the result); K must agree.
void as_matrices(const char* op, array& a, array& b, bool& a_vec, bool& b_vec, const Stream& s) {
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw std::invalid_argument(std::string("[") + op +
                                "] operands must have at least one dimension, got shapes " +
                                shape_str(a.shape()) + " and " + shape_str(b.shape()));
  }
  a_vec = a.ndim() == 1;
  b_vec = b.ndim() == 1;
  if (a_vec) a = expand_dims(a, {0}, s);
  if (b_vec) b = expand_dims(b, {1}, s);
  if (a.shape(-1) != b.shape(-2)) {
    throw std::invalid_argument(std::string("[") + op +
                                "] the last dimension of a (..., M, K) must equal the second to "
                                "last of b (..., K, N), got shapes " +
                                shape_str(a.shape()) + " and " + shape_str(b.shape()));
  }
}

array unvector(array out, bool a_vec, bool b_vec, const Stream& s) {
  std::vector<int> axes;
  if (a_vec) axes.push_back(-2);
  if (b_vec) axes.push_back(-1);
  return axes.empty() ? out : squeeze(out, axes, s);
}

void check_indices(const char* op, const char* name, const std::optional<array>& idx) {
  if (idx && !is_integral(idx->dtype())) {
    throw std::invalid_argument(std::string("[") + op + "] " + name + " must be integers, got " +
                                idx->dtype().name());
  }
}

// A gathered element moved through memory (copied, then read by the
// product) is worth about this many multiply-adds of a large gemm: the
// exchange rate of gather_mm's choice between its two compositions.
constexpr double kMoveCost = 32;

}  // namespace

array gather_mm(const array& a_in, const array& b_in, const std::optional<array>& lhs_indices,
                const std::optional<array>& rhs_indices, bool sorted_indices, StreamOrDevice s) {
  (void)sorted_indices;  // a hint for grouped kernels; the compositions need no order
  if (!lhs_indices && !rhs_indices) return matmul(a_in, b_in, s);
  Stream st = to_stream(s);
  Dtype t = float_operands("gather_mm", {a_in, b_in});
  check_indices("gather_mm", "lhs_indices", lhs_indices);
  check_indices("gather_mm", "rhs_indices", rhs_indices);
  array a = cast(a_in, t, st), b = cast(b_in, t, st);
  bool a_vec, b_vec;
  as_matrices("gather_mm", a, b, a_vec, b_vec, st);
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  Shape a_batch = batch_of(a), b_batch = batch_of(b);
  int64_t na = product(a_batch, 0, a_batch.size()), nb = product(b_batch, 0, b_batch.size());
  Shape li_shape = lhs_indices ? lhs_indices->shape() : a_batch;
  Shape ri_shape = rhs_indices ? rhs_indices->shape() : b_batch;
  Shape batch = broadcast_or_throw("gather_mm", li_shape, ri_shape, "lhs_indices and rhs_indices");
  int64_t n_out = product(batch, 0, batch.size());

  // Two compositions. Gathered: take the indexed matrices (copies of
  // n_out matrices per indexed operand) and multiply them pairwise:
  // n_out M K N multiply-adds, memory-bound when M is small. All pairs:
  // multiply every matrix of a with every one of b (na nb M K N
  // multiply-adds in nb large gemms, and an na nb M N intermediate), then
  // take the wanted products. The second wins when the indices reuse few
  // matrices many times, as in mixture-of-experts layers (x (T, 1, 1, D)
  // against E experts): it reads each expert once instead of copying one
  // per token.
  double gathered = double(n_out) * M * K * N +
                    kMoveCost * n_out * ((lhs_indices ? M * K : 0) + (rhs_indices ? K * N : 0));
  double pairs = double(na) * nb * M * K * N + kMoveCost * double(na) * nb * M * N;
  array out = [&] {
    auto a3 = reshape(a, {na, M, K}, st), b3 = reshape(b, {nb, K, N}, st);
    if (gathered <= pairs) {
      auto ag = lhs_indices ? take(a3, *lhs_indices, 0, st) : a;
      auto bg = rhs_indices ? take(b3, *rhs_indices, 0, st) : b;
      return matmul(ag, bg, st);
    }
    auto flat = [&](const std::optional<array>& idx, const Shape& own, int64_t n) {
      return idx ? astype(*idx, int64, st) : reshape(arange(0, double(n), 1, int64, st), own, st);
    };
    auto li = flat(lhs_indices, a_batch, na), ri = flat(rhs_indices, b_batch, nb);
    // (na M, K) @ (nb, K, N) -> (nb, na M, N): product (j, i) at row j na + i.
    auto all = reshape(matmul(reshape(a3, {na * M, K}, st), b3, st), {nb * na, M, N}, st);
    auto idx = add(multiply(ri, weak_scalar(na, int64), st), li, st);
    return take(all, idx, 0, st);
  }();
  return unvector(out, a_vec, b_vec, st);
}

array segmented_mm(const array& a_in, const array& b_in, const array& segments, StreamOrDevice s) {
  if (a_in.ndim() != 2 || b_in.ndim() != 2) {
    throw std::invalid_argument(
        "[segmented_mm] a and b must be matrices (batched products are not supported), got "
        "shapes " +
        shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  }
  if (segments.ndim() < 1 || segments.shape(-1) != 2) {
    throw std::invalid_argument(
        "[segmented_mm] segments must have shape (..., 2) of (start, end) pairs, got " +
        shape_str(segments.shape()));
  }
  if (!is_integral(segments.dtype())) {
    throw std::invalid_argument(std::string("[segmented_mm] segments must be integers, got ") +
                                segments.dtype().name());
  }
  Stream st = to_stream(s);
  Dtype t = float_operands("segmented_mm", {a_in, b_in});
  array a = cast(a_in, t, st), b = cast(b_in, t, st);
  bool a_vec, b_vec;
  as_matrices("segmented_mm", a, b, a_vec, b_vec, st);
  int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  // Segment j keeps the k with start_j <= k < end_j; the other columns of a
  // (or rows of b, whichever operand is smaller) are zeroed, and one
  // batched product gives every segment: S min(M, N) K elements of masked
  // copies and S M K N multiply-adds for S segments, instead of the M K N
  // a kernel walking each segment's range would need.
  int last = segments.ndim() - 1;
  auto bound = [&](int64_t i) {
    std::vector<std::optional<int64_t>> b0(segments.ndim()), e0(segments.ndim());
    b0[last] = i;
    e0[last] = i + 1;
    return astype(slice(segments, b0, e0, {}, st), int64, st);  // (S..., 1)
  };
  auto k = arange(0, double(K), 1, int64, st);
  auto keep = logical_and(greater_equal(k, bound(0), st), less(k, bound(1), st), st);  // (S..., K)
  auto zero = weak_scalar(0.0, t);
  array out = M <= N ? matmul(where(expand_dims(keep, {-2}, st), a, zero, st), b, st)
                     : matmul(a, where(expand_dims(keep, {-1}, st), b, zero, st), st);
  return out;
}

array block_masked_mm(const array& a_in, const array& b_in, int block_size,
                      const std::optional<array>& mask_out, const std::optional<array>& mask_lhs,
                      const std::optional<array>& mask_rhs, StreamOrDevice s) {
  if (!mask_out && !mask_lhs && !mask_rhs) return matmul(a_in, b_in, s);
  if (block_size < 1) {
    throw std::invalid_argument("[block_masked_mm] block_size must be positive, got " +
                                std::to_string(block_size));
  }
  Stream st = to_stream(s);
  Dtype t = float_operands("block_masked_mm", {a_in, b_in});
  array a = cast(a_in, t, st), b = cast(b_in, t, st);
  bool a_vec, b_vec;
  as_matrices("block_masked_mm", a, b, a_vec, b_vec, st);
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  Shape batch = broadcast_or_throw("block_masked_mm", batch_of(a), batch_of(b),
                                   "the batch shapes of a and b");
  auto blocks = [&](int64_t n) { return (n + block_size - 1) / block_size; };
  // Each mask entry is repeated over its block (a broadcast, materialized
  // by the reshape: one mask element per element of the masked matrix),
  // then applies: false zeroes (a select, so inf or NaN there do not
  // leak), a float scales. The product itself is computed in full, so
  // masking saves no work here, unlike MLX's Metal kernel.
  auto apply = [&](const std::optional<array>& mask, const char* name, const array& x, int64_t rows,
                   int64_t cols) {
    if (!mask) return x;
    if (mask->dtype() != bool_ && !is_floating(mask->dtype())) {
      throw std::invalid_argument(std::string("[block_masked_mm] ") + name +
                                  " must be bool or floating, got " + mask->dtype().name());
    }
    int64_t ty = blocks(rows), tx = blocks(cols);
    Shape full = batch;
    full.insert(full.end(), {ty, tx});
    bool fits = mask->ndim() <= static_cast<int>(full.size());
    for (int i = 1; fits && i <= mask->ndim(); ++i) {
      int64_t d = mask->shape()[mask->ndim() - i];
      fits = d == full[full.size() - i] || d == 1;
    }
    if (!fits) {
      throw std::invalid_argument(std::string("[block_masked_mm] ") + name + " with shape " +
                                  shape_str(mask->shape()) + " must have shape " + shape_str(full) +
                                  " (one entry per block of " + std::to_string(block_size) + " x " +
                                  std::to_string(block_size) + "), or broadcast to it");
    }
    Shape spread = batch;
    spread.insert(spread.end(), {ty, block_size, tx, block_size});
    Shape merged = batch;
    merged.insert(merged.end(), {ty * block_size, tx * block_size});
    auto m = reshape(broadcast_to(expand_dims(*mask, {-3, -1}, st), spread, st), merged, st);
    if (ty * block_size != rows || tx * block_size != cols) {
      std::vector<std::optional<int64_t>> b0(m.ndim()), e0(m.ndim());
      e0[m.ndim() - 2] = rows;
      e0[m.ndim() - 1] = cols;
      m = slice(m, b0, e0, {}, st);
    }
    if (m.dtype() == bool_) return where(m, x, weak_scalar(0.0, t), st);
    return multiply(x, cast(m, t, st), st);
  };
  auto prod =
      matmul(apply(mask_lhs, "mask_lhs", a, M, K), apply(mask_rhs, "mask_rhs", b, K, N), st);
  return unvector(apply(mask_out, "mask_out", prod, M, N), a_vec, b_vec, st);
}

}  // namespace fastsync
