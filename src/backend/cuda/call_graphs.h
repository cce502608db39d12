// Kernel launches and library calls replayed as CUDA graphs. On the H100
// host, cudaLaunchKernel costs the host ~4.6 µs and cudaGraphLaunch of the
// same kernel captured as a graph ~2.0 µs; a kernel's round trip (launch, a
// host-visible write, the CPU spinning on it) takes 9.9 µs launched and
// 6.7 µs as a graph. A cuBLASLt product of 256² float32 costs the host
// ~15 µs, its graph ~2.0 µs, while the GPU runs it in ~6 µs
// (bench/cuda/gemm_step.cu). Short evals (a round trip, a step of a loop
// evaluated each time) and ops outside captured runs are bound by that
// host time.
//
// A call is keyed by every byte its enqueued work depends on: the kernel
// and its launch shape and parameters, or a library call's descriptors,
// buffer addresses and host scalars. The first time a key is seen, the
// call is made directly; the second time it is captured into a graph,
// instantiated (~11 µs for a kernel) and launched; later ones launch that
// graph. Keys recur because buffers do: a loop's arrays come back from the
// allocator's cache (or the stream's reusable buffers) at the same
// addresses, step after step. A graph runs exactly the work it was captured
// with, which is the work the call with the same bytes would enqueue.
//
// Runs of replays. Each graph launch also costs the GPU ~2 µs of its own,
// so a step of two recurring calls (a product and its activation) is bound
// by two launches even once the host is fast. The encoder may defer a
// replay (pending) and launch it with the replays that follow it on the
// stream, up to kMaxRun, before anything else reaches the stream
// (CommandEncoder::cuda_stream). A run of replays seen before launches as
// one graph whose nodes are the replays' graphs, in order.
//
// One per GPU stream (its CommandEncoder's), used on the encoding thread
// under the eval driver's lock. Not used while the stream captures a run of
// ops (graph.h): the call then joins that capture. FASTSYNC_CUDA_GRAPHS=0
// turns it off with the other graphs; FASTSYNC_CUDA_REPLAY_RUNS=0 launches
// each replay at once (no runs), to compare the two.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fastsync::cuda {

class CallGraphs {
 public:
  // Replays launched as one graph at most.
  static constexpr size_t kMaxRun = 8;

  explicit CallGraphs(cudaStream_t s) : stream_(s) {}
  ~CallGraphs();
  CallGraphs(const CallGraphs&) = delete;
  CallGraphs& operator=(const CallGraphs&) = delete;

  struct Entry {
    cudaGraph_t graph = nullptr;     // as captured (a combined run's node)
    cudaGraphExec_t exec = nullptr;  // null: seen once, or not capturable
    bool capturable = true;
    uint64_t id = 0;                                // unique over the stream's life
    std::list<const std::string*>::iterator place;  // in order_
  };
  // graph: `entry` has a graph to launch; first: make the call directly
  // (the key is new, not capturable, or graphs are off); again: capture it.
  enum class Found { graph, first, again };
  struct Lookup {
    Found found;
    Entry* entry;
  };
  // Looks `key` up (remembering it); launches nothing.
  Lookup find(std::string_view key);

  // Launches `e`'s graph now. Nothing may be pending.
  void launch(Entry& e);
  // Launches `e`'s graph with the pending ones, when flushed. At most
  // kMaxRun may be pending.
  void defer(Entry& e) { pending_[pending_count_++] = &e; }
  size_t pending() const { return pending_count_; }
  // Launches what is pending, in order, as one graph if this run was seen
  // before. Nothing is pending afterwards, even if it throws (a launch CUDA
  // refused: the later replays were not launched either).
  void flush();

  // Captures `call` (which enqueues on the stream only and throws on
  // failure, nothing launched then) into `e`'s graph and launches it, or
  // makes the call directly if CUDA cannot capture it. Nothing may be
  // pending.
  template <class F>
  void capture(Entry& e, F&& call) {
    begin();
    try {
      call();
    } catch (...) {
      abandon();
      throw;
    }
    if (!end_and_launch(e)) call();  // not capturable: made directly
  }

  // Replays launched (alone or in a run), graphs made, and runs launched
  // as one graph, over every stream.
  static uint64_t replays();
  static uint64_t instantiations();
  static uint64_t runs();
  // Whether replays may be deferred into runs (read once).
  static bool runs_enabled();

 private:
  struct Run {
    cudaGraphExec_t exec = nullptr;  // null: seen once, or not combinable
    bool combinable = true;
    std::list<const std::string*>::iterator place;  // in run_order_
  };
  void begin();
  void abandon();
  // Ends the capture and launches its graph, kept in `e`. False if CUDA
  // could not capture or instantiate the call: nothing was enqueued, and the
  // key's calls are made directly from then on.
  bool end_and_launch(Entry& e);
  // The combined graph of `run`'s entries, made now; null if CUDA refuses.
  cudaGraphExec_t combine(Entry* const* run, size_t n);
  void evict_oldest();
  void evict_oldest_run();

  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };

  cudaStream_t stream_;
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
  std::list<const std::string*> order_;  // the entries' keys, most recently used first
  uint64_t next_id_ = 1;
  std::array<Entry*, kMaxRun> pending_{};
  size_t pending_count_ = 0;
  // Runs by their entries' ids, most recently used first.
  std::unordered_map<std::string, Run, KeyHash, std::equal_to<>> runs_;
  std::list<const std::string*> run_order_;
};

}  // namespace fastsync::cuda
