// GPU spans of a timeline trace (backend/cuda/gpu_timeline.h).
#include "backend/cuda/gpu_timeline.h"

#include <mutex>
#include <vector>

#include "backend/cuda/runtime.h"

namespace fastsync::cuda::gpu_timeline {

namespace {

struct Pending {
  cudaEvent_t begin;
  cudaEvent_t end;
  int track;
  const char* category;
  timeline::Name name;
  uint64_t signal;
  uint64_t waits_for;
};

// Guards everything below: encoding threads record, timeline::stop() resolves.
std::mutex mutex;
std::vector<Pending> pending;
uint64_t reference_session = 0;
cudaEvent_t reference = nullptr;
int64_t reference_host = 0;
std::once_flag registered;
// Timing events come back here once resolved: creating one costs more than
// the launch it brackets, so a trace reuses the last one's.
std::vector<cudaEvent_t> spare;

void resolve() {
  std::lock_guard lk(mutex);
  for (Pending& p : pending) {
    float b = 0, e = 0;
    bool ok = reference && cudaEventSynchronize(p.end) == cudaSuccess &&
              cudaEventElapsedTime(&b, reference, p.begin) == cudaSuccess &&
              cudaEventElapsedTime(&e, reference, p.end) == cudaSuccess;
    if (ok) {
      timeline::span({timeline::stream_track(p.track), p.category, p.name,
                      reference_host + static_cast<int64_t>(b * 1e6),
                      reference_host + static_cast<int64_t>(e * 1e6), p.signal, p.waits_for});
    }
    spare.push_back(p.begin);
    spare.push_back(p.end);
  }
  pending.clear();
  if (reference) spare.push_back(reference);
  reference = nullptr;
  reference_session = 0;
}

// Under the mutex.
cudaEvent_t timed_event(cudaStream_t s) {
  cudaEvent_t e;
  if (spare.empty()) {
    check(cudaEventCreate(&e), "cudaEventCreate");
  } else {
    e = spare.back();
    spare.pop_back();
  }
  check(cudaEventRecord(e, s), "cudaEventRecord");
  return e;
}

}  // namespace

Open begin(cudaStream_t s) {
  std::call_once(registered, [] { timeline::on_stop(resolve); });
  std::lock_guard lk(mutex);
  if (reference_session != timeline::session()) {
    // Once per trace: GPU times are offsets from this event, placed on the
    // host clock when it completes (it waits for the stream's earlier work).
    if (reference) spare.push_back(reference);
    reference = timed_event(s);
    check(cudaEventSynchronize(reference), "cudaEventSynchronize");
    reference_host = timeline::now();
    reference_session = timeline::session();
  }
  return Open{timed_event(s)};
}

void end(Open o, cudaStream_t s, int stream_index, const char* category, timeline::Name name,
         uint64_t signal, uint64_t waits_for) {
  if (!o.begin) return;
  std::lock_guard lk(mutex);
  cudaEvent_t e = timed_event(s);
  pending.push_back({o.begin, e, stream_index, category, name, signal, waits_for});
}

}  // namespace fastsync::cuda::gpu_timeline
