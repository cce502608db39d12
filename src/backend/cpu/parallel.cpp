#include "backend/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "sync.h"

namespace fastsync::cpu {

namespace {

struct Job {
  const std::function<void(int64_t, int64_t)>* f;
  int64_t n, chunk, chunks;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  alignas(64) sync::Counter finished;
  std::mutex error_mutex;
  std::exception_ptr error;

  // Claims and runs chunks until none are left.
  void work() {
    for (int64_t c; (c = next.fetch_add(1)) < chunks;) {
      int64_t b = c * chunk, e = std::min(n, b + chunk);
      try {
        (*f)(b, e);
      } catch (...) {
        std::lock_guard lk(error_mutex);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1) + 1 == chunks) finished.advance_to(1);
    }
  }
};

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 0; i < n; ++i) std::thread([this] { loop(); }).detach();
  }

  void post(std::shared_ptr<Job> j) {
    {
      std::lock_guard lk(mutex_);
      jobs_.push_back(std::move(j));
    }
    posted_.increment();
  }

 private:
  void loop() {
    for (;;) {
      uint32_t seen = posted_.value();
      std::shared_ptr<Job> j;
      {
        std::lock_guard lk(mutex_);
        // Drop jobs whose chunks are all claimed; help the oldest other one.
        while (!jobs_.empty() && jobs_.front()->next.load() >= jobs_.front()->chunks) {
          jobs_.pop_front();
        }
        if (!jobs_.empty()) j = jobs_.front();
      }
      if (j) {
        j->work();
      } else {
        posted_.wait_change(seen);
      }
    }
  }

  std::mutex mutex_;
  std::deque<std::shared_ptr<Job>> jobs_;
  alignas(64) sync::Counter posted_;
};

int pool_size() {
  static const int n = [] {
    if (const char* e = std::getenv("FASTSYNC_KERNEL_THREADS")) return std::max(0, std::atoi(e) - 1);
    unsigned hw = std::thread::hardware_concurrency();
    return hw > 1 ? static_cast<int>(hw) - 1 : 0;
  }();
  return n;
}

Pool& pool() {
  static Pool* p = new Pool(pool_size());  // never destroyed: threads are detached
  return *p;
}

}  // namespace

int kernel_threads() { return pool_size() + 1; }

int64_t n_chunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  int64_t by_grain = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  // A few chunks per thread balance uneven progress without much overhead.
  return std::min<int64_t>(by_grain, static_cast<int64_t>(kernel_threads()) * 4);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  int64_t chunks = n_chunks(n, grain);
  if (chunks <= 1 || pool_size() == 0) {
    if (n > 0) f(0, n);
    return;
  }
  auto j = std::make_shared<Job>();
  j->f = &f;
  j->n = n;
  j->chunk = (n + chunks - 1) / chunks;
  j->chunks = (n + j->chunk - 1) / j->chunk;
  pool().post(j);
  j->work();
  j->finished.wait_for(1);
  if (j->error) std::rethrow_exception(j->error);
}

}  // namespace fastsync::cpu
