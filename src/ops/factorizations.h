// mx.linalg: norms, factorizations and solvers, with NumPy's and MLX's
// semantics. Matrix ops act on the last two axes and batch over the rest.
// They compute in float32, float64 or complex64: float16 and bfloat16
// inputs compute in float32 and their results are cast back; integer and
// bool inputs raise ValueError (as in MLX). The factorizations run on the
// CPU (LAPACK); on a GPU stream they raise NotImplementedError naming the op
// (pass stream=mx.cpu). Errors name the op: "[linalg.svd] ...".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "array.h"
#include "stream.h"

namespace fastsync::linalg {

// Vector norms (one axis: ord p, inf, -inf, 0) and matrix norms (two axes:
// "fro", "nuc", inf, -inf, 1, -1, 2, -2); ord absent is the 2-norm of the
// flattened axes. axis absent: all axes (then, with an ord, a must be 1-D
// or 2-D).
array norm(const array& a, std::optional<double> ord = {},
           const std::optional<std::vector<int>>& axis = {}, bool keepdims = false,
           StreamOrDevice s = {});
array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis = {},
           bool keepdims = false, StreamOrDevice s = {});

std::vector<array> qr(const array& a, StreamOrDevice s = {});  // {Q, R}
std::vector<array> svd(const array& a, bool compute_uv = true, StreamOrDevice s = {});
array inv(const array& a, StreamOrDevice s = {});
array tri_inv(const array& a, bool upper = false, StreamOrDevice s = {});
array pinv(const array& a, StreamOrDevice s = {});
array cholesky(const array& a, bool upper = false, StreamOrDevice s = {});
array cholesky_inv(const array& factor, bool upper = false, StreamOrDevice s = {});
array cross(const array& a, const array& b, int axis = -1, StreamOrDevice s = {});
std::vector<array> eig(const array& a, StreamOrDevice s = {});  // {w, V}
array eigvals(const array& a, StreamOrDevice s = {});
std::vector<array> eigh(const array& a, const std::string& uplo = "L", StreamOrDevice s = {});
array eigvalsh(const array& a, const std::string& uplo = "L", StreamOrDevice s = {});
std::vector<array> lu(const array& a, StreamOrDevice s = {});         // {P, L, U}
std::vector<array> lu_factor(const array& a, StreamOrDevice s = {});  // {LU, pivots}
array solve(const array& a, const array& b, StreamOrDevice s = {});
array solve_triangular(const array& a, const array& b, bool upper = false, StreamOrDevice s = {});
array det(const array& a, StreamOrDevice s = {});
std::vector<array> slogdet(const array& a, StreamOrDevice s = {});  // {sign, log|det|}

}  // namespace fastsync::linalg
