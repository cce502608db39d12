// Binding files register their init function here with a static Registrar,
// so adding a family of bindings touches no shared file. module.cpp runs the
// registered functions after the core ones (array, runtime, ops).
#pragma once

#include <nanobind/nanobind.h>

#include <vector>

namespace fastsync::py {

using InitFn = void (*)(nanobind::module_&);

inline std::vector<InitFn>& registered_inits() {
  static std::vector<InitFn> inits;  // filled during static initialization
  return inits;
}

struct Registrar {
  explicit Registrar(InitFn f) { registered_inits().push_back(f); }
};

}  // namespace fastsync::py
