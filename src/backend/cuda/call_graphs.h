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
// One per GPU stream (its CommandEncoder's), used on the encoding thread
// under the eval driver's lock. Not used while the stream captures a run of
// ops (graph.h): the call then joins that capture. FASTSYNC_CUDA_GRAPHS=0
// turns it off with the other graphs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fastsync::cuda {

class CallGraphs {
 public:
  explicit CallGraphs(cudaStream_t s) : stream_(s) {}
  ~CallGraphs();
  CallGraphs(const CallGraphs&) = delete;
  CallGraphs& operator=(const CallGraphs&) = delete;

  // Enqueues `call`'s work on the stream: by launching the graph of an
  // earlier call with the same key, by capturing `call` into one, or by
  // making it. `call` enqueues on the stream only and throws on failure
  // (nothing is launched then). Throws std::runtime_error if CUDA refuses a
  // launch.
  template <class F>
  void run(std::string_view key, F&& call) {
    switch (find(key)) {
      case Found::graph: return;
      case Found::first: call(); return;
      case Found::again:
        begin();
        try {
          call();
        } catch (...) {
          abandon();
          throw;
        }
        if (!end_and_launch(key)) call();  // not capturable: made directly
    }
  }

  // Graph launches instead of calls, and graphs made, over every stream.
  static uint64_t replays();
  static uint64_t instantiations();

 private:
  enum class Found { graph, first, again };
  struct Entry {
    cudaGraphExec_t exec = nullptr;  // null: seen once, or not capturable
    bool capturable = true;
    std::list<const std::string*>::iterator place;  // in order_
  };
  // Launches the key's graph if there is one.
  Found find(std::string_view key);
  void begin();
  void abandon();
  // Ends the capture and launches its graph, kept under `key`. False if
  // CUDA could not capture or instantiate the call: nothing was enqueued,
  // and the key's calls are made directly from then on.
  bool end_and_launch(std::string_view key);
  void evict_oldest();

  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };

  cudaStream_t stream_;
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
  std::list<const std::string*> order_;  // the entries' keys, most recently used first
};

}  // namespace fastsync::cuda
