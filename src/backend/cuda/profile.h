// Per-primitive GPU time, for finding where a model's step goes (a per-op
// breakdown without an external profiler).
//
// Off unless FASTSYNC_GPU_PROFILE=1 (per primitive) or 2 (per primitive,
// output shape and dtype), or enable(true). When on, the command
// encoder brackets each op's launches with two CUDA events on its stream and
// times the host side of its eval_gpu; report() waits for the GPU, then sums
// both per primitive name. Encoding thread for record(); report() and
// enable() from any thread (a mutex guards the records).
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <string>

namespace fastsync::cuda::profile {

struct Totals {
  int count = 0;
  double gpu_ms = 0;   // between the events around the op's launches
  double host_ms = 0;  // the op's eval_gpu on the encoding thread
};

bool enabled();
void enable(bool on);
// Whether records are keyed by output shape and dtype too.
bool detailed();
// A pair of recorded events around one op (the encoder calls it).
void record(std::string name, cudaEvent_t begin, cudaEvent_t end, double host_ms);
// Totals per primitive since the last report; clears them.
std::map<std::string, Totals> report();

}  // namespace fastsync::cuda::profile
