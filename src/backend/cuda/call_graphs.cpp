#include "backend/cuda/call_graphs.h"

#include <atomic>

#include "backend/cuda/graph.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace {

// Keys remembered per stream, graphs included (a kernel's graph holds a few
// kilobytes). A program whose calls outside captured runs have more distinct
// keys than this between recurrences sees each key go as the least recently
// used before it comes back: its calls are then all made directly, at the
// cost of a lookup and an insertion each.
constexpr size_t kEntries = 512;

std::atomic<uint64_t> n_replays{0}, n_instantiations{0};

}  // namespace

CallGraphs::~CallGraphs() {
  for (auto& [key, e] : entries_) {
    if (e.exec) cudaGraphExecDestroy(e.exec);
  }
}

uint64_t CallGraphs::replays() { return n_replays.load(std::memory_order_relaxed); }
uint64_t CallGraphs::instantiations() { return n_instantiations.load(std::memory_order_relaxed); }

CallGraphs::Found CallGraphs::find(std::string_view key) {
  if (!GraphCapture::enabled()) return Found::first;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kEntries) evict_oldest();
    it = entries_.emplace(std::string(key), Entry{}).first;
    order_.push_front(&it->first);
    it->second.place = order_.begin();
    return Found::first;
  }
  Entry& e = it->second;
  order_.splice(order_.begin(), order_, e.place);
  if (!e.capturable) return Found::first;
  if (!e.exec) return Found::again;
  check(cudaGraphLaunch(e.exec, stream_), "cudaGraphLaunch");
  n_replays.fetch_add(1, std::memory_order_relaxed);
  return Found::graph;
}

void CallGraphs::begin() {
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
}

void CallGraphs::abandon() {
  cudaGraph_t g = nullptr;
  cudaStreamEndCapture(stream_, &g);
  if (g) cudaGraphDestroy(g);
  cudaGetLastError();  // the call's own failure is what the caller reports
}

bool CallGraphs::end_and_launch(std::string_view key) {
  auto it = entries_.find(key);
  cudaGraph_t g = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool made = cudaStreamEndCapture(stream_, &g) == cudaSuccess && g &&
              cudaGraphInstantiateWithFlags(&exec, g, 0) == cudaSuccess;
  if (g) cudaGraphDestroy(g);
  if (!made) {
    cudaGetLastError();  // not sticky: the call is made directly instead
    it->second.capturable = false;
    return false;
  }
  n_instantiations.fetch_add(1, std::memory_order_relaxed);
  it->second.exec = exec;
  check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
  n_replays.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void CallGraphs::evict_oldest() {
  auto it = entries_.find(*order_.back());
  order_.pop_back();
  // A launch still in flight keeps its executable until it is done.
  if (it->second.exec) cudaGraphExecDestroy(it->second.exec);
  entries_.erase(it);
}

}  // namespace fastsync::cuda
