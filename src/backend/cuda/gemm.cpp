// cuBLAS products with cuBLASLt plans cached per shape (gemm.h).
#include "backend/cuda/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "backend/cuda/encoder.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace {

namespace cb = cublas;

// Plans kept before the cache starts over (each is a few host descriptors;
// a model has a few hundred shapes at most).
constexpr size_t kMaxPlans = 4096;

std::atomic<uint64_t> n_lt_runs{0}, n_lt_plans{0}, n_gemmex_runs{0};

size_t item_bytes(cudaDataType t) {
  switch (t) {
    case CUDA_R_64F:
    case CUDA_C_32F: return 8;
    case CUDA_R_16F:
    case CUDA_R_16BF: return 2;
    default: return 4;
  }
}

// The alignment cuBLASLt may assume for an operand: its address's, and with
// a batch, also that of every later matrix (capped at the 256 bytes the
// heuristic assumes by default).
uint32_t alignment(const void* p, int64_t stride, int batch, size_t item) {
  uint64_t v = reinterpret_cast<uintptr_t>(p) | 256;
  if (batch > 1) v |= static_cast<uint64_t>(stride) * item;
  return static_cast<uint32_t>(v & (~v + 1));
}

// Everything the plan depends on; compared whole.
struct Key {
  int32_t op_a, op_b, m, n, k, lda, ldb, ldc, batch, type, compute;
  uint32_t align_a, align_b, align_c;
  int64_t stride_a, stride_b, stride_c;

  bool operator==(const Key& o) const { return std::memcmp(this, &o, sizeof(Key)) == 0; }
};
static_assert(sizeof(Key) == 14 * 4 + 3 * 8, "Key must have no padding (memcmp)");

struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    for (size_t i = 0; i < sizeof(Key); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};

Key key_of(const Gemm& g) {
  Key k{};
  const size_t item = item_bytes(g.type);
  const bool batched = g.batch > 1;
  k.op_a = g.op_a;
  k.op_b = g.op_b;
  k.m = g.m;
  k.n = g.n;
  k.k = g.k;
  k.lda = g.lda;
  k.ldb = g.ldb;
  k.ldc = g.ldc;
  k.batch = g.batch;
  k.type = g.type;
  k.compute = g.compute;
  k.align_a = alignment(g.a, g.stride_a, g.batch, item);
  k.align_b = alignment(g.b, g.stride_b, g.batch, item);
  k.align_c = alignment(g.c, g.stride_c, g.batch, item);
  k.stride_a = batched ? g.stride_a : 0;
  k.stride_b = batched ? g.stride_b : 0;
  k.stride_c = batched ? g.stride_c : 0;
  return k;
}

// A shape's descriptors and algorithm. `usable` is false when cuBLASLt has
// none for it (or refused it at launch): its products then go through
// cublasGemmEx. A shape seen once gets no plan yet (`planned` false): one
// that never recurs (a KV cache's growing length) costs no more than before.
struct Plan {
  bool planned = false;
  const cb::Api* api = nullptr;
  cb::lt::MatmulDesc desc = nullptr;
  cb::lt::Layout a = nullptr, b = nullptr, c = nullptr;
  cb::lt::Algo algo{};
  bool usable = false;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (!api) return;
    for (auto l : {a, b, c}) {
      if (l) api->LtMatrixLayoutDestroy(l);
    }
    if (desc) api->LtMatmulDescDestroy(desc);
  }
};

struct Cache {
  std::mutex mutex;
  cb::lt::Handle handle = nullptr;  // never destroyed (see cublas.cpp)
  bool no_handle = false;
  std::unordered_map<Key, std::unique_ptr<Plan>, KeyHash> plans;
};

Cache& cache() {
  static auto* c = new Cache();  // outlives every static, like the handles
  return *c;
}

bool ok(cb::cublasStatus_t s) { return s == cb::CUBLAS_STATUS_SUCCESS; }

cb::lt::Layout layout(const cb::Api& api, cudaDataType t, int rows, int cols, int ld, int batch,
                      int64_t stride) {
  cb::lt::Layout l = nullptr;
  if (!ok(api.LtMatrixLayoutCreate(&l, t, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols),
                                   ld))) {
    return nullptr;
  }
  if (batch > 1) {
    int32_t count = batch;
    if (!ok(api.LtMatrixLayoutSetAttribute(l, cb::lt::kBatchCount, &count, sizeof(count))) ||
        !ok(api.LtMatrixLayoutSetAttribute(l, cb::lt::kBatchStride, &stride, sizeof(stride)))) {
      api.LtMatrixLayoutDestroy(l);
      return nullptr;
    }
  }
  return l;
}

