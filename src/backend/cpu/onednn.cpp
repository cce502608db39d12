// oneDNN's convolutions for the fused CPU kernels (onednn.h), through its C
// API (version 3, whose ABI is stable across 3.x), declared here by the
// values and signatures of dnnl.h so that building needs no oneDNN headers.
#include "backend/cpu/onednn.h"

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "dynlib.h"

namespace fastsync::cpu::onednn {

namespace {

// dnnl_common_types.h / dnnl_types.h.
constexpr int kSuccess = 0;
constexpr int kF32 = 3;
constexpr int kFormatAny = 1;
constexpr int kCpuEngine = 1;
constexpr unsigned kInOrder = 0x1;
constexpr int kForwardTraining = 64;
constexpr int kConvolutionDirect = 0x1;
constexpr int kQueryImplInfo = 8;
constexpr int kQueryWeights = 131, kQueryDiffWeights = 132;
constexpr int kArgSrc = 1, kArgDst = 17, kArgWeights = 33;
constexpr int kArgDiffSrc = 129, kArgDiffDst = 145, kArgDiffWeights = 161;
constexpr int kMaxDims = 12;  // DNNL_MAX_NDIMS

using Dims = int64_t[kMaxDims];
using Handle = void*;
using CHandle = const void*;
struct ExecArg {
  int arg;
  Handle memory;
};
struct Version {
  int major, minor, patch;
  const char* hash;
  unsigned cpu_runtime, gpu_runtime;
};

struct Api {
  int (*engine_create)(Handle*, int, size_t) = nullptr;
  int (*stream_create)(Handle*, Handle, unsigned) = nullptr;
  int (*stream_wait)(Handle) = nullptr;
  int (*md_with_strides)(Handle*, int, const int64_t*, int, const int64_t*) = nullptr;
  int (*md_with_tag)(Handle*, int, const int64_t*, int, int) = nullptr;
  int (*md_destroy)(Handle) = nullptr;
  int (*md_equal)(CHandle, CHandle) = nullptr;
  size_t (*md_size)(CHandle) = nullptr;
  int (*memory_create)(Handle*, CHandle, Handle, void*) = nullptr;
  int (*memory_destroy)(Handle) = nullptr;
  int (*conv_forward)(Handle*, Handle, int, int, CHandle, CHandle, CHandle, CHandle, const int64_t*,
                      const int64_t*, const int64_t*, const int64_t*, CHandle) = nullptr;
  int (*conv_backward_data)(Handle*, Handle, int, CHandle, CHandle, CHandle, const int64_t*,
                            const int64_t*, const int64_t*, const int64_t*, CHandle,
                            CHandle) = nullptr;
  int (*conv_backward_weights)(Handle*, Handle, int, CHandle, CHandle, CHandle, CHandle,
                               const int64_t*, const int64_t*, const int64_t*, const int64_t*,
                               CHandle, CHandle) = nullptr;
  int (*reorder)(Handle*, CHandle, Handle, CHandle, Handle, CHandle) = nullptr;
  CHandle (*query_md)(CHandle, int, int) = nullptr;
  int (*query)(CHandle, int, int, void*) = nullptr;
  int (*pd_destroy)(Handle) = nullptr;
  int (*primitive_create)(Handle*, CHandle) = nullptr;
  int (*execute)(CHandle, Handle, int, const ExecArg*) = nullptr;
  int (*primitive_destroy)(Handle) = nullptr;
  const Version* (*version)() = nullptr;
};

struct Loaded {
  Api api;
  Handle engine = nullptr;
  std::string name;
};

std::vector<dynlib::Candidate> candidates() {
  constexpr const char* kSoname = "libdnnl.so.3";
  std::vector<dynlib::Candidate> c;
  for (const auto& entry : dynlib::path_entries("FASTSYNC_ONEDNN_PATH")) {
    std::string file = entry.file(kSoname);
    if (dynlib::is_file(file)) c.push_back({file});
  }
  c.push_back({kSoname});
  return c;
}

std::variant<Loaded, std::string> load() {
  if (const char* env = std::getenv("FASTSYNC_ONEDNN"); env && std::string(env) == "0") {
    return std::string("FASTSYNC_ONEDNN=0");
  }
  Loaded l;
  Api& a = l.api;
  std::string why;
  auto lib = dynlib::load(
      candidates(),
      [&](dynlib::Symbols& s) {
        s.bind(a.engine_create, "dnnl_engine_create");
        s.bind(a.stream_create, "dnnl_stream_create");
        s.bind(a.stream_wait, "dnnl_stream_wait");
        s.bind(a.md_with_strides, "dnnl_memory_desc_create_with_strides");
        s.bind(a.md_with_tag, "dnnl_memory_desc_create_with_tag");
        s.bind(a.md_destroy, "dnnl_memory_desc_destroy");
        s.bind(a.md_equal, "dnnl_memory_desc_equal");
        s.bind(a.md_size, "dnnl_memory_desc_get_size");
        s.bind(a.memory_create, "dnnl_memory_create");
        s.bind(a.memory_destroy, "dnnl_memory_destroy");
        s.bind(a.conv_forward, "dnnl_convolution_forward_primitive_desc_create");
        s.bind(a.conv_backward_data, "dnnl_convolution_backward_data_primitive_desc_create");
        s.bind(a.conv_backward_weights, "dnnl_convolution_backward_weights_primitive_desc_create");
        s.bind(a.reorder, "dnnl_reorder_primitive_desc_create");
        s.bind(a.query_md, "dnnl_primitive_desc_query_md");
        s.bind(a.query, "dnnl_primitive_desc_query");
        s.bind(a.pd_destroy, "dnnl_primitive_desc_destroy");
        s.bind(a.primitive_create, "dnnl_primitive_create");
        s.bind(a.execute, "dnnl_primitive_execute");
        s.bind(a.primitive_destroy, "dnnl_primitive_destroy");
        s.bind(a.version, "dnnl_version");
      },
      {"oneDNN (libdnnl.so.3)", "fastsync needs oneDNN 3",
       "Install it with `pip install onednn-cpu-gomp`, or set FASTSYNC_ONEDNN_PATH to the "
       "directory that holds libdnnl.so.3; the CPU convolutions run on fastsync's own "
       "kernels meanwhile."},
      &why);
  if (!lib) return why;
  if (a.engine_create(&l.engine, kCpuEngine, 0) != kSuccess) {
    return "oneDNN (" + lib->path + ") could not create a CPU engine";
  }
  const Version* v = a.version();
  l.name = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " (" + lib->path + ")";
  return l;
}

// Loaded once, under the static's guard; never unloaded.
const std::variant<Loaded, std::string>& loaded() {
  static const std::variant<Loaded, std::string> l = load();
  return l;
}

const Loaded* library() { return std::get_if<Loaded>(&loaded()); }

void check(int status, const char* what) {
  if (status != kSuccess) {
    throw std::runtime_error(std::string("[conv] oneDNN ") + what + " failed with status " +
                             std::to_string(status));
  }
}

// One memory descriptor, destroyed with its owner.
struct Desc {
  Handle md = nullptr;
  Desc() = default;
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() {
    if (md) library()->api.md_destroy(md);
  }
};

// (N, C, *spatial) dims over a channels-last buffer.
bool image_desc(Desc& d, int dims, int64_t n, int64_t c, const int64_t* spatial) {
  Dims shape{}, strides{};
  shape[0] = n;
  shape[1] = c;
  int64_t s = c;
  for (int i = dims - 1; i >= 0; --i) {
    shape[i + 2] = spatial[i];
    strides[i + 2] = s;
    s *= spatial[i];
  }
  strides[0] = s;
  strides[1] = 1;
  return library()->api.md_with_strides(&d.md, dims + 2, shape, kF32, strides) == kSuccess;
}

// The weight (O, *kernel, C / G) as oneDNN's (O, I, *kernel), or
// (G, O / G, I, *kernel) with groups; or the same dims in any layout.
bool weight_desc(Desc& d, const ConvGeometry& g, int64_t c_out, int64_t cg, bool any) {
  Dims shape{}, strides{};
  const int lead = g.groups > 1 ? 1 : 0;
  const int nd = g.dims + 2 + lead;
  if (lead) shape[0] = g.groups;
  shape[lead] = c_out / g.groups;
  shape[lead + 1] = cg;
  int64_t s = cg;
  for (int i = g.dims - 1; i >= 0; --i) {
    shape[lead + 2 + i] = g.kernel[i];
    strides[lead + 2 + i] = s;
    s *= g.kernel[i];
  }
  strides[lead + 1] = 1;
  strides[lead] = s;
  if (lead) strides[0] = s * (c_out / g.groups);
  const Api& a = library()->api;
  if (any) return a.md_with_tag(&d.md, nd, shape, kF32, kFormatAny) == kSuccess;
  return a.md_with_strides(&d.md, nd, shape, kF32, strides) == kSuccess;
}

}  // namespace

struct Plan {
  Pass pass = Pass::forward;
  Handle hint = nullptr;  // the forward pass's descriptor, which the gradients are built from
  Handle pd = nullptr, prim = nullptr;
  Handle reorder_pd = nullptr, reorder = nullptr;  // plain <-> preferred weight layout
  Desc src, dst, weight;                           // images and the plain weight
  CHandle preferred = nullptr;                     // owned by pd
  size_t scratch = 0;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    const Api& a = library()->api;
    if (reorder) a.primitive_destroy(reorder);
    if (reorder_pd) a.pd_destroy(reorder_pd);
    if (prim) a.primitive_destroy(prim);
    if (pd) a.pd_destroy(pd);
    if (hint) a.pd_destroy(hint);
  }
};

