// The Python module: argument conversion and the docstring, nothing else.
// Arrays arrive and leave as fastsync arrays: this module shares fastsync's
// nanobind domain, so fastsync.array is the type registered there.
#include <fastsync/python/stream_arg.h>
#include <nanobind/nanobind.h>

#include "axpby.h"

namespace nb = nanobind;

NB_MODULE(_axpby, m) {
  m.doc() = "alpha * x + beta * y as one fastsync primitive";
  m.def(
      "axpby",
      [](const fastsync::array& x, const fastsync::array& y, double alpha, double beta,
         nb::handle stream) {
        return axpby_ext::axpby(x, y, alpha, beta, fastsync::py::to_stream_or_device(stream));
      },
      nb::arg("x"), nb::arg("y"), nb::arg("alpha"), nb::arg("beta"), nb::kw_only(),
      nb::arg("stream") = nb::none(),
      "alpha * x + beta * y, broadcast, in the inputs' promoted floating dtype.\n\n"
      "Args:\n"
      "    x, y: fastsync arrays.\n"
      "    alpha, beta: Python floats.\n"
      "    stream: None (the default stream), a Stream, a Device or a DeviceType.\n\n"
      "Differentiable (grad, vjp, jvp) and batched by vmap as one node.");
}
