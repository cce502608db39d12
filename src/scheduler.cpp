#include "scheduler.h"

#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "sync.h"

namespace fastsync::scheduler {

namespace {

class Worker;
// The worker whose thread is running; lets control tasks reach their stream's
// error slot.
thread_local Worker* current_worker = nullptr;

sync::Counter completed;         // tasks finished, ever
std::atomic<int> n_outstanding{0};

class Worker {
 public:
  Worker() : thread_([this] { loop(); }) { thread_.detach(); }

  void push(Task t) {
    {
      std::lock_guard lk(mutex_);
      queue_.push_back(std::move(t));
    }
    pushed_.increment();
  }

  std::exception_ptr error;  // only touched on this worker's thread

 private:
  void loop() {
    current_worker = this;
    std::vector<Task> batch;
    for (;;) {
      uint32_t seen = pushed_.value();
      {
        std::lock_guard lk(mutex_);
        std::swap(batch, queue_);
      }
      if (batch.empty()) {
        pushed_.wait_change(seen);
        continue;
      }
      for (auto& t : batch) run(t);
      batch.clear();
    }
  }

  void run(Task& t) {
    if (t.control || !error) {
      try {
        t.fn();
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    t.fn = nullptr;
    t.keep.clear();
    n_outstanding.fetch_sub(1, std::memory_order_release);
    completed.increment();
  }

  std::mutex mutex_;
  std::vector<Task> queue_;
  sync::Counter pushed_;
  std::thread thread_;
};

// Guarded by workers_mutex. Workers are never destroyed: their threads are
// detached and parked when idle, so process exit needs no join.
std::mutex workers_mutex;
std::deque<Worker*> workers;

Worker& worker(const Stream& s) {
  std::lock_guard lk(workers_mutex);
  while (static_cast<int>(workers.size()) <= s.index) workers.push_back(nullptr);
  auto& w = workers[s.index];
  if (!w) w = new Worker();
  return *w;
}

}  // namespace

void enqueue(const Stream& s, Task t) {
  n_outstanding.fetch_add(1, std::memory_order_relaxed);
  worker(s).push(std::move(t));
}

int outstanding() { return n_outstanding.load(std::memory_order_acquire); }

void wait_outstanding_at_most(int n) {
  for (;;) {
    uint32_t seen = completed.value();
    if (outstanding() <= n) return;
    completed.wait_change(seen);
  }
}

int max_outstanding() {
  static const int cap = [] {
    const char* e = std::getenv("FASTSYNC_MAX_OUTSTANDING");
    int v = e ? std::atoi(e) : 256;
    return v > 0 ? v : 256;
  }();
  return cap;
}

std::exception_ptr current_error() {
  return current_worker ? current_worker->error : nullptr;
}

std::exception_ptr take_error() {
  if (!current_worker) return nullptr;
  return std::exchange(current_worker->error, nullptr);
}

void set_error(std::exception_ptr e) {
  if (current_worker && !current_worker->error) current_worker->error = std::move(e);
}

}  // namespace fastsync::scheduler
