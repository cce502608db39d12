// The fastsync._core extension module.
#include "convert.h"
#include "errors.h"
#include "registry.h"

namespace fastsync::py {
void init_runtime(nb::module_& m);
void init_array(nb::module_& m);
void init_ops(nb::module_& m);
}  // namespace fastsync::py

NB_MODULE(_core, m) {
  using namespace fastsync;
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const type_error& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const not_implemented& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    }
  });
  py::init_runtime(m);
  py::init_array(m);
  py::init_ops(m);
  for (auto f : py::registered_inits()) f(m);
}
