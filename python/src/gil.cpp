// release_later and the exit gate of ReleaseGil (gil.h). Any thread. The
// gate's state is atomics; the kept references are guarded by a mutex, all
// heap objects never freed, so a late thread never meets them destroyed.
#include "gil.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace fastsync::py {

namespace {

struct Kept {
  std::mutex mutex;
  std::vector<PyObject*> refs;
  bool drain_scheduled = false;
};
std::atomic<Kept*> kept{new Kept};
std::atomic<bool> any_kept{false};

void child_after_fork() {
  // The parent's mutex may have been held by a thread the child does not
  // have: a fresh one (the references themselves are the child's copies).
  Kept* fresh = new Kept;
  fresh->refs = std::move(kept.load()->refs);
  kept.store(fresh);
}

int drain_pending(void*) {
  drain_released();
  return 0;
}

}  // namespace

void release_later(PyObject* o) {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, child_after_fork);
    return true;
  }();
  (void)registered;
  Kept* k = kept.load();
  std::lock_guard lk(k->mutex);
  k->refs.push_back(o);
  any_kept.store(true, std::memory_order_relaxed);
  if (!k->drain_scheduled && Py_IsInitialized()) {
    k->drain_scheduled = Py_AddPendingCall(drain_pending, nullptr) == 0;
  }
}

void drain_released() {
  if (!any_kept.load(std::memory_order_relaxed)) return;
  std::vector<PyObject*> dead;
  {
    Kept* k = kept.load();
    std::lock_guard lk(k->mutex);
    dead.swap(k->refs);
    k->drain_scheduled = false;
    any_kept.store(false, std::memory_order_relaxed);
  }
  for (PyObject* o : dead) Py_DECREF(o);
}

namespace exit_gate {

namespace {
std::atomic<bool> closing{false};
std::atomic<int> restoring{0};  // threads past wait_if_closing, not yet out
std::atomic<PyThreadState*> exiting_thread{nullptr};

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}
}  // namespace

// Counting before reading `closing` (and prepare_exit setting it before
// reading the count, both sequentially consistent) means a thread either sees
// the gate closed and waits, or is counted and let through by prepare_exit.
void wait_if_closing(PyThreadState* self) {
  restoring.fetch_add(1);
  if (!closing.load() || self == exiting_thread.load()) return;
  restoring.fetch_sub(1);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until) {
    if (finalizing()) {
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  restoring.fetch_add(1);
}

void leave() { restoring.fetch_sub(1); }

void prepare_exit() {
#if PY_VERSION_HEX < 0x030E0000
  exiting_thread.store(PyThreadState_Get());
  closing.store(true);
  // Threads already waiting for the GIL get it now, before finalization
  // would unwind them; bounded, in case one never gets scheduled.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (restoring.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    Py_BEGIN_ALLOW_THREADS std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Py_END_ALLOW_THREADS
  }
#endif
}

}  // namespace exit_gate

}  // namespace fastsync::py
