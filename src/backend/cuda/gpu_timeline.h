// GPU spans of a timeline trace (timeline.h), timed by CUDA events.
//
// The encoding thread brackets what it launches on a CUDA stream: begin()
// records an event before, end() one after and keeps the pair. timeline::stop()
// runs resolve() (registered on first use), which waits for the events and
// turns them into spans on the stream's track, on the host clock: the first
// begin() of a trace records a reference event and reads the host clock when
// it completes. Only while timeline::on(); any thread, a mutex guards the pairs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "timeline.h"

namespace fastsync::cuda::gpu_timeline {

struct Open {
  cudaEvent_t begin = nullptr;
};

Open begin(cudaStream_t s);
void end(Open o, cudaStream_t s, int stream_index, const char* category, timeline::Name name,
         uint64_t signal = 0, uint64_t waits_for = 0);

}  // namespace fastsync::cuda::gpu_timeline
