#include "distributed/watchdog.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace fastsync::distributed {

double collective_timeout_s() {
  static const double limit = [] {
    const char* e = std::getenv("FASTSYNC_DISTRIBUTED_TIMEOUT");
    return e && *e ? std::atof(e) : 600.0;
  }();
  return limit;
}

using Clock = std::chrono::steady_clock;

struct Watchdog::State {
  explicit State(std::function<void(const char*, double)> e) : expire(std::move(e)) {}
  std::function<void(const char*, double)> expire;
  std::mutex mutex;  // guards everything below
  std::condition_variable wake;
  struct Call {
    uint64_t id;
    const char* what;
    Clock::time_point start;
  };
  std::vector<Call> calls;  // in flight, oldest first
  uint64_t next_id = 0;
  bool started = false;

  void loop() {
    const double limit = collective_timeout_s();
    std::unique_lock lk(mutex);
    for (;;) {
      wake.wait_for(lk, std::chrono::milliseconds(250));
      if (calls.empty()) continue;
      double blocked = std::chrono::duration<double>(Clock::now() - calls.front().start).count();
      if (blocked > limit) {
        const char* what = calls.front().what;
        lk.unlock();
        expire(what, blocked);
        std::_Exit(1);  // `expire` should not return
      }
    }
  }
};

Watchdog::Watchdog(std::function<void(const char*, double)> expire)
    : state_(new State(std::move(expire))) {}

Watchdog::Scope::Scope(Watchdog& w, const char* what) : w_(w) {
  if (collective_timeout_s() <= 0) {
    id_ = 0;
    return;
  }
  State& s = *w_.state_;
  std::lock_guard lk(s.mutex);
  id_ = ++s.next_id;
  s.calls.push_back({id_, what, Clock::now()});
  if (!s.started) {
    s.started = true;
    std::thread([&s] { s.loop(); }).detach();
  }
}

Watchdog::Scope::~Scope() {
  if (id_ == 0) return;
  State& s = *w_.state_;
  std::lock_guard lk(s.mutex);
  for (auto it = s.calls.begin(); it != s.calls.end(); ++it) {
    if (it->id == id_) {
      s.calls.erase(it);
      break;
    }
  }
}

}  // namespace fastsync::distributed
