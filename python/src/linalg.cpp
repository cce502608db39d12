// Bindings for matrix products: matmul, addmm, gather_mm, segmented_mm,
// block_masked_mm, einsum and einsum_path, and the @ operator on the array class (set here, so
// module.cpp must call init_linalg after init_array registered the class).
// Arguments are converted here; all checking happens in the C++ ops.
#include "ops/linalg.h"

#include <nanobind/stl/string.h>

#include "convert.h"
#include "ops/einsum.h"

namespace fastsync::py {

namespace {

// An optional array argument: None, or anything to_array converts.
std::optional<array> to_optional_array(nb::handle x) {
  if (x.is_none()) return std::nullopt;
  return to_array(x);
}

}  // namespace

void init_linalg(nb::module_& m) {
  m.def(
      "matmul",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return matmul(to_array(a), to_array(b), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Matrix product with NumPy's rules: a 1-D operand is a row (a) or a column (b) "
      "whose axis is dropped from the result, and leading axes broadcast. Floating "
      "dtypes only (integer and bool operands raise ValueError, as in MLX); float16 and "
      "bfloat16 compute in float32. Runs on OpenBLAS.");

  m.def(
      "addmm",
      [](nb::handle c, nb::handle a, nb::handle b, double alpha, double beta, nb::handle s) {
        array x = to_array(a), y = to_array(b);
        // A Python scalar addend takes the product's dtype (weak-scalar rule).
        array z =
            is_python_scalar(c) ? to_operand(c, promote_types(x.dtype(), y.dtype())) : to_array(c);
        return addmm(z, x, y, alpha, beta, to_stream_or_device(s));
      },
      nb::arg("c"), nb::arg("a"), nb::arg("b"), nb::arg("alpha") = 1.0, nb::arg("beta") = 1.0,
      nb::kw_only(), nb::arg("stream") = nb::none(),
      "beta * c + alpha * (a @ b), with c broadcast to the shape of a @ b; one BLAS call "
      "per matrix.");

  m.def(
      "gather_mm",
      [](nb::handle a, nb::handle b, nb::handle lhs_indices, nb::handle rhs_indices,
         bool sorted_indices, nb::handle s) {
        return gather_mm(to_array(a), to_array(b), to_optional_array(lhs_indices),
                         to_optional_array(rhs_indices), sorted_indices, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("lhs_indices") = nb::none(),
      nb::arg("rhs_indices") = nb::none(), nb::kw_only(), nb::arg("sorted_indices") = false,
      nb::arg("stream") = nb::none(),
      "Matrix products with a matrix-level gather: a[lhs_indices] @ b[rhs_indices], the "
      "indices flat over the batch axes of a (..., M, K) and b (..., K, N) and broadcast "
      "together; a missing index is arange over its operand's batch, in its shape. "
      "Composed of take and matmul: either the indexed matrices are gathered (copies) and "
      "multiplied pairwise, or, when the indices reuse few matrices (mixture-of-experts), "
      "every pair is multiplied in large gemms and the wanted products are taken; the "
      "cheaper is picked from the shapes. sorted_indices is accepted as a hint.");

  m.def(
      "segmented_mm",
      [](nb::handle a, nb::handle b, nb::handle segments, nb::handle s) {
        return segmented_mm(to_array(a), to_array(b), to_array(segments), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("segments"), nb::kw_only(),
      nb::arg("stream") = nb::none(),
      "a[:, start:end] @ b[start:end, :] for each (start, end) pair of segments (..., 2); "
      "a (M, K) and b (K, N) are matrices. Composed of a select and one batched matmul: "
      "S segments cost S * M * K * N multiply-adds.");

  m.def(
      "block_masked_mm",
      [](nb::handle a, nb::handle b, int block_size, nb::handle mask_out, nb::handle mask_lhs,
         nb::handle mask_rhs, nb::handle s) {
        return block_masked_mm(to_array(a), to_array(b), block_size, to_optional_array(mask_out),
                               to_optional_array(mask_lhs), to_optional_array(mask_rhs),
                               to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("block_size") = 64, nb::arg("mask_out") = nb::none(),
      nb::arg("mask_lhs") = nb::none(), nb::arg("mask_rhs") = nb::none(), nb::kw_only(),
      nb::arg("stream") = nb::none(),
      "a @ b with block_size x block_size blocks of a (mask_lhs: (..., ceil(M / bs), "
      "ceil(K / bs))), b (mask_rhs) and the product (mask_out) masked: a bool mask zeroes "
      "blocks, a floating one scales them. Any positive block_size (MLX takes 32 or 64). "
      "The masks are expanded and applied elementwise around a full matmul: no work is "
      "skipped.");

  m.def(
      "einsum",
      [](const std::string& subscripts, nb::args operands, nb::handle s) {
        return einsum(subscripts, to_arrays(operands), to_stream_or_device(s));
      },
      nb::arg("subscripts"), nb::arg("operands"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Einstein summation over the operands, in NumPy's subscript syntax (letters, '...' "
      "for broadcast axes, implicit output without '->'). Contracts pairwise in the order "
      "einsum_path reports, each contraction one batched matmul (an elementwise product "
      "and a sum for integer dtypes).");

  m.def(
      "einsum_path",
      [](const std::string& subscripts, nb::args operands) {
        auto [path, report] = einsum_path(subscripts, to_arrays(operands));
        nb::list steps;
        for (const auto& step : path) {
          nb::list positions;
          for (int i : step) positions.append(i);
          steps.append(nb::tuple(positions));
        }
        return nb::make_tuple(steps, report);
      },
      nb::arg("subscripts"), nb::arg("operands"),
      "The contraction order einsum follows, as (path, report): path lists, step by "
      "step, the positions of the operands contracted (the result joins the end of the "
      "list); it is the path numpy.einsum_path picks with its greedy optimizer.");

  nb::object cls = m.attr("array");
  cls.attr("__matmul__") =
      nb::cpp_function([](const array& a, nb::handle other) { return matmul(a, to_array(other)); },
                       nb::scope(cls), nb::name("__matmul__"), nb::is_method());
  cls.attr("__rmatmul__") =
      nb::cpp_function([](const array& a, nb::handle other) { return matmul(to_array(other), a); },
                       nb::scope(cls), nb::name("__rmatmul__"), nb::is_method());
  // a @= b rebinds the array object, as the other in-place operators do.
  cls.attr("__imatmul__") = nb::cpp_function(
      [](nb::handle self, nb::handle other) {
        array& a = nb::cast<array&>(self);
        array r = matmul(a, to_array(other));
        if (r.dtype() != a.dtype() || r.shape() != a.shape()) {
          throw std::invalid_argument("[matmul] a @= b must keep a's shape and dtype");
        }
        a = r;
        return nb::borrow(self);
      },
      nb::scope(cls), nb::name("__imatmul__"), nb::is_method());
}

}  // namespace fastsync::py
