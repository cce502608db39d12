// Bindings for fastsync._core._testing: hooks for fastsync's own tests (see
// src/testing/testing.h). CMake compiles this file, and module.cpp calls
// init_testing, only when FASTSYNC_BUILD_TESTS is ON (FASTSYNC_TEST_HOOKS).
#include <nanobind/stl/string.h>

#include "convert.h"
#include "testing/testing.h"

namespace fastsync::py {

void init_testing(nb::module_& m) {
  nb::module_ t = m.def_submodule("_testing", "Hooks for fastsync's own tests.");
  t.def("fail_in_task", [](const array& a, const std::string& msg, nb::handle s) {
    return fail_in_task(a, msg, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("message"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "An op whose compute task raises RuntimeError(message) on the worker thread.");
  t.def("fail_in_encode", [](const array& a, const std::string& msg, nb::handle s) {
    return fail_in_encode(a, msg, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("message"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "An op whose encoding raises RuntimeError(message) before it declares anything.");
  t.def("stall", [](const array& a, int64_t microseconds, nb::handle s) {
    return stall(a, microseconds, to_stream_or_device(s));
  }, nb::arg("a"), nb::arg("microseconds"), nb::kw_only(), nb::arg("stream") = nb::none(),
        "A row-contiguous copy of a, made after its stream stood still for `microseconds`: "
        "work queued behind it waits, so the host runs that far ahead of the stream.");
}

}  // namespace fastsync::py