// Builds the plan for `k` (unusable when cuBLASLt says no at any step).
std::unique_ptr<Plan> make_plan(const cb::Api& api, cb::lt::Handle h, const Key& k,
                                size_t workspace_bytes) {
  auto p = std::make_unique<Plan>();
  p->api = &api;
  n_lt_plans.fetch_add(1, std::memory_order_relaxed);
  const auto type = static_cast<cudaDataType>(k.type);
  const auto compute = static_cast<cb::cublasComputeType_t>(k.compute);
  const cudaDataType scale = compute == cb::CUBLAS_COMPUTE_64F ? CUDA_R_64F : CUDA_R_32F;
  if (!ok(api.LtMatmulDescCreate(&p->desc, compute, scale))) return p;
  int32_t ta = k.op_a, tb = k.op_b;
  if (!ok(api.LtMatmulDescSetAttribute(p->desc, cb::lt::kTransA, &ta, sizeof(ta))) ||
      !ok(api.LtMatmulDescSetAttribute(p->desc, cb::lt::kTransB, &tb, sizeof(tb)))) {
    return p;
  }
  const bool na = k.op_a == cb::CUBLAS_OP_N, nb = k.op_b == cb::CUBLAS_OP_N;
  p->a = layout(api, type, na ? k.m : k.k, na ? k.k : k.m, k.lda, k.batch, k.stride_a);
  p->b = layout(api, type, nb ? k.k : k.n, nb ? k.n : k.k, k.ldb, k.batch, k.stride_b);
  p->c = layout(api, type, k.m, k.n, k.ldc, k.batch, k.stride_c);
  if (!p->a || !p->b || !p->c) return p;

  cb::lt::Preference pref = nullptr;
  if (!ok(api.LtMatmulPreferenceCreate(&pref))) return p;
  struct DestroyPref {
    const cb::Api& api;
    cb::lt::Preference pref;
    ~DestroyPref() { api.LtMatmulPreferenceDestroy(pref); }
  } destroy{api, pref};
  uint64_t ws = workspace_bytes;
  // Half-type outputs: split sums stay in float32 (no reduction in the
  // output's type, nor in place in the output buffer), as through GemmEx.
  uint32_t schemes =
      (type == CUDA_R_16F || type == CUDA_R_16BF) ? cb::lt::kReductionInComputeType : 0x7u;
  uint32_t align[4] = {k.align_a, k.align_b, k.align_c, k.align_c};
  bool set =
      ok(api.LtMatmulPreferenceSetAttribute(pref, cb::lt::kMaxWorkspaceBytes, &ws, sizeof(ws))) &&
      ok(api.LtMatmulPreferenceSetAttribute(pref, cb::lt::kReductionSchemeMask, &schemes,
                                            sizeof(schemes)));
  for (int i = 0; set && i < 4; ++i) {
    set = ok(api.LtMatmulPreferenceSetAttribute(
        pref, static_cast<cb::lt::PrefAttr>(cb::lt::kMinAlignmentA + i), &align[i],
        sizeof(align[i])));
  }
  if (!set) return p;
  cb::lt::HeuristicResult r{};
  int found = 0;
  if (!ok(api.LtMatmulAlgoGetHeuristic(h, p->desc, p->a, p->b, p->c, p->c, pref, 1, &r, &found)) ||
      found < 1 || !ok(r.state) || r.workspace_bytes > workspace_bytes) {
    return p;
  }
  p->algo = r.algo;
  p->usable = true;
  return p;
}

// The usable plan for `g`, or null (no cuBLASLt, or nothing for this shape).
// Under the cache's lock, held while the plan is used.
Plan* plan_for(Cache& c, const cb::Api& api, const Gemm& g, size_t workspace_bytes,
               cb::lt::Handle* handle) {
  static const bool wanted = [] {
    const char* v = std::getenv("FASTSYNC_CUBLASLT");
    return !(v && std::string(v) == "0");
  }();
  if (!wanted || !api.has_lt() || g.type == CUDA_C_32F) return nullptr;
  if (!c.handle) {
    if (c.no_handle) return nullptr;
    if (!ok(api.LtCreate(&c.handle))) {
      c.no_handle = true;
      return nullptr;
    }
  }
  *handle = c.handle;
  Key k = key_of(g);
  auto it = c.plans.find(k);
  if (it == c.plans.end()) {
    if (c.plans.size() >= kMaxPlans) c.plans.clear();
    c.plans.emplace(k, std::make_unique<Plan>());  // seen once
    return nullptr;
  }
  if (!it->second->planned) {
    it->second = make_plan(api, c.handle, k, workspace_bytes);
    it->second->planned = true;
  }
  return it->second->usable ? it->second.get() : nullptr;
}

// A refused cublasLtMatmul (nothing enqueued); the product goes to
// cublasGemmEx.
struct Refused {};

