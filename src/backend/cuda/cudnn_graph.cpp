// Convolution passes through cuDNN's graph API, each shape's execution plan
// built once per stream and kept (cudnn_graph.h).
#include "backend/cuda/cudnn_graph.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/cudnn.h"
#include "backend/cuda/precision.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda::cudnn {

namespace {

// cudnn_graph.h's values (cuDNN 9): descriptor types,
enum : int {
  kEngineDesc = 2,
  kEngineCfgDesc = 3,
  kHeuristicsDesc = 4,
  kPlanDesc = 5,
  kOpGraphDesc = 15,
  kVariantPackDesc = 16,
  kTensorDesc = 17,
  kConvDesc = 1,
};
// attribute types,
enum : int {
  kHandleType = 0,
  kDataTypeType = 1,
  kInt64Type = 3,
  kFloatType = 4,
  kDoubleType = 5,
  kVoidPtrType = 6,
  kConvModeType = 7,
  kHeurModeType = 8,
  kNumericalNoteType = 11,
  kDescType = 15,
};
// attribute names,
enum : int {
  kConvCompType = 100,
  kConvMode = 101,
  kConvDilations = 102,
  kConvStrides = 103,
  kConvPostPaddings = 104,
  kConvPrePaddings = 105,
  kConvSpatialDims = 106,
  kHeurMode = 200,
  kHeurGraph = 201,
  kHeurResults = 202,
  kCfgEngine = 300,
  kPlanHandle = 400,
  kPlanConfig = 401,
  kPlanWorkspace = 402,
  kOpGraphHandle = 800,
  kOpGraphOps = 801,
  kTensorAlignment = 900,
  kTensorDataType = 901,
  kTensorDims = 902,
  kTensorStrides = 903,
  kTensorId = 906,
  kPackIds = 1000,
  kPackPointers = 1001,
  kPackWorkspace = 1003,
  kEngineNumericalNote = 1303,
};
// and the other enumerations used.
enum : int { kHeurInstant = 0, kHeurFallback = 2 };
enum : int { kModeConvolution = 0, kModeCrossCorrelation = 1 };
enum : int {
  kNoteTensorCore = 0,
  kNoteDownConvertInputs = 1,
  kNoteReducedPrecisionReduction = 2,
  kNoteNondeterministic = 4,
};

// A pass's operation: its descriptor type and attribute names. The three
// passes list alpha, beta, the convolution and then w, x, y in that order.
struct OpKind {
  int type, alpha, beta, conv, w, x, y;
};
OpKind op_kind(Pass p) {
  switch (p) {
    case Pass::forward: return {10, 700, 701, 702, 703, 704, 705};
    case Pass::input_grad: return {12, 706, 707, 708, 709, 710, 711};
    case Pass::weight_grad: break;
  }
  return {11, 712, 713, 714, 715, 716, 717};
}

// The variant pack's names for the three tensors.
enum : int64_t { kIdX = 1, kIdW = 2, kIdY = 3 };

// Candidates the measured search times, and the workspace a plan may use.
constexpr int kTunedCandidates = 8;
constexpr int64_t kMaxWorkspace = int64_t(256) << 20;

const Api& lib() { return *api(); }

// An owned backend descriptor.
class Desc {
 public:
  Desc() = default;
  explicit Desc(int type) {
    check(lib().BackendCreateDescriptor(type, &d_), "conv", "cudnnBackendCreateDescriptor");
  }
  ~Desc() {
    if (d_) lib().BackendDestroyDescriptor(d_);
  }
  Desc(Desc&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Desc& operator=(Desc&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;

  BackendDesc get() const { return d_; }
  void set(int name, int type, const void* values, int64_t count = 1) {
    check(lib().BackendSetAttribute(d_, name, type, count, values), "conv",
          "cudnnBackendSetAttribute");
  }
  void finalize() { check(lib().BackendFinalize(d_), "conv", "cudnnBackendFinalize"); }
  // cuDNN refuses to finalize what it cannot run (an engine that does not
  // fit the graph, a heuristic with no result): not an error here.
  bool try_finalize() { return lib().BackendFinalize(d_) == 0; }

 private:
  BackendDesc d_ = nullptr;
};

// A built plan and every descriptor it was built from (cuDNN's plan refers
// to its graph), kept for the life of the process.
struct Plan {
  std::vector<Desc> parts;
  Desc plan;
  int64_t workspace = 0;
};

// The largest power of two up to 16 that divides the address: the tensor's
// alignment, part of its descriptor and so of the plan's key.
int64_t alignment(const void* p) {
  auto v = reinterpret_cast<uintptr_t>(p);
  int64_t a = 16;
  while (a > 1 && v % a != 0) a /= 2;
  return a;
}

// cuDNN's dimensions (N, C, *spatial) and the strides of the row-contiguous
// channels-last buffer; the weight (O, C / G, *kernel) has the same form.
void describe_layout(int64_t n, int64_t c, const std::vector<int64_t>& spatial,
                     std::vector<int64_t>& dims, std::vector<int64_t>& strides) {
  const size_t nd = spatial.size() + 2;
  dims.assign(nd, 0);
  strides.assign(nd, 0);
  dims[0] = n;
  dims[1] = c;
  std::copy(spatial.begin(), spatial.end(), dims.begin() + 2);
  strides[1] = 1;
  int64_t s = c;
  for (size_t d = nd - 1; d >= 2; --d) {
    strides[d] = s;
    s *= dims[d];
  }
  strides[0] = s;
}

Desc tensor(int64_t id, int type, const std::vector<int64_t>& dims,
            const std::vector<int64_t>& strides, int64_t align) {
  Desc t(kTensorDesc);
  t.set(kTensorDataType, kDataTypeType, &type);
  t.set(kTensorDims, kInt64Type, dims.data(), static_cast<int64_t>(dims.size()));
  t.set(kTensorStrides, kInt64Type, strides.data(), static_cast<int64_t>(strides.size()));
  t.set(kTensorId, kInt64Type, &id);
  t.set(kTensorAlignment, kInt64Type, &align);
  t.finalize();
  return t;
}

struct Shape {
  Pass pass;
  const ConvGeometry& g;
  int64_t batch, c_in, c_out;
  Dtype dtype;
};

// The operation graph of one pass: x, w, y, the convolution, the operation
// and the graph, in the order they refer to each other.
std::vector<Desc> operation_graph(Handle h, const Shape& s, const ConvBuffers& b) {
  // A 1-D convolution is described as a 2-D one of height 1.
  std::vector<int64_t> in, out, kernel, pad, stride, dil;
  if (s.g.dims == 1) {
    in = out = kernel = stride = dil = {1};
    pad = {0};
  }
  for (int d = 0; d < s.g.dims; ++d) {
    in.push_back(s.g.in[d]);
    out.push_back(s.g.out[d]);
    kernel.push_back(s.g.kernel[d]);
    pad.push_back(s.g.pad_lo[d]);
    stride.push_back(s.g.stride[d]);
    dil.push_back(s.g.kernel_dilation[d]);
  }
  const int type = data_type(s.dtype);
  const bool dbl = s.dtype == float64;
  const int compute = dbl ? data_type(float64) : data_type(float32);
  std::vector<Desc> parts;
  std::vector<int64_t> dims, strides;
  describe_layout(s.batch, s.c_in, in, dims, strides);
  parts.push_back(tensor(kIdX, type, dims, strides, alignment(b.x)));
  describe_layout(s.c_out, s.c_in / s.g.groups, kernel, dims, strides);
  parts.push_back(tensor(kIdW, type, dims, strides, alignment(b.w)));
  describe_layout(s.batch, s.c_out, out, dims, strides);
  parts.push_back(tensor(kIdY, type, dims, strides, alignment(b.y)));

  Desc conv(kConvDesc);
  const int64_t spatial = static_cast<int64_t>(in.size());
  const int mode = s.g.flip ? kModeConvolution : kModeCrossCorrelation;
  conv.set(kConvCompType, kDataTypeType, &compute);
  conv.set(kConvMode, kConvModeType, &mode);
  conv.set(kConvSpatialDims, kInt64Type, &spatial);
  conv.set(kConvDilations, kInt64Type, dil.data(), spatial);
  conv.set(kConvStrides, kInt64Type, stride.data(), spatial);
  // cuDNN pads both sides alike here, as supports() requires.
  conv.set(kConvPrePaddings, kInt64Type, pad.data(), spatial);
  conv.set(kConvPostPaddings, kInt64Type, pad.data(), spatial);
  conv.finalize();

  const OpKind k = op_kind(s.pass);
  Desc op(k.type);
  const float f1 = 1.0f, f0 = 0.0f;
  const double d1 = 1.0, d0 = 0.0;
  op.set(k.alpha, dbl ? kDoubleType : kFloatType, dbl ? static_cast<const void*>(&d1) : &f1);
  op.set(k.beta, dbl ? kDoubleType : kFloatType, dbl ? static_cast<const void*>(&d0) : &f0);
  BackendDesc refs[4] = {conv.get(), parts[1].get(), parts[0].get(), parts[2].get()};
  op.set(k.conv, kDescType, &refs[0]);
  op.set(k.w, kDescType, &refs[1]);
  op.set(k.x, kDescType, &refs[2]);
  op.set(k.y, kDescType, &refs[3]);
  op.finalize();

  Desc graph(kOpGraphDesc);
  BackendDesc op_ref = op.get();
  graph.set(kOpGraphHandle, kHandleType, &h);
  graph.set(kOpGraphOps, kDescType, &op_ref);
  graph.finalize();
  parts.push_back(std::move(conv));
  parts.push_back(std::move(op));
  parts.push_back(std::move(graph));
  return parts;
}

// The engine configurations cuDNN's heuristic proposes, best first.
std::vector<Desc> proposals(BackendDesc graph, int mode) {
  Desc heur(kHeuristicsDesc);
  heur.set(kHeurGraph, kDescType, &graph);
  heur.set(kHeurMode, kHeurModeType, &mode);
  if (!heur.try_finalize()) return {};
  int64_t count = 0;
  if (lib().BackendGetAttribute(heur.get(), kHeurResults, kDescType, 0, &count, nullptr) != 0 ||
      count <= 0) {
    return {};
  }
  std::vector<Desc> cfgs;
  std::vector<BackendDesc> raw;
  for (int64_t i = 0; i < count; ++i) {
    cfgs.emplace_back(kEngineCfgDesc);
    raw.push_back(cfgs.back().get());
  }
  int64_t got = 0;
  check(lib().BackendGetAttribute(heur.get(), kHeurResults, kDescType, count, &got, raw.data()),
        "conv", "cudnnBackendGetAttribute(engine heuristic results)");
  cfgs.resize(static_cast<size_t>(std::min(got, count)));
  return cfgs;
}

// Whether an engine's numerical notes fit fastsync's promises: the same
// result on every run, accumulation at the compute type's precision, and
// float32 kept exact unless FASTSYNC_TF32=1 (as the matrix products).
bool acceptable(BackendDesc cfg, Dtype dtype) {
  Desc engine(kEngineDesc);
  BackendDesc e = engine.get();
  int64_t n = 0;
  if (lib().BackendGetAttribute(cfg, kCfgEngine, kDescType, 1, &n, &e) != 0 || n != 1) {
    return false;
  }
  int notes[32];
  n = 0;
  if (lib().BackendGetAttribute(e, kEngineNumericalNote, kNumericalNoteType, 32, &n, notes) != 0) {
    return false;
  }
  const bool exact = dtype == float32 && !tf32();
  for (int64_t i = 0; i < std::min<int64_t>(n, 32); ++i) {
    switch (notes[i]) {
      case kNoteNondeterministic:
      case kNoteDownConvertInputs:
      case kNoteReducedPrecisionReduction: return false;
      case kNoteTensorCore:
        if (exact) return false;
        break;
      default: break;
    }
  }
  return true;
}

// A plan of `cfg` on handle h, or null where the engine does not build or
// wants more workspace than kMaxWorkspace.
std::unique_ptr<Plan> build(Handle h, Desc cfg) {
  auto p = std::make_unique<Plan>();
  p->plan = Desc(kPlanDesc);
  BackendDesc c = cfg.get();
  p->plan.set(kPlanHandle, kHandleType, &h);
  p->plan.set(kPlanConfig, kDescType, &c);
  if (!p->plan.try_finalize()) return nullptr;
  int64_t n = 0;
  check(lib().BackendGetAttribute(p->plan.get(), kPlanWorkspace, kInt64Type, 1, &n, &p->workspace),
        "conv", "cudnnBackendGetAttribute(plan workspace)");
  if (p->workspace > kMaxWorkspace) return nullptr;
  p->parts.push_back(std::move(cfg));
  return p;
}

void execute(Handle h, const Plan& p, const ConvBuffers& b, void* workspace) {
  Desc pack(kVariantPackDesc);
  const int64_t ids[3] = {kIdX, kIdW, kIdY};
  void* ptrs[3] = {b.x, b.w, b.y};
  pack.set(kPackIds, kInt64Type, ids, 3);
  pack.set(kPackPointers, kVoidPtrType, ptrs, 3);
  pack.set(kPackWorkspace, kVoidPtrType, &workspace);
  pack.finalize();
  check(lib().BackendExecute(h, p.plan.get(), pack.get()), "conv", "cudnnBackendExecute");
}

void* workspace(CommandEncoder& enc, int64_t bytes) {
  if (bytes == 0) return nullptr;
  return temporary(enc, {bytes}, uint8).raw_ptr();
}

// The fastest of `plans` on this call's buffers (one warm-up run, then the
// best of two timed ones), waiting for the stream. Index into `plans`.
size_t fastest(CommandEncoder& enc, Handle h, const std::vector<std::unique_ptr<Plan>>& plans,
               const ConvBuffers& b) {
  int64_t most = 0;
  for (const auto& p : plans) most = std::max(most, p->workspace);
  void* ws = workspace(enc, most);
  struct Events {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~Events() {
      if (start) cudaEventDestroy(start);
      if (stop) cudaEventDestroy(stop);
    }
  } ev;
  cuda::check(cudaEventCreate(&ev.start), "cudaEventCreate");
  cuda::check(cudaEventCreate(&ev.stop), "cudaEventCreate");
  cudaEvent_t start = ev.start, stop = ev.stop;
  size_t best = 0;
  float best_ms = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    execute(h, *plans[i], b, ws);
    float ms = -1;
    for (int r = 0; r < 2; ++r) {
      cuda::check(cudaEventRecord(start, enc.cuda_stream()), "cudaEventRecord");
      execute(h, *plans[i], b, ws);
      cuda::check(cudaEventRecord(stop, enc.cuda_stream()), "cudaEventRecord");
      cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float t = 0;
      cuda::check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
      ms = ms < 0 ? t : std::min(ms, t);
    }
    if (i == 0 || ms < best_ms) {
      best = i;
      best_ms = ms;
    }
  }
  return best;
}

// The plan for this pass, shape and stream: the heuristic's first that
// builds and fits the numerical rules, or the fastest of its first
// kTunedCandidates. Null where none builds.
std::unique_ptr<Plan> choose(CommandEncoder& enc, Handle h, const Shape& s, const ConvBuffers& b) {
  std::vector<Desc> parts = operation_graph(h, s, b);
  BackendDesc graph = parts.back().get();
  const int want = autotune() ? kTunedCandidates : 1;
  std::vector<std::unique_ptr<Plan>> plans;
  for (int mode : {kHeurInstant, kHeurFallback}) {
    for (Desc& cfg : proposals(graph, mode)) {
      if (static_cast<int>(plans.size()) >= want) break;
      if (!acceptable(cfg.get(), s.dtype)) continue;
      if (auto p = build(h, std::move(cfg))) plans.push_back(std::move(p));
    }
    if (!plans.empty()) break;
  }
  if (plans.empty()) return nullptr;
  size_t pick = plans.size() > 1 ? fastest(enc, h, plans, b) : 0;
  std::unique_ptr<Plan> chosen = std::move(plans[pick]);
  for (Desc& d : parts) chosen->parts.push_back(std::move(d));
  return chosen;
}

// Everything a plan depends on, as one key: the pass, the stream's handle,
// the shape, the dtype, the geometry and the three alignments.
// Fixed-size, so a call's lookup allocates nothing; unused geometry slots
// stay zero.
using PlanKey = std::array<int64_t, 12 + 6 * kMaxConvDims>;

PlanKey key_of(Handle h, const Shape& s, const ConvBuffers& b) {
  const ConvGeometry& g = s.g;
  PlanKey k{static_cast<int64_t>(s.pass),
            static_cast<int64_t>(reinterpret_cast<uintptr_t>(h)),
            s.batch,
            s.c_in,
            s.c_out,
            static_cast<int64_t>(s.dtype.val),
            g.dims,
            g.groups,
            g.flip ? 1 : 0,
            alignment(b.x),
            alignment(b.w),
            alignment(b.y)};
  size_t i = 12;
  for (int d = 0; d < g.dims; ++d) {
    for (int64_t v :
         {g.in[d], g.kernel[d], g.out[d], g.stride[d], g.pad_lo[d], g.kernel_dilation[d]}) {
      k[i++] = v;
    }
  }
  return k;
}

std::mutex plans_mutex;
// Plans by key; a null entry records that no engine builds. Never destroyed,
// as the handles the plans refer to.
auto* plans = new std::map<PlanKey, std::unique_ptr<Plan>>();

std::atomic<int64_t> plans_built{0}, graph_runs{0}, legacy_runs{0};

bool hand_back() {
  legacy_runs.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace

bool autotune() {
  static const bool on = [] {
    const char* v = std::getenv("FASTSYNC_CUDNN_AUTOTUNE");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

bool graph_available() {
  static const bool on = [] {
    const char* v = std::getenv("FASTSYNC_CUDNN_GRAPH");
    const Api* a = api();
    return !(v && std::string(v) == "0") && a && a->BackendCreateDescriptor &&
           a->BackendDestroyDescriptor && a->BackendFinalize && a->BackendSetAttribute &&
           a->BackendGetAttribute && a->BackendExecute;
  }();
  return on;
}

bool run_graph(CommandEncoder& enc, Pass pass, const ConvGeometry& g, int64_t batch, int64_t c_in,
               int64_t c_out, Dtype dtype, const ConvBuffers& b) {
  if (!graph_available()) return hand_back();
  Handle h = handle(enc);
  const Shape s{pass, g, batch, c_in, c_out, dtype};
  const PlanKey key = key_of(h, s, b);
  const Plan* plan = nullptr;
  {
    std::lock_guard lk(plans_mutex);
    auto it = plans->find(key);
    if (it != plans->end()) {
      if (!it->second) return hand_back();
      plan = it->second.get();
    }
  }
  if (!plan) {
    // Built outside the lock: a plan takes milliseconds (seconds where an
    // engine compiles its kernel), and only this stream's thread asks for
    // this key.
    std::unique_ptr<Plan> made = choose(enc, h, s, b);
    if (made) plans_built.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lk(plans_mutex);
    auto& slot = (*plans)[key];
    slot = std::move(made);
    if (!slot) return hand_back();
    plan = slot.get();
  }
  execute(h, *plan, b, workspace(enc, plan->workspace));
  graph_runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

GraphCounts graph_counts() { return {plans_built.load(), graph_runs.load(), legacy_runs.load()}; }

}  // namespace fastsync::cuda::cudnn
