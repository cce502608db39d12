// Bindings for the function transforms (autodiff.h). Functions cross as
// callables over flat lists of arrays; python/fastsync/_transforms.py adds
// trees, argnums and the MLX call forms.
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>

#include "autodiff.h"
#include "convert.h"
#include "fuse.h"
#include "gil.h"
#include "ops/random.h"
#include "replay.h"
#include "vmap.h"

namespace fastsync::py {

namespace {

// A Python callable kept inside a graph node. The node may be freed on any
// thread, and on an eval's thread it is freed under the encoding lock: taking
// the GIL there would deadlock with a thread that holds the GIL and waits for
// that lock (grad, vmap and compile take it), and dropping the reference where
// the GIL is held could run a __del__ that evaluates under that lock. So the
// reference is always dropped later, by release_later (gil.h).
struct PyCallable {
  std::shared_ptr<PyObject> fn;
  explicit PyCallable(nb::object f) : fn(f.release().ptr(), release_later) {}
  nb::handle get() const { return nb::handle(fn.get()); }
};

std::vector<array> call_flat(const PyCallable& f, const std::vector<array>& xs) {
  nb::gil_scoped_acquire gil;
  nb::object r = f.get()(nb::cast(xs));
  return nb::cast<std::vector<array>>(r);
}

}  // namespace

void init_transforms(nb::module_& m) {
  m.def(
      "_fuse",
      [](const std::vector<array>& outputs) {
        FuseStats st = fuse(outputs);
        return std::make_pair(st.groups, st.removed);
      },
      nb::arg("outputs"),
      "Fuses elementwise chains in the unevaluated graph behind outputs (fuse.h); returns "
      "(fused nodes made, nodes removed).");
  nb::class_<compile_trace::Scope>(
      m, "_CompileTrace",
      "While open on this thread, evaluating pending arrays or reading the inputs' values "
      "raises, and keys drawn from the global random state are logged (replay.h).")
      .def(nb::init<const std::vector<array>&>(), nb::arg("inputs"))
      .def("close", &compile_trace::Scope::close,
           "Ends the trace; returns the global random keys drawn inside it.");
  nb::class_<Tape>(m, "_Tape", "A recorded graph from inputs to outputs, replayed per call.")
      .def(nb::init<const std::vector<array>&, const std::vector<array>&>(), nb::arg("inputs"),
           nb::arg("outputs"))
      .def("__call__", &Tape::operator(), nb::arg("inputs"), nb::arg("shapeless") = false)
      .def_static("signature", &Tape::signature, nb::arg("arrays"), nb::arg("shapeless"))
      .def_prop_ro("nodes", &Tape::nodes)
      .def_prop_ro("constants", &Tape::constants);
  m.def(
      "_global_keys",
      [](int n) {
        std::vector<array> keys;
        for (int i = 0; i < n; ++i) keys.push_back(random::next_global_key());
        return keys;
      },
      nb::arg("n"), "n keys drawn from the global random state.");
  m.def("_is_transforming", &autodiff::is_tracing,
        "True while grad, vjp, jvp or vmap traces a function on this thread.");
  m.def("_graph_nodes", &graph_nodes, nb::arg("outputs"),
        "Unevaluated nodes behind outputs: the tasks (CPU) or kernels (GPU) an eval issues.");
  m.def(
      "_vjp",
      [](nb::callable fun, const std::vector<array>& primals,
         const std::vector<array>& cotangents) {
        drain_released();
        PyCallable f(fun);
        return vjp([&](const std::vector<array>& xs) { return call_flat(f, xs); }, primals,
                   cotangents);
      },
      nb::arg("fun"), nb::arg("primals"), nb::arg("cotangents"),
      "vjp over a function of a list of arrays returning a list of arrays.");
  m.def(
      "_jvp",
      [](nb::callable fun, const std::vector<array>& primals, const std::vector<array>& tangents) {
        drain_released();
        PyCallable f(fun);
        return jvp([&](const std::vector<array>& xs) { return call_flat(f, xs); }, primals,
                   tangents);
      },
      nb::arg("fun"), nb::arg("primals"), nb::arg("tangents"),
      "jvp over a function of a list of arrays returning a list of arrays.");
  m.def(
      "_vmap",
      [](nb::callable fun, const std::vector<array>& inputs, const std::vector<int>& in_axes,
         const std::vector<int>& out_axes) {
        drain_released();
        PyCallable f(fun);
        return vmap([&](const std::vector<array>& xs) { return call_flat(f, xs); }, inputs, in_axes,
                    out_axes);
      },
      nb::arg("fun"), nb::arg("inputs"), nb::arg("in_axes"), nb::arg("out_axes"),
      "vmap over a function of a list of arrays returning a list of arrays (axis -1: not "
      "mapped).");
  m.def(
      "_custom_function",
      [](const std::vector<array>& inputs, const std::vector<array>& outputs,
         std::optional<nb::callable> vjp_fn, std::optional<nb::callable> jvp_fn) {
        drain_released();
        CustomVjp v;
        CustomJvp j;
        if (vjp_fn) {
          v = [f = PyCallable(*vjp_fn)](const std::vector<array>& p, const std::vector<array>& c,
                                        const std::vector<array>& o) {
            nb::gil_scoped_acquire gil;
            return nb::cast<std::vector<array>>(f.get()(nb::cast(p), nb::cast(c), nb::cast(o)));
          };
        }
        if (jvp_fn) {
          j = [f = PyCallable(*jvp_fn)](const std::vector<array>& p, const std::vector<array>& t) {
            nb::gil_scoped_acquire gil;
            return nb::cast<std::vector<array>>(f.get()(nb::cast(p), nb::cast(t)));
          };
        }
        return custom_function(inputs, outputs, std::move(v), std::move(j));
      },
      nb::arg("inputs"), nb::arg("outputs"), nb::arg("vjp").none(), nb::arg("jvp").none(),
      "Outputs equal to `outputs` whose derivatives come from the given rules (flat lists: "
      "vjp(primals, cotangents, outputs) -> one array per input; jvp(primals, tangents) -> "
      "one per output).");
  m.def(
      "stop_gradient",
      [](nb::handle a, nb::handle s) { return stop_gradient(to_array(a), to_stream_or_device(s)); },
      nb::arg("a"), nb::kw_only(), nb::arg("stream") = nb::none(),
      "The same values, through which no gradient flows.");
}

}  // namespace fastsync::py