// Products whose GPU time is below what cublasLtMatmul costs the host
// (~15 µs): 2^28 multiply-adds run in ~10 µs in float32. Their calls are
// replayed as graphs (call_graphs.h); a larger product keeps the GPU busy
// while the host goes on anyway. Inside a captured run the call joins the
// capture.
bool replayable(CommandEncoder& enc, const Gemm& g) {
  constexpr int64_t kMaxMultiplyAdds = int64_t(1) << 28;
  return !enc.capturing() && int64_t(g.m) * g.n * g.k * g.batch <= kMaxMultiplyAdds;
}

// Every byte a cuBLASLt product's enqueued work depends on: its plan's key,
// its algorithm, its buffers and its scalars (float32, or float64 for a
// float64 product), and the workspace.
struct ReplayKey {
  Key shape;
  cb::lt::Algo algo;
  const void* a;
  const void* b;
  const void* c;
  const void* ws;
  uint64_t ws_bytes;
  uint64_t alpha, beta;
};
static_assert(sizeof(ReplayKey) == sizeof(Key) + sizeof(cb::lt::Algo) + 7 * 8,
              "ReplayKey must have no padding (its bytes are the key)");

ReplayKey replay_key(const Gemm& g, const cb::Workspace& ws, const cb::lt::Algo& algo) {
  ReplayKey k;
  std::memset(&k, 0, sizeof(k));
  k.shape = key_of(g);
  k.algo = algo;
  k.a = g.a;
  k.b = g.b;
  k.c = g.c;
  k.ws = ws.ptr;
  k.ws_bytes = ws.bytes;
  const size_t scalar = g.compute == cb::CUBLAS_COMPUTE_64F ? 8 : 4;
  std::memcpy(&k.alpha, g.alpha, scalar);
  std::memcpy(&k.beta, g.beta, scalar);
  return k;
}

void gemm_ex(const cb::Api& api, cb::cublasHandle_t h, const Gemm& g, const char* op) {
  n_gemmex_runs.fetch_add(1, std::memory_order_relaxed);
  if (g.batch == 1) {
    cb::check(api.GemmEx(h, g.op_a, g.op_b, g.m, g.n, g.k, g.alpha, g.a, g.type, g.lda, g.b, g.type,
                         g.ldb, g.beta, g.c, g.type, g.ldc, g.compute, cb::CUBLAS_GEMM_DEFAULT),
              op, "cublasGemmEx");
    return;
  }
  cb::check(
      api.GemmStridedBatchedEx(h, g.op_a, g.op_b, g.m, g.n, g.k, g.alpha, g.a, g.type, g.lda,
                               g.stride_a, g.b, g.type, g.ldb, g.stride_b, g.beta, g.c, g.type,
                               g.ldc, g.stride_c, g.batch, g.compute, cb::CUBLAS_GEMM_DEFAULT),
      op, "cublasGemmStridedBatchedEx");
}

}  // namespace

void gemm(CommandEncoder& enc, const Gemm& g, const char* op) {
  const cb::Api& api = cb::api(op);
  const cb::StreamContext& ctx = cb::context(enc, op);
  const cb::Workspace ws = ctx.workspace;
  cb::lt::Handle lt = nullptr;
  std::unique_lock lk(cache().mutex);
  if (Plan* p = plan_for(cache(), api, g, ws.bytes, &lt)) {
    cb::cublasStatus_t s = cb::CUBLAS_STATUS_SUCCESS;
    auto call = [&] {
      s = api.LtMatmul(lt, p->desc, g.alpha, g.a, p->a, g.b, p->b, g.beta, g.c, p->c, g.c, p->c,
                       &p->algo, ws.ptr, ws.bytes, enc.cuda_stream());
      if (!ok(s)) throw Refused{};
    };
    try {
      if (replayable(enc, g)) {
        const ReplayKey key = replay_key(g, ws, p->algo);
        enc.replay({reinterpret_cast<const char*>(&key), sizeof(key)}, call);
      } else {
        call();
      }
      n_lt_runs.fetch_add(1, std::memory_order_relaxed);
      return;
    } catch (const Refused&) {
    }
    // Refused at launch (nothing ran): this shape goes to GemmEx from now
    // on, which picks its own kernel (gemm_ex_runs counts it).
    if (s != cb::CUBLAS_STATUS_NOT_SUPPORTED && s != cb::CUBLAS_STATUS_INVALID_VALUE) {
      cb::check(s, op, "cublasLtMatmul");
    }
    p->usable = false;
  }
  lk.unlock();
  enc.cuda_stream();  // the handle enqueues on it: in order after what came before
  gemm_ex(api, ctx.handle, g, op);
}

GemmCounts gemm_counts() {
  return {n_lt_runs.load(std::memory_order_relaxed), n_lt_plans.load(std::memory_order_relaxed),
          n_gemmex_runs.load(std::memory_order_relaxed)};
}

}  // namespace fastsync::cuda
