#include "ops/linalg.h"

#include <climits>
#include <string>

#include "ops/ops.h"
#include "primitives/linalg.h"

namespace fastsync {

namespace {


// MLX rejects integer and bool products rather than computing them in
// float; so do we, so MLX code behaves the same here.
Dtype float_operands(const char* op, const std::vector<array>& xs) {
  Dtype t = xs[0].dtype();
  for (size_t i = 1; i < xs.size(); ++i) t = promote_types(t, xs[i].dtype());
  if (!is_floating(t)) {
    std::string got;
    for (size_t i = 0; i < xs.size(); ++i) {
      got += std::string(i ? " and " : "") + xs[i].dtype().name();
    }
    throw std::invalid_argument(std::string("[") + op +
                                "] only floating point dtypes are supported, got " + got +
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

}  // namespace fastsync
