// The fastsync._core extension module.
//
// Every binding family lives in its own file and exports one
// init_<family>(m); this is the only place that calls them, in this order:
//   runtime      Dtype, Device, Stream, eval and memory functions: first,
//                so that later families may use these types (e.g. as
//                argument defaults).
//   array        the array class (operators, indexing, conversion out).
//   ops          the graph-building ops.
//   math         elementwise compositions and float functions.
//   rearrange    rearranging/combining ops, sort-based ops, windows.
//   linalg       matmul, addmm, and __matmul__/__rmatmul__ set on the array
//                class: after array.
//   conv         convolutions.
//   factorizations  the linalg submodule.
//   fft          the fft submodule.
//   random       the random submodule.
//   transforms   vjp/jvp/custom functions over flat lists (the tree-aware
//                transforms are in python/fastsync/_transforms.py).
//   distributed  the _distributed submodule (python/fastsync/distributed.py).
//   fast         the _fast submodule of fused kernels (python/fastsync/fast.py).
//   testing      the _testing submodule: only in builds with the test hooks
//                (FASTSYNC_BUILD_TESTS=ON defines FASTSYNC_TEST_HOOKS).
// A new family adds its file under python/src, a declaration and a call here.
#include <cstdlib>
#include <string>

#include "convert.h"
#include "errors.h"

namespace fastsync::py {
void init_runtime(nb::module_& m);
void init_array(nb::module_& m);
void init_ops(nb::module_& m);
void init_math(nb::module_& m);
void init_rearrange(nb::module_& m);
void init_linalg(nb::module_& m);
void init_conv(nb::module_& m);
void init_factorizations(nb::module_& m);
void init_fft(nb::module_& m);
void init_random(nb::module_& m);
void init_transforms(nb::module_& m);
void init_distributed(nb::module_& m);
void init_fast(nb::module_& m);
#ifdef FASTSYNC_TEST_HOOKS
void init_testing(nb::module_& m);
#endif
}  // namespace fastsync::py

NB_MODULE(_core, m) {
  using namespace fastsync;
  // nanobind's report of instances alive when the module is torn down counts
  // those Python still holds then (a module-level compiled function's cache
  // keys its traces by dtype): in a test run they are gone once the test
  // modules are cleared and collected, yet the report blamed our bindings.
  // FASTSYNC_LEAK_WARNINGS=1 turns it back on, to look for real leaks.
  const char* leaks = std::getenv("FASTSYNC_LEAK_WARNINGS");
  nb::set_leak_warnings(leaks && std::string(leaks) == "1");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const type_error& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const not_implemented& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const nb::cast_error&) {
      // An argument of the wrong Python type reached a conversion.
      PyErr_SetString(PyExc_TypeError, "an argument has a type this function cannot convert");
    }
  });
  py::init_runtime(m);
  py::init_array(m);
  py::init_ops(m);
  py::init_math(m);
  py::init_rearrange(m);
  py::init_linalg(m);
  py::init_conv(m);
  py::init_factorizations(m);
  py::init_fft(m);
  py::init_random(m);
  py::init_transforms(m);
  py::init_distributed(m);
  py::init_fast(m);
#ifdef FASTSYNC_TEST_HOOKS
  py::init_testing(m);
#endif
}
