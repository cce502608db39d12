// One worker thread per CPU stream, running that stream's tasks in order.
//
// Tasks are enqueued by the eval driver (under its encoding lock) and by
// host-side synchronization (`synchronize`, which only enqueues control
// tasks). A task that throws stores its error on the stream; later compute
// tasks on that stream are skipped until a control task (an event signal)
// takes the error and hands it to waiters. Control tasks always run.
//
// Outstanding tasks are counted process-wide so the driver can cap how far
// encoding runs ahead of compute.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "stream.h"

namespace fastsync::scheduler {

struct Task {
  std::function<void()> fn;
  // Buffers kept alive until fn has run (retention).
  std::vector<std::shared_ptr<void>> keep;
  bool control = false;
};

void enqueue(const Stream& s, Task t);
inline void enqueue(const Stream& s, std::function<void()> fn) {
  enqueue(s, Task{std::move(fn), {}, false});
}
inline void enqueue_control(const Stream& s, std::function<void()> fn) {
  enqueue(s, Task{std::move(fn), {}, true});
}

// Tasks enqueued and not yet finished, over all streams.
int outstanding();
// Blocks until at most `n` tasks are outstanding.
void wait_outstanding_at_most(int n);
// The cap the eval driver throttles at (FASTSYNC_MAX_OUTSTANDING, default 256).
int max_outstanding();

// For control tasks, on the stream's own worker thread: the error a failed
// task left on this stream (nullptr if none); take_error also clears it.
std::exception_ptr current_error();
std::exception_ptr take_error();
// Poisons the current stream so its later compute tasks are skipped.
void set_error(std::exception_ptr e);

}  // namespace fastsync::scheduler
