#include "backend/cuda/graph.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace {

// Below this many ops a run is launched op by op: a graph's launch and
// update cost more than the launches they replace.
constexpr size_t kMinOps = 4;
// Ops in a run's first graph, and at most in any.
constexpr size_t kFirstGraphOps = 16;
constexpr size_t kMaxGraphOps = 256;
// Executable graphs kept per stream (each holds device resources), and how
// many of them sharing a key are tried before a new one is instantiated.
constexpr size_t kCached = 64;
constexpr int kMaxTries = 4;

enum class Mode { off, small, all };

// Read once, at the first eval on a GPU stream. Measured on the H200
// (bench/results/h200-2026-12-04-graphs-default.md): capturing every run
// made a training step slower (its large ops keep the GPU busy anyway),
// while decode steps and chains of small ops ran faster; runs of small ops
// alone keep the gain and leave training as it was.
Mode mode() {
  static const Mode m = [] {
    const char* v = std::getenv("FASTSYNC_CUDA_GRAPHS");
    if (v && std::string(v) == "0") return Mode::off;
    if (v && std::string(v) == "1") return Mode::all;
    return Mode::small;
  }();
  return m;
}

std::atomic<uint64_t> n_launches{0}, n_instantiations{0}, n_ops{0};

}  // namespace

GraphCapture::~GraphCapture() {
  for (auto& c : cache_) cudaGraphExecDestroy(c.exec);
}

bool GraphCapture::worth_it(const RunHint& run) {
  switch (mode()) {
    case Mode::off: return false;
    case Mode::all: return run.ops >= kMinOps;
    default: return run.small_ops >= kMinOps;
  }
}

bool GraphCapture::enabled() { return mode() != Mode::off; }

bool GraphCapture::joins(const RunHint& run) { return mode() == Mode::all || run.small_ops > 0; }

uint64_t GraphCapture::launches() { return n_launches.load(std::memory_order_relaxed); }
uint64_t GraphCapture::instantiations() { return n_instantiations.load(std::memory_order_relaxed); }
uint64_t GraphCapture::ops() { return n_ops.load(std::memory_order_relaxed); }

void GraphCapture::begin(size_t previous) {
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  capturing_ = true;
  key_ = 1469598103934665603ull;  // FNV-1a offset basis
  limit_ = previous == 0 ? kFirstGraphOps : std::min(previous * 2, kMaxGraphOps);
  ops_ = 0;
}

void GraphCapture::note(const char* name, int stream) {
  // Names are static strings: their addresses identify the primitive.
  key_ = (key_ ^ reinterpret_cast<uintptr_t>(name)) * 1099511628211ull;
  key_ = (key_ ^ static_cast<uint64_t>(stream)) * 1099511628211ull;
  ++ops_;
}

cudaGraphExec_t GraphCapture::exec_for(cudaGraph_t g) {
  // Runs of the same primitives may still differ in their graphs (a product
  // of another shape picks other kernels; a training step's layers repeat
  // the same sequence of primitives over different shapes): the node count
  // joins the key, and several executables may share a key, each tried
  // before a new one is made. Replacing the one that failed would make two
  // alternating runs re-instantiate every time.
  size_t nodes = 0;
  check(cudaGraphGetNodes(g, nullptr, &nodes), "cudaGraphGetNodes");
  const uint64_t key = (key_ ^ nodes) * 1099511628211ull;
  int tried = 0;
  for (auto& c : cache_) {
    if (c.key != key) continue;
    cudaGraphExecUpdateResultInfo info;
    if (cudaGraphExecUpdate(c.exec, g, &info) == cudaSuccess) {
      c.used = ++clock_;
      return c.exec;
    }
    cudaGetLastError();  // not sticky
    if (++tried == kMaxTries) break;
  }
  cudaGraphExec_t exec;
  check(cudaGraphInstantiateWithFlags(&exec, g, 0), "cudaGraphInstantiate");
  n_instantiations.fetch_add(1, std::memory_order_relaxed);
  if (cache_.size() >= kCached) {
    size_t oldest = 0;
    for (size_t i = 1; i < cache_.size(); ++i) {
      if (cache_[i].used < cache_[oldest].used) oldest = i;
    }
    cudaGraphExecDestroy(cache_[oldest].exec);  // freed once any launch in flight is done
    cache_.erase(cache_.begin() + static_cast<long>(oldest));
  }
  cache_.push_back({key, exec, ++clock_});
  return exec;
}

void GraphCapture::abandon() {
  if (!capturing_) return;
  capturing_ = false;
  cudaGraph_t g = nullptr;
  cudaStreamEndCapture(stream_, &g);
  if (g) cudaGraphDestroy(g);
  cudaGetLastError();  // the failure is reported by the step that failed
}

void GraphCapture::end_and_launch(const std::vector<cudaEvent_t>& after) {
  capturing_ = false;
  cudaGraph_t g = nullptr;
  check(cudaStreamEndCapture(stream_, &g), "cudaStreamEndCapture");
  struct Destroy {
    cudaGraph_t g;
    ~Destroy() {
      if (g) cudaGraphDestroy(g);
    }
  } destroy{g};
  cudaGraphExec_t exec = exec_for(g);
  for (cudaEvent_t e : after) check(cudaStreamWaitEvent(stream_, e, 0), "cudaStreamWaitEvent");
  check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
  n_launches.fetch_add(1, std::memory_order_relaxed);
  n_ops.fetch_add(ops_, std::memory_order_relaxed);
}

}  // namespace fastsync::cuda