namespace {

// Whether oneDNN takes the geometry, and its padding on both sides.
bool geometry_args(const ConvGeometry& g, Dims& strides, Dims& dilates, Dims& lo, Dims& hi) {
  if (g.flip) return false;
  for (int d = 0; d < g.dims; ++d) {
    const int64_t reach = (g.kernel[d] - 1) * g.kernel_dilation[d] + 1;
    const int64_t right = (g.out[d] - 1) * g.stride[d] + reach - g.in[d] - g.pad_lo[d];
    if (g.input_dilation[d] != 1 || g.pad_lo[d] < 0 || right < 0) return false;
    strides[d] = g.stride[d];
    dilates[d] = g.kernel_dilation[d] - 1;
    lo[d] = g.pad_lo[d];
    hi[d] = right;
  }
  return true;
}

std::shared_ptr<Plan> build(Pass pass, const ConvGeometry& g, int64_t n, int64_t c_in,
                            int64_t c_out) {
  const Loaded* l = library();
  const Api& a = l->api;
  Dims strides{}, dilates{}, lo{}, hi{};
  if (!geometry_args(g, strides, dilates, lo, hi)) return nullptr;
  auto p = std::make_shared<Plan>();
  p->pass = pass;
  Desc any;
  const int64_t cg = c_in / g.groups;
  if (!image_desc(p->src, g.dims, n, c_in, g.in) || !image_desc(p->dst, g.dims, n, c_out, g.out) ||
      !weight_desc(p->weight, g, c_out, cg, false) || !weight_desc(any, g, c_out, cg, true)) {
    return nullptr;
  }
  if (a.conv_forward(&p->hint, l->engine, kForwardTraining, kConvolutionDirect, p->src.md, any.md,
                     nullptr, p->dst.md, strides, dilates, lo, hi, nullptr) != kSuccess) {
    return nullptr;
  }
  int status = kSuccess;
  if (pass == Pass::forward) {
    std::swap(p->pd, p->hint);
  } else if (pass == Pass::input_grad) {
    status = a.conv_backward_data(&p->pd, l->engine, kConvolutionDirect, p->src.md, any.md,
                                  p->dst.md, strides, dilates, lo, hi, p->hint, nullptr);
  } else {
    status =
        a.conv_backward_weights(&p->pd, l->engine, kConvolutionDirect, p->src.md, any.md, nullptr,
                                p->dst.md, strides, dilates, lo, hi, p->hint, nullptr);
  }
  if (status != kSuccess) return nullptr;
  // oneDNN's reference kernels are slower than fastsync's own GEMM path.
  const char* impl = nullptr;
  if (a.query(p->pd, kQueryImplInfo, 0, &impl) != kSuccess || !impl ||
      std::string(impl).rfind("ref", 0) == 0) {
    return nullptr;
  }
  p->preferred =
      a.query_md(p->pd, pass == Pass::weight_grad ? kQueryDiffWeights : kQueryWeights, 0);
  if (!p->preferred) return nullptr;
  if (!a.md_equal(p->preferred, p->weight.md)) {
    const bool in = pass == Pass::weight_grad;  // out of the preferred layout
    check(a.reorder(&p->reorder_pd, in ? p->preferred : p->weight.md, l->engine,
                    in ? p->weight.md : p->preferred, l->engine, nullptr),
          "reorder descriptor");
    check(a.primitive_create(&p->reorder, p->reorder_pd), "reorder primitive");
    p->scratch = a.md_size(p->preferred);
  }
  check(a.primitive_create(&p->prim, p->pd), "convolution primitive");
  return p;
}

using Key = std::tuple<Pass, int64_t, int64_t, int64_t, int, int64_t, std::vector<int64_t>>;

Key key_of(Pass pass, const ConvGeometry& g, int64_t n, int64_t c_in, int64_t c_out) {
  std::vector<int64_t> geo;
  for (int d = 0; d < g.dims; ++d) {
    for (int64_t v : {g.in[d], g.kernel[d], g.out[d], g.stride[d], g.pad_lo[d],
                      g.kernel_dilation[d], g.input_dilation[d]}) {
      geo.push_back(v);
    }
  }
  geo.push_back(g.flip);
  return {pass, n, c_in, c_out, g.dims, g.groups, std::move(geo)};
}

// Built plans by shape; a shape oneDNN does not take maps to null. Guarded
// by plans_mutex; bounded (a program of ever new shapes starts over), and a
// plan in use is kept alive by its tasks.
std::mutex plans_mutex;
auto* plans = new std::map<Key, std::shared_ptr<const Plan>>();  // never destroyed
constexpr size_t kMaxPlans = 512;

// The calling worker's oneDNN stream (a stream is used by one thread).
Handle stream() {
  thread_local Handle s = [] {
    Handle h = nullptr;
    check(library()->api.stream_create(&h, library()->engine, kInOrder), "stream");
    return h;
  }();
  return s;
}

// A memory object over a buffer, for one execution.
struct Memory {
  Handle m = nullptr;
  Memory(CHandle md, const void* data) {
    check(library()->api.memory_create(&m, md, library()->engine, const_cast<void*>(data)),
          "memory");
  }
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  ~Memory() { library()->api.memory_destroy(m); }
};

void execute(Handle prim, std::initializer_list<ExecArg> args) {
  const Api& a = library()->api;
  Handle s = stream();
  check(a.execute(prim, s, static_cast<int>(args.size()), args.begin()), "execute");
  check(a.stream_wait(s), "stream wait");
}

}  // namespace

