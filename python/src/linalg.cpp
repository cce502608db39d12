// Bindings for matrix products: matmul, addmm and the @ operator on the
// array class (set here, after init_array registered the class, so the
// array bindings need no edit). Arguments are converted here; all checking
// happens in the C++ ops.
#include "convert.h"
#include "ops/linalg.h"
#include "registry.h"

namespace fastsync::py {

namespace {

array operand(nb::handle x) { return array_from_object(x, std::nullopt); }

void init_linalg(nb::module_& m) {
  m.def("matmul", [](nb::handle a, nb::handle b, nb::handle s) {
    return matmul(operand(a), operand(b), to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "Matrix product with NumPy's rules: a 1-D operand is a row (a) or a column (b) "
        "whose axis is dropped from the result, and leading axes broadcast. Floating "
        "dtypes only (integer and bool operands raise ValueError, as in MLX); float16 and "
        "bfloat16 compute in float32. Runs on OpenBLAS.");

  m.def("addmm", [](nb::handle c, nb::handle a, nb::handle b, double alpha, double beta,
                    nb::handle s) {
    array x = operand(a), y = operand(b);
    // A Python scalar addend takes the product's dtype (weak-scalar rule).
    array z = is_python_scalar(c) ? to_operand(c, promote_types(x.dtype(), y.dtype()))
                                  : operand(c);
    return addmm(z, x, y, alpha, beta, to_stream_or_device(s));
  }, nb::arg("c"), nb::arg("a"), nb::arg("b"), nb::arg("alpha") = 1.0, nb::arg("beta") = 1.0,
        nb::kw_only(), nb::arg("stream") = nb::none(),
        "beta * c + alpha * (a @ b), with c broadcast to the shape of a @ b; one BLAS call "
        "per matrix.");

  nb::object cls = m.attr("array");
  cls.attr("__matmul__") = nb::cpp_function(
      [](const array& a, nb::handle other) { return matmul(a, operand(other)); },
      nb::scope(cls), nb::name("__matmul__"), nb::is_method());
  cls.attr("__rmatmul__") = nb::cpp_function(
      [](const array& a, nb::handle other) { return matmul(operand(other), a); },
      nb::scope(cls), nb::name("__rmatmul__"), nb::is_method());
}

}  // namespace

static Registrar reg(init_linalg);

}  // namespace fastsync::py
