// Bindings for dtypes, devices, streams, evaluation and memory functions.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <memory>

#include "allocator.h"
#include "backend/backend.h"
#include "backend/cpu/profile.h"
#include "convert.h"
#include "errors.h"
#include "format.h"
#include "gil.h"
#include "graph.h"
#ifdef FASTSYNC_CUDA
#include "backend/cuda/profile.h"
#endif
#include "timeline.h"
#include "transforms.h"

namespace fastsync::py {

namespace {

// Arrays found in nested lists, tuples and dicts; anything else is ignored.
void collect(nb::handle obj, std::vector<array>& out) {
  if (nb::isinstance<array>(obj)) {
    out.push_back(nb::cast<array>(obj));
  } else if (nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) {
    for (auto h : obj) collect(h, out);
  } else if (nb::isinstance<nb::dict>(obj)) {
    for (auto [k, v] : nb::borrow<nb::dict>(obj)) collect(v, out);
  }
}

std::vector<array> collect_args(nb::args args) {
  std::vector<array> out;
  for (auto h : args) collect(h, out);
  return out;
}

Device to_device(nb::handle d) {
  if (nb::isinstance<Device>(d)) return nb::cast<Device>(d);
  return Device(nb::cast<Device::Type>(d));
}

// `with mx.stream(s):` — a thread-local default stream.
struct StreamScope {
  StreamOrDevice target;
  std::unique_ptr<StreamContext> ctx;
};

}  // namespace

void init_runtime(nb::module_& m) {
  nb::class_<Dtype>(m, "Dtype", "An array element type.")
      .def_prop_ro("size", &Dtype::size, "Size of one element in bytes.")
      .def_prop_ro("name", [](const Dtype& d) { return std::string(d.name()); })
      .def("__repr__", [](const Dtype& d) { return std::string("fastsync.") + d.name(); })
      .def("__eq__",
           [](const Dtype& a, nb::handle b) {
             return nb::isinstance<Dtype>(b) && nb::cast<Dtype>(b) == a;
           })
      .def("__hash__", [](const Dtype& d) { return static_cast<int>(d.val); });
  const std::pair<const char*, Dtype> dtypes[] = {
      {"bool_", bool_},     {"uint8", uint8},        {"uint16", uint16},     {"uint32", uint32},
      {"uint64", uint64},   {"int8", int8},          {"int16", int16},       {"int32", int32},
      {"int64", int64},     {"float16", float16},    {"bfloat16", bfloat16}, {"float32", float32},
      {"float64", float64}, {"complex64", complex64}};
  for (auto& [name, d] : dtypes) m.attr(name) = nb::cast(d);

  nb::enum_<Device::Type>(m, "DeviceType")
      .value("cpu", Device::Type::cpu)
      .value("gpu", Device::Type::gpu);
  m.attr("cpu") = m.attr("DeviceType").attr("cpu");
  m.attr("gpu") = m.attr("DeviceType").attr("gpu");

  nb::class_<Device>(m, "Device")
      .def(nb::init<Device::Type, int>(), nb::arg("type"), nb::arg("index") = 0)
      .def_ro("type", &Device::type)
      .def_ro("index", &Device::index)
      .def("__repr__", &Device::str)
      .def(
          "__eq__",
          [](const Device& a, nb::handle b) {
            if (nb::isinstance<Device::Type>(b)) return a.type == nb::cast<Device::Type>(b);
            return nb::isinstance<Device>(b) && nb::cast<Device>(b) == a;
          },
          nb::arg("other").none());
  nb::implicitly_convertible<Device::Type, Device>();

  nb::class_<Stream>(m, "Stream", "A device plus an index; work on one stream runs in order.")
      .def_ro("index", &Stream::index)
      .def_ro("device", &Stream::device)
      .def("__repr__", &Stream::str)
      .def(
          "__eq__",
          [](const Stream& a, nb::handle b) {
            return nb::isinstance<Stream>(b) && nb::cast<Stream>(b) == a;
          },
          nb::arg("other").none())
      .def("__hash__", [](const Stream& s) { return s.index; });

  m.def("default_device", &default_device);
  m.def(
      "set_default_device", [](nb::handle d) { set_default_device(to_device(d)); },
      nb::arg("device"));
  m.def(
      "default_stream", [](nb::handle d) { return default_stream(to_device(d)); },
      nb::arg("device"));
  m.def("set_default_stream", &set_default_stream, nb::arg("stream"));
  m.def(
      "new_stream", [](nb::handle d) { return new_stream(to_device(d)); }, nb::arg("device"),
      "A new stream on `device`; its work runs concurrently with other streams'.");
  m.def(
      "is_available",
      [](nb::handle d) { return to_device(d).type == Device::Type::cpu || gpu_available(); },
      nb::arg("device"));

  m.def(
      "set_printoptions",
      [](std::optional<int> precision) { set_print_precision(precision.value_or(-1)); },
      nb::arg("precision") = nb::none(),
      "Digits after the point when arrays print (None: six significant digits).");
  m.def("get_printoptions", [] {
    nb::dict d;
    int p = print_precision();
    d["precision"] = p < 0 ? nb::none() : nb::cast(p);
    return d;
  });
  m.def(
      "export_to_dot",
      [](nb::handle file, nb::args arrays) { file.attr("write")(to_dot(collect_args(arrays))); },
      nb::arg("file"), nb::arg("arrays"),
      "Write the graph behind the arrays to `file` in Graphviz's DOT language.");
  m.def(
      "_gpu_profile",
      [](std::optional<bool> enable) {
#ifdef FASTSYNC_CUDA
        nb::dict out;
        for (const auto& [name, t] : cuda::profile::report()) {
          out[name.c_str()] = nb::make_tuple(t.count, t.gpu_ms, t.host_ms);
        }
        if (enable) cuda::profile::enable(*enable);
        return out;
#else
        (void)enable;
        throw not_implemented("[gpu_profile] this build has no CUDA backend");
        return nb::dict();
#endif
      },
      nb::arg("enable") = nb::none(),
      "Per-primitive GPU profile since the last call: {name: (count, gpu ms, host ms)}; "
      "waits for the GPU. enable=True/False switches recording (FASTSYNC_GPU_PROFILE=1 starts "
      "it on).");
  m.def(
      "_cpu_profile",
      [](std::optional<bool> enable) {
        nb::dict out;
        for (const auto& [name, t] : cpu::profile::report()) {
          out[name.c_str()] = nb::make_tuple(t.count, t.run_ms, t.host_ms);
        }
        if (enable) cpu::profile::enable(*enable);
        return out;
      },
      nb::arg("enable") = nb::none(),
      "Per-primitive CPU profile since the last call: {name: (count, compute ms on the "
      "stream workers, host ms encoding)}. enable=True/False switches recording "
      "(FASTSYNC_CPU_PROFILE=1 starts it on); the caller synchronizes first.");
  m.def("_trace_start", &timeline::start, nb::arg("path"),
        "Begins recording a timeline trace into path (fastsync.trace).");
  m.def("_prepare_exit", &exit_gate::prepare_exit,
        "At interpreter exit (an atexit hook): threads still inside a call that released the "
        "GIL park when they leave it, rather than being unwound by finalization (gil.h).");
  m.def("_trace_stop", &timeline::stop, nb::call_guard<ReleaseGil>(),
        "Stops recording, writes the trace file and returns its path.");
  m.def("_graph_ops", &op_counts, nb::arg("outputs"),
        "The unevaluated nodes behind outputs, counted by primitive name.");
  m.def(
      "_backend_counters",
      [](nb::handle d) {
        nb::dict out;
        for (const auto& [name, n] : backend(to_device(d).type).counters()) out[name.c_str()] = n;
        return out;
      },
      nb::arg("device"),
      "The backend's event counts since start, e.g. the GPU's graph_launches and "
      "graph_instantiations.");
  m.def(
      "device_count", [](nb::handle d) { return backend(to_device(d).type).device_count(); },
      nb::arg("device"), "How many devices of this type there are (the CPU is one).");
  m.def(
      "device_info",
      [](nb::handle d) {
        Device dev = d.is_none() ? default_device() : to_device(d);
        Backend& b = backend(dev.type);
        if (dev.index < 0 || dev.index >= b.device_count()) {
          throw std::invalid_argument("[device_info] no such device: " + dev.str());
        }
        nb::dict info;
        for (auto& [k, v] : b.device_info(dev.index)) info[k.c_str()] = nb::cast(v);
        return info;
      },
      nb::arg("device") = nb::none(),
      "A dict describing the device: device_name, architecture, memory_size, ...");
  // mx.cuda and mx.metal answer truthfully; Metal is never available here.
  nb::module_ cuda = m.def_submodule("cuda", "The CUDA backend.");
  cuda.def(
      "is_available", [] { return gpu_available(); },
      "Whether a CUDA GPU can be used (this build has the backend and a device exists).");
  nb::module_ metal = m.def_submodule("metal", "Apple's Metal backend: not built in fastsync.");
  metal.def("is_available", [] { return false; }, "Always False: fastsync has no Metal backend.");

  nb::class_<StreamScope>(m, "StreamContext")
      .def("__enter__", [](StreamScope& s) { s.ctx = std::make_unique<StreamContext>(s.target); })
      .def("__exit__", [](StreamScope& s, nb::args) { s.ctx.reset(); });
  m.def(
      "stream", [](nb::handle s) { return StreamScope{to_stream_or_device(s), nullptr}; },
      nb::arg("s"),
      "Context manager: ops in the block default to stream (or device) `s`, on this thread.");

  m.def(
      "eval",
      [](nb::args args) {
        auto arrays = collect_args(args);
        ReleaseGil nogil;
        eval(std::move(arrays));
      },
      "Evaluate arrays (nested in lists, tuples and dicts; other objects are ignored) and "
      "wait for them.");
  m.def(
      "async_eval",
      [](nb::args args) {
        auto arrays = collect_args(args);
        ReleaseGil nogil;
        async_eval(std::move(arrays));
      },
      "Start evaluating arrays and return at once; reading them waits.");
  m.def(
      "synchronize",
      [](nb::handle s) {
        auto where = to_stream_or_device(s);
        ReleaseGil nogil;
        if (auto* st = std::get_if<Stream>(&where)) {
          synchronize(*st);
        } else if (auto* d = std::get_if<Device>(&where)) {
          synchronize(*d);
        } else {
          synchronize();
        }
      },
      nb::arg("stream") = nb::none(),
      "Wait for all work on `stream`: a Stream, every stream of a Device (or DeviceType), or "
      "every stream when None; raises a task's error.");

  // Memory functions report on the default device's allocator (device
  // memory when the default device is the GPU), as MLX's do.
  auto mem = []() -> allocator::Allocator& { return memory_allocator(default_device()); };
  m.def(
      "get_active_memory", [mem] { return mem().active_memory(); },
      "Bytes in live arrays on the default device.");
  m.def("get_peak_memory", [mem] { return mem().peak_memory(); });
  m.def("reset_peak_memory", [mem] { mem().reset_peak_memory(); });
  m.def("get_cache_memory", [mem] { return mem().cache_memory(); });
  m.def("get_memory_limit", [mem] { return mem().memory_limit(); });
  m.def(
      "set_memory_limit", [mem](size_t limit) { return mem().set_memory_limit(limit); },
      nb::arg("limit"),
      "Cap on active memory of the default device: past it, evaluation waits for running "
      "work before encoding more. Returns the previous limit.");
  m.def(
      "set_cache_limit", [mem](size_t limit) { return mem().set_cache_limit(limit); },
      nb::arg("limit"), "Cap on cached free buffers. Returns the previous limit.");
  m.def("clear_cache", [mem] { mem().clear_cache(); });
}

}  // namespace fastsync::py