std::shared_ptr<const Plan> plan(Pass pass, const ConvGeometry& g, int64_t n, int64_t c_in,
                                 int64_t c_out, Dtype dtype) {
  if (dtype != float32 || !library() || n == 0 || c_in == 0 || c_out == 0) return nullptr;
  Key key = key_of(pass, g, n, c_in, c_out);
  std::lock_guard lock(plans_mutex);
  auto it = plans->find(key);
  if (it != plans->end()) return it->second;
  if (plans->size() >= kMaxPlans) plans->clear();
  std::shared_ptr<const Plan> p = build(pass, g, n, c_in, c_out);
  plans->emplace(std::move(key), p);
  return p;
}

size_t scratch_bytes(const Plan& p) { return p.scratch; }

void run(const Plan& p, const void* a, const void* b, void* out, void* scratch) {
  const bool reorders = p.reorder != nullptr;
  if (p.pass == Pass::weight_grad) {
    Memory x(p.src.md, a), dy(p.dst.md, b), dw(p.weight.md, out);
    if (!reorders) {
      execute(p.prim, {{kArgSrc, x.m}, {kArgDiffDst, dy.m}, {kArgDiffWeights, dw.m}});
      return;
    }
    Memory pref(p.preferred, scratch);
    execute(p.prim, {{kArgSrc, x.m}, {kArgDiffDst, dy.m}, {kArgDiffWeights, pref.m}});
    execute(p.reorder, {{kArgSrc, pref.m}, {kArgDst, dw.m}});
    return;
  }
  // forward (x, w -> y) and input_grad (w, dy -> dx) read the weight.
  const void* weight = p.pass == Pass::forward ? b : a;
  Memory plain(p.weight.md, weight);
  std::optional<Memory> pref;
  if (reorders) {
    pref.emplace(p.preferred, scratch);
    execute(p.reorder, {{kArgSrc, plain.m}, {kArgDst, pref->m}});
  }
  Handle w = reorders ? pref->m : plain.m;
  if (p.pass == Pass::forward) {
    Memory x(p.src.md, a), y(p.dst.md, out);
    execute(p.prim, {{kArgSrc, x.m}, {kArgWeights, w}, {kArgDst, y.m}});
  } else {
    Memory dy(p.dst.md, b), dx(p.src.md, out);
    execute(p.prim, {{kArgDiffDst, dy.m}, {kArgWeights, w}, {kArgDiffSrc, dx.m}});
  }
}

std::string describe() {
  const auto& l = loaded();
  if (const auto* ok = std::get_if<Loaded>(&l)) return ok->name;
  return "not used: " + std::get<std::string>(l);
}

}  // namespace fastsync::cpu::onednn
