#include "lifecycle.h"

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>

namespace fastsync::lifecycle {

namespace {
// Set only by the child-side fork handler, in the child, where the thread
// calling fork() is the only one: a relaxed flag suffices.
std::atomic<bool> forked_child{false};
std::once_flag registered;
}  // namespace

void runtime_started() {
  std::call_once(registered, [] {
    pthread_atfork(nullptr, nullptr, [] { forked_child.store(true, std::memory_order_relaxed); });
  });
}

bool is_forked_child() { return forked_child.load(std::memory_order_relaxed); }

void check_usable(const char* what) {
  if (forked_child.load(std::memory_order_relaxed)) {
    throw std::runtime_error(
        std::string("[") + what +
        "] this process was forked after fastsync's runtime started, and its worker threads "
        "do not survive fork(): use multiprocessing's 'spawn' start method, or fork before "
        "the first eval");
  }
}

}  // namespace fastsync::lifecycle
