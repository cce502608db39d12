// The exit gate of ReleaseGil (gil.h). Any thread; its state is two atomics
// and the main thread's state, written once by prepare_exit before `closing`.
#include "gil.h"

#include <atomic>
#include <chrono>
#include <thread>

namespace fastsync::py::exit_gate {

namespace {
std::atomic<bool> closing{false};
std::atomic<int> restoring{0};  // threads between enter and leave
std::atomic<PyThreadState*> exiting_thread{nullptr};
}  // namespace

// Counting before reading `closing` (and prepare_exit setting it before
// reading the count, both sequentially consistent) means a thread either sees
// the gate closed and parks, or is counted and let through below.
bool enter(PyThreadState* self) {
  restoring.fetch_add(1);
  if (closing.load() && self != exiting_thread.load()) {
    restoring.fetch_sub(1);
    return false;
  }
  return true;
}

void leave() { restoring.fetch_sub(1); }

void park() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

void prepare_exit() {
  exiting_thread.store(PyThreadState_Get());
  closing.store(true);
  // Threads already waiting for the GIL get it now, before finalization
  // would unwind them; bounded, in case one never gets scheduled.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (restoring.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    Py_BEGIN_ALLOW_THREADS std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Py_END_ALLOW_THREADS
  }
}

}  // namespace fastsync::py::exit_gate
