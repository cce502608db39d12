// Bindings for matrix products: matmul, addmm and the @ operator on the
// array class (set here, so module.cpp must call init_linalg after
// init_array registered the class). Arguments are converted here; all
// checking happens in the C++ ops.
#include "convert.h"
#include "ops/linalg.h"

namespace fastsync::py {

void init_linalg(nb::module_& m) {
  m.def("matmul", [](nb::handle a, nb::handle b, nb::handle s) {
    return matmul(to_array(a), to_array(b), to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("b"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "Matrix product with NumPy's rules: a 1-D operand is a row (a) or a column (b) "
        "whose axis is dropped from the result, and leading axes broadcast. Floating "
        "dtypes only (integer and bool operands raise ValueError, as in MLX); float16 and "
        "bfloat16 compute in float32. Runs on OpenBLAS.");

  m.def("addmm", [](nb::handle c, nb::handle a, nb::handle b, double alpha, double beta,
                    nb::handle s) {
    array x = to_array(a), y = to_array(b);
    // A Python scalar addend takes the product's dtype (weak-scalar rule).
    array z = is_python_scalar(c) ? to_operand(c, promote_types(x.dtype(), y.dtype()))
                                  : to_array(c);
    return addmm(z, x, y, alpha, beta, to_stream_or_device(s));
  }, nb::arg("c"), nb::arg("a"), nb::arg("b"), nb::arg("alpha") = 1.0, nb::arg("beta") = 1.0,
        nb::kw_only(), nb::arg("stream") = nb::none(),
        "beta * c + alpha * (a @ b), with c broadcast to the shape of a @ b; one BLAS call "
        "per matrix.");

  nb::object cls = m.attr("array");
  cls.attr("__matmul__") = nb::cpp_function(
      [](const array& a, nb::handle other) { return matmul(a, to_array(other)); },
      nb::scope(cls), nb::name("__matmul__"), nb::is_method());
  cls.attr("__rmatmul__") = nb::cpp_function(
      [](const array& a, nb::handle other) { return matmul(to_array(other), a); },
      nb::scope(cls), nb::name("__rmatmul__"), nb::is_method());
}

}  // namespace fastsync::py
