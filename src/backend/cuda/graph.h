// Runs of ops launched as one CUDA graph. Enqueueing a kernel costs the host
// ~4 µs on an H200 machine (bench/cuda/floor.cu), capturing one into a graph
// ~0.6 µs: a run of ops the driver encodes back to back on one GPU stream
// (a decode step, a training step, a chain of elementwise ops) is captured,
// then launched as a whole. The executable graph is cached by the run's
// sequence of primitives and updated in place when the run recurs with new
// buffers or shapes (cudaGraphExecUpdate), so a loop pays instantiation once.
//
// Used by the stream's CommandEncoder on the encoding thread (under the eval
// driver's lock), which starts a capture before the first op of a long run
// and ends it before anything the host or a stream outside it must see (a
// mark the host waits on, a wait on an event recorded outside it, a host
// wait); streams of the same device may join it (encoder.h). Capture is
// relaxed: allocations and synchronous copies on other streams stay allowed
// while it lasts.
// By default only runs of small ops are captured (RunHint): a training
// step's large ops keep the GPU busy while the host launches them one by
// one, and ran slower captured. FASTSYNC_CUDA_GRAPHS=0 captures nothing,
// =1 every run whatever its ops' sizes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace fastsync::cuda {

class GraphCapture {
 public:
  explicit GraphCapture(cudaStream_t s) : stream_(s) {}
  ~GraphCapture();
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;

  // Whether a run starting with an op is worth capturing (and capture is
  // on), and whether the op may join a capture already open.
  static bool worth_it(const RunHint& run);
  static bool joins(const RunHint& run);
  // Whether graphs are used at all (not FASTSYNC_CUDA_GRAPHS=0).
  static bool enabled();
  bool capturing() const { return capturing_; }
  // `previous`: the size limit of the run's previous graph (whichever
  // stream's capture it was), 0 for the first graph of a run. A run is cut
  // into graphs of 16 ops, then 32, ... up to 256, so the GPU starts on the
  // first ones while the host captures the rest (one graph of a whole
  // training step would leave the GPU idle while the host encodes it).
  void begin(size_t previous);
  bool full() const { return ops_ >= limit_; }
  size_t limit() const { return limit_; }
  // Adds an op, encoded on the stream of index `stream`, to the key of the
  // run being captured (a run spanning streams differs by where its ops go).
  void note(const char* name, int stream);
  // Ends the capture and launches the run, once the stream has waited on
  // each of `after` (work of other streams the run's ops follow). Throws
  // std::runtime_error if CUDA refuses; the run's work is then lost (the
  // caller reports it).
  void end_and_launch(const std::vector<cudaEvent_t>& after = {});
  // Ends a capture that cannot be launched (a step before the launch
  // failed), dropping its work.
  void abandon();
  // Runs launched as graphs so far, instantiations among them, and the ops
  // they held.
  static uint64_t launches();
  static uint64_t instantiations();
  static uint64_t ops();

 private:
  struct Cached {
    uint64_t key;
    cudaGraphExec_t exec;
    uint64_t used;
  };
  cudaGraphExec_t exec_for(cudaGraph_t g);

  cudaStream_t stream_;
  bool capturing_ = false;
  size_t ops_ = 0, limit_ = 0;
  uint64_t key_ = 0;
  uint64_t clock_ = 0;
  std::vector<Cached> cache_;  // a few entries, least recently used evicted
};

}  // namespace fastsync::cuda
