#include "backend/cuda/call_graphs.h"

#include <atomic>
#include <cstdlib>

#include "backend/cuda/graph.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace {

// Keys remembered per stream, graphs included (a kernel's graph holds a few
// kilobytes). A program whose calls outside captured runs have more distinct
// keys than this between recurrences sees each key go as the least recently
// used before it comes back: its calls are then all made directly, at the
// cost of a lookup and an insertion each. Far more than kMaxRun: a pending
// entry is among the most recently used, never evicted.
constexpr size_t kEntries = 512;
// Runs of replays remembered per stream, combined graphs included.
constexpr size_t kRuns = 128;

std::atomic<uint64_t> n_replays{0}, n_instantiations{0}, n_runs{0};

}  // namespace

CallGraphs::~CallGraphs() {
  for (auto& [key, e] : entries_) {
    if (e.exec) cudaGraphExecDestroy(e.exec);
    if (e.graph) cudaGraphDestroy(e.graph);
  }
  for (auto& [key, r] : runs_) {
    if (r.exec) cudaGraphExecDestroy(r.exec);
  }
}

uint64_t CallGraphs::replays() { return n_replays.load(std::memory_order_relaxed); }
uint64_t CallGraphs::instantiations() { return n_instantiations.load(std::memory_order_relaxed); }
uint64_t CallGraphs::runs() { return n_runs.load(std::memory_order_relaxed); }

bool CallGraphs::runs_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("FASTSYNC_CUDA_REPLAY_RUNS");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

CallGraphs::Lookup CallGraphs::find(std::string_view key) {
  if (!GraphCapture::enabled()) return {Found::first, nullptr};
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kEntries) evict_oldest();
    it = entries_.emplace(std::string(key), Entry{}).first;
    order_.push_front(&it->first);
    it->second.place = order_.begin();
    it->second.id = next_id_++;
    return {Found::first, &it->second};
  }
  Entry& e = it->second;
  order_.splice(order_.begin(), order_, e.place);
  if (!e.capturable) return {Found::first, &e};
  return {e.exec ? Found::graph : Found::again, &e};
}

void CallGraphs::launch(Entry& e) {
  check(cudaGraphLaunch(e.exec, stream_), "cudaGraphLaunch");
  n_replays.fetch_add(1, std::memory_order_relaxed);
}

void CallGraphs::flush() {
  const size_t n = pending_count_;
  if (n == 0) return;
  pending_count_ = 0;  // cleared first: a failed launch leaves nothing pending
  Entry* const* run = pending_.data();
  if (n == 1) return launch(*run[0]);
  // The run's key: its entries' ids, which no other entry ever takes (an
  // evicted entry's runs are never found again and age out).
  thread_local std::string key;
  key.clear();
  for (size_t i = 0; i < n; ++i)
    key.append(reinterpret_cast<const char*>(&run[i]->id), sizeof(uint64_t));
  auto it = runs_.find(std::string_view(key));
  if (it == runs_.end()) {
    if (runs_.size() >= kRuns) evict_oldest_run();
    it = runs_.emplace(key, Run{}).first;
    run_order_.push_front(&it->first);
    it->second.place = run_order_.begin();
  } else {
    Run& r = it->second;
    run_order_.splice(run_order_.begin(), run_order_, r.place);
    if (!r.exec && r.combinable) {
      r.exec = combine(run, n);  // the second sighting
      r.combinable = r.exec != nullptr;
    }
    if (r.exec) {
      check(cudaGraphLaunch(r.exec, stream_), "cudaGraphLaunch");
      n_replays.fetch_add(n, std::memory_order_relaxed);
      n_runs.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  for (size_t i = 0; i < n; ++i) launch(*run[i]);
}

cudaGraphExec_t CallGraphs::combine(Entry* const* run, size_t n) {
  cudaGraph_t g = nullptr;
  if (cudaGraphCreate(&g, 0) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  // Each replay's graph as a child node after the one before it: the
  // stream's order, kept inside the graph.
  cudaGraphNode_t prev = nullptr;
  bool made = true;
  for (size_t i = 0; i < n && made; ++i) {
    cudaGraphNode_t node = nullptr;
    made = cudaGraphAddChildGraphNode(&node, g, prev ? &prev : nullptr, prev ? 1 : 0,
                                      run[i]->graph) == cudaSuccess;
    prev = node;
  }
  cudaGraphExec_t exec = nullptr;
  if (made) made = cudaGraphInstantiateWithFlags(&exec, g, 0) == cudaSuccess;
  cudaGraphDestroy(g);
  if (!made) {
    cudaGetLastError();  // not sticky: the run's graphs are launched one by one
    return nullptr;
  }
  n_instantiations.fetch_add(1, std::memory_order_relaxed);
  return exec;
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

bool CallGraphs::end_and_launch(Entry& e) {
  cudaGraph_t g = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool made = cudaStreamEndCapture(stream_, &g) == cudaSuccess && g &&
              cudaGraphInstantiateWithFlags(&exec, g, 0) == cudaSuccess;
  if (!made) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();  // not sticky: the call is made directly instead
    e.capturable = false;
    return false;
  }
  n_instantiations.fetch_add(1, std::memory_order_relaxed);
  e.graph = g;  // kept: runs of replays are made of it
  e.exec = exec;
  launch(e);
  return true;
}

void CallGraphs::evict_oldest() {
  auto it = entries_.find(*order_.back());
  order_.pop_back();
  // A launch still in flight keeps its executable until it is done; a
  // combined run holds its own copy of the graph.
  if (it->second.exec) cudaGraphExecDestroy(it->second.exec);
  if (it->second.graph) cudaGraphDestroy(it->second.graph);
  entries_.erase(it);
}

void CallGraphs::evict_oldest_run() {
  auto it = runs_.find(*run_order_.back());
  run_order_.pop_back();
  if (it->second.exec) cudaGraphExecDestroy(it->second.exec);
  runs_.erase(it);
}

}  // namespace fastsync::cuda
