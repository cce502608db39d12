// Layout planning for the matrix products; see matmul_plan.h.
#include "backend/common/matmul_plan.h"

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "backend/common/strided.h"

namespace fastsync {

namespace {

// x (shape, strides) as the a (is_a) or b operand of a product with
// `nbatch` batch axes and inner dimension k.
MatmulOperand describe(const Shape& shape, const Strides& strides, bool is_a, int64_t k,
                       size_t nbatch) {
  int nd = static_cast<int>(shape.size());
  int64_t rows, cols, rs, cs;
  if (nd == 1) {
    // A 1-D a is one row, a 1-D b one column.
    rows = is_a ? 1 : k;
    cols = is_a ? k : 1;
    rs = is_a ? 0 : strides[0];
    cs = is_a ? strides[0] : 0;
  } else {
    rows = shape[nd - 2];
    cols = shape[nd - 1];
    rs = strides[nd - 2];
    cs = strides[nd - 1];
  }
  MatmulOperand op;
  // x's batch axes are right-aligned with the product's.
  op.batch_strides.assign(nbatch, 0);
  int xb = std::max(nd - 2, 0);
  for (int i = 0; i < xb; ++i) {
    if (shape[i] != 1) op.batch_strides[nbatch - xb + i] = strides[i];
  }
  op.layout = blas_layout(rows, cols, rs, cs);
  return op;
}

}  // namespace

std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cols == 1 || cs == 1) {
    int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    if (ld >= std::max<int64_t>(cols, 1) && ld <= INT_MAX) return BlasLayout{false, ld};
  }
  if (rows == 1 || rs == 1) {
    int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    if (ld >= std::max<int64_t>(rows, 1) && ld <= INT_MAX) return BlasLayout{true, ld};
  }
  return std::nullopt;
}

MatmulPlan plan_matmul(const array& a, const array& b, const Shape& out_shape) {
  MatmulPlan p;
  p.M = a.ndim() >= 2 ? a.shape(-2) : 1;
  p.K = a.shape(-1);
  p.N = b.ndim() >= 2 ? b.shape(-1) : 1;
  p.batch.assign(out_shape.begin(),
                 out_shape.end() - (a.ndim() >= 2 ? 1 : 0) - (b.ndim() >= 2 ? 1 : 0));
  p.a = describe(a.shape(), a.strides(), true, p.K, p.batch.size());
  p.b = describe(b.shape(), b.strides(), false, p.K, p.batch.size());
  p.rows = p.M;
  return p;
}

Shape matmul_staging_shape(const array& x) {
  Shape shape = x.shape();
  for (int i = 0; i + 2 < x.ndim(); ++i) {
    if (x.strides()[i] == 0) shape[i] = 1;
  }
  return shape;
}

void MatmulPlan::restage(bool is_a, const Shape& shape, const Strides& strides, const char* op) {
  MatmulOperand& o = operand(is_a);
  o = describe(shape, strides, is_a, K, batch.size());
  if (!o.layout) {
    throw std::runtime_error(std::string("[") + op +
                             "] internal error: a contiguous operand has no BLAS layout");
  }
}

void MatmulPlan::fold_batch() {
  rows = M;
  lda = a.layout->ld;
  folded = false;
  bool b_shared =
      std::all_of(b.batch_strides.begin(), b.batch_strides.end(), [](int64_t s) { return s == 0; });
  if (!b_shared || a.layout->trans || batch.empty()) return;
  // a's batch and row axes as one: a single gemm with M * batch rows, when
  // they merge into one evenly strided axis.
  Shape rows_shape = batch;
  rows_shape.push_back(M);
  Strides rows_strides = a.batch_strides;
  rows_strides.push_back(a.layout->ld);
  auto merged = make_plan<1>(rows_shape, {&rows_strides});
  int64_t all_rows = shape_size(rows_shape);
  if (merged.shape.size() != 1 || all_rows > INT_MAX) return;
  int64_t ld = all_rows > 1 ? merged.strides[0][0] : std::max<int64_t>(K, 1);
  if (ld >= std::max<int64_t>(K, 1) && ld <= INT_MAX) {
    rows = all_rows;
    lda = ld;
    folded = true;
  }
}

Shape MatmulPlan::gemm_batch() const { return folded ? Shape{} : batch; }

Strides MatmulPlan::c_batch_strides() const {
  Strides s = row_major_strides(gemm_batch());
  for (auto& st : s) st *= M * N;
  return s;
}

}  // namespace fastsync
