// Bindings for the linalg submodule (ops/factorizations.h): argument
// conversion and docstrings only. Tuple results come back as Python tuples.
#include "ops/factorizations.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "errors.h"

namespace fastsync::py {

namespace {

nb::tuple as_tuple(const std::vector<array>& xs) {
  nb::list out;
  for (const array& x : xs) out.append(nb::cast(x));
  return nb::tuple(out);
}

}  // namespace

void init_factorizations(nb::module_& m) {
  nb::module_ l = m.def_submodule(
      "linalg",
      "Norms, factorizations and solvers (LAPACK on the CPU). The factorizations have no GPU "
      "kernels yet: call them with stream=mx.cpu.");

  l.def(
      "norm",
      [](nb::handle a, nb::handle ord, nb::handle axis, bool keepdims, nb::handle s) {
        array x = to_array(a);
        auto axes = to_axes(axis);
        if (nb::isinstance<nb::str>(ord)) {
          return linalg::norm(x, nb::cast<std::string>(ord), axes, keepdims,
                              to_stream_or_device(s));
        }
        std::optional<double> p;
        if (!ord.is_none()) {
          if (!nb::isinstance<nb::int_>(ord) && !nb::isinstance<nb::float_>(ord)) {
            throw type_error("[linalg.norm] ord must be None, a number, 'fro' or 'nuc'");
          }
          p = nb::cast<double>(ord);
        }
        return linalg::norm(x, p, axes, keepdims, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("ord") = nb::none(), nb::arg("axis") = nb::none(),
      nb::arg("keepdims") = false, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Vector or matrix norm with NumPy's semantics: one axis takes a vector ord (p, inf, "
      "-inf, 0), two axes a matrix ord ('fro', 'nuc', 1, -1, 2, -2, inf, -inf); ord None "
      "is the 2-norm of the flattened axes.");

  l.def(
      "qr",
      [](nb::handle a, nb::handle s) {
        return as_tuple(linalg::qr(to_array(a), to_stream_or_device(s)));
      },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "(Q, R) with a = Q @ R, Q (..., M, K) orthonormal columns, R (..., K, N) upper "
      "triangular, K = min(M, N).");

  l.def(
      "svd",
      [](nb::handle a, bool compute_uv, nb::handle s) -> nb::object {
        auto out = linalg::svd(to_array(a), compute_uv, to_stream_or_device(s));
        if (!compute_uv) return nb::cast(out[0]);
        return as_tuple(out);
      },
      nb::arg("a"), nb::arg("compute_uv") = true, nb::kw_only(), nb::arg("stream") = nb::none(),
      "(U, S, Vt) with a = U[:, :K] @ diag(S) @ Vt[:K], U (..., M, M), S (..., K) "
      "descending, Vt (..., N, N); S alone when compute_uv is False.");

  l.def(
      "inv",
      [](nb::handle a, nb::handle s) { return linalg::inv(to_array(a), to_stream_or_device(s)); },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Inverse of square matrices; a singular matrix raises ValueError when evaluated.");

  l.def(
      "tri_inv",
      [](nb::handle a, bool upper, nb::handle s) {
        return linalg::tri_inv(to_array(a), upper, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("upper") = false, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Inverse of triangular matrices (the lower triangle, or the upper one with "
      "upper=True; the other triangle is ignored).");

  l.def(
      "pinv",
      [](nb::handle a, nb::handle s) { return linalg::pinv(to_array(a), to_stream_or_device(s)); },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Moore-Penrose pseudo-inverse through the SVD; singular values below max(M, N) * "
      "eps * the largest count as zero.");

  l.def(
      "cholesky",
      [](nb::handle a, bool upper, nb::handle s) {
        return linalg::cholesky(to_array(a), upper, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("upper") = false, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Cholesky factor of Hermitian positive-definite matrices: L with a = L @ L^H (or U "
      "with a = U^H @ U when upper=True).");

  l.def(
      "cholesky_inv",
      [](nb::handle a, bool upper, nb::handle s) {
        return linalg::cholesky_inv(to_array(a), upper, to_stream_or_device(s));
      },
      nb::arg("L"), nb::arg("upper") = false, nb::kw_only(), nb::arg("stream") = nb::none(),
      "Inverse of a from its Cholesky factor.");

  l.def(
      "cross",
      [](nb::handle a, nb::handle b, int axis, nb::handle s) {
        return linalg::cross(to_array(a), to_array(b), axis, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("axis") = -1, nb::kw_only(),
      nb::arg("stream") = nb::none(), "Cross product of 3-vectors along axis.");

  l.def(
      "eig",
      [](nb::handle a, nb::handle s) {
        return as_tuple(linalg::eig(to_array(a), to_stream_or_device(s)));
      },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "(w, V): eigenvalues and right eigenvectors (columns, unit norm) of square "
      "matrices, complex64.");

  l.def(
      "eigvals",
      [](nb::handle a, nb::handle s) {
        return linalg::eigvals(to_array(a), to_stream_or_device(s));
      },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Eigenvalues of square matrices, complex64.");

  l.def(
      "eigh",
      [](nb::handle a, const std::string& uplo, nb::handle s) {
        return as_tuple(linalg::eigh(to_array(a), uplo, to_stream_or_device(s)));
      },
      nb::arg("a"), nb::arg("UPLO") = "L", nb::kw_only(), nb::arg("stream") = nb::none(),
      "(w, V) of Hermitian matrices read from the UPLO triangle: real eigenvalues "
      "ascending, eigenvectors as columns.");

  l.def(
      "eigvalsh",
      [](nb::handle a, const std::string& uplo, nb::handle s) {
        return linalg::eigvalsh(to_array(a), uplo, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("UPLO") = "L", nb::kw_only(), nb::arg("stream") = nb::none(),
      "Eigenvalues (ascending) of Hermitian matrices read from the UPLO triangle.");

  l.def(
      "lu",
      [](nb::handle a, nb::handle s) {
        return as_tuple(linalg::lu(to_array(a), to_stream_or_device(s)));
      },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "(P, L, U) with L[P] @ U = a: P the row permutation (int32), L (..., M, K) unit "
      "lower triangular, U (..., K, N) upper triangular.");

  l.def(
      "lu_factor",
      [](nb::handle a, nb::handle s) {
        return as_tuple(linalg::lu_factor(to_array(a), to_stream_or_device(s)));
      },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "(LU, pivots) as LAPACK's getrf: L below the diagonal, U on and above, pivots the "
      "0-based row swaps (int32).");

  l.def(
      "solve",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return linalg::solve(to_array(a), to_array(b), to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "x with a @ x = b; b is (..., N) for 1-D b, else (..., N, K); batch axes "
      "broadcast.");

  l.def(
      "solve_triangular",
      [](nb::handle a, nb::handle b, bool upper, nb::handle s) {
        return linalg::solve_triangular(to_array(a), to_array(b), upper, to_stream_or_device(s));
      },
      nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("upper") = false,
      nb::arg("stream") = nb::none(), "solve for triangular a (lower, or upper=True).");

  l.def(
      "det",
      [](nb::handle a, nb::handle s) { return linalg::det(to_array(a), to_stream_or_device(s)); },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "Determinant of square matrices (through the LU factorization).");

  l.def(
      "slogdet",
      [](nb::handle a, nb::handle s) {
        return as_tuple(linalg::slogdet(to_array(a), to_stream_or_device(s)));
      },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "(sign, log|det|) of square matrices.");
}

}  // namespace fastsync::py
